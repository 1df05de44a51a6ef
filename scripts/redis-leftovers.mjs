#!/usr/bin/env node
// Keys the test suites and the demo leave in Redis: every key under a `test-*` or `praxa-demo-*` prefix (SCAN, never
// KEYS), counted per prefix. Each suite and the demo remove their own prefix when they finish (removeRedisPrefix), so
// after a run this should be 0.
//
//   node scripts/redis-leftovers.mjs                 print the count (and the prefixes holding keys)
//   node scripts/redis-leftovers.mjs --save FILE     record what is there now (before the tests)
//   node scripts/redis-leftovers.mjs --check FILE    fail (exit 1) if keys appeared since --save: under a prefix that
//                                                    was not there, or more keys under one that was
//
// --save/--check make the check hold on a Redis that others use too (keys that were there before the run are not this
// run's). REDIS_URL as everywhere (default redis://127.0.0.1:6379); needs redis-cli, as .ci/run does.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const PATTERNS = ["test-*", "praxa-demo-*"];
const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const [mode, file] = process.argv.slice(2);
if (mode !== undefined && !((mode === "--save" || mode === "--check") && file)) {
  console.error("usage: redis-leftovers.mjs [--save FILE | --check FILE]");
  process.exit(2);
}

/** Keys per prefix, through `redis-cli --scan` (SCAN, not KEYS; redis-cli is what CI already checks Redis with). */
function count() {
  const byPrefix = {};
  for (const pattern of PATTERNS) {
    const r = spawnSync("redis-cli", ["-u", url, "--scan", "--pattern", pattern], {
      encoding: "utf8",
      maxBuffer: 1 << 28,
    });
    if (r.error || r.status !== 0 || /^(ERR|Could not connect)/m.test(r.stderr ?? "")) {
      console.error(`redis-leftovers: cannot scan ${url}: ${r.error?.message ?? r.stderr.trim()}`);
      process.exit(2);
    }
    for (const key of r.stdout.split("\n")) {
      if (!key) continue;
      const prefix = key.split(":")[0];
      byPrefix[prefix] = (byPrefix[prefix] ?? 0) + 1;
    }
  }
  return byPrefix;
}

const now = count();
const total = Object.values(now).reduce((a, b) => a + b, 0);
if (mode === "--save") {
  writeFileSync(file, JSON.stringify(now));
  console.log(`redis-leftovers: ${total} key(s) under test-*/praxa-demo-* before the run`);
} else {
  const before = mode === "--check" ? JSON.parse(readFileSync(file, "utf8")) : {};
  const grown = Object.entries(now)
    .map(([prefix, n]) => [prefix, n - (before[prefix] ?? 0)])
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const left = grown.reduce((a, [, n]) => a + n, 0);
  console.log(`redis-leftovers: ${left} key(s) left under ${grown.length} test-*/praxa-demo-* prefix(es)`);
  for (const [prefix, n] of grown.slice(0, 20)) console.log(`  ${prefix}: ${n}`);
  if (mode === "--check" && left > 0) {
    console.log("redis-leftovers: a suite or the demo did not remove its Redis prefix (removeRedisPrefix)");
    process.exitCode = 1;
  }
}
