// ESLint for the whole workspace. The DESIGN dependency rule (docs/architecture.md, DESIGN §2) is enforced by
// eslint-plugin-boundaries: every package and app is an element; `boundaries/dependencies` allows only the edges the
// design allows, and `no-restricted-imports` refuses deep imports into another package's files.
import js from "@eslint/js";
import boundaries from "eslint-plugin-boundaries";
import globals from "globals";
import tseslint from "typescript-eslint";

const PACKAGES = [
  "core",
  "config",
  "crypto",
  "db",
  "egress",
  "observability",
  "queue",
  "runtime",
  "connectors",
  "skills",
  "object-store",
  "testkit",
  "api-client",
];
const APPS = ["ingest", "worker", "monitor", "api", "cli", "web"];

const to = (...types) => ({ to: { element: { types: { anyOf: types } } } });
const BASE = ["config", "crypto", "db", "egress", "observability", "queue", "object-store"]; // import only core
const UPPER = ["runtime", "connectors", "skills"]; // sit above the base packages

export default tseslint.config(
  {
    ignores: [
      ".image/**",
      ".stryker-tmp/**",
      "reports/**",
      "**/dist/**",
      "**/node_modules/**",
      "**/coverage/**",
      "infra/cdk.out/**",
      "**/*.d.ts",
      "test/lint-fixtures/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: "module" },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "no-console": "error",
      eqeqeq: ["error", "always"],
    },
  },
  {
    files: ["**/*.ts", "**/*.tsx", "**/*.mjs"],
    plugins: { boundaries },
    settings: {
      "import/resolver": {
        typescript: { alwaysTryTypes: true, project: "tsconfig.tests.json", noWarnOnMultipleProjects: true },
        node: true,
      },
      "boundaries/include": ["packages/**/*", "apps/**/*", "test/**/*", "bench/**/*"],
      "boundaries/elements": [
        ...PACKAGES.map((p) => ({ type: p, pattern: `packages/${p}` })),
        ...APPS.map((a) => ({ type: `app-${a}`, pattern: `apps/${a}` })),
        { type: "suite", pattern: "test" },
        { type: "bench", pattern: "bench" },
      ],
      "boundaries/files": [{ category: "test", pattern: "**/*.test.{ts,tsx}" }],
    },
    rules: {
      "boundaries/dependencies": [
        "error",
        {
          default: "disallow",
          policies: [
            // core imports nothing of ours.
            // db, crypto, config, observability, queue, object-store import only core.
            { from: { element: { types: { anyOf: BASE } } }, allow: to("core") },
            // runtime, connectors, skills sit above them.
            { from: { element: { types: { anyOf: UPPER } } }, allow: to("core", ...BASE, ...UPPER) },
            // testkit: loopback stand-ins; only core.
            { from: { element: { type: "testkit" } }, allow: to("core") },
            // the api's typed client (generated from its OpenAPI document): only core.
            { from: { element: { type: "api-client" } }, allow: to("core") },
            // apps (but the console) use packages, never another app.
            {
              from: { element: { types: { anyOf: APPS.filter((a) => a !== "web").map((a) => `app-${a}`) } } },
              allow: to("core", ...BASE, ...UPPER, "api-client"),
            },
            // the CLI's offline demo drives the sandbox GitHub of the testkit (DESIGN §2: "used by tests and by the
            // offline demo, never by production code paths"); nothing else in apps may.
            { from: { file: { path: "apps/cli/src/commands/demo-fleet.ts" } }, allow: to("testkit") },
            // …and `demo --skill` its sandbox Slack (loaded on use, like demo-fleet: never in the production path).
            { from: { file: { path: "apps/cli/src/commands/demo-skill.ts" } }, allow: to("testkit") },
            // the console (apps/web, a browser bundle): the api's typed client and browser packages only — never db,
            // crypto, config, queue, connectors, a service credential, nor core (server code). scripts/bundle-scan.mjs
            // checks the built bundle itself.
            { from: { element: { type: "app-web" } }, allow: to("api-client") },
            // end-to-end, security suites and benchmarks may drive anything.
            {
              from: { element: { types: { anyOf: ["suite", "bench"] } } },
              allow: to(...PACKAGES, ...APPS.map((a) => `app-${a}`), "suite", "bench"),
            },
            // unit tests beside the code may also use the testkit.
            { from: { file: { categories: "test" } }, allow: to("testkit") },
          ],
        },
      ],
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@praxa/*/*"],
              message: "Import a package through its entry point (@praxa/<name>), never its files.",
            },
            {
              group: ["**/packages/*/src/**", "**/apps/*/src/**", "../../packages/**", "../../apps/**"],
              message: "Cross-package relative imports are forbidden; import @praxa/<name>.",
            },
          ],
        },
      ],
    },
  },
  {
    // The console runs in a browser: its globals, not Node's.
    files: ["apps/web/src/**"],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ["apps/cli/**", "scripts/**", "bench/**", "test/**", "**/*.test.ts"],
    rules: { "no-console": "off" },
  },
  {
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { ...globals.node } },
  },
);
