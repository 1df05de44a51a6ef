/**
 * Appending to a workspace's audit chain, in the caller's scope and transaction: lock the head, build each event's
 * canonical bytes with the next seq and the head's hash, sign, insert — the database refuses anything that does not
 * continue the head and recomputes every hash from the stored bytes. Several events may be appended in one call; a
 * retried run's duplicate (same run, step, kind) is refused by the unique index and appends nothing.
 */
import type { KeyObject } from 'node:crypto';
import { sql as dsql } from 'drizzle-orm';
import { z } from 'zod';
import { genesisPrevHash, parseAuditEventDraft, sealAuditEvent, type AuditEventDraft, type StoredAuditEvent, type StoredChainEvent } from '@praxa/core';
import { requireScope, type WorkspaceScope } from './scope.js';

export interface AuditSigner {
  readonly keyId: string;
  readonly privateKey: KeyObject;
}

const HeadRow = z.object({ seq: z.union([z.number(), z.string()]).transform(Number), head_hash: z.string() });

export async function appendAuditEvents(scope: WorkspaceScope, drafts: readonly AuditEventDraft[], signer: AuditSigner): Promise<StoredAuditEvent[]> {
  const s = requireScope(scope);
  const [head] = z.array(HeadRow).parse(await s.execute(dsql`select * from public.audit_lock_head(${genesisPrevHash(s.workspaceId)})`));
  if (!head) throw new Error('audit_lock_head returned no row');
  let seq = head.seq;
  let prev = head.head_hash;
  const stored: StoredAuditEvent[] = [];
  for (const raw of drafts) {
    const draft = parseAuditEventDraft(raw);
    seq += 1;
    const sealed = sealAuditEvent({ ...draft, workspace_id: s.workspaceId, seq, prev_hash: prev, key_id: signer.keyId }, signer.privateKey);
    await s.execute(dsql`select public.audit_append_event(${seq}, ${prev}, ${sealed.hash}, ${draft.auditEventId}, ${draft.kind},
      ${draft.skillId}, ${draft.runId}, ${draft.step ?? null}, ${draft.trigger}, ${draft.occurred_at}::timestamptz, ${signer.keyId},
      ${sealed.signature}, ${Buffer.from(sealed.canonical)}::bytea)`);
    prev = sealed.hash;
    stored.push(sealed.event);
  }
  return stored;
}

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
    .parse(await requireScope(scope).execute(dsql`select seq, workspace_id, prev_hash, hash, key_id, signature, canonical from public.audit_events where seq >= ${fromSeq} order by seq limit ${limit}`));
}
