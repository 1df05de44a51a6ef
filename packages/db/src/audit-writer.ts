/**
 * Group commit for audit events that stand alone (a run's `skill.action`, `guard.denied`, `run.failed`: events not
 * tied to another write of the caller's transaction). Callers append concurrently; the writer places what has queued
 * meanwhile in one transaction — every workspace of the batch in turn, each through `appendAuditEvents` in its own
 * scope (`withWorkspacesInTurn`), so the database checks each chain exactly as it does for a single append — and
 * resolves each caller's promise only once that transaction has committed. An event is durable when `append`
 * resolves, as with one transaction per event; what the batch saves is the per-transaction cost (begin, commit and
 * its WAL flush, and one round trip per workspace instead of one per event), which on a loaded machine is most of the
 * cost of an append.
 *
 *  - Order: a workspace's events are placed in the order their `append` calls were made; one call's events stay
 *    contiguous. Workspaces are visited in id order in every batch, so two writers (processes) lock chain heads in the
 *    same order and cannot deadlock each other.
 *  - Isolation: if a batch fails (a retried run's duplicate event refused by the unique key, an invalid draft, a lost
 *    connection), nothing of it was stored; each call of the batch is then placed again in a transaction of its own, so
 *    only the call at fault fails, with its own error (a duplicate: ConflictError, the chain unchanged).
 *  - Flow: at most `concurrency` batches are in flight (default 2: one being sealed in this process while the
 *    database works on the other), each of at most `maxBatchEvents` events (default 256); what is queued is shared
 *    out between the free slots. Batches start on the next turn of the event loop (no timer, no waiting for more), so
 *    the callers a commit resumes, who append again one after the other, land in the same batch.
 *  - Backpressure: at most `maxQueuedEvents` events (default 10,000) wait in the queue. A call that would go past it
 *    is held, in call order, until batches have taken enough from the queue — its promise simply resolves later, so a
 *    caller that awaits its append (a run does) slows down instead of the process growing without bound while the
 *    database is slow or away. A single call larger than the bound is taken once the queue is empty.
 *
 * Events that must commit with other writes (an integration row and its `admin.integration.installed`, a pause and its
 * `skill.paused`) keep calling `appendAuditEvents` inside their own transaction.
 */
import { UnavailableError, type AuditEventDraft, type StoredAuditEvent, type WorkspaceId, parseId } from "@praxa/core";
import {
  appendAuditEvents,
  appendAuditEventsInTurns,
  forgetAuditTips,
  type AppendOptions,
  type AuditSigner,
} from "./audit-append.js";
import type { Database } from "./client.js";
import { withWorkspace, withWorkspacesInTurn } from "./scope.js";

export interface AuditWriterOptions extends AppendOptions {
  /** Batches in flight at once (default 2). */
  readonly concurrency?: number;
  /** Events one batch takes at most (default 256); a single call larger than this is still placed whole. */
  readonly maxBatchEvents?: number;
  /** Events waiting in the queue at most (default 10,000); calls past it wait their turn to queue (backpressure). */
  readonly maxQueuedEvents?: number;
  /**
   * Told when calls start being held back by `maxQueuedEvents` (true) and when none are any more (false): for the log.
   * Called synchronously from `append` and the batch scheduler, so it must not throw.
   */
  readonly onBackpressure?: (holding: boolean, pending: AuditWriterPending) => void;
  /**
   * Told of a batch that failed before its calls are retried one by one (for the log: each call then resolves or
   * rejects with its own outcome, so the error may well not recur).
   */
  readonly onBatchError?: (err: unknown, calls: number) => void;
}

export interface AuditWriter {
  /** Append `drafts` to the workspace's chain; resolves with the stored events once they are committed. */
  append(workspaceId: string, drafts: readonly AuditEventDraft[]): Promise<StoredAuditEvent[]>;
  /** Refuse new appends (UnavailableError) and resolve once everything already accepted is placed or has failed. */
  close(): Promise<void>;
  /** What waits now. */
  pending(): AuditWriterPending;
}

/** Calls and events queued for a batch, calls held back by `maxQueuedEvents`, batches in flight. */
export interface AuditWriterPending {
  readonly queuedCalls: number;
  readonly queuedEvents: number;
  readonly heldCalls: number;
  readonly batchesInFlight: number;
}

interface Pending {
  readonly workspaceId: WorkspaceId;
  readonly drafts: readonly AuditEventDraft[];
  readonly resolve: (events: StoredAuditEvent[]) => void;
  readonly reject: (err: unknown) => void;
}

export function createAuditWriter(
  database: Database,
  signer: AuditSigner,
  options: AuditWriterOptions = {},
): AuditWriter {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 2));
  const maxBatchEvents = Math.max(1, Math.floor(options.maxBatchEvents ?? 256));
  const maxQueuedEvents = Math.max(1, Math.floor(options.maxQueuedEvents ?? 10_000));
  const appendOptions: AppendOptions = options.checkpoint ? { checkpoint: options.checkpoint } : {};
  const queue: Pending[] = [];
  let queuedEvents = 0;
  /** Calls accepted but held back from the queue by `maxQueuedEvents`, in call order. */
  const held: Pending[] = [];
  let inFlight = 0;
  let closed = false;
  const idle: (() => void)[] = [];

  const alone = async (p: Pending): Promise<void> => {
    try {
      p.resolve(
        await withWorkspace(database, p.workspaceId, (s) => appendAuditEvents(s, p.drafts, signer, appendOptions)),
      );
    } catch (err) {
      p.reject(err);
    }
  };

  const flush = async (batch: Pending[]): Promise<void> => {
    if (batch.length === 1) return alone(batch[0] as Pending);
    const byWorkspace = new Map<WorkspaceId, Pending[]>();
    for (const p of batch) {
      const list = byWorkspace.get(p.workspaceId);
      if (list) list.push(p);
      else byWorkspace.set(p.workspaceId, [p]);
    }
    const order = [...byWorkspace.keys()].sort();
    let placed: Map<Pending, StoredAuditEvent[]>;
    try {
      const groups = order.map((ws) => ({
        workspaceId: ws,
        drafts: (byWorkspace.get(ws) as Pending[]).flatMap((c) => c.drafts),
      }));
      const events = await withWorkspacesInTurn(database, (turns) =>
        appendAuditEventsInTurns(turns, groups, signer, appendOptions),
      );
      placed = new Map();
      for (const [i, ws] of order.entries()) {
        let at = 0;
        for (const c of byWorkspace.get(ws) as Pending[]) {
          placed.set(c, (events[i] as StoredAuditEvent[]).slice(at, at + c.drafts.length));
          at += c.drafts.length;
        }
      }
    } catch (err) {
      options.onBatchError?.(err, batch.length);
      // Nothing of the batch was stored (the heads this process remembered moving went back with it). Each call again,
      // alone: the one at fault gets its own error, the others are placed.
      forgetAuditTips(order);
      for (const p of batch) await alone(p);
      return;
    }
    for (const p of batch) p.resolve(placed.get(p) as StoredAuditEvent[]);
  };

  /** Workspaces of the batches in flight: a workspace is in one batch at a time, so its calls are placed in order. */
  const busy = new Set<WorkspaceId>();

  /**
   * Take the next batch: the queue's calls in order, skipping (and leaving queued) those of a workspace in flight, at
   * most `limit` events (a single larger call is still taken whole).
   */
  const take = (limit: number): Pending[] => {
    const batch: Pending[] = [];
    const left = new Set<WorkspaceId>(busy); // once one call of a workspace stays queued, its later calls stay too
    let events = 0;
    for (let i = 0; i < queue.length && events < limit;) {
      const p = queue[i] as Pending;
      if (left.has(p.workspaceId) || (batch.length > 0 && events + p.drafts.length > limit)) {
        left.add(p.workspaceId);
        i++;
        continue;
      }
      queue.splice(i, 1);
      queuedEvents -= p.drafts.length;
      batch.push(p);
      events += p.drafts.length;
    }
    admit();
    return batch;
  };

  /** Whether calls were being held when `onBackpressure` was last told (it is told of changes only). */
  let holding = false;
  /** Move held calls into the queue, oldest first, while they fit (one larger than the bound: once the queue is empty). */
  function admit(): void {
    while (held.length > 0) {
      const p = held[0] as Pending;
      if (queue.length > 0 && queuedEvents + p.drafts.length > maxQueuedEvents) break;
      held.shift();
      queue.push(p);
      queuedEvents += p.drafts.length;
    }
    if (held.length > 0 !== holding) {
      holding = held.length > 0;
      options.onBackpressure?.(holding, pending());
    }
  }

  const pending = (): AuditWriterPending => ({
    queuedCalls: queue.length,
    queuedEvents,
    heldCalls: held.length,
    batchesInFlight: inFlight,
  });

  /**
   * Batches start on the next turn of the event loop, not inside the call that queued: the callers a commit resumes
   * append again from their own continuations, one after the other, and a batch started at the first of them would
   * leave the rest waiting for the next slot.
   */
  let scheduled = false;
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(pump);
  };

  /**
   * Start batches in the free slots. What is queued is shared out between the free slots, so that the batches in
   * flight overlap — one being sealed here while the database works on another — instead of one batch taking
   * everything and leaving the other slot (and a core) idle until it commits.
   */
  const pump = (): void => {
    scheduled = false;
    while (inFlight < concurrency) {
      // What could go now (calls of workspaces not in flight), shared between the free slots it could use.
      let events = 0;
      const workspaces = new Set<WorkspaceId>();
      for (const p of queue) {
        if (busy.has(p.workspaceId)) continue;
        events += p.drafts.length;
        workspaces.add(p.workspaceId);
      }
      const batch = take(
        Math.min(maxBatchEvents, Math.ceil(events / Math.max(1, Math.min(concurrency - inFlight, workspaces.size)))),
      );
      if (batch.length === 0) return;
      const taken = new Set(batch.map((p) => p.workspaceId));
      for (const ws of taken) busy.add(ws);
      inFlight++;
      void flush(batch).finally(() => {
        for (const ws of taken) busy.delete(ws);
        inFlight--;
        schedule();
        if (inFlight === 0 && queue.length === 0 && held.length === 0) for (const done of idle.splice(0)) done();
      });
    }
  };

  return {
    append(workspaceId, drafts) {
      if (closed) return Promise.reject(new UnavailableError("the audit writer is closed"));
      let ws: WorkspaceId;
      try {
        ws = parseId("workspace", workspaceId);
      } catch (err) {
        return Promise.reject(err);
      }
      if (drafts.length === 0) return Promise.resolve([]);
      return new Promise<StoredAuditEvent[]>((resolve, reject) => {
        held.push({ workspaceId: ws, drafts: [...drafts], resolve, reject });
        admit();
        schedule();
      });
    },
    close() {
      closed = true;
      if (inFlight === 0 && queue.length === 0 && held.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
    pending,
  };
}
