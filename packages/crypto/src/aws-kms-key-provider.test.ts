/**
 * AwsKmsKeyProvider through the real AWS SDK (`@aws-sdk/client-kms`) against the loopback KMS.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetPublicKeyCommand,
  KMSClient,
  SignCommand,
  VerifyCommand,
} from "@aws-sdk/client-kms";
import { createPublicKey, verify } from "node:crypto";
import { ConfigError, PermissionDeniedError, UnavailableError } from "@praxa/core";
import { startKmsServer, type KmsServer } from "@praxa/testkit";
import { AwsKmsKeyProvider } from "./aws-kms-key-provider.js";
import { mapKmsError } from "./aws-kms-errors.js";
import { utf8 } from "./bytes.js";
import { parseEncryptionContext } from "./encryption-context.js";
import { DecryptFailedError, KeyNotFoundError, KeyProviderError, KeyUnavailableError } from "./errors.js";
import { verifySignature } from "./key-provider.js";
import { createTenantKey, openTenantKey } from "./tenant-key.js";
import { openKeyProvider } from "./open-key-provider.js";

let server: KmsServer;
let client: KMSClient;

const clientFor = (url: string): KMSClient =>
  new KMSClient({
    region: "us-west-1",
    endpoint: url,
    credentials: { accessKeyId: "AKIDLOOPBACK", secretAccessKey: "loopback" },
    maxAttempts: 1,
  });

beforeAll(async () => {
  server = await startKmsServer();
  client = clientFor(server.url);
});
afterAll(async () => {
  client.destroy();
  await server.close();
});

const ctx = parseEncryptionContext({ tenant_id: "tn_01jkms" });

describe("the AWS SDK against the loopback KMS", () => {
  it("right context → round trip; wrong context → the SDK surfaces InvalidCiphertextException", async () => {
    const generated = await client.send(
      new GenerateDataKeyCommand({
        KeyId: "alias/praxa-test",
        KeySpec: "AES_256",
        EncryptionContext: { tenant_id: "tn_01jkms" },
      }),
    );
    expect(generated.Plaintext).toHaveLength(32);
    expect(generated.KeyId).toBe(server.symmetricKey.arn);
    const ok = await client.send(
      new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob, EncryptionContext: { tenant_id: "tn_01jkms" } }),
    );
    expect(Buffer.from(ok.Plaintext ?? []).equals(Buffer.from(generated.Plaintext ?? []))).toBe(true);

    const wrong = await client
      .send(
        new DecryptCommand({
          CiphertextBlob: generated.CiphertextBlob,
          EncryptionContext: { tenant_id: "tn_01jother" },
        }),
      )
      .catch((e: unknown) => e);
    expect(wrong).toMatchObject({ name: "InvalidCiphertextException", $fault: "client" });
    expect(mapKmsError("Decrypt", wrong)).toBeInstanceOf(DecryptFailedError);
  });

  it("Sign + GetPublicKey: the signature verifies with the returned SubjectPublicKeyInfo DER", async () => {
    const message = utf8("checkpoint bytes");
    const pub = await client.send(new GetPublicKeyCommand({ KeyId: "alias/praxa-audit" }));
    expect(pub.KeySpec).toBe("ECC_NIST_P256");
    expect(pub.SigningAlgorithms).toEqual(["ECDSA_SHA_256"]);
    const signed = await client.send(
      new SignCommand({
        KeyId: "alias/praxa-audit",
        Message: message,
        MessageType: "RAW",
        SigningAlgorithm: "ECDSA_SHA_256",
      }),
    );
    const key = createPublicKey({ key: Buffer.from(pub.PublicKey ?? []), format: "der", type: "spki" });
    expect(verify("sha256", message, key, Buffer.from(signed.Signature ?? []))).toBe(true);
  });
});

describe("AwsKmsKeyProvider", () => {
  it("maps a wrong encryption context to DecryptFailedError (reason kms-refused) and round-trips the right one", async () => {
    const provider = new AwsKmsKeyProvider({
      client,
      wrappingKeyId: server.symmetricKey.keyId,
      signingKeyId: "alias/praxa-audit",
    });
    const tenantKey = await createTenantKey(provider, "tn_01jkms");
    const reopened = await openTenantKey(provider, tenantKey.toRecord());
    expect(reopened.keyId).toBe(tenantKey.keyId);
    const err = await openTenantKey(provider, { ...tenantKey.toRecord(), tenantId: "tn_01jother" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DecryptFailedError);
    expect(err).toMatchObject({
      code: "DECRYPT_FAILED",
      reason: "kms-refused",
      details: { operation: "Decrypt", awsError: "InvalidCiphertextException" },
    });
  });

  it("sends every call with the EncryptionContext naming the tenant, and asks GetPublicKey once", async () => {
    const before = { ...server.calls };
    const provider = new AwsKmsKeyProvider({
      client,
      wrappingKeyId: "alias/praxa-test",
      signingKeyId: "alias/praxa-audit",
    });
    const start = server.requests.length;
    const wrapped = await provider.wrap(utf8("x"), ctx);
    await provider.unwrap(wrapped, ctx);
    await provider.generateDataKey(ctx);
    for (const req of server.requests.slice(start)) {
      expect(JSON.parse(req.body.toString()).EncryptionContext).toEqual({ tenant_id: "tn_01jkms" });
    }
    await provider.sign(utf8("a"));
    await provider.sign(utf8("b"));
    await provider.publicKey();
    expect((server.calls["GetPublicKey"] ?? 0) - (before["GetPublicKey"] ?? 0)).toBe(1);
    expect((server.calls["Sign"] ?? 0) - (before["Sign"] ?? 0)).toBe(2);
    expect((server.calls["Encrypt"] ?? 0) - (before["Encrypt"] ?? 0)).toBe(1);
    expect((server.calls["Decrypt"] ?? 0) - (before["Decrypt"] ?? 0)).toBe(1);
    expect((server.calls["GenerateDataKey"] ?? 0) - (before["GenerateDataKey"] ?? 0)).toBe(1);
  });

  it("signs with an ECC_NIST_EDWARDS25519 key as ED25519_SHA_512", async () => {
    const ed = server.createKey("ECC_NIST_EDWARDS25519", "alias/praxa-audit-ed25519");
    const provider = new AwsKmsKeyProvider({ client, wrappingKeyId: "alias/praxa-test", signingKeyId: ed.arn });
    const publicKey = await provider.publicKey();
    expect(publicKey).toMatchObject({ algorithm: "ed25519", keyId: ed.arn });
    const message = utf8("checkpoint");
    expect(verifySignature(publicKey, message, await provider.sign(message))).toBe(true);
  });

  it("a ciphertext of another KMS key is refused (IncorrectKeyException → DecryptFailedError)", async () => {
    const other = server.createKey("SYMMETRIC_DEFAULT");
    const a = new AwsKmsKeyProvider({ client, wrappingKeyId: other.keyId, signingKeyId: "alias/praxa-audit" });
    const b = new AwsKmsKeyProvider({ client, wrappingKeyId: "alias/praxa-test", signingKeyId: "alias/praxa-audit" });
    const err = await b.unwrap(await a.wrap(utf8("foreign"), ctx), ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "DECRYPT_FAILED", details: { awsError: "IncorrectKeyException" } });
  });

  it("maps an unknown key to KeyNotFoundError and a symmetric signing key to KeyProviderError", async () => {
    const missing = new AwsKmsKeyProvider({
      client,
      wrappingKeyId: "alias/does-not-exist",
      signingKeyId: server.symmetricKey.arn,
    });
    await expect(missing.generateDataKey(ctx)).rejects.toThrow(KeyNotFoundError);
    await expect(missing.sign(utf8("x"))).rejects.toThrow(KeyProviderError);
  });

  it("maps an unreachable KMS to UnavailableError (retryable)", async () => {
    const dead = await startKmsServer();
    const url = dead.url;
    await dead.close();
    const offline = clientFor(url);
    try {
      const provider = new AwsKmsKeyProvider({
        client: offline,
        wrappingKeyId: "alias/praxa-test",
        signingKeyId: "alias/praxa-audit",
      });
      const err = await provider.generateDataKey(ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnavailableError);
      expect((err as UnavailableError).retryable).toBe(true);
    } finally {
      offline.destroy();
    }
  });

  it("maps the remaining KMS error families", () => {
    const aws = (name: string, status = 400): unknown =>
      Object.assign(new Error("m"), {
        name,
        $fault: status >= 500 ? "server" : "client",
        $metadata: { httpStatusCode: status },
      });
    expect(mapKmsError("Decrypt", aws("AccessDeniedException"))).toBeInstanceOf(PermissionDeniedError);
    expect(mapKmsError("Decrypt", aws("DisabledException"))).toBeInstanceOf(KeyUnavailableError);
    expect(mapKmsError("Decrypt", aws("KMSInvalidStateException"))).toBeInstanceOf(KeyUnavailableError);
    expect(mapKmsError("Decrypt", aws("ThrottlingException"))).toBeInstanceOf(UnavailableError);
    expect(mapKmsError("Decrypt", aws("KMSInternalException", 500))).toBeInstanceOf(UnavailableError);
    expect(mapKmsError("Encrypt", aws("InvalidKeyUsageException"))).toBeInstanceOf(KeyProviderError);
  });
});

/**
 * Key usage as real KMS enforces it (API Reference: InvalidKeyUsageException — "For encrypting, decrypting,
 * re-encrypting, and generating data keys, the KeyUsage must be ENCRYPT_DECRYPT. For signing and verifying messages,
 * the KeyUsage must be SIGN_VERIFY"; a signing algorithm the key spec does not offer → InvalidKeyUsageException;
 * GetPublicKey of a symmetric key → UnsupportedOperationException), through the real SDK.
 */
describe("the loopback KMS enforces key usage as KMS does (real @aws-sdk/client-kms)", () => {
  const fail = (p: Promise<unknown>) =>
    p.then(
      () => "succeeded",
      (e: unknown) => (e as { name?: string }).name,
    );

  it("CreateKey: a key has one usage, and KMS picks the algorithms from its spec", async () => {
    const sym = await client.send(new CreateKeyCommand({}));
    expect(sym.KeyMetadata).toMatchObject({
      KeySpec: "SYMMETRIC_DEFAULT",
      KeyUsage: "ENCRYPT_DECRYPT",
      EncryptionAlgorithms: ["SYMMETRIC_DEFAULT"],
    });
    const ec = await client.send(new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }));
    expect(ec.KeyMetadata).toMatchObject({
      KeySpec: "ECC_NIST_P256",
      KeyUsage: "SIGN_VERIFY",
      SigningAlgorithms: ["ECDSA_SHA_256"],
    });
    const k1 = await client.send(new CreateKeyCommand({ KeySpec: "ECC_SECG_P256K1", KeyUsage: "SIGN_VERIFY" }));
    expect(k1.KeyMetadata?.SigningAlgorithms).toEqual(["ECDSA_SHA_256"]);
    const rsa = await client.send(new CreateKeyCommand({ KeySpec: "RSA_2048", KeyUsage: "SIGN_VERIFY" }));
    expect(rsa.KeyMetadata?.SigningAlgorithms).toContain("RSASSA_PSS_SHA_256");
    expect(
      await fail(client.send(new CreateKeyCommand({ KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "SIGN_VERIFY" }))),
    ).toBe("ValidationException");
    expect(
      await fail(client.send(new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "ENCRYPT_DECRYPT" }))),
    ).toBe("ValidationException");
    expect((await client.send(new DescribeKeyCommand({ KeyId: "alias/praxa-audit" }))).KeyMetadata).toMatchObject({
      KeyUsage: "SIGN_VERIFY",
      KeySpec: "ECC_NIST_P256",
    });
  });

  it("Encrypt / Decrypt / GenerateDataKey on a SIGN_VERIFY key → InvalidKeyUsageException", async () => {
    const signKey = server.signingKey.arn;
    const context = { tenant_id: "tn_01jkms" };
    expect(
      await fail(client.send(new EncryptCommand({ KeyId: signKey, Plaintext: utf8("x"), EncryptionContext: context }))),
    ).toBe("InvalidKeyUsageException");
    expect(
      await fail(
        client.send(new GenerateDataKeyCommand({ KeyId: signKey, KeySpec: "AES_256", EncryptionContext: context })),
      ),
    ).toBe("InvalidKeyUsageException");
    const wrapped = await client.send(
      new EncryptCommand({ KeyId: "alias/praxa-test", Plaintext: utf8("x"), EncryptionContext: context }),
    );
    expect(
      await fail(
        client.send(
          new DecryptCommand({ KeyId: signKey, CiphertextBlob: wrapped.CiphertextBlob, EncryptionContext: context }),
        ),
      ),
    ).toBe("InvalidKeyUsageException");
    // An RSA key made for encryption is not a symmetric key either: SYMMETRIC_DEFAULT is refused on it.
    const rsaEnc = server.createKey("RSA_2048", undefined, "ENCRYPT_DECRYPT");
    expect(await fail(client.send(new GenerateDataKeyCommand({ KeyId: rsaEnc.arn, KeySpec: "AES_256" })))).toBe(
      "InvalidKeyUsageException",
    );
  });

  it("Sign / Verify on a symmetric key → InvalidKeyUsageException; GetPublicKey → UnsupportedOperationException", async () => {
    const symKey = server.symmetricKey.arn;
    expect(
      await fail(
        client.send(
          new SignCommand({ KeyId: symKey, Message: utf8("m"), MessageType: "RAW", SigningAlgorithm: "ECDSA_SHA_256" }),
        ),
      ),
    ).toBe("InvalidKeyUsageException");
    expect(
      await fail(
        client.send(
          new VerifyCommand({
            KeyId: symKey,
            Message: utf8("m"),
            Signature: utf8("s"),
            MessageType: "RAW",
            SigningAlgorithm: "ECDSA_SHA_256",
          }),
        ),
      ),
    ).toBe("InvalidKeyUsageException");
    expect(await fail(client.send(new GetPublicKeyCommand({ KeyId: symKey })))).toBe("UnsupportedOperationException");
    const rsaEnc = server.createKey("RSA_2048", undefined, "ENCRYPT_DECRYPT");
    expect(
      await fail(
        client.send(
          new SignCommand({
            KeyId: rsaEnc.arn,
            Message: utf8("m"),
            MessageType: "RAW",
            SigningAlgorithm: "RSASSA_PSS_SHA_256",
          }),
        ),
      ),
    ).toBe("InvalidKeyUsageException");
  });

  it("Sign with an algorithm the key spec does not offer → InvalidKeyUsageException; offered ones sign and Verify", async () => {
    const p256 = server.signingKey.arn;
    for (const algorithm of ["ECDSA_SHA_384", "RSASSA_PSS_SHA_256", "ED25519_SHA_512"] as const) {
      expect(
        await fail(
          client.send(
            new SignCommand({ KeyId: p256, Message: utf8("m"), MessageType: "RAW", SigningAlgorithm: algorithm }),
          ),
        ),
      ).toBe("InvalidKeyUsageException");
    }
    const signed = await client.send(
      new SignCommand({ KeyId: p256, Message: utf8("m"), MessageType: "RAW", SigningAlgorithm: "ECDSA_SHA_256" }),
    );
    expect(
      (
        await client.send(
          new VerifyCommand({
            KeyId: p256,
            Message: utf8("m"),
            Signature: signed.Signature,
            MessageType: "RAW",
            SigningAlgorithm: "ECDSA_SHA_256",
          }),
        )
      ).SignatureValid,
    ).toBe(true);
    expect(
      await fail(
        client.send(
          new VerifyCommand({
            KeyId: p256,
            Message: utf8("n"),
            Signature: signed.Signature,
            MessageType: "RAW",
            SigningAlgorithm: "ECDSA_SHA_256",
          }),
        ),
      ),
    ).toBe("KMSInvalidSignatureException");
    const rsa = server.createKey("RSA_2048", undefined, "SIGN_VERIFY");
    const pss = await client.send(
      new SignCommand({
        KeyId: rsa.arn,
        Message: utf8("m"),
        MessageType: "RAW",
        SigningAlgorithm: "RSASSA_PSS_SHA_256",
      }),
    );
    const rsaPub = createPublicKey({
      key: Buffer.from((await client.send(new GetPublicKeyCommand({ KeyId: rsa.arn }))).PublicKey ?? []),
      format: "der",
      type: "spki",
    });
    expect(
      verify("sha256", utf8("m"), { key: rsaPub, padding: 6, saltLength: 32 }, Buffer.from(pss.Signature ?? [])),
    ).toBe(true);
    expect(
      await fail(
        client.send(
          new SignCommand({
            KeyId: rsa.arn,
            Message: utf8("m"),
            MessageType: "RAW",
            SigningAlgorithm: "ECDSA_SHA_256",
          }),
        ),
      ),
    ).toBe("InvalidKeyUsageException");
  });

  it("one key for both jobs: the provider over it fails exactly where KMS refuses — wrap on a SIGN_VERIFY key, sign on a symmetric key", async () => {
    const signOnly = new AwsKmsKeyProvider({
      client,
      wrappingKeyId: server.signingKey.arn,
      signingKeyId: server.signingKey.arn,
    });
    await expect(signOnly.wrap(utf8("x"), ctx)).rejects.toMatchObject({
      code: "KEY_PROVIDER_FAILED",
      details: { operation: "Encrypt", awsError: "InvalidKeyUsageException" },
    });
    const wrapOnly = new AwsKmsKeyProvider({
      client,
      wrappingKeyId: server.symmetricKey.arn,
      signingKeyId: server.symmetricKey.arn,
    });
    await expect(wrapOnly.sign(utf8("x"))).rejects.toMatchObject({
      code: "KEY_PROVIDER_FAILED",
      details: { operation: "GetPublicKey", awsError: "UnsupportedOperationException" },
    });
  });

  it("openKeyProvider checks both keys with KMS at boot: a wrong key is a ConfigError naming its variable, never its value", async () => {
    const settings = { kind: "aws-kms" as const, keyFile: "/nonexistent", region: "us-west-1", endpoint: server.url };
    const env = {
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
    };
    process.env.AWS_ACCESS_KEY_ID = "AKIDLOOPBACK";
    process.env.AWS_SECRET_ACCESS_KEY = "loopback";
    try {
      const ok = await openKeyProvider({
        ...settings,
        kmsWrapKeyId: "alias/praxa-test",
        kmsSignKeyId: "alias/praxa-audit",
      });
      expect((await ok.publicKey()).algorithm).toBe("ecdsa-p256-sha256");
      const asWrap = await openKeyProvider({
        ...settings,
        kmsWrapKeyId: server.signingKey.arn,
        kmsSignKeyId: "alias/praxa-audit",
      }).catch((e: unknown) => e);
      expect(asWrap).toBeInstanceOf(ConfigError);
      expect((asWrap as ConfigError).issues.map((i) => i.key)).toEqual(["PRAXA_KMS_WRAP_KEY_ID"]);
      expect((asWrap as ConfigError).message).not.toContain(server.signingKey.keyId);
      const asSign = await openKeyProvider({
        ...settings,
        kmsWrapKeyId: "alias/praxa-test",
        kmsSignKeyId: server.symmetricKey.arn,
      }).catch((e: unknown) => e);
      expect((asSign as ConfigError).issues.map((i) => i.key)).toEqual(["PRAXA_KMS_SIGN_KEY_ID"]);
      expect((asSign as ConfigError).message).not.toContain(server.symmetricKey.keyId);
    } finally {
      for (const [k, v] of Object.entries(env)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
