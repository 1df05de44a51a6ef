/**
 * Verify a run of stored audit events of one workspace, pure: the rows (as `ORDER BY seq` returns them) and the
 * public keys come in, the first bad `seq` and why comes out. Per event, in this order:
 *   1. `seq` follows the previous one (the first may start after a retention cut, at `firstSeq`);
 *   2. the row belongs to the workspace being verified;
 *   3. `prev_hash` links to the previous event's hash (for the first: `firstPrevHash`, or genesis at seq 1);
 *   4. SHA-256(prev_hash ‖ stored canonical bytes) equals the stored `hash`;
 *   5. the canonical bytes are UTF-8 JSON whose top level names the same seq, workspace_id, prev_hash and key_id as
 *      the row's columns; unless `content: 'columns'` (fast mode), they are also in RFC 8785 form and validate as an
 *      `audit_event · v1` body;
 *   6. `signature` is a valid Ed25519 signature by the key `key_id` names — for every event by default, for none with
 *      `signatures: false`, and with `signatures: { fromSeq }` for the events from that seq on: the default verify's
 *      choice (`signatureFloor`), every event past the newest checkpoint and always the head.
 *
 * A REDACTED event (a person's erasure, 0033: its canonical bytes removed in place, zero bytes stored; hash, links and
 * signature kept, as ledger databases redact) skips steps 4 and 5 — there is nothing left to hash — and its signature is
 * always checked (step 6 whatever the options), since nothing else vouches for its stored hash but the signature, the
 * next event's hash (which covers this one as its prev_hash) and the checkpoints' roots over it. Its seq is reported in
 * `redacted` ("seq K redacted"). An unredacted event never has zero bytes (a record is a JSON object).
 */
import { hash, type KeyObject } from "node:crypto";
import type { WorkspaceId } from "../ids.js";
import { AuditEncodingError } from "./audit-errors.js";
import { AuditEventBodySchema } from "./audit-event.js";
import { genesisPrevHash, verifyEventSignature } from "./chain.js";
import { vouchForChainFields } from "./chain-fields.js";
import { canonicalJson } from "./jcs.js";

/** One stored event as the verifier needs it: its columns and the exact canonical bytes that were hashed. */
export interface StoredChainEvent {
  readonly seq: number;
  readonly workspace_id: string;
  readonly prev_hash: string;
  readonly hash: string;
  readonly key_id: string;
  readonly signature: string;
  readonly canonical: Uint8Array;
}

/** The public (or private) Ed25519 keys events may be signed with, by `key_id`. */
export type AuditKeyset = ReadonlyMap<string, KeyObject>;

export interface VerifyChainOptions {
  /** The workspace whose chain this is; a row of any other workspace fails with `workspace_mismatch`. */
  readonly workspaceId: WorkspaceId;
  /**
   * The `prev_hash` the first given event must carry: the hash of the last event before it (from a checkpoint, after a
   * retention cut). Defaults to `genesisPrevHash(workspaceId)` when the first event is seq 1; a first event after seq
   * 1 without it fails with `unanchored`.
   */
  readonly firstPrevHash?: string;
  /** The seq the first given event must have (e.g. the checkpoint's tree_size + 1). Default: whatever it has. */
  readonly firstSeq?: number;
  /**
   * Which events' signatures to check: every one (`true`, the default), none (`false`: links and hashes only), or those
   * whose seq is at least `fromSeq` — see `signatureFloor`.
   */
  readonly signatures?: boolean | { readonly fromSeq: number };
  /**
   * How much of each event's content to check (default `full`): `full` re-canonicalizes (RFC 8785) and validates the
   * schema; `columns` only parses the stored bytes and checks they name the row's seq, workspace, prev_hash and key —
   * the fast path, whose integrity rests on the hash chain and signed checkpoints.
   */
  readonly content?: "full" | "columns";
}

export const CHAIN_FAILURES = [
  /** A seq is missing: the failure names the missing seq. */
  "seq_gap",
  /** A seq repeats or goes backwards, or the first is not `firstSeq`. */
  "seq_order",
  "workspace_mismatch",
  /** The first event is not seq 1 and no `firstPrevHash` was given to anchor it. */
  "unanchored",
  "prev_hash_mismatch",
  "hash_mismatch",
  /** A column has the wrong type, or the canonical bytes are not UTF-8 JSON. */
  "malformed",
  /** The canonical bytes are JSON but not its RFC 8785 form. */
  "not_canonical",
  /** The canonical bytes are not a valid `audit_event · v1` body. */
  "schema",
  /** The body's seq, workspace_id, prev_hash or key_id differs from the row's column. */
  "column_mismatch",
  "unknown_key",
  "bad_signature",
] as const;
export type ChainFailure = (typeof CHAIN_FAILURES)[number];

export type ChainVerification =
  | {
      readonly ok: true;
      readonly count: number;
      readonly headHash: string;
      /** The seqs of redacted events (content removed, hash and signature kept); absent when there are none. */
      readonly redacted?: readonly number[];
    }
  /** `index` is the position in the given list; `seq` is 0 only when no seq can be named (a malformed first row). */
  | { readonly ok: false; readonly seq: number; readonly reason: ChainFailure; readonly index: number };

const HEX64 = /^[0-9a-f]{64}$/;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** prev ‖ canonical is hashed from one reused buffer: a one-shot hash costs less than a Hash object per event. */
let hashInput = Buffer.alloc(4096);

/** SHA-256(prev ‖ canonical), hex, for a `prev` already known to be a hex digest (the anchor, or a hash just checked). */
function chainHash(prevHex: string, canonical: Uint8Array): string {
  const length = 32 + canonical.length;
  if (hashInput.length < length) hashInput = Buffer.alloc(2 * length);
  hashInput.write(prevHex, 0, "hex");
  hashInput.set(canonical, 32);
  return hash("sha256", hashInput.subarray(0, length), "hex");
}

/**
 * What is wrong with one event's content (step 5), or null. Both modes parse the stored bytes (UTF-8, JSON) and compare
 * the chain fields the record names with the row's columns — that is what binds a verified chain position to the
 * record a reader will see. `full` also re-canonicalizes (RFC 8785: the same text again) and validates the schema.
 */
function checkContent(e: StoredChainEvent, columnsOnly: boolean): ChainFailure | null {
  // The fast path's common case: the bytes are read without building the record (see chain-fields.ts); whatever that
  // reader cannot vouch for is parsed below, and every failure is named from the parsed text.
  if (columnsOnly && vouchForChainFields(e.canonical, e)) return null;
  let text: string;
  let record: unknown;
  try {
    text = utf8.decode(e.canonical);
    record = JSON.parse(text);
  } catch {
    return "malformed";
  }
  if (columnsOnly) {
    if (record === null || typeof record !== "object") return "schema";
    const r = record as { seq?: unknown; workspace_id?: unknown; prev_hash?: unknown; key_id?: unknown };
    return r.seq === e.seq && r.workspace_id === e.workspace_id && r.prev_hash === e.prev_hash && r.key_id === e.key_id
      ? null
      : "column_mismatch";
  }
  // The bytes are valid UTF-8 and a canonical text has no lone surrogate, so equal texts are equal bytes.
  let again: string;
  try {
    again = canonicalJson(record);
  } catch {
    return "not_canonical";
  }
  if (again !== text) return "not_canonical";
  const parsed = AuditEventBodySchema.safeParse(record);
  if (!parsed.success) return "schema";
  const body = parsed.data;
  const columnsMatch =
    body.seq === e.seq &&
    body.workspace_id === e.workspace_id &&
    body.prev_hash === e.prev_hash &&
    body.key_id === e.key_id;
  return columnsMatch ? null : "column_mismatch";
}

const failure = (index: number, seq: number, reason: ChainFailure): ChainVerification => ({
  ok: false,
  seq,
  reason,
  index,
});

/**
 * The first seq whose signature the default verify checks: the one after the newest checkpoint, and never past the
 * head. A checkpoint's signed Merkle root vouches for every event hash up to its tree size (and each hash for its
 * event's bytes); nothing but their own signatures vouches for the events after it — without them a forged signature
 * or a re-hashed tail would pass. The head's signature vouches, through the hashes, for the whole chain, so it is
 * checked even when a checkpoint covers it; with no checkpoint every event's signature is checked.
 * `checkpointTreeSizes` must be of checkpoints that are themselves verified (a bogus one fails verification anyway).
 */
export function signatureFloor(checkpointTreeSizes: readonly number[], headSeq: number): number {
  const newest = checkpointTreeSizes.reduce((m, n) => Math.max(m, n), 0);
  return Math.max(1, Math.min(newest + 1, headSeq));
}

/**
 * Walk `events` (ascending seq) and return `{ ok: true, count, headHash }`, or the FIRST bad seq and a reason code.
 * For an empty list, `headHash` is `firstPrevHash` (or the genesis hash). Throws only for bad arguments: a
 * `firstPrevHash` that is not a hex digest (`AuditEncodingError`) or a non-Ed25519 key in the keyset (`AuditKeyError`).
 */
export function verifyChain(
  events: readonly StoredChainEvent[],
  keyset: AuditKeyset,
  options: VerifyChainOptions,
): ChainVerification {
  if (options.firstPrevHash !== undefined && !HEX64.test(options.firstPrevHash)) {
    throw new AuditEncodingError("firstPrevHash is not a SHA-256 hex digest");
  }
  const signatures = options.signatures ?? true;
  // The first seq whose signature is checked (Infinity: none).
  const signaturesFrom =
    typeof signatures === "object" ? signatures.fromSeq : signatures ? 0 : Number.POSITIVE_INFINITY;
  const columnsOnly = options.content === "columns";
  const workspaceId = options.workspaceId;
  let head = options.firstPrevHash;
  let expectedSeq = options.firstSeq;
  let redacted: number[] | undefined;

  for (let index = 0; index < events.length; index++) {
    const e = events[index] as StoredChainEvent;

    if (!Number.isSafeInteger(e.seq) || e.seq < 1) return failure(index, expectedSeq ?? 0, "malformed");
    expectedSeq ??= e.seq;
    if (e.seq > expectedSeq) return failure(index, expectedSeq, "seq_gap");
    if (e.seq < expectedSeq) return failure(index, e.seq, "seq_order");

    if (e.workspace_id !== workspaceId) return failure(index, e.seq, "workspace_mismatch");

    if (head === undefined) {
      if (e.seq !== 1) return failure(index, e.seq, "unanchored");
      head = genesisPrevHash(workspaceId);
    }
    if (e.prev_hash !== head) return failure(index, e.seq, "prev_hash_mismatch");

    if (!(e.canonical instanceof Uint8Array)) return failure(index, e.seq, "malformed");
    const isRedacted = e.canonical.length === 0;
    if (isRedacted) {
      // Nothing to hash: the stored hash must be a digest (the next event's link and the checkpoints pin it).
      if (typeof e.hash !== "string" || !HEX64.test(e.hash)) return failure(index, e.seq, "malformed");
      (redacted ??= []).push(e.seq);
    } else {
      // `head` is a hex digest here: the checked anchor, the genesis hash, or the previous event's hash, which equalled
      // a digest computed below.
      if (chainHash(head, e.canonical) !== e.hash) return failure(index, e.seq, "hash_mismatch");

      const contentProblem = checkContent(e, columnsOnly);
      if (contentProblem !== null) return failure(index, e.seq, contentProblem);
    }

    if (isRedacted || e.seq >= signaturesFrom) {
      const key = keyset.get(e.key_id);
      if (key === undefined) return failure(index, e.seq, "unknown_key");
      if (typeof e.signature !== "string" || !verifyEventSignature(e.hash, e.signature, key))
        return failure(index, e.seq, "bad_signature");
    }

    head = e.hash;
    expectedSeq = e.seq + 1;
  }

  return {
    ok: true,
    count: events.length,
    headHash: head ?? genesisPrevHash(workspaceId),
    ...(redacted ? { redacted } : {}),
  };
}
