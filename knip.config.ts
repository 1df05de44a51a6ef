/**
 * knip (in `pnpm lint`): unused files, exports and dependencies. Workspaces are matched by glob, so a new package or
 * app (packages/*, apps/*) is covered without an edit here. Entry points: each package's public surface
 * (src/index.ts), each app's process (src/main.ts) and its surface for the test suites (src/index.ts), the tests and
 * harnesses beside the code, test/ and bench/, the root scripts and tool configs.
 */
import type { KnipConfig } from "knip";

const tests = ["src/**/*.test.ts", "src/**/test-harness.ts"];

const config: KnipConfig = {
  // test/container drives the machine's podman (installed by scripts/image/build.mjs), not a package's binary;
  // scripts/redis-leftovers.mjs scans with the machine's redis-cli (which .ci/run checks Redis with too);
  // test/browser/chromium.ts installs Debian's Chromium with apt-get (as root) when it is missing.
  ignoreBinaries: ["podman", "redis-cli", "apt-get"],
  workspaces: {
    ".": {
      // eslint.config.mjs and jest.config.mjs are found by knip's ESLint and Jest plugins.
      entry: ["scripts/**/*.mjs"],
      project: ["scripts/**/*.mjs", "*.{mjs,ts}"],
      // eslint.config.mjs names the resolver `node` in `import/resolver`; the import plugin's resolver loader then
      // requires `eslint-import-resolver-node` by that name at lint time — no import statement shows it.
      // @stryker-mutator/jest-runner: StrykerJS loads its test runner plugin by name (`testRunner: "jest"`,
      // scripts/mutation/js-mutations.mjs) — no import statement shows it.
      ignoreDependencies: ["eslint-import-resolver-node", "@stryker-mutator/jest-runner"],
    },
    "packages/*": {
      // scripts/*.mjs: a package's own generators (packages/api-client/scripts/generate.mjs, run by `pnpm api:openapi`).
      entry: ["src/**/*.test.ts", "scripts/*.mjs"],
      project: ["src/**/*.ts", "scripts/*.mjs"],
    },
    "apps/*": {
      entry: [
        "src/main.ts",
        "src/index.ts",
        ...tests,
        // Loaded as worker threads by URL (new Worker(new URL('./audit-verify-worker.js', import.meta.url))), which no
        // import graph shows.
        "src/**/*-worker.ts",
      ],
      project: ["src/**/*.ts"],
    },
    // The console: a Vite app (index.html → src/main.tsx), checked by scripts/bundle-scan.mjs.
    "apps/web": {
      project: ["src/**/*.{ts,tsx}"],
    },
    test: {
      entry: ["**/*.test.ts"],
      project: ["**/*.ts"],
      // Written to fail the boundaries lint on purpose (test/lint/boundaries.test.ts lints them); never imported.
      ignore: ["lint-fixtures/**"],
    },
    bench: {
      // `pnpm bench <name>` runs bench/<name>/index.ts (scripts/run-bench.mjs) by path; a bench's own processes
      // (stand-in services, worker processes, the sandbox GitHub, the load generators) are spawned by path from it.
      entry: [
        "*/index.ts",
        "*/*-standin.ts",
        "*/standin-*.ts",
        "ingest/load-generator.ts",
        "worker/github-sandbox.ts",
        "scale/load.ts",
        "siem/deliver.ts",
        "siem/baseline.ts",
      ],
      project: ["**/*.ts"],
    },
  },
};

export default config;
