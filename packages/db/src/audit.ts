/**
 * Reading a workspace's audit chain, its verification material (public keys, checkpoints) and signing checkpoints.
 * Appending is in audit-append.ts.
 */
import { sql as dsql } from "drizzle-orm";
import { z } from "zod";
import {
  checkpointBody,
  eventLeafHash,
  extendFrontier,
  frontierRoot,
  InternalError,
  type MerkleFrontier,
  type StoredChainEvent,
  type StoredCheckpoint,
} from "@praxa/core";
import type { Database } from "./client.js";
import { mapDatabaseError } from "./pg-errors.js";
import { requireScope, type WorkspaceScope } from "./scope.js";

const ChainRow = z.object({
  seq: z.union([z.number(), z.string()]).transform(Number),
  workspace_id: z.string(),
  prev_hash: z.string(),
  hash: z.string(),
  key_id: z.string(),
  signature: z.string(),
  canonical: z.instanceof(Buffer),
});

/** The stored chain of the scope's workspace in seq order, as `verifyChain` takes it. */
export async function readAuditChain(scope: WorkspaceScope, fromSeq = 1, limit = 100_000): Promise<StoredChainEvent[]> {
  return z
    .array(ChainRow)
    .parse(
      await requireScope(scope).execute(
        dsql`select seq, workspace_id, prev_hash, hash, key_id, signature, canonical from public.audit_events where seq >= ${fromSeq} order by seq limit ${limit}`,
      ),
    );
}

// ── verification material ──

export interface AuditPublicKey {
  readonly keyId: string;
  readonly purpose: "event" | "checkpoint";
  readonly algorithm: "ed25519" | "ecdsa-p256-sha256";
  readonly spki: Buffer;
}

/** Register the public half of a signing key (idempotent; a different key under the same id is refused). */
export async function registerAuditKey(database: Database, key: AuditPublicKey): Promise<void> {
  try {
    await database.db.execute(
      dsql`select public.audit_register_key(${key.keyId}, ${key.purpose}, ${key.algorithm}, ${key.spki}::bytea)`,
    );
  } catch (err) {
    throw mapDatabaseError(err);
  }
}

const KeyRow = z.object({
  key_id: z.string(),
  purpose: z.enum(["event", "checkpoint"]),
  algorithm: z.enum(["ed25519", "ecdsa-p256-sha256"]),
  spki: z.instanceof(Buffer),
});

export async function readAuditKeyset(database: Database): Promise<AuditPublicKey[]> {
  try {
    const rows = z
      .array(KeyRow)
      .parse([...((await database.db.execute(dsql`select * from public.audit_keyset()`)) as Iterable<unknown>)]);
    return rows.map((r) => ({ keyId: r.key_id, purpose: r.purpose, algorithm: r.algorithm, spki: r.spki }));
  } catch (err) {
    throw mapDatabaseError(err);
  }
}

/** Whatever signs checkpoints: a KeyProvider (`sign`, `publicKey`) in production, any signer in tests. */
export interface CheckpointSigner {
  readonly keyId: string;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

const Num = z.union([z.number(), z.string()]).transform(Number);
const LatestFrontier = z.array(z.object({ tree_size: Num, frontier: z.instanceof(Buffer) })).max(1);
const LeafRows = z.array(z.object({ seq: Num, hash: z.string() }));

/**
 * Sign and store a checkpoint over the scope's whole chain as it stands (on demand, or every N appends). The tree is
 * extended from the latest checkpoint's stored frontier (0018) with the events after it, so a checkpoint reads only
 * those events' hashes, not the whole chain; the frontier is stored with the checkpoint for the next one (the database
 * checks it folds to the signed root). Returns null when there is nothing new to sign: no events, or none since the
 * latest checkpoint.
 */
export async function createCheckpoint(
  scope: WorkspaceScope,
  signer: CheckpointSigner,
  now: Date = new Date(),
  /** Sign the tree of the first `atTreeSize` events instead of the whole chain (a retention cut's checkpoint). */
  atTreeSize?: number,
): Promise<StoredCheckpoint | null> {
  const s = requireScope(scope);
  const upTo = atTreeSize ?? Number.MAX_SAFE_INTEGER;
  const [latest] = LatestFrontier.parse(
    await s.execute(
      dsql`select tree_size, frontier from public.audit_checkpoints where workspace_id = ${s.workspaceId} and frontier is not null and tree_size <= ${upTo} order by tree_size desc limit 1`,
    ),
  );
  if (atTreeSize !== undefined && latest?.tree_size === atTreeSize) return null;
  const start: MerkleFrontier = latest
    ? { size: latest.tree_size, nodes: splitFrontier(latest.frontier) }
    : { size: 0, nodes: [] };
  const rows = LeafRows.parse(
    await s.execute(
      dsql`select seq, hash from public.audit_events where workspace_id = ${s.workspaceId} and seq > ${start.size} and seq <= ${upTo} order by seq`,
    ),
  );
  if (rows.length === 0) return null;
  rows.forEach((r, i) => {
    if (r.seq !== start.size + i + 1)
      throw new InternalError("the audit chain has a gap after the latest checkpoint", {
        details: { seq: start.size + i + 1 },
      });
  });
  const frontier = extendFrontier(
    start,
    rows.map((r) => eventLeafHash(r.hash)),
  );
  const root = frontierRoot(frontier).toString("hex");
  const fields = {
    workspace_id: s.workspaceId,
    tree_size: frontier.size,
    root_hash: root,
    timestamp: now.toISOString(),
    key_id: signer.keyId,
  };
  const body = checkpointBody(fields);
  const signature = await signer.sign(body);
  await s.execute(
    dsql`select public.audit_insert_checkpoint(${fields.tree_size}, ${root}, ${fields.timestamp}::timestamptz, ${signer.keyId}, ${Buffer.from(signature)}::bytea, ${Buffer.from(body)}::bytea, ${Buffer.concat(frontier.nodes)}::bytea)`,
  );
  return { ...fields, signature, body };
}

/** A stored frontier's 32-byte hashes. */
function splitFrontier(bytes: Buffer): Buffer[] {
  if (bytes.length % 32 !== 0) throw new InternalError("a stored checkpoint frontier is not a list of 32-byte hashes");
  return Array.from({ length: bytes.length / 32 }, (_, i) => bytes.subarray(i * 32, (i + 1) * 32));
}

const CheckpointRow = z.object({
  workspace_id: z.string(),
  tree_size: z.union([z.number(), z.string()]).transform(Number),
  root_hash: z.string(),
  timestamp: z.union([z.date(), z.string().transform((v) => new Date(v))]),
  key_id: z.string(),
  signature: z.instanceof(Buffer),
  body: z.instanceof(Buffer),
});

export async function readCheckpoints(scope: WorkspaceScope): Promise<StoredCheckpoint[]> {
  const rows = z
    .array(CheckpointRow)
    .parse(
      await requireScope(scope).execute(
        dsql`select workspace_id, tree_size, root_hash, "timestamp", key_id, signature, body from public.audit_checkpoints order by tree_size`,
      ),
    );
  return rows.map((r) => ({ ...r, timestamp: r.timestamp.toISOString() }));
}

/** Every event hash of the scope's chain, seq 1..head, for Merkle roots and exports. */
export async function readAuditLeaves(scope: WorkspaceScope): Promise<{ seq: number; hash: string }[]> {
  const s = requireScope(scope);
  return z
    .array(z.object({ seq: z.union([z.number(), z.string()]).transform(Number), hash: z.string() }))
    .parse(
      await s.execute(
        dsql`select seq, hash from public.audit_events where workspace_id = ${s.workspaceId} order by seq`,
      ),
    );
}

/** Events whose occurred_at falls in [from, to), in seq order. */
export async function readAuditRange(
  scope: WorkspaceScope,
  from: Date | null,
  to: Date | null,
): Promise<StoredChainEvent[]> {
  const s = requireScope(scope);
  return z.array(ChainRow).parse(
    await s.execute(dsql`select seq, workspace_id, prev_hash, hash, key_id, signature, canonical from public.audit_events
      where workspace_id = ${s.workspaceId} and (${from ? from.toISOString() : null}::timestamptz is null or occurred_at >= ${from ? from.toISOString() : null}::timestamptz)
        and (${to ? to.toISOString() : null}::timestamptz is null or occurred_at < ${to ? to.toISOString() : null}::timestamptz)
      order by seq`),
  );
}
