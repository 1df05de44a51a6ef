/**
 * The audit export (`praxa-audit-export/v1`, JSON Lines) and its offline verification — no database, no trust in
 * Praxa: the customer pins the key set (`pnpm praxa audit keys`) and, ideally, keeps a checkpoint from earlier.
 *
 * Lines: one `export` header; `leaf` lines (seq, hash) for every event from seq 1 to the head, so Merkle roots can be
 * recomputed; `event` lines with the exact canonical bytes (base64) of the exported range; `checkpoint` lines; `key`
 * lines (informational — verification uses only the keys the customer pinned).
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { z } from "zod";
import { Sha256HexSchema } from "./audit-event.js";
import { checkpointBody, eventLeafHash } from "./chain.js";
import { consistencyProof, inclusionProof, merkleRoot, verifyConsistency, verifyInclusion } from "./merkle.js";
import {
  verifyCheckpoints,
  verifyCheckpointSignature,
  type StoredCheckpoint,
  type VerificationKey,
} from "./verify-checkpoint.js";
import {
  signatureFloor,
  verifyChain,
  type ChainVerification,
  type StoredChainEvent,
  type VerifyChainOptions,
} from "./verify-chain.js";
import { WorkspaceIdSchema } from "../ids.js";

const b64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]*={0,2}$/)
  .transform((s) => Buffer.from(s, "base64"));
const seq = z.number().int().min(1);

export const ExportHeaderLine = z
  .object({
    type: z.literal("export"),
    format: z.literal("praxa-audit-export/v1"),
    workspace_id: WorkspaceIdSchema,
    exported_at: z.string(),
    from: z.string().nullable(),
    to: z.string().nullable(),
  })
  .strict();
export const LeafLine = z.object({ type: z.literal("leaf"), seq, hash: Sha256HexSchema }).strict();
export const EventLine = z
  .object({
    type: z.literal("event"),
    seq,
    workspace_id: z.string(),
    prev_hash: Sha256HexSchema,
    hash: Sha256HexSchema,
    key_id: z.string(),
    signature: z.string(),
    canonical: b64,
  })
  .strict();
export const CheckpointLine = z
  .object({
    type: z.literal("checkpoint"),
    workspace_id: z.string(),
    tree_size: seq,
    root_hash: Sha256HexSchema,
    timestamp: z.string(),
    key_id: z.string(),
    signature: b64,
    body: b64,
  })
  .strict();
export const KeyLine = z
  .object({
    type: z.literal("key"),
    key_id: z.string(),
    purpose: z.enum(["event", "checkpoint"]),
    algorithm: z.enum(["ed25519", "ecdsa-p256-sha256"]),
    public_key_pem: z.string(),
  })
  .strict();
/**
 * A retention cut: the events 1..through_seq were removed on `cut_at` (their leaf lines stay). Verification then starts
 * at through_seq + 1, anchored on leaf through_seq, and requires a signed checkpoint at exactly through_seq — the only
 * thing that still vouches for the removed events' hashes.
 */
export const RetentionLine = z.object({ type: z.literal("retention"), through_seq: seq, cut_at: z.string() }).strict();
const AnyLine = z.discriminatedUnion("type", [
  ExportHeaderLine,
  LeafLine,
  EventLine,
  CheckpointLine,
  KeyLine,
  RetentionLine,
]);

/** What verification reports of a retention cut: events 1..throughSeq removed on cutAt, verified from checkpoint. */
export interface RetentionReport {
  readonly throughSeq: number;
  readonly cutAt: string;
  /** The timestamp of the signed checkpoint at the cut, from which the kept events are verified. */
  readonly checkpointTimestamp: string;
}

/** "events 1–N removed by retention on …; verified from checkpoint T" */
export function describeRetention(r: RetentionReport): string {
  return `events 1–${r.throughSeq} removed by retention on ${r.cutAt}; verified from checkpoint ${r.checkpointTimestamp} (tree_size ${r.throughSeq})`;
}

/** A pinned key set: what `pnpm praxa audit keys` prints. */
export const PinnedKeysSchema = z.array(
  z
    .object({
      key_id: z.string(),
      purpose: z.enum(["event", "checkpoint"]),
      algorithm: z.enum(["ed25519", "ecdsa-p256-sha256"]),
      public_key_pem: z.string(),
    })
    .strict(),
);
export type PinnedKeys = z.infer<typeof PinnedKeysSchema>;

export type ExportVerification =
  | {
      readonly ok: true;
      readonly events: number;
      readonly leaves: number;
      readonly checkpoints: number;
      readonly trustedCheckpoint: "consistent" | "none";
      /** Present when a retention cut removed the oldest events. */
      readonly retention?: RetentionReport;
      /** The seqs of redacted events (a person's erasure): content gone, hash, links and signature verified. */
      readonly redacted?: readonly number[];
    }
  | { readonly ok: false; readonly failure: string; readonly seq?: number };

function keyMaps(pinned: PinnedKeys): { events: Map<string, KeyObject>; checkpoints: Map<string, VerificationKey> } {
  const events = new Map<string, KeyObject>();
  const checkpoints = new Map<string, VerificationKey>();
  for (const k of pinned) {
    const pub = createPublicKey(k.public_key_pem);
    if (k.purpose === "event") events.set(k.key_id, pub);
    checkpoints.set(k.key_id, {
      keyId: k.key_id,
      algorithm: k.algorithm,
      spki: pub.export({ format: "der", type: "spki" }),
    });
  }
  return { events, checkpoints };
}

const toCheckpoint = (c: z.infer<typeof CheckpointLine>): StoredCheckpoint => ({
  workspace_id: c.workspace_id,
  tree_size: c.tree_size,
  root_hash: c.root_hash,
  timestamp: c.timestamp,
  key_id: c.key_id,
  signature: c.signature,
  body: c.body,
});

/** An export parsed and checked for shape, its chain still to verify (on however many threads the caller likes). */
export interface PreparedAuditExport {
  readonly ok: true;
  readonly workspaceId: string;
  readonly leafHashes: readonly string[];
  readonly checkpoints: readonly StoredCheckpoint[];
  readonly checkpointKeys: ReadonlyMap<string, VerificationKey>;
  readonly events: readonly StoredChainEvent[];
  readonly retention?: RetentionReport;
  /** What `verifyChain(events, eventKeys, options)` must hold for; null when the export has no events. */
  readonly chain: { readonly eventKeys: ReadonlyMap<string, KeyObject>; readonly options: VerifyChainOptions } | null;
}
export type ExportFailure = { readonly ok: false; readonly failure: string; readonly seq?: number };

/** Parse an export and check its shape (lines, header, gapless leaves, the first event's anchor) against pinned keys. */
export function prepareAuditExport(
  text: string,
  pinned: PinnedKeys,
  options: { readonly full?: boolean } = {},
): PreparedAuditExport | ExportFailure {
  const lines: z.infer<typeof AnyLine>[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    if (raw.trim() === "") continue;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return { ok: false, failure: `line ${i + 1}: not JSON` };
    }
    const parsed = AnyLine.safeParse(json);
    if (!parsed.success) return { ok: false, failure: `line ${i + 1}: not a valid export line` };
    lines.push(parsed.data);
  }
  const header = lines.find((l) => l.type === "export");
  if (!header || header.type !== "export") return { ok: false, failure: "no export header" };
  const ws = header.workspace_id;
  const leaves = lines.filter((l): l is z.infer<typeof LeafLine> => l.type === "leaf").sort((a, b) => a.seq - b.seq);
  if (leaves.some((l, i) => l.seq !== i + 1))
    return {
      ok: false,
      failure: "leaf list is not gapless from seq 1",
      seq: leaves.find((l, i) => l.seq !== i + 1)?.seq ?? 0,
    };
  const leafHashes = leaves.map((l) => l.hash);
  const events: StoredChainEvent[] = lines
    .filter((l): l is z.infer<typeof EventLine> => l.type === "event")
    .sort((a, b) => a.seq - b.seq)
    .map((e) => ({
      seq: e.seq,
      workspace_id: e.workspace_id,
      prev_hash: e.prev_hash,
      hash: e.hash,
      key_id: e.key_id,
      signature: e.signature,
      canonical: e.canonical,
    }));
  const keys = keyMaps(pinned);
  const checkpoints = lines
    .filter((l): l is z.infer<typeof CheckpointLine> => l.type === "checkpoint")
    .map(toCheckpoint)
    .sort((a, b) => a.tree_size - b.tree_size);
  let retention: RetentionReport | undefined;
  const cuts = lines.filter((l): l is z.infer<typeof RetentionLine> => l.type === "retention");
  if (cuts.length > 0) {
    const last = cuts.reduce((a, b) => (b.through_seq > a.through_seq ? b : a));
    const atCut = checkpoints.find((c) => c.tree_size === last.through_seq);
    if (!atCut) return { ok: false, failure: `no signed checkpoint at the retention cut (seq ${last.through_seq})` };
    if (last.through_seq > leafHashes.length)
      return { ok: false, failure: "the retention cut is past the leaf list", seq: last.through_seq };
    const early = events.find((e) => e.seq <= last.through_seq);
    if (early) return { ok: false, failure: "an event the retention cut removed is still exported", seq: early.seq };
    retention = { throughSeq: last.through_seq, cutAt: last.cut_at, checkpointTimestamp: atCut.timestamp };
  }
  let chain: PreparedAuditExport["chain"] = null;
  const first = events[0];
  if (first) {
    const anchor = first.seq === 1 ? undefined : leafHashes[first.seq - 2];
    if (first.seq > 1 && anchor === undefined)
      return { ok: false, failure: "the first exported event has no anchor in the leaf list", seq: first.seq };
    // The default (not --full) mode checks the signatures no checkpoint vouches for: every exported event past the
    // newest checkpoint, and the head when it is exported (signatureFloor). Events up to a checkpoint are vouched for by
    // its signed root: their hashes must be the leaves, and the leaves must fold to it.
    const floor = signatureFloor(
      checkpoints.map((c) => c.tree_size),
      leafHashes.length,
    );
    const mode = options.full === false ? ({ signatures: { fromSeq: floor }, content: "columns" } as const) : {};
    chain = {
      eventKeys: keys.events,
      options: { workspaceId: ws, ...mode, ...(anchor ? { firstPrevHash: anchor } : {}) },
    };
  }
  return {
    ok: true,
    workspaceId: ws,
    leafHashes,
    checkpoints,
    checkpointKeys: keys.checkpoints,
    events,
    chain,
    ...(retention ? { retention } : {}),
  };
}

/** The rest of the verification, given the chain's answer: event hashes against the leaves, checkpoints, the kept one. */
export function completeAuditExport(
  prepared: PreparedAuditExport,
  chain: ChainVerification | null,
  trusted?: unknown,
): ExportVerification {
  const { events, leafHashes, checkpoints } = prepared;
  if (prepared.chain !== null) {
    if (chain === null) throw new RangeError("the export has events: their chain verification is needed");
    if (!chain.ok) return { ok: false, failure: `seq ${chain.seq}: ${chain.reason}`, seq: chain.seq };
    for (const e of events)
      if (leafHashes[e.seq - 1] !== e.hash)
        return { ok: false, failure: `seq ${e.seq}: event hash differs from the leaf list`, seq: e.seq };
  }
  const cps = verifyCheckpoints(checkpoints, leafHashes, prepared.checkpointKeys);
  if (!cps.ok) return { ok: false, failure: `checkpoint at tree_size ${cps.treeSize}: ${cps.reason}` };

  const retention = {
    ...(prepared.retention ? { retention: prepared.retention } : {}),
    ...(chain?.ok && chain.redacted ? { redacted: chain.redacted } : {}),
  };
  if (trusted === undefined)
    return {
      ok: true,
      events: events.length,
      leaves: leafHashes.length,
      checkpoints: checkpoints.length,
      trustedCheckpoint: "none",
      ...retention,
    };
  const kept = checkAgainstTrustedCheckpoint(prepared.workspaceId, leafHashes, trusted, prepared.checkpointKeys);
  if (!kept.ok) return kept;
  return {
    ok: true,
    events: events.length,
    leaves: leafHashes.length,
    checkpoints: checkpoints.length,
    trustedCheckpoint: "consistent",
    ...retention,
  };
}

/** Verify an export against pinned keys and, optionally, a checkpoint the customer kept from before. */
export function verifyAuditExport(
  text: string,
  pinned: PinnedKeys,
  trusted?: unknown,
  options: { readonly full?: boolean } = {},
): ExportVerification {
  const prepared = prepareAuditExport(text, pinned, options);
  if (!prepared.ok) return prepared;
  const chain = prepared.chain ? verifyChain(prepared.events, prepared.chain.eventKeys, prepared.chain.options) : null;
  return completeAuditExport(prepared, chain, trusted);
}

/**
 * The defence against an insider who re-signs a shortened or rewritten log: `trusted` is a checkpoint line the customer
 * kept earlier. It must verify under the given keys, belong to `workspaceId`, and the current leaves must extend it —
 * an RFC 9162 consistency proof from its tree to the current one.
 */
export function checkAgainstTrustedCheckpoint(
  workspaceId: string,
  leafHashes: readonly string[],
  trusted: unknown,
  keys: ReadonlyMap<string, VerificationKey>,
): { readonly ok: true } | { readonly ok: false; readonly failure: string; readonly seq?: number } {
  const kept = openTrustedCheckpoint(workspaceId, trusted, keys);
  if (!kept.ok) return kept;
  if (leafHashes.length < kept.treeSize) {
    return {
      ok: false,
      failure: `the log shrank: the trusted checkpoint covers ${kept.treeSize} events, the log has ${leafHashes.length}`,
      seq: leafHashes.length + 1,
    };
  }
  const leafBytes = leafHashes.map((h) => eventLeafHash(h));
  const proof = kept.treeSize === leafBytes.length ? [] : consistencyProof(leafBytes, kept.treeSize);
  const check = verifyConsistency(
    kept.treeSize,
    leafBytes.length,
    proof,
    Buffer.from(kept.rootHash, "hex"),
    merkleRoot(leafBytes),
  );
  return check.ok
    ? { ok: true }
    : {
        ok: false,
        failure: `not consistent with the trusted checkpoint (tree_size ${kept.treeSize}): history up to it was rewritten`,
      };
}

/** A kept checkpoint line, checked: it verifies under `keys` and is of `workspaceId`. */
export function openTrustedCheckpoint(
  workspaceId: string,
  trusted: unknown,
  keys: ReadonlyMap<string, VerificationKey>,
):
  | { readonly ok: true; readonly treeSize: number; readonly rootHash: string }
  | { readonly ok: false; readonly failure: string } {
  const t = CheckpointLine.safeParse(trusted);
  if (!t.success) return { ok: false, failure: "the trusted checkpoint is not a checkpoint line" };
  const kept = toCheckpoint(t.data);
  const key = keys.get(kept.key_id);
  if (!key || !verifyCheckpointSignature(key, kept.body, kept.signature))
    return { ok: false, failure: "the trusted checkpoint does not verify under the keys given" };
  if (kept.workspace_id !== workspaceId)
    return { ok: false, failure: "the trusted checkpoint is of another workspace" };
  return { ok: true, treeSize: kept.tree_size, rootHash: kept.root_hash };
}

/**
 * The streaming form of the trusted-checkpoint check, for a verifier that keeps no leaf list (verify-chain-stream.ts):
 * every current leaf was read, so the log extends the kept tree exactly when the root of its first `treeSize` leaves is
 * the kept root — what a consistency proof built from those leaves would show.
 */
export function checkTrustedCheckpointRoot(
  kept: { readonly treeSize: number; readonly rootHash: string },
  leafCount: number,
  rootAtKeptSize: Uint8Array | undefined,
): { readonly ok: true } | { readonly ok: false; readonly failure: string; readonly seq?: number } {
  if (leafCount < kept.treeSize)
    return {
      ok: false,
      failure: `the log shrank: the trusted checkpoint covers ${kept.treeSize} events, the log has ${leafCount}`,
      seq: leafCount + 1,
    };
  const same = rootAtKeptSize !== undefined && Buffer.from(rootAtKeptSize).toString("hex") === kept.rootHash;
  return same
    ? { ok: true }
    : {
        ok: false,
        failure: `not consistent with the trusted checkpoint (tree_size ${kept.treeSize}): history up to it was rewritten`,
      };
}

/** A compact proof that one event is in a workspace's log, against a signed checkpoint (RFC 9162 inclusion). */
export const InclusionProofSchema = z
  .object({
    format: z.literal("praxa-audit-inclusion/v1"),
    event: EventLine,
    checkpoint: CheckpointLine,
    proof: z.array(Sha256HexSchema),
  })
  .strict();

export function buildInclusionProof(
  event: z.input<typeof EventLine>,
  checkpoint: z.input<typeof CheckpointLine>,
  leafHashes: readonly string[],
): z.input<typeof InclusionProofSchema> {
  const leaves = leafHashes.slice(0, checkpoint.tree_size).map((h) => eventLeafHash(h));
  return {
    format: "praxa-audit-inclusion/v1",
    event,
    checkpoint,
    proof: inclusionProof(leaves, event.seq - 1).map((b) => b.toString("hex")),
  };
}

/** Offline: the checkpoint verifies under a pinned key, the event's bytes hash to its hash, and the hash is in the tree. */
export function verifyInclusionProof(
  value: unknown,
  pinned: PinnedKeys,
):
  | { readonly ok: true; readonly seq: number; readonly treeSize: number }
  | { readonly ok: false; readonly failure: string } {
  const parsed = InclusionProofSchema.safeParse(value);
  if (!parsed.success) return { ok: false, failure: "not an inclusion proof" };
  const { event, checkpoint, proof } = parsed.data;
  const keys = keyMaps(pinned);
  const cp = toCheckpoint(checkpoint);
  const key = keys.checkpoints.get(cp.key_id);
  if (!key || !verifyCheckpointSignature(key, cp.body, cp.signature))
    return { ok: false, failure: "the checkpoint does not verify under the pinned keys" };
  const body = checkpointBody({
    workspace_id: cp.workspace_id as never,
    tree_size: cp.tree_size,
    root_hash: cp.root_hash,
    timestamp: cp.timestamp,
    key_id: cp.key_id,
  });
  if (!Buffer.from(body).equals(Buffer.from(cp.body)))
    return { ok: false, failure: "the checkpoint body does not match its fields" };
  const chain = verifyChain(
    [
      {
        seq: event.seq,
        workspace_id: event.workspace_id,
        prev_hash: event.prev_hash,
        hash: event.hash,
        key_id: event.key_id,
        signature: event.signature,
        canonical: event.canonical,
      },
    ],
    keys.events,
    { workspaceId: cp.workspace_id as never, firstPrevHash: event.prev_hash },
  );
  if (!chain.ok) return { ok: false, failure: `seq ${event.seq}: ${chain.reason}` };
  const check = verifyInclusion(
    event.seq - 1,
    cp.tree_size,
    eventLeafHash(event.hash),
    proof.map((h) => Buffer.from(h, "hex")),
    Buffer.from(cp.root_hash, "hex"),
  );
  return check.ok
    ? { ok: true, seq: event.seq, treeSize: cp.tree_size }
    : { ok: false, failure: `seq ${event.seq} is not in the checkpointed tree (${check.reason})` };
}
