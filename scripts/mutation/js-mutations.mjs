#!/usr/bin/env node
// `pnpm mutation`: StrykerJS over the promise-keeping modules of scripts/mutation/modules.json, each module mutated
// against only the suites named for it (docs/decisions/0004-mutation-testing-stryker-jest.md), then the SQL mutants
// (`pnpm mutation:sql`). Prints the mutation score per module. Exit 1 when a mutant survives (or is not covered) in a
// module unless it is listed, with a reason, in equivalent-mutants.json — keyed by file, line, mutator and
// replacement, so a listed mutant cannot hide a new one — or when a listed equivalent no longer occurs (stale entry).
//
//   node scripts/mutation/js-mutations.mjs                 every module, then the SQL mutants
//   … --module guards [--module egress-guard]              only these modules (no SQL)
//   … --js-only | --sql-only
//   … --changed-since <rev>                                only the modules whose files or tests changed since <rev>
//                                                          (everything when <rev> is not in the clone); SQL mutants
//                                                          only when migrations or their suites changed
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const here = join(root, "scripts", "mutation");
const config = JSON.parse(readFileSync(join(here, "modules.json"), "utf8"));
const equivalents = JSON.parse(readFileSync(join(here, "equivalent-mutants.json"), "utf8")).mutants;
const sqlList = JSON.parse(readFileSync(join(here, "sql-mutations.json"), "utf8"));
const reportDir = join(root, "reports", "mutation");

const argv = process.argv.slice(2);
const values = (flag) => argv.flatMap((a, i) => (a === flag && argv[i + 1] ? [argv[i + 1]] : []));
const named = values("--module");
const changedSince = values("--changed-since")[0];
for (const n of named) if (!config.modules.some((m) => m.name === n)) throw new Error(`no module ${n} in modules.json`);

// Which files changed (for CI). Unknown revision (a shallow clone, the first commit) → treat everything as changed.
function changedFiles(rev) {
  const r = spawnSync("git", ["diff", "--name-only", rev, "HEAD"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) return null;
  return r.stdout.split("\n").filter(Boolean);
}
const globToRegExp = (g) =>
  new RegExp(
    `^${g
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .split("**")
      .map((part) => part.replace(/\*/g, "[^/]*"))
      .join(".*")}$`,
  );
// A mutate entry may carry a line range (`file.ts:57-64`): the file is what a diff or an equivalent names.
const fileOf = (p) => p.replace(/^!/, "").replace(/:\d+(:\d+)?-\d+(:\d+)?$/, "");
const touches = (files, patterns) => files.some((f) => patterns.some((p) => globToRegExp(fileOf(p)).test(f)));
const ALWAYS = ["scripts/mutation/**", "package.json", "pnpm-lock.yaml", "jest.config.mjs"];

let modules = named.length > 0 ? config.modules.filter((m) => named.includes(m.name)) : config.modules;
let runSql = named.length === 0 && !argv.includes("--js-only");
if (argv.includes("--sql-only")) modules = [];
if (changedSince) {
  const files = changedFiles(changedSince);
  if (files === null) {
    console.log(`mutation: ${changedSince} is not in this clone — running every module`);
  } else {
    const always = touches(files, ALWAYS);
    modules = modules.filter((m) => always || touches(files, [...m.mutate, ...m.tests]));
    const sqlTests = [...new Set(sqlList.mutations.flatMap((m) => m.tests))];
    runSql =
      runSql && (always || touches(files, ["packages/db/migrations/**", "packages/db/src/migrate.ts", ...sqlTests]));
    console.log(
      `mutation: ${files.length} file(s) changed since ${changedSince}; modules: ${modules.map((m) => m.name).join(", ") || "none"}; SQL: ${runSql ? "yes" : "no"}`,
    );
  }
}

// The replacement with its whitespace collapsed, as printed below: what an entry of equivalent-mutants.json carries.
const keyOf = (m) => `${m.file}:${m.line} ${m.mutator} ${m.replacement.replace(/\s+/g, " ")}`;
const listed = new Map(equivalents.map((e) => [keyOf(e), e]));
for (const e of equivalents)
  if (!e.reason || e.reason.length < 20) throw new Error(`equivalent ${keyOf(e)} needs a written reason`);

process.env.PRAXA_TEST = "1";
const { Stryker } = await import("@stryker-mutator/core");
mkdirSync(reportDir, { recursive: true });
const t0 = Date.now();
const rows = [];
let failed = false;
for (const mod of modules) {
  const started = Date.now();
  const stryker = new Stryker({
    mutate: mod.mutate,
    testRunner: "jest",
    testRunnerNodeArgs: ["--experimental-vm-modules", "--disable-warning=ExperimentalWarning"],
    coverageAnalysis: "perTest",
    jest: {
      projectType: "custom",
      configFile: "jest.config.mjs",
      enableFindRelatedTests: false,
      config: { testMatch: mod.tests.map((t) => `<rootDir>/${t}`) },
    },
    plugins: ["@stryker-mutator/jest-runner", join(here, "stryker-ignore-error-text.mjs")],
    ignorers: ["praxa-error-text"],
    concurrency: Number(process.env.PRAXA_MUTATION_CONCURRENCY ?? 2),
    // A mutant that loops forever (the hand-written JSON reader has loops) is a kill after 1.5 × its tests' time + 5 s.
    timeoutMS: 5_000,
    reporters: ["json"],
    jsonReporter: { fileName: `reports/mutation/${mod.name}.json` },
    tempDirName: ".stryker-tmp",
    cleanTempDir: true,
    ignorePatterns: ["**/dist/**", "**/*.tsbuildinfo", "reports/**", ".praxa/**", "infra/cdk.out/**", "coverage/**"],
    logLevel: "warn",
    fileLogLevel: "off",
  });
  const results = await stryker.runMutationTest();
  const count = (...s) => results.filter((r) => s.includes(r.status)).length;
  const killed = count("Killed", "Timeout");
  const survivors = results
    .filter((r) => r.status === "Survived" || r.status === "NoCoverage")
    .map((r) => ({
      file: relative(root, r.fileName),
      line: r.location.start.line,
      mutator: r.mutatorName,
      replacement: r.replacement,
      status: r.status,
    }));
  const errors = count("CompileError", "RuntimeError");
  const equivalent = survivors.filter((s) => listed.has(keyOf(s)));
  const unlisted = survivors.filter((s) => !listed.has(keyOf(s)));
  const valid = killed + survivors.length;
  const row = {
    module: mod.name,
    promise: mod.promise,
    mutants: results.length,
    killed,
    survived: survivors.length,
    equivalent: equivalent.length,
    errors,
    ignored: count("Ignored"),
    score: valid ? killed / valid : 1,
    seconds: Math.round((Date.now() - started) / 1000),
    unlisted,
  };
  rows.push(row);
  console.log(
    `${unlisted.length ? "SURVIVED" : "ok      "} ${mod.name.padEnd(22)} ${killed}/${valid} killed (${(100 * row.score).toFixed(1)} %), ${equivalent.length} listed equivalent, ${errors} error, ${row.ignored} ignored  ${row.seconds} s`,
  );
  for (const s of unlisted)
    console.log(`    ${s.status} ${s.file}:${s.line} ${s.mutator} → ${s.replacement.replace(/\s+/g, " ")}`);
  if (unlisted.length) failed = true;
}
// A listed equivalent that no run produced any more (line moved, code changed) is stale: the list must be kept true.
const ran = new Set(modules.flatMap((m) => m.mutate));
const seen = new Set();
for (const mod of modules) {
  const report = JSON.parse(readFileSync(join(reportDir, `${mod.name}.json`), "utf8"));
  for (const [file, f] of Object.entries(report.files))
    for (const m of f.mutants)
      seen.add(
        keyOf({
          file: relative(root, join(root, file)),
          line: m.location.start.line,
          mutator: m.mutatorName,
          replacement: m.replacement,
        }),
      );
}
const stale = equivalents.filter(
  (e) => [...ran].some((p) => globToRegExp(fileOf(p)).test(e.file)) && !seen.has(keyOf(e)),
);
for (const e of stale)
  console.log(`STALE equivalent (no such mutant any more): ${keyOf(e)} — remove it from equivalent-mutants.json`);
if (stale.length) failed = true;
if (modules.length)
  console.log(`JS mutation: ${modules.length} module(s) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
writeFileSync(
  join(reportDir, "summary.json"),
  `${JSON.stringify({ at: new Date().toISOString(), modules: rows }, null, 2)}\n`,
);

if (runSql) {
  const r = spawnSync(process.execPath, [join(here, "sql-mutations.mjs")], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) failed = true;
}
console.log(`mutation: ${failed ? "FAILED" : "passed"} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
process.exit(failed ? 1 : 0);
