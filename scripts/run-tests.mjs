#!/usr/bin/env node
// `pnpm test`: build (incremental; the e2e suites start the compiled apps as real processes), then jest as native ESM.
// Extra arguments go to jest: `pnpm test packages/core`, `pnpm test -t fencing`.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(import.meta.url);
const run = (cmd, args, env = process.env) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env });
  if (r.error) throw r.error;
  return r.status ?? 1;
};

// A clone where only the test command is run still works: install first (frozen) if nothing is installed.
if (!existsSync(join(root, "node_modules", ".modules.yaml"))) {
  const pnpm = process.env.npm_execpath;
  if (!pnpm) {
    console.error("run `npx -y pnpm@<version> install --frozen-lockfile` first (see README)");
    process.exit(1);
  }
  if (run(process.execPath, [pnpm, "install", "--frozen-lockfile"]) !== 0) process.exit(1);
}

const tsc = require.resolve("typescript/bin/tsc");
if (run(process.execPath, [tsc, "-b", "tsconfig.build.json"]) !== 0) process.exit(1);
// The console, as the api serves it (apps/web/dist): the demo and e2e suites start an api that serves it.
const vite = join(root, "apps", "web", "node_modules", "vite", "bin", "vite.js");
const web = join(root, "apps", "web");
if (
  run(process.execPath, [vite, "build", web, "--logLevel", "error"], { ...process.env, NODE_ENV: "production" }) !== 0
)
  process.exit(1);

const jest = join(dirname(require.resolve("jest/package.json")), "bin", "jest.js");
const args = ["--experimental-vm-modules", "--disable-warning=ExperimentalWarning", jest, ...process.argv.slice(2)];
const results = join(root, "node_modules", ".cache", "praxa-jest-results.json");
mkdirSync(dirname(results), { recursive: true });
rmSync(results, { force: true });
args.push("--json", `--outputFile=${results}`);
if (!process.argv.some((a) => a.startsWith("--maxWorkers") || a === "-i" || a === "--runInBand"))
  args.push("--maxWorkers=2");
const status = run(process.execPath, args, { ...process.env, PRAXA_TEST: "1" });
// One plain closing line for the whole run, after jest's own summary.
if (existsSync(results)) {
  const r = JSON.parse(readFileSync(results, "utf8"));
  const failed = r.numFailedTests + r.numRuntimeErrorTestSuites;
  const skipped = r.numPendingTests + r.numTodoTests;
  process.stdout.write(`\nTests: ${r.numPassedTests} passed, ${failed} failed, ${skipped} skipped\n`);
  if (r.numTotalTests === 0 && status === 0) {
    process.stdout.write("no test ran\n");
    process.exit(1);
  }
}
process.exit(status);
