/**
 * Writing `praxa-audit-export/v1` (the reading side is audit-export.ts): one function per line type, so the CLI's
 * `audit export`, the api's `GET /v1/audit/export` and the bench write the same bytes from one definition.
 * Each returns the line's JSON without the trailing newline.
 */
import { createPublicKey } from "node:crypto";

export interface ExportHeaderFields {
  readonly workspaceId: string;
  readonly exportedAt: string;
  readonly from: Date | null | undefined;
  readonly to: Date | null | undefined;
}

export function exportHeaderLine(h: ExportHeaderFields): string {
  return JSON.stringify({
    type: "export",
    format: "praxa-audit-export/v1",
    workspace_id: h.workspaceId,
    exported_at: h.exportedAt,
    from: h.from?.toISOString() ?? null,
    to: h.to?.toISOString() ?? null,
  });
}

export function exportLeafLine(l: { readonly seq: number; readonly hash: string }): string {
  return JSON.stringify({ type: "leaf", seq: l.seq, hash: l.hash });
}

export interface ExportableEvent {
  readonly seq: number;
  readonly workspace_id: string;
  readonly prev_hash: string;
  readonly hash: string;
  readonly key_id: string;
  readonly signature: string;
  readonly canonical: Uint8Array;
}

export function exportEventLine(e: ExportableEvent): string {
  return JSON.stringify({
    type: "event",
    seq: e.seq,
    workspace_id: e.workspace_id,
    prev_hash: e.prev_hash,
    hash: e.hash,
    key_id: e.key_id,
    signature: e.signature,
    canonical: Buffer.from(e.canonical).toString("base64"),
  });
}

export interface ExportableCheckpoint {
  readonly workspace_id: string;
  readonly tree_size: number;
  readonly root_hash: string;
  /** Written as JSON writes it (a Date as its ISO string). */
  readonly timestamp: Date | string;
  readonly key_id: string;
  readonly signature: Uint8Array;
  readonly body: Uint8Array;
}

export function exportCheckpointLine(c: ExportableCheckpoint): string {
  return JSON.stringify({
    type: "checkpoint",
    workspace_id: c.workspace_id,
    tree_size: c.tree_size,
    root_hash: c.root_hash,
    timestamp: c.timestamp,
    key_id: c.key_id,
    signature: Buffer.from(c.signature).toString("base64"),
    body: Buffer.from(c.body).toString("base64"),
  });
}

export function exportKeyLine(k: {
  readonly keyId: string;
  readonly purpose: string;
  readonly algorithm: string;
  readonly spki: Uint8Array;
}): string {
  return JSON.stringify({
    type: "key",
    key_id: k.keyId,
    purpose: k.purpose,
    algorithm: k.algorithm,
    public_key_pem: createPublicKey({ key: Buffer.from(k.spki), format: "der", type: "spki" })
      .export({ format: "pem", type: "spki" })
      .toString(),
  });
}

/** A retention cut: events 1..throughSeq were removed on cutAt (their leaf lines are still written). */
export function exportRetentionLine(r: { readonly throughSeq: number; readonly cutAt: Date | string }): string {
  return JSON.stringify({
    type: "retention",
    through_seq: r.throughSeq,
    cut_at: r.cutAt instanceof Date ? r.cutAt.toISOString() : r.cutAt,
  });
}

export interface AuditExportMaterial {
  readonly header: ExportHeaderFields;
  /** The leaf hashes a retention cut kept of the removed events 1..n (hex, seq order); empty without a cut. */
  readonly removedLeaves: readonly string[];
  /** When the newest cut was made (null: no cut). */
  readonly cutAt: Date | null;
  /** The kept events' leaves (seq > n), in seq order. */
  readonly leaves: readonly { readonly seq: number; readonly hash: string }[];
  readonly events: readonly ExportableEvent[];
  readonly checkpoints: readonly ExportableCheckpoint[];
  readonly keys: readonly {
    readonly keyId: string;
    readonly purpose: string;
    readonly algorithm: string;
    readonly spki: Uint8Array;
  }[];
}

/**
 * Every line of an export, in order: the header, a leaf line per event from seq 1 (the removed ones' kept hashes
 * first), the event lines, the checkpoint lines, the retention line after a cut, the key lines. The CLI and the api
 * write exports through this one function, so they are byte for byte the same.
 */
export function* auditExportLines(m: AuditExportMaterial): Generator<string> {
  yield exportHeaderLine(m.header);
  for (const [i, hash] of m.removedLeaves.entries()) yield exportLeafLine({ seq: i + 1, hash });
  for (const l of m.leaves) if (l.seq > m.removedLeaves.length) yield exportLeafLine(l);
  for (const e of m.events) if (e.seq > m.removedLeaves.length) yield exportEventLine(e);
  for (const c of m.checkpoints) yield exportCheckpointLine(c);
  if (m.cutAt !== null && m.removedLeaves.length > 0)
    yield exportRetentionLine({ throughSeq: m.removedLeaves.length, cutAt: m.cutAt });
  for (const k of m.keys) yield exportKeyLine(k);
}
