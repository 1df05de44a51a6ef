/**
 * A canary plaintext never appears in any error: not in `message`, `stack`, `JSON.stringify(error)`, nor anywhere
 * in `util.inspect(error)` (which follows `cause` and `details`), in plain text or base64.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { KMSClient } from "@aws-sdk/client-kms";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { startKmsServer, type KmsServer } from "@praxa/testkit";
import { AwsKmsKeyProvider } from "./aws-kms-key-provider.js";
import { utf8 } from "./bytes.js";
import { CredentialPrivateKey, generateCredentialKeyPair, openCredential, sealCredential } from "./credential-seal.js";
import { parseEncryptionContext } from "./encryption-context.js";
import type { KeyProvider } from "./key-provider.js";
import { LocalKeyProvider } from "./local-key-provider.js";
import { WrappingKey } from "./wrapping-key.js";

const CANARY = "praxa-canary-7f3a9c1e-do-not-leak";
const CANARY_B64 = Buffer.from(CANARY).toString("base64").slice(0, 20);
const canary = utf8(CANARY);
const bigCanary = utf8(CANARY.repeat(200)); // > 4096 bytes

async function failure(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error("expected a failure");
}

function expectClean(err: unknown): void {
  expect(err).toBeInstanceOf(Error);
  const e = err as Error;
  for (const text of [e.message, String(e.stack), JSON.stringify(e), inspect(e, { depth: 10, showHidden: true })]) {
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain(CANARY_B64);
  }
}

let dir: string;
let server: KmsServer;
let client: KMSClient;
let local: KeyProvider;
let kms: KeyProvider;
const ctx = parseEncryptionContext({ tenant_id: "tn_01jcanary" });
const other = parseEncryptionContext({ tenant_id: "tn_01jother" });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "praxa-crypto-canary-"));
  local = await LocalKeyProvider.open({ path: join(dir, "keys.json") });
  server = await startKmsServer();
  client = new KMSClient({
    region: "us-west-1",
    endpoint: server.url,
    credentials: { accessKeyId: "AKIDLOOPBACK", secretAccessKey: "loopback" },
    maxAttempts: 1,
  });
  kms = new AwsKmsKeyProvider({ client, wrappingKeyId: "alias/praxa-test", signingKeyId: "alias/praxa-audit" });
});
afterAll(async () => {
  client.destroy();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe("a canary plaintext never appears in an error", () => {
  it("symmetric wraps: wrong key, wrong context, tampering, spent key", async () => {
    const key = new WrappingKey({ id: "tdk_canary", material: new Uint8Array(32).fill(1), usageLimit: 1 });
    const blob = key.wrap(canary, utf8("aad"));
    expectClean(await failure(() => key.unwrap(blob, utf8("other aad"))));
    expectClean(
      await failure(() =>
        new WrappingKey({ id: "tdk_canary", material: new Uint8Array(32).fill(2) }).unwrap(blob, utf8("aad")),
      ),
    );
    expectClean(await failure(() => key.unwrap(blob.subarray(0, blob.length - 1), utf8("aad"))));
    expectClean(await failure(() => key.wrap(canary, utf8("aad"))));
  });

  it.each([
    ["local", (): KeyProvider => local],
    ["aws-kms", (): KeyProvider => kms],
  ])("key provider %s: wrong context, oversize input, foreign key usage", async (_name, get) => {
    const provider = get();
    const wrapped = await provider.wrap(canary, ctx);
    expectClean(await failure(() => provider.unwrap(wrapped, other)));
    expectClean(await failure(() => provider.wrap(bigCanary, ctx)));
    expectClean(await failure(() => provider.sign(bigCanary)));
  });

  it("KMS refusing an Encrypt of the canary (a signing key used to wrap) leaks nothing from the request", async () => {
    const misconfigured = new AwsKmsKeyProvider({
      client,
      wrappingKeyId: "alias/praxa-audit",
      signingKeyId: "alias/praxa-audit",
    });
    const err = await failure(() => misconfigured.wrap(canary, ctx));
    expect(err).toMatchObject({ code: "KEY_PROVIDER_FAILED", details: { awsError: "InvalidKeyUsageException" } });
    expectClean(err);
  });

  it("sealed credentials: moved context, another key pair, oversize credential", async () => {
    const { publicKey, privateKey } = await generateCredentialKeyPair("wsk_canary");
    const opener = await CredentialPrivateKey.fromRaw("wsk_canary", privateKey);
    const intruder = await generateCredentialKeyPair("wsk_canary");
    const wrongOpener = await CredentialPrivateKey.fromRaw("wsk_canary", intruder.privateKey);
    const cred = { workspaceId: "ws_1", provider: "anthropic", purpose: "api_key" };
    const sealed = await sealCredential(publicKey, cred, CANARY);
    expectClean(await failure(() => openCredential(opener, { ...cred, workspaceId: "ws_2" }, sealed)));
    expectClean(await failure(() => openCredential(wrongOpener, cred, sealed)));
    expectClean(await failure(() => openCredential(opener, cred, sealed.subarray(0, 50))));
    expectClean(await failure(() => sealCredential(publicKey, cred, CANARY.repeat(3000))));
    expect(Buffer.from(await openCredential(opener, cred, sealed)).toString()).toBe(CANARY);
  });
});
