import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPublicKey, verify } from "node:crypto";
import { startKmsServer, type KmsServer } from "./kms-server.js";

let server: KmsServer;

beforeAll(async () => {
  server = await startKmsServer();
});
afterAll(async () => {
  await server.close();
});

async function kms(
  op: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/`, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": `TrentService.${op}`,
      authorization:
        "AWS4-HMAC-SHA256 Credential=AKIDLOOPBACK/20260101/us-west-1/kms/aws4_request, SignedHeaders=host, Signature=00",
      ...headers,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const b64 = (s: string): string => Buffer.from(s).toString("base64");

describe("loopback KMS (AWS JSON 1.1, TrentService.*)", () => {
  it("Encrypt/Decrypt round-trip under the same EncryptionContext, in any key order", async () => {
    const enc = await kms("Encrypt", {
      KeyId: "alias/praxa-test",
      Plaintext: b64("hello"),
      EncryptionContext: { tenant_id: "t1", a: "b" },
    });
    expect(enc.status).toBe(200);
    expect(enc.json["KeyId"]).toBe(server.symmetricKey.arn);
    const dec = await kms("Decrypt", {
      CiphertextBlob: enc.json["CiphertextBlob"],
      EncryptionContext: { a: "b", tenant_id: "t1" },
    });
    expect(dec.status).toBe(200);
    expect(Buffer.from(String(dec.json["Plaintext"]), "base64").toString()).toBe("hello");
  });

  it("binds the EncryptionContext: a changed, missing or extra pair → 400 InvalidCiphertextException", async () => {
    const enc = await kms("Encrypt", {
      KeyId: server.symmetricKey.keyId,
      Plaintext: b64("bound"),
      EncryptionContext: { tenant_id: "t1" },
    });
    for (const EncryptionContext of [{ tenant_id: "t2" }, undefined, { tenant_id: "t1", x: "y" }]) {
      const dec = await kms("Decrypt", { CiphertextBlob: enc.json["CiphertextBlob"], EncryptionContext });
      expect(dec.status).toBe(400);
      expect(dec.json["__type"]).toBe("InvalidCiphertextException");
      expect(typeof dec.json["Message"]).toBe("string");
    }
  });

  it("GenerateDataKey returns a plaintext key and its blob; KeySpec or NumberOfBytes, not both", async () => {
    const gen = await kms("GenerateDataKey", {
      KeyId: server.symmetricKey.arn,
      KeySpec: "AES_256",
      EncryptionContext: { tenant_id: "t1" },
    });
    expect(Buffer.from(String(gen.json["Plaintext"]), "base64")).toHaveLength(32);
    const dec = await kms("Decrypt", {
      CiphertextBlob: gen.json["CiphertextBlob"],
      EncryptionContext: { tenant_id: "t1" },
      KeyId: "alias/praxa-test",
    });
    expect(dec.json["Plaintext"]).toBe(gen.json["Plaintext"]);
    const both = await kms("GenerateDataKey", { KeyId: "alias/praxa-test", KeySpec: "AES_256", NumberOfBytes: 32 });
    expect(both.json["__type"]).toBe("ValidationException");
  });

  it("Decrypt with a KeyId naming another key → IncorrectKeyException; an unknown key → NotFoundException", async () => {
    const other = server.createKey();
    const enc = await kms("Encrypt", { KeyId: other.keyId, Plaintext: b64("x") });
    const dec = await kms("Decrypt", { CiphertextBlob: enc.json["CiphertextBlob"], KeyId: "alias/praxa-test" });
    expect(dec.json["__type"]).toBe("IncorrectKeyException");
    const missing = await kms("Encrypt", { KeyId: "alias/nope", Plaintext: b64("x") });
    expect(missing.json["__type"]).toBe("NotFoundException");
  });

  it("Sign/GetPublicKey use real keys: ECDSA P-256 (DER) and Ed25519 verify with the returned SPKI", async () => {
    const message = "signed tree head";
    const pub = await kms("GetPublicKey", { KeyId: "alias/praxa-audit" });
    expect(pub.json).toMatchObject({
      KeySpec: "ECC_NIST_P256",
      KeyUsage: "SIGN_VERIFY",
      SigningAlgorithms: ["ECDSA_SHA_256"],
    });
    const sig = await kms("Sign", {
      KeyId: "alias/praxa-audit",
      Message: b64(message),
      MessageType: "RAW",
      SigningAlgorithm: "ECDSA_SHA_256",
    });
    const key = createPublicKey({
      key: Buffer.from(String(pub.json["PublicKey"]), "base64"),
      format: "der",
      type: "spki",
    });
    expect(verify("sha256", Buffer.from(message), key, Buffer.from(String(sig.json["Signature"]), "base64"))).toBe(
      true,
    );

    const ed = server.createKey("ECC_NIST_EDWARDS25519");
    const edPub = await kms("GetPublicKey", { KeyId: ed.arn });
    const edSig = await kms("Sign", {
      KeyId: ed.keyId,
      Message: b64(message),
      MessageType: "RAW",
      SigningAlgorithm: "ED25519_SHA_512",
    });
    const edKey = createPublicKey({
      key: Buffer.from(String(edPub.json["PublicKey"]), "base64"),
      format: "der",
      type: "spki",
    });
    expect(verify(null, Buffer.from(message), edKey, Buffer.from(String(edSig.json["Signature"]), "base64"))).toBe(
      true,
    );
  });

  it("refuses wrong key usage, unsupported message types, missing auth and unknown operations", async () => {
    expect(
      (await kms("Sign", { KeyId: "alias/praxa-test", Message: b64("m"), SigningAlgorithm: "ECDSA_SHA_256" })).json[
        "__type"
      ],
    ).toBe("InvalidKeyUsageException");
    expect((await kms("Encrypt", { KeyId: "alias/praxa-audit", Plaintext: b64("m") })).json["__type"]).toBe(
      "InvalidKeyUsageException",
    );
    expect(
      (await kms("Sign", { KeyId: "alias/praxa-audit", Message: b64("m"), SigningAlgorithm: "ED25519_SHA_512" })).json[
        "__type"
      ],
    ).toBe("InvalidKeyUsageException");
    expect(
      (
        await kms("Sign", {
          KeyId: "alias/praxa-audit",
          Message: b64("m"),
          MessageType: "DIGEST",
          SigningAlgorithm: "ECDSA_SHA_256",
        })
      ).json["__type"],
    ).toBe("UnsupportedOperationException");
    expect(
      (await kms("Encrypt", { KeyId: "alias/praxa-test", Plaintext: Buffer.alloc(4097).toString("base64") })).json[
        "__type"
      ],
    ).toBe("ValidationException");
    expect(
      (await kms("Encrypt", { KeyId: "alias/praxa-test", Plaintext: b64("m") }, { authorization: "" })).json["__type"],
    ).toBe("MissingAuthenticationTokenException");
    expect((await kms("ScheduleKeyDeletion", { KeyId: "alias/praxa-test" })).json["__type"]).toBe(
      "UnknownOperationException",
    );
  });

  it("counts calls per operation", async () => {
    const before = server.calls["GetPublicKey"] ?? 0;
    await kms("GetPublicKey", { KeyId: "alias/praxa-audit" });
    expect(server.calls["GetPublicKey"]).toBe(before + 1);
  });
});
