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
