/**
 * Checkpoint verification: a checkpoint `{workspace, tree_size, root_hash, timestamp, key_id}` is signed over its RFC 8785
 * bytes; it holds when the stored bytes are exactly those canonical bytes, the signature verifies under the key
 * registered for its key_id, and the RFC 9162 root of the first `tree_size` event leaf hashes equals `root_hash`.
 * Pure: keys are handed in (SPKI DER), nothing is fetched.
 */
import { createPublicKey, verify } from "node:crypto";
import { checkpointBody, eventLeafHash } from "./chain.js";
import { merkleRootsAt } from "./merkle.js";

export interface VerificationKey {
  readonly keyId: string;
  readonly algorithm: "ed25519" | "ecdsa-p256-sha256";
  readonly spki: Uint8Array;
}

export interface StoredCheckpoint {
  readonly workspace_id: string;
  readonly tree_size: number;
  readonly root_hash: string;
  readonly timestamp: string;
  readonly key_id: string;
  readonly signature: Uint8Array;
  readonly body: Uint8Array;
}

export const CHECKPOINT_FAILURES = [
  "body_mismatch",
  "unknown_key",
  "bad_signature",
  "root_mismatch",
  "events_missing",
] as const;
export type CheckpointFailure = (typeof CHECKPOINT_FAILURES)[number];
export type CheckpointVerification =
  | { readonly ok: true; readonly count: number }
  | { readonly ok: false; readonly treeSize: number; readonly reason: CheckpointFailure };

/**
 * One checkpoint signature under its registered key. The key's type must be what its `algorithm` says — `ed25519`
 * (the local provider) or `ecdsa-p256-sha256` (KMS ECC_NIST_P256 / ECDSA_SHA_256, DER signatures) — so a key
 * registered under one algorithm never verifies as another.
 */
export function verifyCheckpointSignature(key: VerificationKey, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const pub = createPublicKey({ key: Buffer.from(key.spki), format: "der", type: "spki" });
    if (key.algorithm === "ed25519")
      return pub.asymmetricKeyType === "ed25519" && verify(null, message, pub, signature);
    if (key.algorithm !== "ecdsa-p256-sha256") return false;
    if (pub.asymmetricKeyType !== "ec" || pub.asymmetricKeyDetails?.namedCurve !== "prime256v1") return false;
    return verify("sha256", message, { key: pub, dsaEncoding: "der" }, signature);
  } catch {
    return false;
  }
}

/** `eventHashes[i]` is the hash (hex) of the event with seq i + 1. */
export function verifyCheckpoints(
  checkpoints: readonly StoredCheckpoint[],
  eventHashes: readonly string[],
  keys: ReadonlyMap<string, VerificationKey>,
): CheckpointVerification {
  const leaves = eventHashes.map((h) => eventLeafHash(h));
  // Every root a checkpoint needs, in one pass over the leaves (not one tree per checkpoint).
  const roots = merkleRootsAt(
    leaves,
    checkpoints.map((cp) => cp.tree_size).filter((n) => Number.isSafeInteger(n) && n >= 0 && n <= leaves.length),
  );
  return verifyCheckpointsAgainstRoots(checkpoints, leaves.length, (n) => roots.get(n), keys);
}

/**
 * The same checks, given the number of leaves and the RFC 9162 root of the first n of them for each checkpoint's
 * tree_size n ≤ leafCount — what a streaming verifier keeps instead of the leaves (verify-chain-stream.ts).
 */
export function verifyCheckpointsAgainstRoots(
  checkpoints: readonly StoredCheckpoint[],
  leafCount: number,
  rootAt: (treeSize: number) => Uint8Array | undefined,
  keys: ReadonlyMap<string, VerificationKey>,
): CheckpointVerification {
  for (const cp of checkpoints) {
    const expected = checkpointBody({
      workspace_id: cp.workspace_id as never,
      tree_size: cp.tree_size,
      root_hash: cp.root_hash,
      timestamp: cp.timestamp,
      key_id: cp.key_id,
    });
    if (!Buffer.from(expected).equals(Buffer.from(cp.body)))
      return { ok: false, treeSize: cp.tree_size, reason: "body_mismatch" };
    const key = keys.get(cp.key_id);
    if (!key) return { ok: false, treeSize: cp.tree_size, reason: "unknown_key" };
    if (!verifyCheckpointSignature(key, cp.body, cp.signature))
      return { ok: false, treeSize: cp.tree_size, reason: "bad_signature" };
    if (cp.tree_size > leafCount) return { ok: false, treeSize: cp.tree_size, reason: "events_missing" };
    const root = rootAt(cp.tree_size);
    if (root === undefined || Buffer.from(root).toString("hex") !== cp.root_hash)
      return { ok: false, treeSize: cp.tree_size, reason: "root_mismatch" };
  }
  return { ok: true, count: checkpoints.length };
}
