#!/usr/bin/env node
/**
 * Regenerate the console's screenshots in docs/console/ (runs, run detail, Skill, audit, settings, sign-in): the
 * browser suite (test/browser/console.test.ts) against the real api, database and loopback IdP, with
 * PRAXA_SCREENSHOTS=1. Needs Chromium (/usr/bin/chromium; the suite installs it with apt-get when running as root).
 *
 *   node scripts/console-screenshots.mjs
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const r = spawnSync(process.execPath, ["scripts/run-tests.mjs", "test/browser", "--maxWorkers=1"], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, PRAXA_SCREENSHOTS: "1" },
});
process.exit(r.status ?? 1);
