/**
 * One hash chain per workspace. Event `seq` n is stored with
 *   canonical = JCS(body)                       body = the record without `hash` and `signature`
 *   hash      = SHA-256(prev_hash ‖ canonical)  prev_hash as its 32 raw bytes; seq 1 links to genesisPrevHash(ws)
 *   signature = Ed25519(hash)                   over the 32 raw hash bytes, by the key named `key_id`
 * and the exact canonical bytes are kept, so verifying is hashing stored bytes, never re-serializing a row.
 *
 * Everything here is pure: keys come in as `KeyObject`s, nothing is read from the environment or the database.
 */
import { createHash, hash, sign, verify, type KeyObject } from "node:crypto";
import { z } from "zod";
import { WorkspaceIdSchema, type WorkspaceId } from "../ids.js";
import { AuditEncodingError, AuditEventInvalidError, AuditKeyError } from "./audit-errors.js";
import { isId } from "../ids.js";
import {
  KeyIdSchema,
  Sha256HexSchema,
  parseAuditEventBody,
  parseAuditEventDraft,
  type AuditEventBody,
  type StoredAuditEvent,
} from "./audit-event.js";
import { canonicalBytes } from "./jcs.js";
import { applyRedaction, type RedactionPolicy } from "./redaction.js";

const HEX64 = /^[0-9a-f]{64}$/;
const GENESIS_DOMAIN = "praxa/audit/v1/genesis|";

function hashBytes(hex: string, what: string): Buffer {
  if (!HEX64.test(hex)) throw new AuditEncodingError(`${what} is not a SHA-256 hex digest`);
  return Buffer.from(hex, "hex");
}

function requireEd25519(key: KeyObject, type: "private" | "public" | "any"): void {
  if (key.asymmetricKeyType !== "ed25519" || (type !== "any" && key.type !== type)) {
    throw new AuditKeyError(`expected an Ed25519 ${type === "any" ? "" : `${type} `}key`);
  }
}

/** The `prev_hash` of a workspace's first event: SHA-256("praxa/audit/v1/genesis|" + workspaceId), hex. */
export function genesisPrevHash(workspaceId: WorkspaceId): string {
  return createHash("sha256")
    .update(GENESIS_DOMAIN + workspaceId, "utf8")
    .digest("hex");
}

/**
 * The bytes an event is hashed and signed over: RFC 8785 JCS of the validated body (the record with `workspace_id`,
 * `seq`, `prev_hash` and `key_id`, without `hash` and `signature`). Throws `AuditEventInvalidError` for a bad body.
 */
export function canonicalEventBytes(body: AuditEventBody): Uint8Array {
  return canonicalBytes(parseAuditEventBody(body));
}

/** SHA-256(prev_hash as 32 raw bytes ‖ canonical bytes), hex. */
export function eventHash(prevHashHex: string, canonical: Uint8Array): string {
  return createHash("sha256").update(hashBytes(prevHashHex, "prev_hash")).update(canonical).digest("hex");
}

/** The Merkle leaf hash of an event for checkpoints: RFC 9162 leaf hash of the event hash's 32 raw bytes. */
export function eventLeafHash(eventHashHex: string): Buffer {
  if (!HEX64.test(eventHashHex)) throw new AuditEncodingError("event hash is not a SHA-256 hex digest");
  leafInput.write(eventHashHex, 1, "hex");
  return hash("sha256", leafInput, "buffer");
}
/** 0x00 ‖ the event hash's 32 bytes: RFC 9162's leaf input, reused (verifiers hash one leaf per event). */
const leafInput = Buffer.alloc(33);

/** Ed25519 signature (base64) over the event hash's 32 raw bytes. */
export function signEvent(hashHex: string, privateKey: KeyObject): string {
  requireEd25519(privateKey, "private");
  return sign(null, hashBytes(hashHex, "event hash"), privateKey).toString("base64");
}

/** Whether `signature` (base64 of 64 bytes, canonical encoding) is a valid Ed25519 signature of the event hash. */
export function verifyEventSignature(hashHex: string, signature: string, publicKey: KeyObject): boolean {
  requireEd25519(publicKey, "any");
  if (!HEX64.test(hashHex)) return false;
  const sig = Buffer.from(signature, "base64");
  if (sig.length !== 64 || sig.toString("base64") !== signature) return false;
  return verify(null, Buffer.from(hashHex, "hex"), publicKey, sig);
}

/** A body sealed for storage: its canonical bytes, hash and signature, and the stored record. */
export interface SealedAuditEvent {
  readonly canonical: Uint8Array;
  readonly hash: string;
  readonly signature: string;
  readonly event: StoredAuditEvent;
}

/** Canonicalize, hash and sign a body with the key its `key_id` names (the caller keeps that pairing). */
export function sealAuditEvent(body: AuditEventBody, privateKey: KeyObject): SealedAuditEvent {
  const parsed = parseAuditEventBody(body);
  const canonical = canonicalBytes(parsed);
  const hash = eventHash(parsed.prev_hash, canonical);
  const signature = signEvent(hash, privateKey);
  return { canonical, hash, signature, event: { ...parsed, hash, signature } };
}

/** Where a batch of events goes: the workspace's chain, the seq and prev_hash of its first event, the signing key. */
export interface ChainPlacement {
  readonly workspaceId: WorkspaceId;
  /** The seq of the first event of the batch (the head's seq + 1). */
  readonly seq: number;
  /** The head's hash: the first event's prev_hash. */
  readonly prevHash: string;
  readonly keyId: string;
}

const KEY_ID = /^[\x21-\x7e]{1,256}$/;

/**
 * Validate drafts, redact them with the workspace's policy, place them in the chain one after the other and seal each
 * (canonicalize, hash, sign). The same records as `sealAuditEvent({ ...applyRedaction(policy, parseAuditEventDraft(d)),
 * workspace_id, seq, prev_hash, key_id })` would make, event by event, but each draft is validated once: the chain
 * fields are checked here directly instead of validating the whole body a second time. Throws
 * `AuditEventInvalidError` for a bad draft or placement.
 */
export function sealAuditDrafts(
  drafts: readonly unknown[],
  placement: ChainPlacement,
  policy: RedactionPolicy,
  privateKey: KeyObject,
): SealedAuditEvent[] {
  requireEd25519(privateKey, "private");
  const { workspaceId, seq, prevHash, keyId } = placement;
  const bad: string[] = [];
  if (!isId("workspace", workspaceId)) bad.push("workspace_id");
  if (!Number.isSafeInteger(seq) || seq < 1 || !Number.isSafeInteger(seq + drafts.length)) bad.push("seq");
  if (!HEX64.test(prevHash)) bad.push("prev_hash");
  if (!KEY_ID.test(keyId)) bad.push("key_id");
  if (bad.length > 0)
    throw new AuditEventInvalidError(`invalid chain placement at: ${bad.join(", ")}`, { details: { paths: bad } });
  let prev = prevHash;
  return drafts.map((raw, i) => {
    const body: AuditEventBody = {
      ...applyRedaction(policy, parseAuditEventDraft(raw)),
      workspace_id: workspaceId,
      seq: seq + i,
      prev_hash: prev,
      key_id: keyId,
    };
    const canonical = canonicalBytes(body);
    const hash = eventHash(prev, canonical);
    const signature = sign(null, Buffer.from(hash, "hex"), privateKey).toString("base64");
    prev = hash;
    return { canonical, hash, signature, event: { ...body, hash, signature } };
  });
}

export const CheckpointBodySchema = z
  .object({
    workspace_id: WorkspaceIdSchema,
    tree_size: z.number().int().min(0),
    root_hash: Sha256HexSchema,
    timestamp: z.iso.datetime(),
    key_id: KeyIdSchema,
  })
  .strict();
export type CheckpointBody = z.infer<typeof CheckpointBodySchema>;

/** RFC 8785 canonical bytes of a checkpoint (what its signature covers). Throws `AuditEventInvalidError` if malformed. */
export function checkpointBody(checkpoint: CheckpointBody): Uint8Array {
  const parsed = CheckpointBodySchema.safeParse(checkpoint);
  if (!parsed.success) {
    const paths = [...new Set(parsed.error.issues.map((i) => i.path.map(String).join(".") || "(root)"))];
    throw new AuditEventInvalidError(`invalid checkpoint at: ${paths.join(", ")}`, { details: { paths } });
  }
  return canonicalBytes(parsed.data);
}
