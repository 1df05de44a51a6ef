#!/usr/bin/env node
/**
 * The console's bundle scan (`pnpm lint`, `.github/workflows/lint.yml`): build apps/web exactly as it ships (Vite, into
 * a scratch directory, with source maps kept for the scan only) and fail when the bundle holds any privileged client
 * or secret:
 *
 *   - a module of a server-only package: `@praxa/db`, `crypto`, `config`, `queue`, `connectors`, or `postgres`, `pg`,
 *     `ioredis`, `bullmq`, `drizzle-orm`, an AWS SDK client (`@aws-sdk/*`, `@smithy/*`) — read from the source maps,
 *     which name every module Vite put in the bundle, so minification cannot hide one;
 *   - their names or tell-tale strings in the emitted files (`@praxa/db`, `SCRAM-SHA-256`, `ioredis`, `x-amz-…`);
 *   - database and Redis URLs, PEM private keys, `whsec_` / `whsk_` signing secrets, AWS access key ids, api tokens;
 *   - any value of the service configuration: every key `.env.example` documents, with its value from the environment
 *     the scan runs in, from `.env` and from `.env.example` (values of 8 characters or more that are not a plain word
 *     or number).
 *
 *   node scripts/bundle-scan.mjs [--app apps/web]
 *
 * Findings name the rule, the file and the configuration key — never the secret itself. Exit 0 clean, 1 findings,
 * 2 the build failed (a bundle that does not build is not a clean one).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = fileURLToPath(new URL("..", import.meta.url));

const SERVER_ONLY = ["db", "crypto", "config", "queue", "connectors"];
const CLIENT_PACKAGES = [
  "postgres",
  "pg",
  "pg-protocol",
  "ioredis",
  "bullmq",
  "redis",
  "drizzle-orm",
  "@aws-sdk/[^/]+",
  "@smithy/[^/]+",
];

/** A module path from a source map that belongs to a server-only package or a privileged client. */
const MODULE_RULES = [
  { rule: "server-only package", re: new RegExp(`(^|/)packages/(${SERVER_ONLY.join("|")})/`) },
  { rule: "server-only package", re: new RegExp(`node_modules/@praxa/(${SERVER_ONLY.join("|")})/`) },
  { rule: "privileged client", re: new RegExp(`node_modules/(${CLIENT_PACKAGES.join("|")})/`) },
];

/** Patterns in the emitted files themselves. */
const TEXT_RULES = [
  { rule: "server-only package name", re: new RegExp(`@praxa/(${SERVER_ONLY.join("|")})\\b`) },
  { rule: "database or Redis URL", re: /\b(postgres(ql)?|redis|rediss|mysql|mongodb(\+srv)?):\/\/[^\s"'`]/i },
  { rule: "PEM private key", re: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/ },
  { rule: "webhook signing secret", re: /\bwhs(ec|k)_/ },
  { rule: "AWS access key id", re: /\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b/ },
  { rule: "api token", re: /\bpraxa_tk_[A-Za-z0-9_-]{8,}/ },
  { rule: "postgres client code", re: /SCRAM-SHA-256/ },
  { rule: "ioredis client code", re: /\bioredis\b/ },
  { rule: "AWS SDK client code", re: /x-amz-(security-token|content-sha256|date)/i },
];

function parseArgs(argv) {
  const out = { app: "apps/web" };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--app") out.app = argv[++i];
    else throw new Error(`bundle-scan: unknown argument ${argv[i]}`);
  }
  return out;
}

export function readEnvFile(path) {
  const values = new Map();
  if (!existsSync(path)) return values;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = /^\s*#?\s*([A-Z][A-Z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|[^\s#]*)/.exec(line);
    if (!m) continue;
    let value = m[2]; // group 2 always takes part (an empty value matches its last branch)
    if (/^["']/.test(value)) value = value.slice(1, -1);
    // A commented-out line documents a key; its example value is only an example unless the line is live.
    values.set(m[1], line.trimStart().startsWith("#") ? undefined : value);
  }
  return values;
}

/** Every documented configuration key with the values it has where the scan runs. */
export function configurationValues(env = process.env) {
  const example = readEnvFile(join(root, ".env.example"));
  const local = readEnvFile(join(root, ".env"));
  const found = [];
  for (const key of example.keys()) {
    for (const value of [env[key], local.get(key), example.get(key)]) {
      if (typeof value !== "string") continue;
      const v = value.trim();
      // A plain word, number or boolean (`development`, `info`, `60`, `false`) says nothing secret and appears in any
      // library; everything else of 8 characters or more must not be in the bundle.
      if (v.length < 8 || /^[A-Za-z]+$/.test(v) || /^[0-9.]+$/.test(v)) continue;
      found.push({ key, value: v });
    }
  }
  return found;
}

function walk(dir) {
  const files = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files.push(...walk(p));
    else files.push(p);
  }
  return files;
}

/** Build `appDir` into a scratch directory with source maps (for the scan only); returns the directory. */
function build(appDir) {
  const out = mkdtempSync(join(tmpdir(), "praxa-bundle-scan-"));
  const vite = join(appDir, "node_modules", "vite", "bin", "vite.js");
  if (!existsSync(vite)) throw new Error(`bundle-scan: ${relative(root, appDir)} has no vite (install first)`);
  const r = spawnSync(
    process.execPath,
    // Its own outDir, so Vite's per-project build lock is not needed — and would refuse to run beside another build of
    // the same app (the browser suite builds apps/web/dist in the same `pnpm test`).
    [vite, "build", appDir, "--outDir", out, "--emptyOutDir", "--sourcemap", "--logLevel", "error", "--bypass-lock"],
    { cwd: appDir, encoding: "utf8", env: { ...process.env, NODE_ENV: "production" } },
  );
  if (r.status !== 0) {
    rmSync(out, { recursive: true, force: true });
    process.stderr.write(r.stdout + r.stderr);
    return null;
  }
  return out;
}

/** Scan a built bundle directory; returns findings `{ rule, file, detail }`. */
export function scanBundle(dir, env = process.env) {
  const findings = [];
  const config = configurationValues(env);
  for (const file of walk(dir)) {
    const name = relative(dir, file);
    const text = readFileSync(file, "utf8");
    if (file.endsWith(".map")) {
      const map = JSON.parse(text);
      for (const source of map.sources ?? []) {
        const normalized = source.replace(/\\/g, "/");
        for (const { rule, re } of MODULE_RULES)
          if (re.test(normalized)) findings.push({ rule, file: name, detail: normalized.replace(/^(\.\.\/)+/, "") });
      }
      continue;
    }
    for (const { rule, re } of TEXT_RULES) if (re.test(text)) findings.push({ rule, file: name, detail: String(re) });
    for (const { key, value } of config)
      if (text.includes(value)) findings.push({ rule: "service configuration value", file: name, detail: key });
  }
  return findings;
}

function sizes(dir) {
  let raw = 0;
  let gzip = 0;
  for (const file of walk(dir)) {
    if (file.endsWith(".map")) continue;
    const bytes = readFileSync(file);
    raw += bytes.length;
    gzip += gzipSync(bytes).length;
  }
  return { raw, gzip };
}

function main() {
  const { app } = parseArgs(process.argv.slice(2));
  const appDir = resolve(root, app);
  const out = build(appDir);
  if (!out) {
    console.error(`bundle-scan: ${app} did not build`);
    process.exit(2);
  }
  try {
    const findings = scanBundle(out);
    const seen = new Set();
    for (const f of findings) {
      const line = `bundle-scan: ${f.rule}: ${f.file}: ${f.detail}`;
      if (!seen.has(line)) console.error(line);
      seen.add(line);
    }
    const { raw, gzip } = sizes(out);
    if (findings.length > 0) {
      console.error(
        `bundle-scan: ${app}: ${seen.size} finding(s) — the browser bundle must hold no privileged client or secret`,
      );
      process.exit(1);
    }
    console.log(`bundle-scan: ${app} clean (${(raw / 1024).toFixed(0)} KiB, ${(gzip / 1024).toFixed(0)} KiB gzip)`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
