/**
 * The edges of credential sealing (security row 13) that the round trips in credential-seal.test.ts do not reach: the
 * bounds of a credential and of the keys, a context that is not one, an opener that holds no key, the domain label
 * every sealed credential is bound to (a vector sealed once must open forever), and the encryption context's pair
 * limit and canonical bytes. Mutated by `pnpm mutation` (module `credential-sealing`).
 */
import { describe, expect, it } from "@jest/globals";
import { ValidationError } from "@praxa/core";
import {
  CredentialPrivateKey,
  credentialAad,
  credentialPublicKeyOf,
  generateCredentialKeyPair,
  MAX_CREDENTIAL_BYTES,
  openCredential,
  sealCredential,
} from "./credential-seal.js";
import { canonicalEncryptionContext, parseEncryptionContext } from "./encryption-context.js";
import { DecryptFailedError, EncryptionContextError } from "./errors.js";

const ctx = { workspaceId: "ws_vector", provider: "anthropic", purpose: "api_key" } as const;
const hex = (h: string) => new Uint8Array(Buffer.from(h, "hex"));

describe("credential sealing at its edges", () => {
  it("opens a credential sealed by an earlier build (fixed key and bytes): the label and layout do not drift", async () => {
    const raw = hex("105c69151fa318ad9245fc9d4e87f6e0d4999bd4c938bbfe6d49156cc6f9ba6e");
    const sealed = hex(
      "02010020000100020a77736b5f766563746f72106a189ec71c0f6acc00119f4810526162a5b15918321a3109dfab0ccf25f42f62095ef06c278cbb2bb87b533ac666e038ae3094c6932d54a415c39c068331da",
    );
    const opener = await CredentialPrivateKey.fromRaw("wsk_vector", raw);
    expect(Buffer.from(await openCredential(opener, ctx, sealed)).toString()).toBe("vector plaintext");
  });

  it("seals 1 to MAX_CREDENTIAL_BYTES bytes, as given (bytes are not re-encoded), and refuses empty or longer", async () => {
    const { publicKey, privateKey } = await generateCredentialKeyPair("wsk_bounds");
    const opener = await CredentialPrivateKey.fromRaw("wsk_bounds", privateKey);
    const bytes = new Uint8Array([0xff, 0x00, 0x80]);
    expect([...(await openCredential(opener, ctx, await sealCredential(publicKey, ctx, bytes)))]).toEqual([
      0xff, 0x00, 0x80,
    ]);
    const longest = new Uint8Array(MAX_CREDENTIAL_BYTES).fill(7);
    expect((await openCredential(opener, ctx, await sealCredential(publicKey, ctx, longest))).length).toBe(
      MAX_CREDENTIAL_BYTES,
    );
    await expect(sealCredential(publicKey, ctx, "")).rejects.toBeInstanceOf(ValidationError);
    await expect(sealCredential(publicKey, ctx, new Uint8Array(MAX_CREDENTIAL_BYTES + 1))).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it("refuses keys of the wrong length, and derives the public half of a private key", async () => {
    const { publicKey, privateKey } = await generateCredentialKeyPair("wsk_len");
    expect([...credentialPublicKeyOf(privateKey)]).toEqual([...publicKey.publicKey]);
    await expect(CredentialPrivateKey.fromRaw("wsk_len", privateKey.subarray(0, 31))).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(() => credentialPublicKeyOf(privateKey.subarray(0, 31))).toThrow(ValidationError);
    await expect(
      sealCredential({ keyId: "wsk_len", publicKey: publicKey.publicKey.subarray(0, 31) }, ctx, "x"),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it("refuses a low-order public key (the shared secret would be all zeros) with the invalid-key error", async () => {
    // Points of small order on Curve25519 (RFC 7748 §6.1 check; the list libsodium rejects): 0, 1 and an order-8 point.
    const lowOrder = [
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0100000000000000000000000000000000000000000000000000000000000000",
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    ];
    for (const h of lowOrder) {
      const sealing = sealCredential({ keyId: "wsk_low", publicKey: hex(h) }, ctx, "x");
      await expect(sealing).rejects.toBeInstanceOf(ValidationError);
      await expect(sealing).rejects.toThrow("the recipient public key is not a valid X25519 key");
    }
  });

  it("refuses a context that is not one", () => {
    for (const bad of [
      { workspaceId: "", provider: "a", purpose: "b" },
      { workspaceId: "ws", provider: "", purpose: "b" },
      { workspaceId: "ws", provider: "a", purpose: "" },
    ])
      expect(() => credentialAad(bad)).toThrow(ValidationError);
  });

  it("an opener that holds no imported key answers wrong-key, never tries to open", async () => {
    const { publicKey } = await generateCredentialKeyPair("wsk_ghost");
    const sealed = await sealCredential(publicKey, ctx, "x");
    const ghost = Object.assign(Object.create(CredentialPrivateKey.prototype) as CredentialPrivateKey, {
      keyId: "wsk_ghost",
    });
    const err = await openCredential(ghost, ctx, sealed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecryptFailedError);
    expect((err as DecryptFailedError).reason).toBe("wrong-key");
  });
});

describe("encryption context edges", () => {
  const pairs = (n: number) =>
    Object.fromEntries([["tenant_id", "ws_1"], ...Array.from({ length: n - 1 }, (_, i) => [`k${i}`, "v"])]);
  it("holds up to 16 pairs", () => {
    expect(Object.keys(parseEncryptionContext(pairs(16)))).toHaveLength(16);
    expect(() => parseEncryptionContext(pairs(17))).toThrow(EncryptionContextError);
  });
  it("canonical bytes differ when only a value differs", () => {
    const a = canonicalEncryptionContext(parseEncryptionContext({ tenant_id: "ws_1" }));
    const b = canonicalEncryptionContext(parseEncryptionContext({ tenant_id: "ws_2" }));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });
});
