import { describe, expect, it } from "@jest/globals";
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import {
  checkpointBody,
  eventLeafHash,
  merkleRoot,
  newId,
  verifyCheckpoints,
  verifyCheckpointSignature,
  type StoredCheckpoint,
  type VerificationKey,
} from "../index.js";

const ws = newId("workspace");
const hashes = Array.from({ length: 7 }, (_, i) => createHash("sha256").update(`event ${i}`).digest("hex"));
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const key: VerificationKey = {
  keyId: "cp-1",
  algorithm: "ed25519",
  spki: publicKey.export({ format: "der", type: "spki" }),
};
const keys = new Map([[key.keyId, key]]);

function checkpoint(size: number, overrides: Partial<StoredCheckpoint> = {}): StoredCheckpoint {
  const fields = {
    workspace_id: ws,
    tree_size: size,
    root_hash: merkleRoot(hashes.slice(0, size).map((h) => eventLeafHash(h))).toString("hex"),
    timestamp: "2026-11-23T08:00:00.000Z",
    key_id: "cp-1",
  };
  const body = checkpointBody(fields);
  return { ...fields, body, signature: sign(null, body, privateKey), ...overrides };
}

describe("verifyCheckpoints", () => {
  it("holds for honest checkpoints", () => {
    expect(verifyCheckpoints([checkpoint(3), checkpoint(7)], hashes, keys)).toEqual({ ok: true, count: 2 });
  });
  it("names the checkpoint and the failure", () => {
    expect(verifyCheckpoints([checkpoint(3, { root_hash: "f".repeat(64) })], hashes, keys)).toMatchObject({
      ok: false,
      treeSize: 3,
      reason: "body_mismatch",
    });
    expect(verifyCheckpoints([checkpoint(3, { signature: Buffer.alloc(64) })], hashes, keys)).toMatchObject({
      ok: false,
      treeSize: 3,
      reason: "bad_signature",
    });
    expect(
      verifyCheckpoints(
        [
          checkpoint(3, {
            key_id: "nope",
            body: checkpointBody({
              workspace_id: ws,
              tree_size: 3,
              root_hash: checkpoint(3).root_hash,
              timestamp: "2026-11-23T08:00:00.000Z",
              key_id: "nope",
            }),
          }),
        ],
        hashes,
        keys,
      ),
    ).toMatchObject({ ok: false, reason: "unknown_key" });
    const edited = [...hashes];
    edited[1] = createHash("sha256").update("rewritten").digest("hex");
    expect(verifyCheckpoints([checkpoint(3)], edited, keys)).toMatchObject({
      ok: false,
      treeSize: 3,
      reason: "root_mismatch",
    });
    expect(verifyCheckpoints([checkpoint(7)], hashes.slice(0, 5), keys)).toMatchObject({
      ok: false,
      treeSize: 7,
      reason: "events_missing",
    });
  });
});

describe("checkpoint signature algorithms", () => {
  const message = Buffer.from("checkpoint body");
  const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
  const spki = (k: typeof publicKey) => k.export({ format: "der", type: "spki" });

  it("ecdsa-p256-sha256 (what KMS ECDSA_SHA_256 returns: DER) verifies; a changed message does not", () => {
    const ecKey: VerificationKey = { keyId: "kms", algorithm: "ecdsa-p256-sha256", spki: spki(p256.publicKey) };
    const sig = sign("sha256", message, p256.privateKey);
    expect(verifyCheckpointSignature(ecKey, message, sig)).toBe(true);
    expect(verifyCheckpointSignature(ecKey, Buffer.from("checkpoint bodY"), sig)).toBe(false);
  });

  it("a key never verifies under an algorithm it is not: EC labelled ed25519, P-384 labelled P-256, Ed25519 labelled ECDSA", () => {
    const ecSig = sign("sha256", message, p256.privateKey);
    expect(
      verifyCheckpointSignature({ keyId: "x", algorithm: "ed25519", spki: spki(p256.publicKey) }, message, ecSig),
    ).toBe(false);
    expect(
      verifyCheckpointSignature(
        { keyId: "x", algorithm: "ecdsa-p256-sha256", spki: spki(p384.publicKey) },
        message,
        sign("sha256", message, p384.privateKey),
      ),
    ).toBe(false);
    expect(
      verifyCheckpointSignature(
        { keyId: "x", algorithm: "ecdsa-p256-sha256", spki: spki(publicKey) },
        message,
        sign(null, message, privateKey),
      ),
    ).toBe(false);
    expect(verifyCheckpointSignature(key, message, sign(null, message, privateKey))).toBe(true);
  });
});
