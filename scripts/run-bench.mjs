#!/usr/bin/env node
// `pnpm bench <name>` runs bench/<name>/index.ts; `pnpm bench all` runs every one. Each prints, as its last line, one
// JSON object {"bench","ratio","unit","ours","baseline"} measured against a baseline in the same run.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(import.meta.url);
const name = process.argv[2];
const all = readdirSync(join(root, "bench"), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(root, "bench", d.name, "index.ts")))
  .map((d) => d.name);
if (!name || (name !== "all" && !all.includes(name))) {
  console.error(`usage: pnpm bench <${[...all, "all"].join("|")}>`);
  process.exit(2);
}
const tsc = require.resolve("typescript/bin/tsc");
if (spawnSync(process.execPath, [tsc, "-b", "tsconfig.build.json"], { cwd: root, stdio: "inherit" }).status !== 0)
  process.exit(1);
const tsx = join(dirname(require.resolve("tsx/package.json")), "dist", "cli.mjs");
let failed = 0;
for (const b of name === "all" ? all : [name]) {
  const r = spawnSync(process.execPath, [tsx, join(root, "bench", b, "index.ts"), ...process.argv.slice(3)], {
    cwd: root,
    stdio: "inherit",
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
