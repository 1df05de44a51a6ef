/**
 * The bundle scan's rules, one by one, on hand-made bundles (no build: fast enough to run once per mutant — this is
 * what `pnpm mutation` mutates scripts/bundle-scan.mjs against; test/lint/bundle-scan.test.ts proves the same scan on
 * real Vite builds of the console). Each rule is shown to bite on what it names and to leave its near misses alone,
 * and a finding never carries the secret it found.
 */
import { afterAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configurationValues, readEnvFile, scanBundle, type BundleFinding } from "../../scripts/bundle-scan.mjs";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A bundle directory holding `files` (path → content); an object content is written as JSON (a source map). */
function bundle(files: Record<string, string | object>): string {
  const dir = mkdtempSync(join(tmpdir(), "praxa-scan-rules-"));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content));
  }
  return dir;
}

/** The scan of one emitted file with `text` (and no configuration from the environment beyond `env`). */
function scanText(text: string, env: NodeJS.ProcessEnv = {}): BundleFinding[] {
  return scanBundle(bundle({ "assets/index-abc.js": text }), env);
}
const rules = (fs: readonly BundleFinding[]) => [...new Set(fs.map((f) => f.rule))].sort();

/** A source map naming `sources` (what Vite writes beside each chunk). */
const map = (...sources: string[]) => ({ version: 3, file: "index.js", sources, mappings: "" });

describe("module rules (read from the source maps)", () => {
  it.each([
    ["../../packages/db/src/client.ts", "server-only package", "packages/db/src/client.ts"],
    ["../../packages/crypto/src/credential-seal.ts", "server-only package", "packages/crypto/src/credential-seal.ts"],
    ["packages/config/src/schemas.ts", "server-only package", "packages/config/src/schemas.ts"],
    ["../packages/queue/src/index.ts", "server-only package", "packages/queue/src/index.ts"],
    ["../../packages/connectors/src/slack.ts", "server-only package", "packages/connectors/src/slack.ts"],
    ["../../node_modules/@praxa/db/dist/index.js", "server-only package", "node_modules/@praxa/db/dist/index.js"],
    ["../../node_modules/postgres/src/index.js", "privileged client", "node_modules/postgres/src/index.js"],
    ["../../node_modules/pg/lib/client.js", "privileged client", "node_modules/pg/lib/client.js"],
    ["../../node_modules/pg-protocol/dist/index.js", "privileged client", "node_modules/pg-protocol/dist/index.js"],
    ["../../node_modules/ioredis/built/Redis.js", "privileged client", "node_modules/ioredis/built/Redis.js"],
    ["../../node_modules/bullmq/dist/esm/index.js", "privileged client", "node_modules/bullmq/dist/esm/index.js"],
    ["../../node_modules/redis/dist/index.js", "privileged client", "node_modules/redis/dist/index.js"],
    ["../../node_modules/drizzle-orm/index.js", "privileged client", "node_modules/drizzle-orm/index.js"],
    [
      "../../node_modules/@aws-sdk/client-s3/dist-es/index.js",
      "privileged client",
      "node_modules/@aws-sdk/client-s3/dist-es/index.js",
    ],
    [
      "../../node_modules/@smithy/signature-v4/dist-es/index.js",
      "privileged client",
      "node_modules/@smithy/signature-v4/dist-es/index.js",
    ],
    ["..\\..\\packages\\db\\src\\client.ts", "server-only package", "packages/db/src/client.ts"],
  ])("%s → %s", (source, rule, detail) => {
    const findings = scanBundle(bundle({ "assets/index.js.map": map("../../apps/web/src/main.tsx", source) }));
    expect(findings).toEqual([{ rule, file: join("assets", "index.js.map"), detail }]);
  });

  it("strips only the leading ../ of a module's path in what it prints", () => {
    const findings = scanBundle(bundle({ "assets/index.js.map": map("packages/db/src/../src/client.ts") }));
    expect(findings.map((f) => f.detail)).toEqual(["packages/db/src/../src/client.ts"]);
  });

  it("leaves the console's own modules and its browser libraries alone", () => {
    const findings = scanBundle(
      bundle({
        "assets/index.js.map": map(
          "../../apps/web/src/main.tsx",
          "../../packages/api-client/src/index.ts",
          "../../node_modules/react-dom/cjs/react-dom.production.js",
          "../../node_modules/@tanstack/react-query/build/modern/index.js",
          "../../node_modules/zod/v4/core/core.js",
          "../../node_modules/recharts/es6/index.js",
          "../../packages/dbx/src/x.ts", // a look-alike name is not the package
          "../../node_modules/postgresql-types/index.js",
          "../../node_modules/@aws-sdkx/index.js",
        ),
      }),
    );
    expect(findings).toEqual([]);
  });

  it("reads every source map in the bundle, in subdirectories too, and a map without sources is clean", () => {
    const findings = scanBundle(
      bundle({
        "assets/a.js.map": map("../../node_modules/ioredis/built/index.js"),
        "assets/lazy/b.js.map": map("../../../packages/db/src/index.ts"),
        "assets/c.js.map": { version: 3, mappings: "" },
      }),
    );
    expect(findings.map((f) => [f.file, f.rule])).toEqual(
      expect.arrayContaining([
        [join("assets", "a.js.map"), "privileged client"],
        [join("assets", "lazy", "b.js.map"), "server-only package"],
      ]),
    );
    expect(findings).toHaveLength(2);
  });

  it("does not read a source map's text as bundle text (maps are built for the scan and never shipped)", () => {
    const findings = scanBundle(
      bundle({ "assets/index.js.map": { ...map("../../apps/web/src/main.tsx"), sourcesContent: ["ioredis"] } }),
    );
    expect(findings).toEqual([]);
  });
});

describe("text rules (the emitted files)", () => {
  it.each([
    ["server-only package name", 'import("@praxa/db")'],
    ["server-only package name", "from '@praxa/crypto'"],
    ["server-only package name", '"@praxa/config"'],
    ["server-only package name", '"@praxa/queue"'],
    ["server-only package name", '"@praxa/connectors"'],
    ["database or Redis URL", '"postgres://praxa_api:pw@db.internal:5432/praxa"'],
    ["database or Redis URL", '"postgresql://db/x"'],
    ["database or Redis URL", '"REDIS://cache:6379"'],
    ["database or Redis URL", '"rediss://cache:6380"'],
    ["database or Redis URL", '"mysql://db/x"'],
    ["database or Redis URL", '"mongodb://db/x"'],
    ["database or Redis URL", '"mongodb+srv://cluster/x"'],
    ["PEM private key", '"-----BEGIN PRIVATE KEY-----\\nMC4C"'],
    ["PEM private key", '"-----BEGIN RSA PRIVATE KEY-----"'],
    ["PEM private key", '"-----BEGIN EC PRIVATE KEY-----"'],
    ["webhook signing secret", '"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"'],
    ["webhook signing secret", '"whsk_abc"'],
    ["AWS access key id", '"AKIAIOSFODNN7EXAMPLE"'],
    ["AWS access key id", '"ASIAIOSFODNN7EXAMPLE"'],
    ["AWS access key id", '"AGPAIOSFODNN7EXAMPLE"'],
    ["AWS access key id", '"AIDAIOSFODNN7EXAMPLE"'],
    ["AWS access key id", '"AROAIOSFODNN7EXAMPLE"'],
    ["AWS access key id", '"ANPAIOSFODNN7EXAMPLE"'],
    ["api token", '"praxa_tk_0123456789abcdef"'],
    ["api token", '"praxa_tk_ab-cd_ef12"'],
    ["postgres client code", '"SCRAM-SHA-256"'],
    ["ioredis client code", "new ioredis.Redis()"],
    ["AWS SDK client code", '"x-amz-security-token"'],
    ["AWS SDK client code", '"X-Amz-Content-Sha256"'],
    ["AWS SDK client code", '"x-amz-date"'],
  ])("%s: %s", (rule, text) => {
    const findings = scanText(`const a = ${text};`);
    expect(rules(findings)).toEqual([rule]);
    expect(findings[0]).toEqual({ rule, file: join("assets", "index-abc.js"), detail: expect.any(String) });
  });

  it.each([
    ['"@praxa/api-client"', "the console's own client"],
    ['"@praxa/dbx"', "a look-alike package name"],
    ['"postgres:// "', "a scheme with nothing after it"],
    ['"https://example.com/postgres"', "a word in a URL"],
    ['"-----BEGIN PUBLIC KEY-----"', "a public key"],
    ['"whsec"', "the word without its underscore"],
    ['"xwhsec_abc"', "inside a longer word"],
    ['"AKIAIOSFODNN7EXAMPL"', "a key id one character short"],
    ['"AKIAIOSFODNN7EXAMPLEX"', "one character long"],
    ['"akiaiosfodnn7example"', "lower case"],
    ['"praxa_tk_short"', "a token prefix with under 8 characters"],
    ['"SCRAM-SHA-1"', "another SASL mechanism"],
    ['"ioredisx"', "a look-alike word"],
    ['"x-amz-meta-name"', "another x-amz header"],
    ['"development"', "a plain word"],
  ])("leaves %s alone (%s)", (text) => {
    expect(scanText(`const a = ${text};`)).toEqual([]);
  });

  it("scans every emitted file, not only scripts, and names each file", () => {
    const findings = scanBundle(
      bundle({
        "index.html": '<meta content="postgres://db/x">',
        "assets/style.css": ".a{}",
        "assets/lazy/chunk.js": '"-----BEGIN PRIVATE KEY-----"',
      }),
      {},
    );
    expect(findings.map((f) => [f.file, f.rule]).sort()).toEqual([
      [join("assets", "lazy", "chunk.js"), "PEM private key"],
      ["index.html", "database or Redis URL"],
    ]);
  });
});

describe("service configuration values", () => {
  const canary = () => `canary-${randomBytes(12).toString("hex")}`;

  it("finds a configured value in the bundle, naming its key and never the value", () => {
    const secret = canary();
    const findings = scanText(`const k = "${secret}";`, { GITHUB_WEBHOOK_SECRET: secret });
    expect(findings).toEqual([
      { rule: "service configuration value", file: join("assets", "index-abc.js"), detail: "GITHUB_WEBHOOK_SECRET" },
    ]);
    expect(JSON.stringify(findings)).not.toContain(secret);
  });

  it("takes values from the environment for every key .env.example documents (live or commented out), and its live example values", () => {
    const secret = canary();
    const values = configurationValues({ SLACK_SIGNING_SECRET: secret, NOT_DOCUMENTED_KEY: canary() });
    expect(values).toEqual(expect.arrayContaining([{ key: "SLACK_SIGNING_SECRET", value: secret }]));
    expect(values.some((v) => v.key === "NOT_DOCUMENTED_KEY")).toBe(false);
    // A live example line counts (its value is what a copied .env would hold)…
    expect(values).toEqual(
      expect.arrayContaining([{ key: "API_DATABASE_URL", value: "postgres://praxa_api@127.0.0.1:5432/praxa" }]),
    );
    expect(values).toEqual(expect.arrayContaining([{ key: "PRAXA_KEY_FILE", value: ".praxa/master.key" }]));
    // …its comment does not; a commented-out line documents its key (its value from the environment counts) but its
    // example value is only an example.
    expect(values.some((v) => v.value.includes("#"))).toBe(false);
    expect(values.some((v) => v.key === "PRAXA_SECRETS_ID")).toBe(false);
    expect(configurationValues({ PRAXA_SECRETS_ID: "praxa/prod/api" })).toEqual(
      expect.arrayContaining([{ key: "PRAXA_SECRETS_ID", value: "praxa/prod/api" }]),
    );
  });

  it("trims values and ignores what says nothing secret: under 8 characters, a plain word, a number", () => {
    const values = configurationValues({
      GITHUB_WEBHOOK_SECRET: "  spaced-out-value  ",
      SLACK_SIGNING_SECRET: "short-7",
      LOG_LEVEL: "information",
      WORKER_LEASE_SECONDS: "123456789",
      WORKER_CONCURRENCY: "12.50000",
    }).map((v) => v.value);
    expect(values).toContain("spaced-out-value");
    for (const ignored of ["short-7", "information", "123456789", "12.50000"]) expect(values).not.toContain(ignored);
    // 8 characters is long enough
    expect(configurationValues({ GITHUB_WEBHOOK_SECRET: "abcd-123" }).map((v) => v.value)).toContain("abcd-123");
  });

  it("reads a .env file: plain, double-quoted (escapes kept) and single-quoted values; comments document keys only", () => {
    const dir = mkdtempSync(join(tmpdir(), "praxa-scan-env-"));
    dirs.push(dir);
    const file = join(dir, ".env");
    writeFileSync(
      file,
      [
        "PLAIN_KEY=plain-value-1 # a comment after it",
        'DOUBLE_KEY="double value \\"quoted\\" 2"',
        "SINGLE_KEY='single value 3'",
        "  INDENTED_KEY=indented-value-4",
        "MIDQUOTE_KEY=it's-a-value-7",
        "EMPTY_KEY=",
        "# COMMENTED_KEY=example-only-5",
        "   # INDENTED_COMMENT_KEY=example-only-6",
        "# PLAIN_KEY is documented above; a later mention PLAIN_KEY=not-a-value must not override it",
        "lower_key=ignored",
        "",
      ].join("\n"),
    );
    const values = readEnvFile(file);
    expect(Object.fromEntries(values)).toEqual({
      PLAIN_KEY: "plain-value-1",
      DOUBLE_KEY: 'double value \\"quoted\\" 2',
      SINGLE_KEY: "single value 3",
      INDENTED_KEY: "indented-value-4",
      MIDQUOTE_KEY: "it's-a-value-7",
      EMPTY_KEY: "",
      COMMENTED_KEY: undefined,
      INDENTED_COMMENT_KEY: undefined,
    });
    expect(readEnvFile(join(dir, "missing.env")).size).toBe(0);
  });
});
