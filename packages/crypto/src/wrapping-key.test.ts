import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { randomBytes } from "node:crypto";
import { utf8 } from "./bytes.js";
import { CiphertextMalformedError, DecryptFailedError, KeyRotationRequiredError } from "./errors.js";
import { Keyring } from "./keyring.js";
import {
  parseWrappedBlob,
  serializeWrappedBlob,
  WRAP_COMMITMENT_BYTES,
  WRAP_IV_BYTES,
  WRAP_TAG_BYTES,
} from "./wrapped-blob.js";
import { WrappingKey } from "./wrapping-key.js";

const material = (): Uint8Array => new Uint8Array(randomBytes(32));
const aad = utf8("tenant tn_1 / workspace ws_1");

describe("WrappingKey (committed AES-256-GCM)", () => {
  it("round-trips and writes the v1 layout: type, version, key id, iv, commitment, ciphertext, tag", () => {
    const key = new WrappingKey({ id: "tdk_test", material: material() });
    const plaintext = utf8("a workspace private key");
    const blob = key.wrap(plaintext, aad);
    expect(blob[0]).toBe(0x01);
    expect(blob[1]).toBe(0x01);
    expect(blob[2]).toBe("tdk_test".length);
    expect(blob.length).toBe(3 + 8 + WRAP_IV_BYTES + WRAP_COMMITMENT_BYTES + plaintext.length + WRAP_TAG_BYTES);
    const parsed = parseWrappedBlob(blob);
    expect(parsed.keyId).toBe("tdk_test");
    expect(Buffer.from(serializeWrappedBlob(parsed)).equals(Buffer.from(blob))).toBe(true);
    expect(Buffer.from(key.unwrap(blob, aad)).toString()).toBe("a workspace private key");
  });

  it("10^4 wraps under one key never repeat an IV", () => {
    const key = new WrappingKey({ id: "tdk_ivs", material: material() });
    const ivs = new Set<string>();
    const pt = utf8("x");
    for (let i = 0; i < 10_000; i++) ivs.add(Buffer.from(parseWrappedBlob(key.wrap(pt, aad)).iv).toString("hex"));
    expect(ivs.size).toBe(10_000);
    expect(key.uses).toBe(10_000);
  });

  it("the use counter forces rotation at its configured limit; old ciphertexts still open after rotation", () => {
    const first = new WrappingKey({ id: "tdk_gen1", material: material(), usageLimit: 5 });
    const ring = new Keyring(first);
    const old = Array.from({ length: 5 }, (_, i) => ring.wrap(utf8(`secret ${i}`), aad));
    expect(first.remaining).toBe(0);
    let thrown: unknown;
    try {
      ring.wrap(utf8("one too many"), aad);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(KeyRotationRequiredError);
    expect((thrown as KeyRotationRequiredError).code).toBe("KEY_ROTATION_REQUIRED");
    expect((thrown as KeyRotationRequiredError).details).toEqual({ keyId: "tdk_gen1", limit: 5 });

    ring.rotate(new WrappingKey({ id: "tdk_gen2", material: material(), usageLimit: 5 }));
    const fresh = ring.wrap(utf8("after rotation"), aad);
    expect(parseWrappedBlob(fresh).keyId).toBe("tdk_gen2");
    old.forEach((blob, i) => expect(Buffer.from(ring.unwrap(blob, aad)).toString()).toBe(`secret ${i}`));
    expect(Buffer.from(ring.unwrap(fresh, aad)).toString()).toBe("after rotation");
    // Unwrapping is never limited.
    expect(() => first.unwrap(old[0] ?? new Uint8Array(), aad)).not.toThrow();
  });

  it("a counter restored from storage continues where it left off", () => {
    const key = new WrappingKey({ id: "tdk_restored", material: material(), usageLimit: 10, uses: 9 });
    key.wrap(utf8("last one"), aad);
    expect(() => key.wrap(utf8("no more"), aad)).toThrow(KeyRotationRequiredError);
  });

  it("refuses limits at or above 2^32 (far below is the point)", () => {
    expect(() => new WrappingKey({ id: "k", material: material(), usageLimit: 2 ** 32 })).toThrow();
    expect(() => new WrappingKey({ id: "k", material: material(), usageLimit: 0 })).toThrow();
  });

  it("key commitment: a ciphertext decrypted under a different key is refused by the commitment check", () => {
    const right = new WrappingKey({ id: "tdk_same_id", material: material() });
    const wrong = new WrappingKey({ id: "tdk_same_id", material: material() });
    const blob = right.wrap(utf8("committed"), aad);
    let thrown: unknown;
    try {
      wrong.unwrap(blob, aad);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(DecryptFailedError);
    expect((thrown as DecryptFailedError).reason).toBe("key-commitment");
  });

  it("a tampered ciphertext or tag with an intact commitment fails GCM authentication", () => {
    const key = new WrappingKey({ id: "tdk_tamper", material: material() });
    const blob = key.wrap(utf8("do not touch"), aad);
    const flipped = Uint8Array.from(blob);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
    expect(() => key.unwrap(flipped, aad)).toThrow(expect.objectContaining({ reason: "authentication" }));
  });

  it("a different AAD, or a blob naming another key id, is refused", () => {
    const key = new WrappingKey({ id: "tdk_aad", material: material() });
    const other = new WrappingKey({ id: "tdk_other", material: material() });
    const blob = key.wrap(utf8("bound"), aad);
    expect(() => key.unwrap(blob, utf8("tenant tn_1 / workspace ws_2"))).toThrow(DecryptFailedError);
    expect(() => other.unwrap(blob, aad)).toThrow(expect.objectContaining({ reason: "wrong-key" }));
  });

  it("malformed input raises CiphertextMalformedError naming the field", () => {
    const key = new WrappingKey({ id: "tdk_parse", material: material() });
    const blob = key.wrap(utf8("a plaintext of some length"), aad);
    expect(() => parseWrappedBlob(new Uint8Array())).toThrow(CiphertextMalformedError);
    expect(() => parseWrappedBlob(Uint8Array.of(0x02, 0x01))).toThrow(/type byte/);
    expect(() => parseWrappedBlob(Uint8Array.of(0x01, 0x09, 1, 0x41))).toThrow(/unsupported version 9/);
    expect(() => parseWrappedBlob(Uint8Array.of(0x01, 0x01, 4, 0x41, 0x20, 0x42, 0x43))).toThrow(/key id/);
    expect(() => parseWrappedBlob(blob.subarray(0, 20))).toThrow(CiphertextMalformedError);
    expect(() => parseWrappedBlob(blob.subarray(0, blob.length - 2))).not.toThrow();
    expect(() => key.unwrap(blob.subarray(0, 30), aad)).toThrow(CiphertextMalformedError);
  });

  it("parsing arbitrary bytes only ever raises CiphertextMalformedError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        try {
          parseWrappedBlob(bytes);
        } catch (err) {
          return err instanceof CiphertextMalformedError;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});
