/**
 * One hash chain per workspace. Event `seq` n is stored with
 *   canonical = JCS(body)                       body = the record without `hash` and `signature`
 *   hash      = SHA-256(prev_hash ‖ canonical)  prev_hash as its 32 raw bytes; seq 1 links to genesisPrevHash(ws)
 *   signature = Ed25519(hash)                   over the 32 raw hash bytes, by the key named `key_id`
 * and the exact canonical bytes are kept, so verifying is hashing stored bytes, never re-serializing a row.
 *
 * Everything here is pure: keys come in as `KeyObject`s, nothing is read from the environment or the database.
 */
import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { WorkspaceIdSchema, type WorkspaceId } from '../ids.js';
import { AuditEncodingError, AuditEventInvalidError, AuditKeyError } from './audit-errors.js';
import { KeyIdSchema, Sha256HexSchema, parseAuditEventBody, type AuditEventBody, type StoredAuditEvent } from './audit-event.js';
import { canonicalBytes } from './jcs.js';
import { hashLeaf } from './merkle.js';

const HEX64 = /^[0-9a-f]{64}$/;
const GENESIS_DOMAIN = 'praxa/audit/v1/genesis|';

function hashBytes(hex: string, what: string): Buffer {
  if (!HEX64.test(hex)) throw new AuditEncodingError(`${what} is not a SHA-256 hex digest`);
  return Buffer.from(hex, 'hex');
}

function requireEd25519(key: KeyObject, type: 'private' | 'public' | 'any'): void {
  if (key.asymmetricKeyType !== 'ed25519' || (type !== 'any' && key.type !== type)) {
    throw new AuditKeyError(`expected an Ed25519 ${type === 'any' ? '' : `${type} `}key`);
  }
}

/** The `prev_hash` of a workspace's first event: SHA-256("praxa/audit/v1/genesis|" + workspaceId), hex. */
export function genesisPrevHash(workspaceId: WorkspaceId): string {
  return createHash('sha256').update(GENESIS_DOMAIN + workspaceId, 'utf8').digest('hex');
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
  return createHash('sha256').update(hashBytes(prevHashHex, 'prev_hash')).update(canonical).digest('hex');
}

/** The Merkle leaf hash of an event for checkpoints: RFC 9162 leaf hash of the event hash's 32 raw bytes. */
export function eventLeafHash(eventHashHex: string): Buffer {
  return hashLeaf(hashBytes(eventHashHex, 'event hash'));
}

/** Ed25519 signature (base64) over the event hash's 32 raw bytes. */
export function signEvent(hashHex: string, privateKey: KeyObject): string {
  requireEd25519(privateKey, 'private');
  return sign(null, hashBytes(hashHex, 'event hash'), privateKey).toString('base64');
}

/** Whether `signature` (base64 of 64 bytes, canonical encoding) is a valid Ed25519 signature of the event hash. */
export function verifyEventSignature(hashHex: string, signature: string, publicKey: KeyObject): boolean {
  requireEd25519(publicKey, 'any');
  if (!HEX64.test(hashHex)) return false;
  const sig = Buffer.from(signature, 'base64');
  if (sig.length !== 64 || sig.toString('base64') !== signature) return false;
  return verify(null, Buffer.from(hashHex, 'hex'), publicKey, sig);
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
    const paths = [...new Set(parsed.error.issues.map((i) => i.path.map(String).join('.') || '(root)'))];
    throw new AuditEventInvalidError(`invalid checkpoint at: ${paths.join(', ')}`, { details: { paths } });
  }
  return canonicalBytes(parsed.data);
}
