/**
 * One semantic suite, run over both KeyProvider implementations — LocalKeyProvider on a temp key file and
 * AwsKmsKeyProvider through the real AWS SDK against the loopback KMS — so "same semantics both ways" is a test.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { KMSClient } from "@aws-sdk/client-kms";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ValidationError } from "@praxa/core";
import { startKmsServer } from "@praxa/testkit";
import { AwsKmsKeyProvider } from "./aws-kms-key-provider.js";
import { utf8 } from "./bytes.js";
import { parseEncryptionContext, type EncryptionContext } from "./encryption-context.js";
import { DecryptFailedError, EncryptionContextError } from "./errors.js";
import { verifySignature, type KeyProvider } from "./key-provider.js";
import { LocalKeyProvider } from "./local-key-provider.js";

interface Harness {
  readonly provider: KeyProvider;
  close(): Promise<void>;
}

async function localHarness(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "praxa-crypto-sem-"));
  const provider = await LocalKeyProvider.open({ path: join(dir, "keys.json") });
  return { provider, close: () => rm(dir, { recursive: true, force: true }) };
}

async function kmsHarness(): Promise<Harness> {
  const server = await startKmsServer();
  const client = new KMSClient({
    region: "us-west-1",
    endpoint: server.url,
    credentials: { accessKeyId: "AKIDLOOPBACK", secretAccessKey: "loopback" },
    maxAttempts: 1,
  });
  const provider = new AwsKmsKeyProvider({
    client,
    wrappingKeyId: "alias/praxa-test",
    signingKeyId: server.signingKey.arn,
  });
  return {
    provider,
    close: async () => {
      client.destroy();
      await server.close();
    },
  };
}

const tenantA: EncryptionContext = parseEncryptionContext({ tenant_id: "tn_01ja", purpose: "praxa/tenant-key" });
const tenantB: EncryptionContext = parseEncryptionContext({ tenant_id: "tn_01jb", purpose: "praxa/tenant-key" });

describe.each([
  ["LocalKeyProvider", localHarness],
  ["AwsKmsKeyProvider (loopback KMS)", kmsHarness],
])("KeyProvider semantics: %s", (_name, start) => {
  let h: Harness;
  beforeAll(async () => {
    h = await start();
  });
  afterAll(async () => {
    await h.close();
  });

  it("generates distinct 32-byte data keys whose wrapped form unwraps under the same context", async () => {
    const a = await h.provider.generateDataKey(tenantA);
    const b = await h.provider.generateDataKey(tenantA);
    expect(a.plaintext.length).toBe(32);
    expect(Buffer.from(a.plaintext).equals(Buffer.from(b.plaintext))).toBe(false);
    expect(Buffer.from(a.wrapped).equals(Buffer.from(a.plaintext))).toBe(false);
    expect(Buffer.from(await h.provider.unwrap(a.wrapped, tenantA)).equals(Buffer.from(a.plaintext))).toBe(true);
  });

  it("wrap/unwrap round-trips; the same plaintext wraps differently each time", async () => {
    const w1 = await h.provider.wrap(utf8("wrapped secret"), tenantA);
    const w2 = await h.provider.wrap(utf8("wrapped secret"), tenantA);
    expect(Buffer.from(w1).equals(Buffer.from(w2))).toBe(false);
    expect(Buffer.from(await h.provider.unwrap(w1, tenantA)).toString()).toBe("wrapped secret");
  });

  it("the context is bound: another tenant, a changed, added or removed pair → DecryptFailedError", async () => {
    const wrapped = (await h.provider.generateDataKey(tenantA)).wrapped;
    const variants: EncryptionContext[] = [
      tenantB,
      parseEncryptionContext({ tenant_id: "tn_01ja", purpose: "something-else" }),
      parseEncryptionContext({ tenant_id: "tn_01ja", purpose: "praxa/tenant-key", extra: "pair" }),
      parseEncryptionContext({ tenant_id: "tn_01ja" }),
    ];
    for (const ctx of variants) {
      await expect(h.provider.unwrap(wrapped, ctx)).rejects.toThrow(DecryptFailedError);
      await expect(h.provider.unwrap(wrapped, ctx)).rejects.toMatchObject({ code: "DECRYPT_FAILED" });
    }
    // Key order does not matter: the same pairs in another order open it.
    const reordered = parseEncryptionContext({ purpose: "praxa/tenant-key", tenant_id: "tn_01ja" });
    await expect(h.provider.unwrap(wrapped, reordered)).resolves.toHaveLength(32);
  });

  it("tampered, truncated or foreign bytes → DecryptFailedError", async () => {
    const wrapped = await h.provider.wrap(utf8("integrity"), tenantA);
    const flipped = Uint8Array.from(wrapped);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
    await expect(h.provider.unwrap(flipped, tenantA)).rejects.toThrow(DecryptFailedError);
    await expect(h.provider.unwrap(wrapped.subarray(0, 20), tenantA)).rejects.toThrow(DecryptFailedError);
    await expect(h.provider.unwrap(utf8("not a ciphertext at all, just text"), tenantA)).rejects.toThrow(
      DecryptFailedError,
    );
  });

  it("a context that does not name the tenant is refused before any key operation", async () => {
    const noTenant = { workspace_id: "ws_1" } as unknown as EncryptionContext;
    await expect(h.provider.generateDataKey(noTenant)).rejects.toThrow(EncryptionContextError);
    await expect(h.provider.wrap(utf8("x"), noTenant)).rejects.toThrow(EncryptionContextError);
    await expect(h.provider.unwrap(utf8("x"), noTenant)).rejects.toThrow(EncryptionContextError);
  });

  it("wraps 1-4096 bytes and signs 1-4096 bytes; beyond that → ValidationError", async () => {
    await expect(h.provider.wrap(new Uint8Array(4096).fill(7), tenantA)).resolves.toBeInstanceOf(Uint8Array);
    await expect(h.provider.wrap(new Uint8Array(4097), tenantA)).rejects.toThrow(ValidationError);
    await expect(h.provider.wrap(new Uint8Array(0), tenantA)).rejects.toThrow(ValidationError);
    await expect(h.provider.sign(new Uint8Array(4097))).rejects.toThrow(ValidationError);
  });

  it("signs; the signature verifies with publicKey() and fails for another message or a flipped bit", async () => {
    const message = utf8('{"tree_size":42,"root_hash":"abc","workspace":"ws_1"}');
    const signature = await h.provider.sign(message);
    const publicKey = await h.provider.publicKey();
    expect(publicKey.keyId.length).toBeGreaterThan(0);
    expect(verifySignature(publicKey, message, signature)).toBe(true);
    expect(verifySignature(publicKey, utf8('{"tree_size":43}'), signature)).toBe(false);
    const flipped = Uint8Array.from(signature);
    flipped[10] = (flipped[10] ?? 0) ^ 1;
    expect(verifySignature(publicKey, message, flipped)).toBe(false);
    expect(await h.provider.publicKey()).toEqual(publicKey);
  });
});
