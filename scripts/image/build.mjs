#!/usr/bin/env node
// Build the Praxa image (Dockerfile) with podman on a machine with no Docker engine and no reachable container
// registry (docs/deploy.md, ../shared/notes/containers.md). Prepares what is missing, in order:
//   1. podman, runc and debootstrap (apt-get, when running as root; otherwise it stops and says what to install);
//   2. /etc/containers/containers.conf for this kind of VM (no default ulimits, cgroupfs) — only if absent;
//   3. a base image localhost/praxa-node-base:<node version>: Debian bookworm minbase (debootstrap from the machine's
//      apt mirror) with this machine's node binary copied in;
//   4. the deploy output: `tsc -b`, then `pnpm deploy --prod` of each app into .image/app/apps/<app>, and the console's
//      static files (vite build) into .image/app/apps/web/dist;
//   5. `podman --runtime runc build --build-arg BASE=<base>` → localhost/praxa:<content hash>.
// The tag is a hash of every input (sources, manifests, lockfile, Dockerfile, this script): an existing image with
// that tag is reused. Prints the tag as the last line of stdout.
//
//   node scripts/image/build.mjs [--force] [--prepare-only] [--tag <name>]
// Exit codes: 0 built or reused; 3 tools missing and not root (nothing done); 1 any other failure.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const args = process.argv.slice(2);
const force = args.includes("--force");
const prepareOnly = args.includes("--prepare-only");
const tagArg = args.includes("--tag") ? args[args.indexOf("--tag") + 1] : undefined;
const APPS = ["cli", "ingest", "worker", "monitor", "api"];
const PNPM = ["-y", "pnpm@10.34.9"];
const started = Date.now();

const log = (msg) => process.stderr.write(`[image ${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, {
    cwd: root,
    stdio: opts.capture ? ["ignore", "pipe", "pipe"] : ["ignore", "inherit", "inherit"],
    encoding: "utf8",
    maxBuffer: 1 << 28,
    ...opts,
  });
  if (r.error) throw r.error;
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(
      `${cmd} ${argv.join(" ")} exited ${r.status}${opts.capture ? `: ${(r.stderr || "").slice(-2000)}` : ""}`,
    );
  }
  return r;
}
const have = (bin) => spawnSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" }).status === 0;
const podman = (argv, opts) => run("podman", ["--runtime", "runc", ...argv], opts);

/** sha256 over every file that goes into the image, and over how it is built. */
function contentHash() {
  const listed = run(
    "git",
    [
      "ls-files",
      "-co",
      "--exclude-standard",
      "--",
      "apps",
      "packages",
      "package.json",
      "pnpm-lock.yaml",
      "pnpm-workspace.yaml",
      "tsconfig.base.json",
      "tsconfig.build.json",
      "Dockerfile",
      ".dockerignore",
      "scripts/image",
    ],
    { capture: true },
  );
  const files = listed.stdout
    .split("\n")
    .filter((f) => f && existsSync(join(root, f)))
    .sort();
  const h = createHash("sha256");
  h.update(process.version);
  for (const f of files) {
    h.update(f + "\0");
    h.update(readFileSync(join(root, f)));
  }
  return h.digest("hex").slice(0, 16);
}

function ensureTools() {
  const missing = ["podman", "runc", "debootstrap"].filter((b) => !have(b));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      `praxa image: ${missing.join(", ")} missing and not running as root: install them (apt-get install -y podman runc debootstrap) or run as root\n`,
    );
    process.exit(3);
  }
  log(`installing ${missing.join(", ")} (apt-get)`);
  run("apt-get", ["update"]);
  run("apt-get", [
    "install",
    "-y",
    "--no-install-recommends",
    "podman",
    "runc",
    "debootstrap",
    "uidmap",
    "fuse-overlayfs",
  ]);
}

function ensureContainersConf() {
  const path = "/etc/containers/containers.conf";
  if (existsSync(path)) return;
  if (process.getuid?.() !== 0) return; // podman's defaults may still work; nothing to write as a user
  log(`writing ${path} (no default ulimits, cgroupfs: cgroups are hybrid on these VMs; runc, not crun)`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\n');
}

function aptMirror() {
  const dir = "/etc/apt/sources.list.d";
  for (const f of existsSync(dir) ? readdirSync(dir) : []) {
    if (!f.endsWith(".sources") && !f.endsWith(".list")) continue;
    const text = readFileSync(join(dir, f), "utf8");
    const m = /^URIs:\s*(\S+)/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm/m.exec(text);
    if (m && !m[1].includes("security")) return m[1];
  }
  if (existsSync("/etc/apt/sources.list")) {
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm/m.exec(readFileSync("/etc/apt/sources.list", "utf8"));
    if (m) return m[1];
  }
  return "http://deb.debian.org/debian";
}

function ensureBase() {
  const tag = `localhost/praxa-node-base:${process.version.slice(1)}`;
  if (podman(["image", "exists", tag], { allowFail: true }).status === 0) return tag;
  const rootfs = mkdtempSync(join(tmpdir(), "praxa-rootfs-"));
  try {
    log(`debootstrap bookworm minbase from ${aptMirror()}`);
    run("debootstrap", ["--variant=minbase", "bookworm", rootfs, aptMirror()], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    copyFileSync(process.execPath, join(rootfs, "usr/local/bin/node"));
    run("chmod", ["0755", join(rootfs, "usr/local/bin/node")]);
    for (const d of ["var/cache/apt/archives", "var/lib/apt/lists"])
      rmSync(join(rootfs, d), { recursive: true, force: true });
    log(`importing ${tag}`);
    const tar = spawnSync(
      "sh",
      [
        "-c",
        `tar -C "${rootfs}" -c . | podman --runtime runc import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - ${tag}`,
      ],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    if (tar.status !== 0) throw new Error(`podman import exited ${tar.status}`);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  return tag;
}

function prepareDeploy() {
  log("tsc -b tsconfig.build.json");
  run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-b", "tsconfig.build.json"]);
  const out = join(root, ".image/app");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, "apps"), { recursive: true });
  log(`pnpm deploy --prod: ${APPS.join(", ")}`);
  // one at a time: the machine is shared, and pnpm's store is hard-linked, so each is quick
  for (const app of APPS) {
    run("npx", [...PNPM, "--filter", `@praxa/${app}`, "deploy", "--prod", "--legacy", join(out, "apps", app)], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  // The console: static files only (no node_modules), where the api looks for them (apps/web/dist beside apps/api).
  log("vite build: apps/web (the console, served by the api)");
  // Straight into the image's tree, never into apps/web/dist: a running api (the e2e suites) may be serving that.
  run(
    process.execPath,
    [
      join(root, "apps/web/node_modules/vite/bin/vite.js"),
      "build",
      "--outDir",
      join(out, "apps/web/dist"),
      "--emptyOutDir",
      "--logLevel",
      "error",
      "--bypass-lock",
    ],
    { cwd: join(root, "apps/web"), env: { ...process.env, NODE_ENV: "production" } },
  );
  dedupe(out);
  writeFileSync(
    join(out, "package.json"),
    JSON.stringify({ name: "praxa-image", private: true, type: "module" }, null, 2) + "\n",
  );
}

/**
 * Each app's deploy holds its own node_modules/.pnpm; most packages are in several. A `.pnpm/<name@version_peers>`
 * directory is the same package with the same dependency closure wherever it appears, so every later copy becomes a
 * relative symlink to the first (Node resolves the real path; its dependencies sit beside it there too). The image
 * keeps one copy of each package instead of five.
 */
function dedupe(out) {
  const first = new Map();
  let linked = 0;
  for (const app of APPS) {
    const store = join(out, "apps", app, "node_modules/.pnpm");
    if (!existsSync(store)) continue;
    for (const name of readdirSync(store)) {
      const path = join(store, name);
      if (name === "node_modules" || !lstatSync(path).isDirectory()) continue;
      const owner = first.get(name);
      if (owner === undefined) {
        first.set(name, app);
        continue;
      }
      rmSync(path, { recursive: true, force: true });
      symlinkSync(`../../../${owner}/node_modules/.pnpm/${name}`, path);
      linked++;
    }
  }
  log(`dedupe: ${first.size} packages, ${linked} duplicate copies replaced by symlinks`);
}

function main() {
  const hash = contentHash();
  const tag = tagArg ?? `localhost/praxa:${hash}`;
  if (!prepareOnly) {
    ensureTools();
    ensureContainersConf();
    if (!force && podman(["image", "exists", tag], { allowFail: true }).status === 0) {
      log(`reusing ${tag} (same content hash)`);
      process.stdout.write(tag + "\n");
      return;
    }
  }
  prepareDeploy();
  if (prepareOnly) {
    log("prepared .image/app (docker build -t praxa . builds from it)");
    return;
  }
  const base = ensureBase();
  log(`podman build ${tag} FROM ${base}`);
  podman(["build", "--network", "none", "--build-arg", `BASE=${base}`, "-t", tag, "-f", "Dockerfile", "."], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  // the prune stage's image is left untagged by the build; only ours carry this label
  podman(["image", "prune", "-f", "--filter", "label=praxa.stage=prune"], { capture: true, allowFail: true });
  const size = podman(["image", "inspect", tag, "--format", "{{.Size}}"], { capture: true }).stdout.trim();
  log(`built ${tag}: ${(Number(size) / 1e6).toFixed(0)} MB`);
  process.stdout.write(tag + "\n");
}

main();
