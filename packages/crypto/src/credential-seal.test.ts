import { describe, expect, it } from "@jest/globals";
import {
  CredentialPrivateKey,
  credentialAad,
  credentialPublicKeyOf,
  generateCredentialKeyPair,
  openCredential,
  sealCredential,
} from "./credential-seal.js";
import { CiphertextMalformedError, DecryptFailedError } from "./errors.js";
import { parseSealedCredential } from "./sealed-credential.js";

const ctx = { workspaceId: "ws_01jabc", provider: "anthropic", purpose: "api_key" } as const;

async function keyPair(
  keyId = "wsk_test",
): Promise<{ publicKey: { keyId: string; publicKey: Uint8Array }; privateKey: CredentialPrivateKey }> {
  const { publicKey, privateKey } = await generateCredentialKeyPair(keyId);
  const opener = await CredentialPrivateKey.fromRaw(keyId, privateKey);
  privateKey.fill(0);
  return { publicKey, privateKey: opener };
}

describe("sealCredential / openCredential (HPKE base mode, X25519 / HKDF-SHA256 / AES-256-GCM)", () => {
  it("seals with the public key alone and opens with the private key", async () => {
    const { publicKey, privateKey } = await keyPair();
    const sealed = await sealCredential(publicKey, ctx, "sk-ant-api03-example");
    expect(Buffer.from(await openCredential(privateKey, ctx, sealed)).toString()).toBe("sk-ant-api03-example");
  });

  it("writes the v1 layout: type 0x02, version, suite ids, key id, 32-byte enc, ciphertext with a 16-byte tag", async () => {
    const { publicKey } = await keyPair("wsk_layout");
    const sealed = await sealCredential(publicKey, ctx, "abc");
    expect([...sealed.subarray(0, 8)]).toEqual([0x02, 0x01, 0x00, 0x20, 0x00, 0x01, 0x00, 0x02]);
    const parsed = parseSealedCredential(sealed);
    expect(parsed.keyId).toBe("wsk_layout");
    expect(parsed.enc.length).toBe(32);
    expect(parsed.ciphertext.length).toBe(3 + 16);
  });

  it("AAD binding: a ciphertext moved to another workspace, provider or purpose fails to open", async () => {
    const { publicKey, privateKey } = await keyPair();
    const sealed = await sealCredential(publicKey, ctx, "bound to its place");
    for (const moved of [
      { ...ctx, workspaceId: "ws_01jother" },
      { ...ctx, provider: "bedrock" },
      { ...ctx, purpose: "refresh_token" },
    ]) {
      await expect(openCredential(privateKey, moved, sealed)).rejects.toThrow(DecryptFailedError);
      await expect(openCredential(privateKey, moved, sealed)).rejects.toMatchObject({
        code: "DECRYPT_FAILED",
        reason: "authentication",
      });
    }
    expect(Buffer.from(await openCredential(privateKey, ctx, sealed)).toString()).toBe("bound to its place");
  });

  it("the AAD is length-prefixed: shifting a boundary between fields changes it", () => {
    const a = credentialAad({ workspaceId: "ws_1", provider: "ab", purpose: "c" });
    const b = credentialAad({ workspaceId: "ws_1", provider: "a", purpose: "bc" });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(a).subarray(0, 12).toString("hex")).toBe(`00000008${Buffer.from("praxa/v1").toString("hex")}`);
  });

  // Under mutation (`pnpm mutation` sets PRAXA_MUTATION=1) 200 seals: a mutant that makes enc repeat repeats it within
  // two, and the 10^4 only cost time per mutant there.
  const SEALS = process.env["PRAXA_MUTATION"] === "1" ? 200 : 10_000;
  it(`${SEALS} seals: every encapsulated key (enc) is distinct`, async () => {
    const { publicKey } = await keyPair();
    const encs = new Set<string>();
    for (let i = 0; i < SEALS; i++) {
      const sealed = await sealCredential(publicKey, ctx, "same plaintext every time");
      encs.add(Buffer.from(parseSealedCredential(sealed).enc).toString("hex"));
    }
    expect(encs.size).toBe(SEALS);
  }, 120_000);

  it("another key pair, or a key of another id, cannot open it", async () => {
    const { publicKey } = await keyPair("wsk_a");
    const other = await keyPair("wsk_a");
    const otherId = await keyPair("wsk_b");
    const sealed = await sealCredential(publicKey, ctx, "for wsk_a only");
    await expect(openCredential(other.privateKey, ctx, sealed)).rejects.toMatchObject({ reason: "authentication" });
    await expect(openCredential(otherId.privateKey, ctx, sealed)).rejects.toMatchObject({ reason: "wrong-key" });
  });

  it("tampering with the header, enc or ciphertext is detected", async () => {
    const { publicKey, privateKey } = await keyPair("wsk_tamper");
    const sealed = await sealCredential(publicKey, ctx, "tamper-evident");
    const header = parseSealedCredential(sealed).header.length;
    for (const index of [header + 3, header + 40, sealed.length - 1]) {
      const copy = Uint8Array.from(sealed);
      copy[index] = (copy[index] ?? 0) ^ 0x80;
      await expect(openCredential(privateKey, ctx, copy)).rejects.toThrow(DecryptFailedError);
    }
    await expect(openCredential(privateKey, ctx, sealed.subarray(0, header + 20))).rejects.toThrow(
      CiphertextMalformedError,
    );
    const badSuite = Uint8Array.from(sealed);
    badSuite[7] = 0x01; // AES-128-GCM
    await expect(openCredential(privateKey, ctx, badSuite)).rejects.toThrow(/unsupported HPKE suite/);
  });

  it("derives the public key from a raw private key (used to check unwrapped keys against their record)", async () => {
    const { publicKey, privateKey } = await generateCredentialKeyPair("wsk_derive");
    expect(Buffer.from(credentialPublicKeyOf(privateKey)).equals(Buffer.from(publicKey.publicKey))).toBe(true);
  });

  it("a private key object serializes to nothing secret", async () => {
    const { privateKey } = await keyPair("wsk_json");
    expect(JSON.stringify(privateKey)).toBe('{"keyId":"wsk_json"}');
  });
});
