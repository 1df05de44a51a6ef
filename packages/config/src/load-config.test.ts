import { describe, expect, it } from "@jest/globals";
import { ConfigError } from "@praxa/core";
import {
  apiConfigSchema,
  apiIntegrations,
  ingestConfigSchema,
  ingestIntegrations,
  loadConfig,
  migrateConfigSchema,
  monitorConfigSchema,
  redisTarget,
  unconfiguredSummary,
  workerConfigSchema,
  workerIntegrations,
} from "./index.js";

const SECRET = "sEcReT-vAlUe-that-must-never-be-printed";

function catchConfigError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("reports every bad or missing key at once, sorted, and never prints a value", () => {
    const err = catchConfigError(() =>
      loadConfig(ingestConfigSchema, {
        INGEST_DATABASE_URL: `mysql://root:${SECRET}@db/x`,
        REDIS_URL: `http://${SECRET}`,
        INGEST_PORT: "99999",
        LOG_LEVEL: SECRET,
        GITHUB_WEBHOOK_SECRET: "short",
        SLACK_SIGNING_SECRET: `${SECRET}`.slice(0, 8),
      }),
    );
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.issues.map((i) => i.key)).toEqual([
      "GITHUB_WEBHOOK_SECRET",
      "INGEST_DATABASE_URL",
      "INGEST_PORT",
      "LOG_LEVEL",
      "REDIS_URL",
      "SLACK_SIGNING_SECRET",
    ]);
    expect(err.issues.find((i) => i.key === "SLACK_SIGNING_SECRET")?.problem).toBe("must be at least 16 characters");
    expect(err.issues.find((i) => i.key === "INGEST_DATABASE_URL")?.problem).toBe("must be a postgres:// URL");
    const everything = `${err.message}\n${JSON.stringify(err)}\n${JSON.stringify(err.issues)}\n${String(err.stack)}`;
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain("short");
  });

  it("applies defaults, coerces numbers and returns a deeply frozen object", () => {
    const cfg = loadConfig(workerConfigSchema, {
      WORKER_DATABASE_URL: "postgres://praxa_worker@127.0.0.1/praxa",
      WORKER_CONCURRENCY: "8",
    });
    expect(cfg.WORKER_CONCURRENCY).toBe(8);
    expect(cfg.REDIS_URL).toBe("redis://127.0.0.1:6379");
    expect(cfg.PRAXA_KEY_PROVIDER).toBe("local");
    expect(cfg.LOG_LEVEL).toBe("info");
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(() => {
      (cfg as { WORKER_CONCURRENCY: number }).WORKER_CONCURRENCY = 1;
    }).toThrow(TypeError);
  });

  it("the worker's model endpoints are optional URLs, and only the worker has them", () => {
    const base = { WORKER_DATABASE_URL: "postgres://praxa_worker@127.0.0.1/praxa" };
    const cfg = loadConfig(workerConfigSchema, {
      ...base,
      BEDROCK_BASE_URL: "http://127.0.0.1:4566",
      VERTEX_TOKEN_URL: "http://127.0.0.1:4567/token",
    });
    expect(cfg.BEDROCK_BASE_URL).toBe("http://127.0.0.1:4566");
    expect(cfg.VERTEX_TOKEN_URL).toBe("http://127.0.0.1:4567/token");
    expect(cfg.VERTEX_BASE_URL).toBeUndefined();
    expect(
      catchConfigError(() => loadConfig(workerConfigSchema, { ...base, BEDROCK_STS_ENDPOINT: "not a url" })).issues.map(
        (i) => i.key,
      ),
    ).toEqual(["BEDROCK_STS_ENDPOINT"]);
    expect(Object.keys(apiConfigSchema.shape)).not.toContain("VERTEX_TOKEN_URL");
  });

  it("treats empty strings as unset", () => {
    const err = catchConfigError(() => loadConfig(migrateConfigSchema, { DATABASE_URL: "" }));
    expect(err.issues).toEqual([{ key: "DATABASE_URL", problem: "required" }]);
  });

  it("keeps each app to its own slice: the api's config holds nothing that opens a credential", () => {
    const cfg = loadConfig(apiConfigSchema, {
      API_DATABASE_URL: "postgres://praxa_api@127.0.0.1/praxa",
      PRAXA_KEY_FILE: "/etc/praxa/master.key",
      PRAXA_KMS_KEY_ID: "arn:aws:kms:…",
      PRAXA_KMS_WRAP_KEY_ID: "alias/wrap",
      PRAXA_KMS_SIGN_KEY_ID: "alias/sign",
      GITHUB_APP_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----",
      WORKER_DATABASE_URL: "postgres://praxa_worker@127.0.0.1/praxa",
      ANTHROPIC_API_KEY: "sk-ant-x",
    });
    const keys = Object.keys(cfg);
    for (const forbidden of [
      "PRAXA_KEY_FILE",
      "PRAXA_KMS_KEY_ID",
      "PRAXA_KMS_WRAP_KEY_ID",
      "PRAXA_KMS_SIGN_KEY_ID",
      "PRAXA_KEY_PROVIDER",
      "WORKER_DATABASE_URL",
      "ANTHROPIC_API_KEY",
    ]) {
      expect(keys).not.toContain(forbidden);
    }
    expect(Object.keys(apiConfigSchema.shape)).not.toContain("PRAXA_KEY_FILE");
    // The one service secret the api holds: the GitHub App key, to sign App JWTs for the installation lookup at install
    // time. It opens no sealed credential (docs/security.md, "GitHub App installation callback").
    expect(keys).toContain("GITHUB_APP_PRIVATE_KEY");
  });
});

describe("key provider settings (worker, monitor)", () => {
  const worker = { WORKER_DATABASE_URL: "postgres://praxa_worker@127.0.0.1/praxa" };
  const monitor = { MONITOR_DATABASE_URL: "postgres://praxa_monitor@127.0.0.1/praxa" };
  const WRAP = "arn:aws:kms:us-west-1:123456789012:key/wrap-0000";
  const SIGN = "arn:aws:kms:us-west-1:123456789012:key/sign-0000";
  const keys = (fn: () => unknown) => catchConfigError(fn).issues.map((i) => i.key);

  it("production with no provider (the local default) refuses to start, naming the variable and never a value", () => {
    for (const [schema, base] of [
      [workerConfigSchema, worker],
      [monitorConfigSchema, monitor],
    ] as const) {
      const err = catchConfigError(() =>
        loadConfig(schema, { ...base, NODE_ENV: "production", PRAXA_KEY_FILE: `/tmp/${SECRET}` }),
      );
      expect(err.issues.map((i) => i.key)).toEqual(["PRAXA_KEY_PROVIDER"]);
      expect(err.issues[0]?.problem).toMatch(/must be aws-kms in production/);
      expect(`${err.message}${JSON.stringify(err.issues)}`).not.toContain(SECRET);
      expect(keys(() => loadConfig(schema, { ...base, NODE_ENV: "production", PRAXA_KEY_PROVIDER: "local" }))).toEqual([
        "PRAXA_KEY_PROVIDER",
      ]);
    }
  });

  it("production: aws-kms with two keys starts; local only with the explicit opt-in", () => {
    const kms = loadConfig(workerConfigSchema, {
      ...worker,
      NODE_ENV: "production",
      PRAXA_KEY_PROVIDER: "aws-kms",
      PRAXA_KMS_WRAP_KEY_ID: WRAP,
      PRAXA_KMS_SIGN_KEY_ID: SIGN,
    });
    expect([kms.PRAXA_KMS_WRAP_KEY_ID, kms.PRAXA_KMS_SIGN_KEY_ID]).toEqual([WRAP, SIGN]);
    const local = loadConfig(monitorConfigSchema, {
      ...monitor,
      NODE_ENV: "production",
      PRAXA_KEY_PROVIDER: "local",
      PRAXA_ALLOW_LOCAL_KEY_FILE_IN_PRODUCTION: "true",
    });
    expect(local.PRAXA_ALLOW_LOCAL_KEY_FILE_IN_PRODUCTION).toBe(true);
    // Outside production the local key file stays the default.
    expect(loadConfig(workerConfigSchema, { ...worker, NODE_ENV: "development" }).PRAXA_KEY_PROVIDER).toBe("local");
  });

  it("aws-kms needs both key ids, and two different keys (a KMS key either encrypts or signs)", () => {
    expect(keys(() => loadConfig(workerConfigSchema, { ...worker, PRAXA_KEY_PROVIDER: "aws-kms" }))).toEqual([
      "PRAXA_KMS_SIGN_KEY_ID",
      "PRAXA_KMS_WRAP_KEY_ID",
    ]);
    expect(
      keys(() =>
        loadConfig(workerConfigSchema, { ...worker, PRAXA_KEY_PROVIDER: "aws-kms", PRAXA_KMS_WRAP_KEY_ID: WRAP }),
      ),
    ).toEqual(["PRAXA_KMS_SIGN_KEY_ID"]);
    const same = catchConfigError(() =>
      loadConfig(monitorConfigSchema, {
        ...monitor,
        PRAXA_KEY_PROVIDER: "aws-kms",
        PRAXA_KMS_WRAP_KEY_ID: WRAP,
        PRAXA_KMS_SIGN_KEY_ID: WRAP,
      }),
    );
    expect(same.issues).toEqual([
      { key: "PRAXA_KMS_SIGN_KEY_ID", problem: expect.stringMatching(/different key than PRAXA_KMS_WRAP_KEY_ID/) },
    ]);
    expect(same.message).not.toContain(WRAP);
  });

  it("the retired PRAXA_KMS_KEY_ID is refused, naming its replacements", () => {
    const err = catchConfigError(() =>
      loadConfig(workerConfigSchema, {
        ...worker,
        PRAXA_KEY_PROVIDER: "aws-kms",
        PRAXA_KMS_KEY_ID: WRAP,
        PRAXA_KMS_WRAP_KEY_ID: WRAP,
        PRAXA_KMS_SIGN_KEY_ID: SIGN,
      }),
    );
    expect(err.issues).toEqual([
      { key: "PRAXA_KMS_KEY_ID", problem: expect.stringMatching(/PRAXA_KMS_WRAP_KEY_ID .*PRAXA_KMS_SIGN_KEY_ID/) },
    ]);
  });

  it("ingest opens no key and has no key-provider setting (production ingest needs no KMS)", () => {
    expect(Object.keys(ingestConfigSchema.shape)).not.toContain("PRAXA_KEY_PROVIDER");
  });
});

describe("integrations are optional", () => {
  const ingest = { INGEST_DATABASE_URL: "postgres://praxa_ingest@127.0.0.1/praxa" };

  it("ingest loads with only GitHub, only Slack, or neither; the unconfigured ones are named (names only)", () => {
    const gh = loadConfig(ingestConfigSchema, { ...ingest, GITHUB_WEBHOOK_SECRET: SECRET });
    expect(gh.SLACK_SIGNING_SECRET).toBeUndefined();
    expect(unconfiguredSummary(ingestIntegrations(gh))).toEqual({
      integrations: ["slack"],
      missing: ["SLACK_SIGNING_SECRET"],
    });
    const slack = loadConfig(ingestConfigSchema, { ...ingest, SLACK_SIGNING_SECRET: SECRET });
    expect(unconfiguredSummary(ingestIntegrations(slack))).toEqual({
      integrations: ["github"],
      missing: ["GITHUB_WEBHOOK_SECRET"],
    });
    const none = loadConfig(ingestConfigSchema, ingest);
    expect(unconfiguredSummary(ingestIntegrations(none))?.integrations).toEqual(["github", "slack"]);
    expect(
      unconfiguredSummary(
        ingestIntegrations(
          loadConfig(ingestConfigSchema, { ...ingest, GITHUB_WEBHOOK_SECRET: SECRET, SLACK_SIGNING_SECRET: SECRET }),
        ),
      ),
    ).toBeNull();
    expect(JSON.stringify(unconfiguredSummary(ingestIntegrations(gh)))).not.toContain(SECRET);
  });

  it("api and worker name their missing apps", () => {
    const api = loadConfig(apiConfigSchema, {
      API_DATABASE_URL: "postgres://praxa_api@127.0.0.1/praxa",
      SLACK_CLIENT_ID: "c",
      SLACK_CLIENT_SECRET: SECRET,
    });
    expect(unconfiguredSummary(apiIntegrations(api))).toEqual({
      integrations: ["github-app"],
      missing: ["GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_SLUG"],
    });
    const worker = loadConfig(workerConfigSchema, {
      WORKER_DATABASE_URL: "postgres://praxa_worker@127.0.0.1/praxa",
      GITHUB_APP_ID: "1",
      GITHUB_APP_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----",
    });
    expect(unconfiguredSummary(workerIntegrations(worker))?.integrations).toEqual(["slack-app", "email"]);
  });
});

describe("Redis: one server or a cluster (every app that uses Redis)", () => {
  const dbUrls = {
    INGEST_DATABASE_URL: "postgres://praxa_ingest@127.0.0.1/praxa",
    WORKER_DATABASE_URL: "postgres://praxa_worker@127.0.0.1/praxa",
    MONITOR_DATABASE_URL: "postgres://praxa_monitor@127.0.0.1/praxa",
    API_DATABASE_URL: "postgres://praxa_api@127.0.0.1/praxa",
  };
  const schemas = [ingestConfigSchema, workerConfigSchema, monitorConfigSchema, apiConfigSchema] as const;

  it("REDIS_CLUSTER_NODES → a cluster target with every seed, TLS and AUTH; unset → REDIS_URL", () => {
    for (const schema of schemas) {
      const cfg = loadConfig(schema, {
        ...dbUrls,
        REDIS_CLUSTER_NODES: " clustercfg.praxa.example.cache.amazonaws.com:6379, 10.0.1.7:7001,[fd00::1]:7002",
        REDIS_CLUSTER_TLS: "true",
        REDIS_CLUSTER_PASSWORD: SECRET,
      });
      expect(redisTarget(cfg)).toEqual({
        clusterNodes: [
          { host: "clustercfg.praxa.example.cache.amazonaws.com", port: 6379 },
          { host: "10.0.1.7", port: 7001 },
          { host: "fd00::1", port: 7002 },
        ],
        tls: true,
        username: undefined,
        password: SECRET,
      });
      expect(redisTarget(loadConfig(schema, { ...dbUrls, REDIS_URL: "rediss://r.example:6380" }))).toBe(
        "rediss://r.example:6380",
      );
    }
  });

  it("a malformed seed list is refused without echoing it", () => {
    for (const bad of ["redis://a:1", "a", "a:1,,b:2", "a:99999", "a:1;b:2"]) {
      const err = catchConfigError(() =>
        loadConfig(workerConfigSchema, { ...dbUrls, REDIS_CLUSTER_NODES: bad.replace("a", SECRET) }),
      );
      expect(err.issues).toEqual([
        { key: "REDIS_CLUSTER_NODES", problem: "must be comma-separated host:port seeds of a Redis Cluster" },
      ]);
      expect(err.message).not.toContain(SECRET);
    }
  });

  it("the queue prefix may carry one hash tag (BullMQ's cluster guidance), nothing unbalanced", () => {
    for (const ok of ["praxa", "{praxa}", "{praxa}:prod", "praxa-{eu}"]) {
      expect(loadConfig(workerConfigSchema, { ...dbUrls, PRAXA_QUEUE_PREFIX: ok }).PRAXA_QUEUE_PREFIX).toBe(ok);
    }
    for (const bad of ["{}", "{praxa", "praxa}", "{a}{b}", "{{a}}", "pra xa", "a*"]) {
      expect(
        catchConfigError(() => loadConfig(workerConfigSchema, { ...dbUrls, PRAXA_QUEUE_PREFIX: bad })).issues,
      ).toEqual([{ key: "PRAXA_QUEUE_PREFIX", problem: expect.any(String) }]);
    }
  });
});
