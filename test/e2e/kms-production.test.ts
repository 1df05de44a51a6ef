/**
 * Production key handling, as production boots (review finding 4): NODE_ENV=production, settings from (loopback)
 * Secrets Manager, PRAXA_KEY_PROVIDER=aws-kms with two KMS keys — PRAXA_KMS_WRAP_KEY_ID (SYMMETRIC_DEFAULT,
 * ENCRYPT_DECRYPT) and PRAXA_KMS_SIGN_KEY_ID (ECC_NIST_P256, SIGN_VERIFY) — against the loopback KMS, which enforces
 * key usage as KMS does. The real worker and monitor start functions boot on it; a pull request is reviewed end to
 * end (the workspace key unwrapped by KMS Decrypt); the monitor's checkpoint pass signs with KMS ECDSA_SHA_256; the
 * CLI verifies chain and checkpoint, from the database and offline from an export and the pinned keys.
 *
 * And what production refuses: no key provider (the old silent fallback to a fresh `.praxa/master.key`) → a
 * ConfigError naming PRAXA_KEY_PROVIDER, nothing created; the local key file by explicit opt-in → logged at warn
 * (LOCAL_KEY_FILE_IN_PRODUCTION), and a missing file is a boot error, never created; one key for both jobs → refused
 * (by the config when the ids are equal, by KMS's key usage at boot when two names point at keys of the wrong kind).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { bootConfig } from "@praxa/config";
import { ConfigError } from "@praxa/core";
import { openKeyProvider, verifySignature, type KeyProvider } from "@praxa/crypto";
import { createDatabase, databaseUrl, readAuditKeyset } from "@praxa/db";
import { checkpointPass, monitorSigners, startMonitor } from "@praxa/monitor";
import { createLogger } from "@praxa/observability";
import { startKmsServer, startSecretsManagerServer, type KmsServer, type SecretsManagerServer } from "@praxa/testkit";
import { startWorker } from "@praxa/worker";
import { addedPatch, APP_ID, appKey, startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

const cli = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));
const REGION = "us-west-1";
const credentials = { accessKeyId: "AKIDLOOPBACK", secretAccessKey: "loopback" };
const dir = mkdtempSync(join(tmpdir(), "praxa-kms-prod-"));
const auditPem = (): string =>
  generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();

let kms: KmsServer;
let sm: SecretsManagerServer;
let provider: KeyProvider;
let h: WorkerHarness;
const savedEnv: Record<string, string | undefined> = {};

/** The production worker env: only what is not secret; the rest comes from Secrets Manager at boot. */
function workerEnv(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    NODE_ENV: "production",
    LOG_LEVEL: "silent",
    PRAXA_SECRETS_SOURCE: "aws",
    PRAXA_SECRETS_ID: "praxa/prod/worker",
    AWS_REGION: REGION,
    REDIS_URL: h.env.REDIS_URL,
    PRAXA_QUEUE_PREFIX: h.env.PRAXA_QUEUE_PREFIX,
    WORKER_CONCURRENCY: "2",
    // Checkpoints come from the monitor's pass here (the worker's every-N checkpoints use the same provider).
    PRAXA_AUDIT_CHECKPOINT_EVERY: "1000",
    GITHUB_APP_ID: String(APP_ID),
    GITHUB_API_URL: h.env.GITHUB_API_URL,
    PRAXA_KEY_PROVIDER: "aws-kms",
    PRAXA_KMS_WRAP_KEY_ID: "alias/praxa-test",
    PRAXA_KMS_SIGN_KEY_ID: "alias/praxa-audit",
    PRAXA_KMS_ENDPOINT: kms.url,
    // Where a local key file would go: nothing may appear here.
    PRAXA_KEY_FILE: join(dir, ".praxa", "master.key"),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

function monitorEnv(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const {
    WORKER_CONCURRENCY: _c,
    PRAXA_AUDIT_CHECKPOINT_EVERY: _e,
    GITHUB_APP_ID: _g,
    GITHUB_API_URL: _u,
    ...rest
  } = workerEnv({ PRAXA_SECRETS_ID: "praxa/prod/monitor" });
  return Object.fromEntries(
    Object.entries({ ...rest, ...overrides }).filter((e): e is [string, string] => e[1] !== undefined),
  );
}

function praxa(...args: string[]) {
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    DATABASE_URL: databaseUrl(h.tdb.adminUrl, {}),
    LOG_LEVEL: "silent",
    PRAXA_KEY_FILE: join(dir, "cli-master.key"),
    PRAXA_AUDIT_SIGNING_KEY_FILE: join(dir, "cli-audit.key"),
  };
  return spawnSync(process.execPath, [cli, ...args], { env, encoding: "utf8", timeout: 60_000 });
}

async function bootError(start: () => Promise<unknown>): Promise<unknown> {
  return start().then(
    () => {
      throw new Error("expected the boot to be refused");
    },
    (err: unknown) => err,
  );
}

beforeAll(async () => {
  kms = await startKmsServer({ region: REGION });
  // The SDK's default chain: credentials and the Secrets Manager endpoint from the environment, as a task role would.
  for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_SECRETS_MANAGER"])
    savedEnv[k] = process.env[k];
  process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
  provider = await openKeyProvider({
    kind: "aws-kms",
    keyFile: join(dir, "unused"),
    kmsWrapKeyId: "alias/praxa-test",
    kmsSignKeyId: "alias/praxa-audit",
    region: REGION,
    endpoint: kms.url,
  });
  // The workspace key pair is made under the KMS wrapping key (as the keys job does in production).
  h = await startWorkerHarness({ keyProvider: provider });
  sm = await startSecretsManagerServer({
    "praxa/prod/worker": JSON.stringify({
      WORKER_DATABASE_URL: h.tdb.roleUrl("praxa_worker"),
      GITHUB_APP_PRIVATE_KEY: appKey,
      PRAXA_AUDIT_SIGNING_KEY: auditPem(),
    }),
    "praxa/prod/monitor": JSON.stringify({
      MONITOR_DATABASE_URL: h.tdb.roleUrl("praxa_monitor"),
      PRAXA_AUDIT_SIGNING_KEY: auditPem(),
    }),
  });
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = sm.url;
});

afterAll(async () => {
  await h?.close();
  await sm?.close();
  await kms?.close();
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe("production on AWS KMS: two keys, usage enforced", () => {
  it("the worker and the monitor boot on aws-kms; a PR is reviewed; the checkpoint is signed by the KMS sign key and verifies", async () => {
    const worker = await startWorker(workerEnv());
    const monitor = await startMonitor(monitorEnv());
    try {
      const runId = await h.createPrRun({
        number: 4401,
        files: [{ filename: "src/payments/refund.ts", patch: addedPatch(["export const refund = (n: number) => n;"]) }],
      });
      await h.enqueueRun(runId);
      expect(await h.waitForRun(runId)).toEqual({ status: "succeeded", error_code: null });
      expect(h.gh.sandbox.reviews("acme", "shop", 4401)).toHaveLength(1);
      // The second run opens the installation token the first sealed: the workspace's private key is unwrapped by
      // KMS Decrypt under the wrapping key.
      const decryptsBefore = kms.calls["Decrypt"] ?? 0;
      const second = await h.createPrRun({
        number: 4402,
        files: [{ filename: "docs/refunds.md", patch: addedPatch(["# Refunds"]) }],
      });
      await h.enqueueRun(second);
      expect(await h.waitForRun(second)).toEqual({ status: "succeeded", error_code: null });
      expect(h.gh.sandbox.reviews("acme", "shop", 4402)).toHaveLength(1);
      expect((kms.calls["Decrypt"] ?? 0) - decryptsBefore).toBeGreaterThan(0);
      // Settings were read from Secrets Manager, once per boot.
      expect(sm.calls["GetSecretValue"]).toBeGreaterThanOrEqual(2);
    } finally {
      await worker.close();
      await monitor.close();
    }

    // The monitor's checkpoint pass, with the signer its boot builds (KMS Sign, ECDSA_SHA_256 on ECC_NIST_P256).
    const config = await bootConfig("monitor", { env: monitorEnv() });
    const database = createDatabase(config.MONITOR_DATABASE_URL, { max: 2 });
    try {
      const { checkpointSigner } = await monitorSigners(config, database);
      expect(checkpointSigner.keyId).toBe(kms.signingKey.arn);
      const signsBefore = kms.calls["Sign"] ?? 0;
      const pass = await checkpointPass({
        database,
        log: createLogger({ name: "test", level: "silent" }),
        now: Date.now,
        checkpointSigner,
        batch: 100,
      });
      expect(pass.created).toBeGreaterThanOrEqual(1);
      expect((kms.calls["Sign"] ?? 0) - signsBefore).toBe(pass.created);
      const key = (await readAuditKeyset(database)).find((k) => k.keyId === kms.signingKey.arn);
      expect(key).toMatchObject({ purpose: "checkpoint", algorithm: "ecdsa-p256-sha256" });
    } finally {
      await database.close();
    }

    const [cp] = await h.admin<
      { key_id: string; signature: Buffer; body: Buffer }[]
    >`select key_id, signature, body from audit_checkpoints where workspace_id = ${h.ws.workspaceId} and key_id = ${kms.signingKey.arn} order by tree_size desc limit 1`;
    expect(cp).toBeDefined();
    // The signature is ECDSA P-256 / SHA-256 (DER) under the public key KMS hands out for the sign key.
    const pub = await provider.publicKey();
    expect(pub).toMatchObject({ keyId: kms.signingKey.arn, algorithm: "ecdsa-p256-sha256" });
    expect(verifySignature(pub, cp!.body, cp!.signature)).toBe(true);

    // The CLI verifier: from the database, then offline from an export and the pinned key set.
    const online = praxa("audit", "verify", "--workspace", h.ws.workspaceId);
    expect(online.stderr).toBe("");
    expect(online.status).toBe(0);
    const keys = praxa("audit", "keys");
    expect(keys.status).toBe(0);
    const pinned = JSON.parse(keys.stdout) as { key_id: string; algorithm: string }[];
    expect(pinned).toContainEqual(
      expect.objectContaining({ key_id: kms.signingKey.arn, algorithm: "ecdsa-p256-sha256" }),
    );
    writeFileSync(join(dir, "keys.json"), keys.stdout);
    const exported = praxa("audit", "export", "--workspace", h.ws.workspaceId);
    expect(exported.status).toBe(0);
    writeFileSync(join(dir, "export.jsonl"), exported.stdout);
    const offline = praxa(
      "audit",
      "verify",
      "--file",
      join(dir, "export.jsonl"),
      "--keys",
      join(dir, "keys.json"),
      "--full",
    );
    expect(offline.status).toBe(0);

    expect(existsSync(join(dir, ".praxa"))).toBe(false);
  });

  it("production with no key provider: the worker and the monitor refuse to start, naming the variable; no key file is created", async () => {
    const unset = {
      PRAXA_KEY_PROVIDER: undefined,
      PRAXA_KMS_WRAP_KEY_ID: undefined,
      PRAXA_KMS_SIGN_KEY_ID: undefined,
      PRAXA_KMS_ENDPOINT: undefined,
    };
    for (const err of [
      await bootError(() => startWorker(workerEnv(unset))),
      await bootError(() => startMonitor(monitorEnv(unset))),
    ]) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.map((i) => i.key)).toEqual(["PRAXA_KEY_PROVIDER"]);
      expect((err as ConfigError).message).not.toContain(h.tdb.roleUrl("praxa_worker"));
    }
    expect(existsSync(join(dir, ".praxa"))).toBe(false);
  });

  it("a local key file in production: only by explicit opt-in, logged at warn once, and a missing file is a boot error — never created", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const local = {
      PRAXA_KEY_PROVIDER: "local",
      PRAXA_ALLOW_LOCAL_KEY_FILE_IN_PRODUCTION: "true",
      PRAXA_KMS_WRAP_KEY_ID: undefined,
      PRAXA_KMS_SIGN_KEY_ID: undefined,
      LOG_LEVEL: "warn",
    };
    const err = await bootError(() => startWorker(workerEnv(local), { logDestination: sink }));
    expect(err).toMatchObject({ code: "KEY_FILE_MISSING" });
    expect(existsSync(join(dir, ".praxa"))).toBe(false);
    const warned = lines
      .map((l) => JSON.parse(l) as { level: number; code?: string })
      .filter((l) => l.code === "LOCAL_KEY_FILE_IN_PRODUCTION");
    expect(warned).toHaveLength(1);
    expect(warned[0]?.level).toBe(40);
    expect(await bootError(() => startMonitor(monitorEnv({ ...local, LOG_LEVEL: "silent" })))).toMatchObject({
      code: "KEY_FILE_MISSING",
    });
    expect(existsSync(join(dir, ".praxa"))).toBe(false);
    // Without the opt-in, `local` is refused outright.
    const refused = await bootError(() =>
      startWorker(workerEnv({ ...local, PRAXA_ALLOW_LOCAL_KEY_FILE_IN_PRODUCTION: undefined })),
    );
    expect((refused as ConfigError).issues.map((i) => i.key)).toEqual(["PRAXA_KEY_PROVIDER"]);
  });

  it("one KMS key for both jobs is refused: equal ids by the config; a SIGN_VERIFY key as wrap key or a symmetric key as sign key by KMS at boot", async () => {
    const same = await bootError(() =>
      startWorker(
        workerEnv({ PRAXA_KMS_WRAP_KEY_ID: kms.symmetricKey.arn, PRAXA_KMS_SIGN_KEY_ID: kms.symmetricKey.arn }),
      ),
    );
    expect((same as ConfigError).issues.map((i) => i.key)).toEqual(["PRAXA_KMS_SIGN_KEY_ID"]);

    const describes = kms.calls["DescribeKey"] ?? 0;
    const signAsWrap = await bootError(() =>
      startWorker(workerEnv({ PRAXA_KMS_WRAP_KEY_ID: kms.signingKey.arn, PRAXA_KMS_SIGN_KEY_ID: "alias/praxa-audit" })),
    );
    expect(signAsWrap).toBeInstanceOf(ConfigError);
    expect((signAsWrap as ConfigError).issues.map((i) => i.key)).toEqual(["PRAXA_KMS_WRAP_KEY_ID"]);
    expect((kms.calls["DescribeKey"] ?? 0) - describes).toBe(1);

    const wrapAsSign = await bootError(() =>
      startMonitor(
        monitorEnv({ PRAXA_KMS_WRAP_KEY_ID: "alias/praxa-test", PRAXA_KMS_SIGN_KEY_ID: kms.symmetricKey.arn }),
      ),
    );
    expect((wrapAsSign as ConfigError).issues.map((i) => i.key)).toEqual(["PRAXA_KMS_SIGN_KEY_ID"]);
    expect((wrapAsSign as ConfigError).message).not.toContain(kms.symmetricKey.keyId);
    expect(existsSync(join(dir, ".praxa"))).toBe(false);
  });
});
