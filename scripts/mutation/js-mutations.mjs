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
//   … --gate                                               the per-commit gate (.ci/run): leave out the modules
//                                                          marked `"perCommit": false` in modules.json, printing why
//   … --ranges                                             print each module's mutate list as Stryker gets it
//                                                          (anchors resolved to line ranges) and stop
//
// A mutate entry names a file, a glob, or part of a file by its declarations (resolved on every run, so it follows
// the code; a range written as line numbers went stale whenever its file changed):
//   file.ts#name        the lines of the one declaration named `name` (function, class or variable, at any depth)
//   file.ts#from..to    from the first line of `from` to the last line of `to`
//   file.ts#name()      the statements that call `name` (with the `if` that guards the call, when it has no block)
// An anchor that matches no declaration, or more than one, stops the run with the entry named.
//
// Time budget: PRAXA_MUTATION_BUDGET_S (seconds, unset = none) bounds the JS modules. Each module runs in a child
// process of its own; a module whose `estimateS` no longer fits in what is left is not started, and one still running
// when the budget runs out is killed (its process group). Either is printed as SKIPPED FOR TIME — loudly, in the
// summary and the last line (`mutation: INCOMPLETE`), never counted as passed — and does not fail the run: the budget
// protects CI's 90 minutes, the modules left over are run with `--module`. With a budget the modules run cheapest
// first, so as many as possible finish. A surviving mutant in a module that ran fails the run.
// Under mutation the suites see PRAXA_MUTATION=1 (a suite may shrink a repetition count that only costs time there).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveAnchor } from "./anchors.mjs";

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
const one = values("--one")[0]; // internal: the child process that runs one module
const budgetS = Number(process.env.PRAXA_MUTATION_BUDGET_S ?? 0) || 0;
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
// (Anchors are resolved to line ranges below, before any entry is read.)
const fileOf = (p) => p.replace(/^!/, "").replace(/:\d+(:\d+)?-\d+(:\d+)?$/, "");

for (const m of config.modules) m.mutate = m.mutate.flatMap((entry) => resolveAnchor(root, entry));
const touches = (files, patterns) => files.some((f) => patterns.some((p) => globToRegExp(fileOf(p)).test(f)));
const ALWAYS = ["scripts/mutation/**", "package.json", "pnpm-lock.yaml", "jest.config.mjs"];

process.env.PRAXA_TEST = "1";
process.env.PRAXA_MUTATION = "1";

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

if (argv.includes("--gate")) {
  for (const m of modules.filter((x) => x.perCommit === false))
    console.log(
      `mutation: NOT IN THE PER-COMMIT GATE ${m.name} — ${m.perCommitReason} (run: pnpm mutation --module ${m.name})`,
    );
  modules = modules.filter((m) => m.perCommit !== false);
}
if (budgetS > 0) modules = [...modules].sort((a, b) => (a.estimateS ?? 0) - (b.estimateS ?? 0));

// The replacement with its whitespace collapsed, as printed below: what an entry of equivalent-mutants.json carries.
const keyOf = (m) => `${m.file}:${m.line} ${m.mutator} ${m.replacement.replace(/\s+/g, " ")}`;
const listed = new Map(equivalents.map((e) => [keyOf(e), e]));
for (const e of equivalents)
  if (!e.reason || e.reason.length < 20) throw new Error(`equivalent ${keyOf(e)} needs a written reason`);

if (argv.includes("--ranges")) {
  for (const m of modules) console.log(`${m.name.padEnd(22)} ${m.mutate.join("  ")}`);
  process.exit(0);
}
if (one) {
  await runModule(config.modules.find((m) => m.name === one));
  process.exit(0);
}
mkdirSync(reportDir, { recursive: true });
const t0 = Date.now();
const rows = [];
const skipped = [];
let failed = false;
for (const mod of modules) {
  const leftS = budgetS > 0 ? budgetS - (Date.now() - t0) / 1000 : Infinity;
  if (leftS < (mod.estimateS ?? 1)) {
    skipped.push({
      module: mod.name,
      why: `not started: needs about ${mod.estimateS ?? "?"} s, ${Math.max(0, Math.round(leftS))} s left`,
    });
    console.log(`SKIPPED FOR TIME ${mod.name}: ${skipped.at(-1).why} (PRAXA_MUTATION_BUDGET_S=${budgetS})`);
    continue;
  }
  const rowFile = join(reportDir, `${mod.name}.row.json`);
  rmSync(rowFile, { force: true });
  const cut = await runChild(mod.name, leftS);
  if (cut || !existsSync(rowFile)) {
    if (cut) {
      rmSync(join(root, ".stryker-tmp", mod.name), { recursive: true, force: true }); // the killed run's sandbox only
      skipped.push({ module: mod.name, why: `cut off after ${Math.round(leftS)} s: the budget ran out` });
      console.log(`SKIPPED FOR TIME ${mod.name}: ${skipped.at(-1).why} (PRAXA_MUTATION_BUDGET_S=${budgetS})`);
    } else {
      console.log(`FAILED   ${mod.name}: Stryker did not finish (see above)`);
      failed = true;
    }
    continue;
  }
  const row = JSON.parse(readFileSync(rowFile, "utf8"));
  rows.push(row);
  console.log(
    `${row.unlisted.length ? "SURVIVED" : "ok      "} ${mod.name.padEnd(22)} ${row.killed}/${row.killed + row.survived} killed (${(100 * row.score).toFixed(1)} %), ${row.equivalent} listed equivalent, ${row.errors} error, ${row.ignored} ignored  ${row.seconds} s`,
  );
  for (const u of row.unlisted)
    console.log(`    ${u.status} ${u.file}:${u.line} ${u.mutator} → ${u.replacement.replace(/\s+/g, " ")}`);
  if (row.unlisted.length) failed = true;
}

/** Run one module in a child process (its own process group); kill the group when `leftS` runs out. → cut off? */
function runChild(name, leftS) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--one", name], {
      cwd: root,
      stdio: "inherit",
      detached: true,
    });
    // Interrupted (Ctrl-C, CI cancelling): the child's group goes too — it is detached, so it would not on its own.
    const stop = () => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
      rmSync(join(root, ".stryker-tmp", name), { recursive: true, force: true });
      process.exit(130);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    let cut = false;
    const timer =
      leftS === Infinity
        ? undefined
        : setTimeout(
            () => {
              cut = true;
              try {
                process.kill(-child.pid, "SIGKILL");
              } catch {
                // already gone
              }
            },
            Math.max(1, leftS) * 1000,
          );
    child.on("exit", () => {
      clearTimeout(timer);
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(cut);
    });
  });
}

/** The child: Stryker over one module; writes its row (score, survivors) to reports/mutation/<module>.row.json. */
async function runModule(mod) {
  const { Stryker } = await import("@stryker-mutator/core");
  mkdirSync(reportDir, { recursive: true });
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
    tempDirName: `.stryker-tmp/${mod.name}`, // per module: a run cut off for time leaves only its own to remove
    cleanTempDir: true,
    ignorePatterns: [
      ".stryker-tmp/**",
      "**/dist/**",
      "**/*.tsbuildinfo",
      "reports/**",
      ".praxa/**",
      "infra/cdk.out/**",
      "coverage/**",
    ],
    logLevel: "warn",
    fileLogLevel: "off",
  });
  const results = await stryker.runMutationTest();
  const count = (...st) => results.filter((r) => st.includes(r.status)).length;
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
  const valid = killed + survivors.length;
  const row = {
    module: mod.name,
    promise: mod.promise,
    mutants: results.length,
    killed,
    survived: survivors.length,
    equivalent: survivors.filter((x) => listed.has(keyOf(x))).length,
    errors: count("CompileError", "RuntimeError"),
    ignored: count("Ignored"),
    score: valid ? killed / valid : 1,
    seconds: Math.round((Date.now() - started) / 1000),
    unlisted: survivors.filter((x) => !listed.has(keyOf(x))),
  };
  writeFileSync(join(reportDir, `${mod.name}.row.json`), `${JSON.stringify(row, null, 2)}\n`);
}
// A listed equivalent that no run produced any more (line moved, code changed) is stale: the list must be kept true.
const finished = modules.filter((m) => rows.some((r) => r.module === m.name));
const ran = new Set(finished.flatMap((m) => m.mutate));
const seen = new Set();
for (const mod of finished) {
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
  `${JSON.stringify({ at: new Date().toISOString(), budgetS: budgetS || null, modules: rows, skippedForTime: skipped }, null, 2)}\n`,
);

if (runSql) {
  const r = spawnSync(process.execPath, [join(here, "sql-mutations.mjs")], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) failed = true;
}
if (rows.length) {
  console.log("mutation score per module:");
  for (const r of rows)
    console.log(
      `  ${r.module.padEnd(22)} ${(100 * r.score).toFixed(1).padStart(5)} %  ${r.killed}/${r.killed + r.survived} killed, ${r.equivalent} listed equivalent, ${r.unlisted.length} unlisted  ${r.seconds} s`,
    );
}
for (const k of skipped) console.log(`  ${k.module.padEnd(22)} SKIPPED FOR TIME (${k.why})`);
const status = failed ? "FAILED" : skipped.length ? "INCOMPLETE (no survivor in what ran)" : "passed";
const notChecked = skipped.length
  ? ` — ${skipped.length} module(s) skipped for time, NOT checked: ${skipped.map((k) => k.module).join(", ")}`
  : "";
console.log(`mutation: ${status} in ${((Date.now() - t0) / 1000).toFixed(0)} s${notChecked}`);
process.exit(failed ? 1 : 0);
