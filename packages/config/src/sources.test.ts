import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@praxa/core";
import { startSecretsManagerServer, type SecretsManagerServer } from "@praxa/testkit";
import { bootConfig, readEnvFile } from "./index.js";

const credentials = { accessKeyId: "AKIDLOOPBACK", secretAccessKey: "loopback-secret" };

describe("Secrets Manager source (real AWS SDK against the loopback server)", () => {
  let sm: SecretsManagerServer;
  beforeAll(async () => {
    sm = await startSecretsManagerServer({
      "praxa/prod/worker": JSON.stringify({
        WORKER_DATABASE_URL: "postgres://praxa_worker:pw@db.internal/praxa",
        GITHUB_APP_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
      }),
      "praxa/prod/not-json": "hello",
    });
  });
  afterAll(async () => sm.close());

  it("is read once at boot; any number of later reads make zero further calls", async () => {
    const cfg = await bootConfig("worker", {
      env: {
        PRAXA_SECRETS_SOURCE: "aws",
        PRAXA_SECRETS_ID: "praxa/prod/worker",
        AWS_REGION: "us-west-1",
        NODE_ENV: "production",
        // Production refuses to run without KMS (or the explicit local-key-file opt-in).
        PRAXA_KEY_PROVIDER: "aws-kms",
        PRAXA_KMS_WRAP_KEY_ID: "alias/praxa-wrap",
        PRAXA_KMS_SIGN_KEY_ID: "alias/praxa-sign",
      },
      secretsClient: { endpoint: sm.url, credentials },
    });
    expect(sm.calls.GetSecretValue).toBe(1);
    expect(cfg.WORKER_DATABASE_URL).toBe("postgres://praxa_worker:pw@db.internal/praxa");
    // Reads from "any module": the config is plain frozen data, passed around by reference.
    const readers = Array.from({ length: 50 }, () => (c: typeof cfg) => [
      c.WORKER_DATABASE_URL,
      c.GITHUB_APP_PRIVATE_KEY,
      c.REDIS_URL,
    ]);
    for (let i = 0; i < 20; i++) for (const read of readers) read(cfg);
    await new Promise((r) => setTimeout(r, 50));
    expect(sm.calls.GetSecretValue).toBe(1);
    expect(sm.requests).toHaveLength(1);
    expect(sm.requests[0]?.headers["x-amz-target"]).toBe("secretsmanager.GetSecretValue");
  });

  it("a missing secret stops start-up with a ConfigError naming the key, not the value", async () => {
    const err = await bootConfig("worker", {
      env: { PRAXA_SECRETS_SOURCE: "aws", PRAXA_SECRETS_ID: "praxa/prod/absent", AWS_REGION: "us-west-1" },
      secretsClient: { endpoint: sm.url, credentials },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues[0]?.key).toBe("PRAXA_SECRETS_ID");
    expect((err as ConfigError).message).toContain("ResourceNotFoundException");
  });

  it("a secret that is not a JSON object is refused", async () => {
    const err = await bootConfig("worker", {
      env: { PRAXA_SECRETS_SOURCE: "aws", PRAXA_SECRETS_ID: "praxa/prod/not-json", AWS_REGION: "us-west-1" },
      secretsClient: { endpoint: sm.url, credentials },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).not.toContain("hello");
  });
});

describe("environment source", () => {
  it("reads .env in development, with real environment variables taking precedence", async () => {
    const dir = mkdtempSync(join(tmpdir(), "praxa-env-"));
    const file = join(dir, ".env");
    writeFileSync(file, "DATABASE_URL=postgres://from-file@127.0.0.1/a\nLOG_LEVEL=debug\n");
    expect(readEnvFile(join(dir, "absent.env"))).toEqual({});
    const cfg = await bootConfig("migrate", { env: { LOG_LEVEL: "warn" }, envFile: file });
    expect(cfg.DATABASE_URL).toBe("postgres://from-file@127.0.0.1/a");
    expect(cfg.LOG_LEVEL).toBe("warn");
  });

  it("ignores .env in production", async () => {
    const dir = mkdtempSync(join(tmpdir(), "praxa-env-"));
    const file = join(dir, ".env");
    writeFileSync(file, "DATABASE_URL=postgres://from-file@127.0.0.1/a\n");
    await expect(bootConfig("migrate", { env: { NODE_ENV: "production" }, envFile: file })).rejects.toBeInstanceOf(
      ConfigError,
    );
  });
});
