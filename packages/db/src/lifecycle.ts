/**
 * Data lifecycle (issue #22, migration 0033): the retention sweep's cut of a workspace's audit chain behind a signed
 * checkpoint, run-log retention, and the erasure of a workspace with a signed receipt. The deleting functions run as
 * praxa_lifecycle inside the database (the only role the audit triggers let delete); the monitor orchestrates.
 */
import { sql as dsql } from "drizzle-orm";
import { z } from "zod";
import {
  auditExportLines,
  erasureReceiptBytes,
  InternalError,
  WorkspaceIdSchema,
  type ErasureReceipt,
  type ErasureReceiptBody,
  type StoredChainEvent,
  type WorkspaceId,
} from "@praxa/core";
import { createCheckpoint, readAuditKeyset, type CheckpointSigner } from "./audit.js";
import type { Database } from "./client.js";
import { withWorkspace, requireScope, type WorkspaceScope } from "./scope.js";
import { queryRows, queryScopedRows } from "./typed-query.js";

const num = z.union([z.number(), z.string()]).transform(Number);
const time = z.union([z.date(), z.string().transform((v) => new Date(v))]);

// ── retention ──

const RetentionDueRow = z.object({ workspace_id: WorkspaceIdSchema, wanted: num, allowed: num.nullable() });
export type RetentionDue = z.infer<typeof RetentionDueRow>;

/** Workspaces whose audit chain has a prefix past its window: `wanted` the last seq to cut, `allowed` within the floor. */
export async function retentionDue(database: Database, limit: number): Promise<RetentionDue[]> {
  return queryRows(database, RetentionDueRow, dsql`select * from public.lifecycle_retention_due(${limit})`);
}

export interface RetentionCutResult {
  readonly workspaceId: WorkspaceId;
  /** The last seq removed (0: nothing was cut). */
  readonly throughSeq: number;
  readonly removed: number;
  /** The cut the window wanted, when a SIEM floor held it back. */
  readonly heldAt?: number;
}

/**
 * Cut one workspace's chain through `throughSeq`: sign a checkpoint at exactly that tree size (if there is none), then
 * let the database keep the removed events' hashes and delete them (it re-checks the window and the checkpoint).
 */
export async function cutAuditChain(
  database: Database,
  workspaceId: WorkspaceId,
  throughSeq: number,
  signer: CheckpointSigner,
  now: Date = new Date(),
): Promise<number> {
  return withWorkspace(database, workspaceId, async (scope) => {
    await createCheckpoint(scope, signer, now, throughSeq);
    const [row] = await queryScopedRows(
      scope,
      z.object({ removed: num }),
      dsql`select public.lifecycle_apply_retention(${workspaceId}, ${throughSeq}) as removed`,
    );
    return row?.removed ?? 0;
  });
}

/** Workspaces with a finished run or a webhook delivery past their run window. */
export async function runRetentionDue(database: Database, limit: number): Promise<WorkspaceId[]> {
  const rows = await queryRows(
    database,
    z.object({ workspace_id: WorkspaceIdSchema }),
    dsql`select workspace_id from public.lifecycle_run_retention_due(${limit})`,
  );
  return rows.map((r) => r.workspace_id);
}

/** Delete the workspace's finished runs past its run window (and what references them); rows per table. */
export async function applyRunRetention(
  database: Database,
  workspaceId: WorkspaceId,
  limit: number,
): Promise<Record<string, number>> {
  const [row] = await queryRows(
    database,
    z.object({ counts: z.record(z.string(), num) }),
    dsql`select public.lifecycle_apply_run_retention(${workspaceId}, ${limit}) as counts`,
  );
  return row?.counts ?? {};
}

const CutRow = z.object({
  from_seq: num,
  through_seq: num,
  leaf_hashes: z.instanceof(Buffer),
  cut_at: time,
});

export interface RetentionCuts {
  /** The last seq removed (0: none). */
  readonly throughSeq: number;
  /** When the newest cut was made. */
  readonly cutAt: Date | null;
  /** The removed events' hashes, hex, seq 1..throughSeq. */
  readonly leafHashes: string[];
}

/** What the retention cuts kept of the scope's chain: the removed events' hashes, gapless from seq 1. */
export async function readRetentionCuts(scope: WorkspaceScope): Promise<RetentionCuts> {
  const s = requireScope(scope);
  const rows = await queryScopedRows(
    scope,
    CutRow,
    dsql`select from_seq, through_seq, leaf_hashes, cut_at from public.audit_retention_cuts where workspace_id = ${s.workspaceId} order by from_seq`,
  );
  const leafHashes: string[] = [];
  let cutAt: Date | null = null;
  for (const r of rows) {
    if (r.from_seq !== leafHashes.length + 1)
      throw new InternalError("the retention cuts are not gapless from seq 1", { details: { seq: r.from_seq } });
    for (let i = 0; i < r.leaf_hashes.length; i += 32) leafHashes.push(r.leaf_hashes.toString("hex", i, i + 32));
    if (cutAt === null || r.cut_at > cutAt) cutAt = r.cut_at;
  }
  return { throughSeq: leafHashes.length, cutAt, leafHashes };
}

// ── erasure ──

const ErasureRequestRow = z.object({
  id: z.string(),
  status: z.enum(["pending", "cancelled", "erased", "receipted"]),
  requested_at: time,
  execute_after: time,
  due_by: time,
});
export type ErasureRequest = z.infer<typeof ErasureRequestRow>;

/** api: a human owner asks for the scope's workspace to be erased after `graceHours` (0–72). Idempotent. */
export async function requestWorkspaceErasure(
  scope: WorkspaceScope,
  token: { readonly tokenId: string; readonly secretSha256: string },
  graceHours: number,
): Promise<ErasureRequest> {
  const [row] = await queryScopedRows(
    scope,
    ErasureRequestRow,
    dsql`select * from public.api_request_workspace_erasure(${token.tokenId}, ${token.secretSha256}, ${graceHours})`,
  );
  if (!row) throw new InternalError("the erasure request returned no row");
  return row;
}

/** api: an owner cancels the scope's pending erasure during its grace period. */
export async function cancelWorkspaceErasure(
  scope: WorkspaceScope,
  token: { readonly tokenId: string; readonly secretSha256: string },
): Promise<boolean> {
  const [row] = await queryScopedRows(
    scope,
    z.object({ cancelled: z.boolean() }),
    dsql`select public.api_cancel_workspace_erasure(${token.tokenId}, ${token.secretSha256}) as cancelled`,
  );
  return row?.cancelled ?? false;
}

/** operator (a connection that may act as praxa_owner): request an erasure, `graceHours` 0 for now. */
export async function requestErasureAsOperator(
  database: Database,
  workspaceId: WorkspaceId,
  graceHours: number,
): Promise<string> {
  const rows = await database.db.transaction(async (tx) => {
    await tx.execute(dsql`set local role praxa_owner`);
    return tx.execute(
      dsql`select public.operator_request_workspace_erasure(${workspaceId}, ${graceHours})::text as id`,
    );
  });
  const [row] = z.array(z.object({ id: z.string() })).parse([...(rows as Iterable<unknown>)]);
  if (!row) throw new InternalError("the erasure request returned no id");
  return row.id;
}

const DueErasureRow = z.object({
  id: z.string(),
  workspace_id: WorkspaceIdSchema,
  status: z.enum(["pending", "erased"]),
});
export type DueErasure = z.infer<typeof DueErasureRow>;

export async function erasuresDue(database: Database, limit: number): Promise<DueErasure[]> {
  return queryRows(
    database,
    DueErasureRow,
    dsql`select id::text, workspace_id, status from public.lifecycle_erasures_due(${limit})`,
  );
}

const OverdueRow = z.object({ id: z.string(), workspace_id: z.string(), requested_at: time, due_by: time });
/** Erasures past their 7-day due time and not done (each reported at most once an hour). */
export async function erasuresOverdue(database: Database): Promise<z.infer<typeof OverdueRow>[]> {
  return queryRows(
    database,
    OverdueRow,
    dsql`select id::text, workspace_id, requested_at, due_by from public.lifecycle_erasures_overdue()`,
  );
}

export interface ErasureDeps {
  readonly database: Database;
  readonly signer: CheckpointSigner;
  /** Delete every object under `ws/<id>/`; returns how many there were. */
  readonly eraseObjects: (workspaceId: WorkspaceId) => Promise<number>;
  readonly now?: () => Date;
}

/**
 * Execute a due erasure: a final signed checkpoint (its root goes into the receipt), the workspace's objects, then
 * every row, secret and key in one transaction of the database's, then the signed receipt. Each step is idempotent on
 * retry: an erasure that failed after the rows went is picked up as `erased` and only signed.
 */
export async function executeErasure(deps: ErasureDeps, due: DueErasure): Promise<ErasureReceipt> {
  const now = deps.now ?? (() => new Date());
  if (due.status === "pending") {
    await withWorkspace(deps.database, due.workspace_id, (scope) => createCheckpoint(scope, deps.signer, now()));
    const objects = await deps.eraseObjects(due.workspace_id);
    await queryRows(
      deps.database,
      z.object({ counts: z.unknown() }),
      dsql`select public.lifecycle_erase_workspace(${due.id}::uuid, ${objects}) as counts`,
    );
  }
  return signErasureReceipt(deps.database, due.id, deps.signer);
}

const RecordRow = z.object({
  id: z.string(),
  workspace_id: WorkspaceIdSchema,
  tenant_id: z.string(),
  requested_at: time,
  erased_at: time,
  counts: z.record(z.string(), num),
  final_tree_size: num.nullable(),
  final_root_hash: z.string().nullable(),
  status: z.enum(["erased", "receipted"]),
});

async function signErasureReceipt(database: Database, id: string, signer: CheckpointSigner): Promise<ErasureReceipt> {
  const [rec] = await queryRows(
    database,
    RecordRow,
    dsql`select id::text, workspace_id, tenant_id, requested_at, erased_at, counts, final_tree_size, final_root_hash, status from public.lifecycle_erasure_record(${id}::uuid)`,
  );
  if (!rec) throw new InternalError("no erased workspace under this erasure id");
  if (rec.status === "receipted") {
    const stored = await readErasureReceipt(database, id);
    if (!stored) throw new InternalError("a receipted erasure has no receipt");
    return stored;
  }
  const body: ErasureReceiptBody = {
    format: "praxa-erasure-receipt/v1",
    erasure_id: rec.id,
    workspace_id: rec.workspace_id,
    tenant_id: rec.tenant_id,
    requested_at: rec.requested_at.toISOString(),
    completed_at: rec.erased_at.toISOString(),
    counts: rec.counts,
    final_checkpoint:
      rec.final_tree_size !== null && rec.final_root_hash !== null
        ? { tree_size: rec.final_tree_size, root_hash: rec.final_root_hash }
        : null,
    key_id: signer.keyId,
  };
  const bytes = erasureReceiptBytes(body);
  const signature = await signer.sign(bytes);
  await queryRows(
    database,
    z.object({ stored: z.boolean() }),
    dsql`select public.lifecycle_store_erasure_receipt(${id}::uuid, ${Buffer.from(bytes)}::bytea, ${signer.keyId}, ${Buffer.from(signature)}::bytea) as stored`,
  );
  const stored = await readErasureReceipt(database, id);
  if (!stored) throw new InternalError("the erasure receipt was not stored");
  return stored;
}

/** A stored receipt by its erasure id (the capability its requester holds), or null. */
export async function readErasureReceipt(database: Database, id: string): Promise<ErasureReceipt | null> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return null;
  const [row] = await queryRows(
    database,
    z.object({ receipt: z.instanceof(Buffer), key_id: z.string(), signature: z.instanceof(Buffer) }),
    dsql`select receipt, key_id, signature from public.workspace_erasure_receipt(${id}::uuid)`,
  );
  if (!row) return null;
  return {
    format: "praxa-erasure-receipt/v1",
    body: row.receipt.toString("base64"),
    key_id: row.key_id,
    signature: row.signature.toString("base64"),
  };
}

// ── erasure of a person inside a workspace ──

const RedactionRow = z.object({
  redacted_seqs: z.array(num),
  memory_facts: num,
  run_inputs: num,
});
export type PersonRedaction = z.infer<typeof RedactionRow>;

/**
 * operator (a connection that may act as praxa_owner): erase a person — a GitHub login or a Slack user id — from a
 * workspace: audit events naming them redacted in place (bytes gone; hash, links, signature kept), memory facts
 * naming them deleted, run inputs naming them emptied.
 */
export async function redactPerson(
  database: Database,
  workspaceId: WorkspaceId,
  subject: string,
): Promise<PersonRedaction> {
  const rows = await database.db.transaction(async (tx) => {
    await tx.execute(dsql`set local role praxa_owner`);
    return tx.execute(dsql`select public.lifecycle_redact_person(${workspaceId}, ${subject}) as r`);
  });
  const [row] = z.array(z.object({ r: RedactionRow })).parse([...(rows as Iterable<unknown>)]);
  if (!row) throw new InternalError("the redaction returned nothing");
  return row.r;
}

// ── export ──

/** api: an owner or admin (human token) asks for the scope's workspace to be exported; the monitor writes it. */
export async function requestWorkspaceExport(
  scope: WorkspaceScope,
  token: { readonly tokenId: string; readonly secretSha256: string },
): Promise<{ id: string; requested_at: Date }> {
  const [row] = await queryScopedRows(
    scope,
    z.object({ id: z.string(), requested_at: time }),
    dsql`select id::text, requested_at from public.api_request_workspace_export(${token.tokenId}, ${token.secretSha256})`,
  );
  if (!row) throw new InternalError("the export request returned no row");
  return row;
}

/** operator (a connection that may act as praxa_owner): request an export of any workspace. */
export async function requestExportAsOperator(database: Database, workspaceId: WorkspaceId): Promise<string> {
  const rows = await database.db.transaction(async (tx) => {
    await tx.execute(dsql`set local role praxa_owner`);
    return tx.execute(dsql`select public.operator_request_workspace_export(${workspaceId})::text as id`);
  });
  const [row] = z.array(z.object({ id: z.string() })).parse([...(rows as Iterable<unknown>)]);
  if (!row) throw new InternalError("the export request returned no id");
  return row.id;
}

const ExportRow = z.object({
  id: z.string(),
  status: z.enum(["pending", "running", "done", "failed"]),
  requested_at: time,
  finished_at: time.nullable(),
  object_prefix: z.string().nullable(),
  error_code: z.string().nullable(),
});
export type WorkspaceExport = z.infer<typeof ExportRow>;

/** api: one export of the scope's workspace, or null. */
export async function readWorkspaceExport(scope: WorkspaceScope, id: string): Promise<WorkspaceExport | null> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return null;
  const [row] = await queryScopedRows(
    scope,
    ExportRow,
    dsql`select id::text, status, requested_at, finished_at, object_prefix, error_code from public.workspace_exports where id = ${id}::uuid`,
  );
  return row ?? null;
}

/** Where an export writes, how it reads and signs nothing: it only copies what is stored. */
export interface ExportDeps {
  readonly database: Database;
  /** Write one object of the export (`name` under the export's prefix); returns its key. */
  readonly put: (
    workspaceId: WorkspaceId,
    exportId: string,
    name: string,
    body: string,
    contentType: string,
  ) => Promise<string>;
  /** Audit rows read per query (default 10,000). */
  readonly pageSize?: number;
}

/**
 * Run one pending export, if any (the monitor's exports pass): `data.json` (settings, members, Skills and versions,
 * runs, feedback) and `audit.jsonl` (the `praxa-audit-export/v1` form `praxa audit verify --file` accepts, retention
 * cut included) under `ws/<id>/exports/<export id>/`. Returns the export id, or null when none was pending.
 */
export async function runOneExport(deps: ExportDeps): Promise<string | null> {
  const [claimed] = await queryRows(
    deps.database,
    z.object({ id: z.string(), workspace_id: WorkspaceIdSchema }),
    dsql`select id::text, workspace_id from public.lifecycle_claim_export()`,
  );
  if (!claimed) return null;
  const ws = claimed.workspace_id;
  try {
    const [data] = await queryRows(
      deps.database,
      z.object({ d: z.record(z.string(), z.unknown()) }),
      dsql`select public.lifecycle_export_data(${claimed.id}::uuid) as d`,
    );
    const dataKey = await deps.put(ws, claimed.id, "data.json", JSON.stringify(data?.d ?? {}), "application/json");
    const cuts = await queryRows(
      deps.database,
      CutRow,
      dsql`select from_seq, through_seq, leaf_hashes, cut_at from public.lifecycle_export_cuts(${claimed.id}::uuid)`,
    );
    const removedLeaves: string[] = [];
    let cutAt: Date | null = null;
    for (const r of cuts) {
      for (let i = 0; i < r.leaf_hashes.length; i += 32) removedLeaves.push(r.leaf_hashes.toString("hex", i, i + 32));
      if (cutAt === null || r.cut_at > cutAt) cutAt = r.cut_at;
    }
    const events: StoredChainEvent[] = [];
    const page = deps.pageSize ?? 10_000;
    for (let after = removedLeaves.length; ;) {
      const rows = await queryRows(
        deps.database,
        ChainRowOut,
        dsql`select seq, workspace_id, prev_hash, hash, key_id, signature, canonical from public.lifecycle_export_audit(${claimed.id}::uuid, ${after}, ${page})`,
      );
      events.push(...rows);
      const last = rows.at(-1);
      if (!last || rows.length < page) break;
      after = last.seq;
    }
    const checkpoints = (
      await queryRows(
        deps.database,
        CheckpointRowOut,
        dsql`select workspace_id, tree_size, root_hash, "timestamp", key_id, signature, body from public.lifecycle_export_checkpoints(${claimed.id}::uuid)`,
      )
    ).map((c) => ({ ...c, timestamp: c.timestamp.toISOString() }));
    const keys = await readAuditKeyset(deps.database);
    const lines = [
      ...auditExportLines({
        header: { workspaceId: ws, exportedAt: new Date().toISOString(), from: null, to: null },
        removedLeaves,
        cutAt,
        leaves: events.map((e) => ({ seq: e.seq, hash: e.hash })),
        events,
        checkpoints,
        keys,
      }),
    ];
    const auditKey = await deps.put(ws, claimed.id, "audit.jsonl", lines.join("\n") + "\n", "application/x-ndjson");
    const prefix = dataKey.slice(0, dataKey.lastIndexOf("/") + 1);
    if (!auditKey.startsWith(prefix)) throw new InternalError("the export's objects are not under one prefix");
    await queryRows(
      deps.database,
      z.object({ ok: z.boolean() }),
      dsql`select public.lifecycle_finish_export(${claimed.id}::uuid, ${prefix}, null) as ok`,
    );
    return claimed.id;
  } catch (err) {
    await queryRows(
      deps.database,
      z.object({ ok: z.boolean() }),
      dsql`select public.lifecycle_finish_export(${claimed.id}::uuid, null, 'EXPORT_FAILED') as ok`,
    ).catch(() => undefined);
    throw err;
  }
}

const ChainRowOut = z.object({
  seq: num,
  workspace_id: z.string(),
  prev_hash: z.string(),
  hash: z.string(),
  key_id: z.string(),
  signature: z.string(),
  canonical: z.instanceof(Buffer),
});
const CheckpointRowOut = z.object({
  workspace_id: z.string(),
  tree_size: num,
  root_hash: z.string(),
  timestamp: time,
  key_id: z.string(),
  signature: z.instanceof(Buffer),
  body: z.instanceof(Buffer),
});
