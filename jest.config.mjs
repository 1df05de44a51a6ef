/**
 * One jest run for the whole workspace: unit tests beside the code, integration tests against the real Postgres and
 * Redis, end-to-end and security suites in test/.
 *
 * ESM decision (see docs/decisions/0001-jest-native-esm.md): tests run as native ES modules. The test script starts
 * Node with --experimental-vm-modules; @swc/jest strips types and keeps `import`/`export`; ESM-only dependencies
 * (Octokit, for one) load as they are, untransformed. Workspace packages resolve to their TypeScript sources, so the
 * suite never depends on a stale build.
 */
const swc = [
  "@swc/jest",
  {
    jsc: {
      parser: { syntax: "typescript", tsx: true },
      target: "es2022",
      transform: { react: { runtime: "automatic" } },
    },
    module: { type: "es6" },
    sourceMaps: "inline",
  },
];

export default {
  rootDir: ".",
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts", ".tsx"],
  transform: { "^.+\\.tsx?$": swc },
  moduleNameMapper: {
    "^@praxa/(ingest|worker|monitor|api)$": "<rootDir>/apps/$1/src/index.ts",
    "^@praxa/([a-z-]+)$": "<rootDir>/packages/$1/src/index.ts",
    "^(\\.{1,2}/.*)\\.js$": "$1",
  },
  testMatch: [
    "<rootDir>/{apps,packages}/*/src/**/*.test.ts",
    "<rootDir>/test/**/*.test.ts",
    "<rootDir>/infra/**/*.test.ts",
  ],
  testPathIgnorePatterns: [
    "/node_modules/",
    "/dist/",
    "<rootDir>/test/lint-fixtures/",
    "<rootDir>/infra/cdk.out/",
    "<rootDir>/.stryker-tmp/",
  ],
  // StrykerJS's sandboxes (pnpm mutation) are copies of the workspace: never a second @praxa/* package to jest.
  modulePathIgnorePatterns: ["<rootDir>/.stryker-tmp/"],
  testTimeout: 60_000,
};
