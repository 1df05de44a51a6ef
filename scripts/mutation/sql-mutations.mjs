#!/usr/bin/env node
// `pnpm mutation:sql`: SQL mutation testing. Each entry of sql-mutations.json breaks the migrations in a scratch copy
// (drop a FORCE, widen a grant, remove a definer's check, drop a trigger …); the suites named for it then run against
// test databases migrated from that copy (PRAXA_TEST_MIGRATIONS_DIR, read only by createTestDatabase) and must fail.
// A control run first proves the same suites pass on the real migrations, and each mutant is applied once to a scratch
// database on its own, so a mutant that does not even apply is reported as such, never counted as killed.
// Exit 0 only when every mutant is killed. `--only <id>` runs one.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const require = createRequire(import.meta.url);
const migrationsDir = join(root, "packages", "db", "migrations");
const list = JSON.parse(readFileSync(join(root, "scripts", "mutation", "sql-mutations.json"), "utf8"));
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
const mutations = list.mutations.filter((m) => !only || m.id === only);
if (mutations.length === 0) {
  console.error(`no mutation ${only}`);
  process.exit(2);
}

const tsc = require.resolve("typescript/bin/tsc");
if (spawnSync(process.execPath, [tsc, "-b", "tsconfig.build.json"], { cwd: root, stdio: "inherit" }).status !== 0)
  process.exit(3);
const { createTestDatabase } = await import(join(root, "packages", "db", "dist", "index.js"));

const jest = join(dirname(require.resolve("jest/package.json")), "bin", "jest.js");
function runSuites(tests, env) {
  const started = Date.now();
  const r = spawnSync(
    process.execPath,
    [
      "--experimental-vm-modules",
      "--disable-warning=ExperimentalWarning",
      jest,
      "--silent",
      "--maxWorkers=2",
      ...tests,
    ],
    {
      cwd: root,
      env: { ...process.env, PRAXA_TEST: "1", ...env },
      encoding: "utf8",
    },
  );
  const failed = /Tests:\s+(\d+) failed/.exec(r.stderr ?? "")?.[1];
  return {
    status: r.status ?? 1,
    seconds: (Date.now() - started) / 1000,
    failed: failed ? Number(failed) : 0,
    output: `${r.stdout ?? ""}${r.stderr ?? ""}`,
  };
}

function mutatedCopy(m) {
  const dir = mkdtempSync(join(tmpdir(), `praxa-sql-mutant-${m.id}-`));
  const files = readdirSync(migrationsDir)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  for (const f of files) copyFileSync(join(migrationsDir, f), join(dir, f));
  if (m.append) writeFileSync(join(dir, "9999_mutant.sql"), `-- mutant ${m.id}\n${m.append}\n`);
  if (m.edit) {
    const target = [...files].reverse().find((f) => readFileSync(join(dir, f), "utf8").includes(m.edit.find));
    if (!target)
      throw new Error(
        `mutant ${m.id}: no migration contains its 'find' text (the migrations changed: update the list)`,
      );
    const text = readFileSync(join(dir, target), "utf8");
    if (text.split(m.edit.find).length !== 2)
      throw new Error(`mutant ${m.id}: its 'find' text occurs more than once in ${target}`);
    writeFileSync(join(dir, target), text.replace(m.edit.find, m.edit.replace));
  }
  return dir;
}

const t0 = Date.now();
const allTests = [...new Set(mutations.flatMap((m) => m.tests))];
process.stdout.write(`control: ${allTests.length} suite(s) on the real migrations … `);
const control = runSuites(allTests, {});
if (control.status !== 0) {
  console.log("FAILED");
  console.log(control.output.slice(-4000));
  console.error("the suites must pass on the real migrations before a mutant can be judged");
  process.exit(3);
}
console.log(`pass (${control.seconds.toFixed(0)} s)`);

const results = [];
for (const m of mutations) {
  let dir;
  try {
    dir = mutatedCopy(m);
    // The mutant must apply on its own: a mutant that breaks the migration run would "kill" every suite for nothing.
    const probe = await createTestDatabase({ prefix: "praxa_mutant_probe", migrationsDir: dir });
    await probe.drop();
    const r = runSuites(m.tests, { PRAXA_TEST_MIGRATIONS_DIR: dir });
    results.push({
      id: m.id,
      kind: m.kind,
      promise: m.promise,
      outcome: r.status !== 0 ? "killed" : "SURVIVED",
      failedTests: r.failed,
      seconds: r.seconds,
    });
  } catch (err) {
    results.push({
      id: m.id,
      kind: m.kind,
      promise: m.promise,
      outcome: "DID NOT APPLY",
      failedTests: 0,
      seconds: 0,
      error: String(err instanceof Error ? err.message : err),
    });
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  const last = results[results.length - 1];
  console.log(
    `${last.outcome.padEnd(13)} ${m.id.padEnd(40)} ${String(last.failedTests).padStart(3)} failing test(s)  ${last.seconds.toFixed(0)} s${last.error ? `  ${last.error}` : ""}`,
  );
}
const killed = results.filter((r) => r.outcome === "killed").length;
console.log(
  `\nSQL mutation score: ${killed}/${results.length} killed (${((100 * killed) / results.length).toFixed(0)} %) in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
);
console.log(
  JSON.stringify({
    mutation: "sql",
    killed,
    total: results.length,
    survived: results.filter((r) => r.outcome !== "killed").map((r) => r.id),
  }),
);
process.exit(killed === results.length ? 0 : 1);
