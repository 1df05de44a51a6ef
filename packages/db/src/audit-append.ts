/**
 * Appending to a workspace's audit chain, in the caller's scope and transaction: redact, seal (canonical bytes with
 * the next seq and the head's hash, signed) and insert through `audit_append_events` (0012), which locks the head and
 * refuses anything that does not continue it, recomputing every hash from the stored bytes. Several events may be
 * appended in one call; a retried run's duplicate (same run, step, kind) is refused by the unique index and appends
 * nothing.
 *
 * One round trip in the common case. The process remembers each workspace's head and redaction policy (as the
 * database last answered them and as its own appends moved the head), seals against them and sends the batch at once.
 * When that guess is stale — another process appended, the customer changed the policy, a transaction rolled back —
 * the database appends nothing and answers the current head and policy, now locked by this transaction; the batch is
 * sealed again and sent once more. The guess is never trusted: the database compares it with the locked head and the
 * policy's digest before it inserts anything.
 *
 * So that guesses stay right when one process appends to a workspace from many transactions at once, its calls for a
 * workspace take turns: each seals after the previous call has placed its events (whose transaction then holds the
 * head until it commits; the next call's statement waits there, in the database, and continues the head it finds).
 * A transaction that already holds the head — it appended before — never waits behind another one's call.
 */
import type { KeyObject } from "node:crypto";
import { z } from "zod";
import {
  ConflictError,
  InternalError,
  parseRedactionPolicy,
  sealAuditDrafts,
  type AuditEventDraft,
  type RedactionPolicy,
  type SealedAuditEvent,
  type StoredAuditEvent,
  type WorkspaceId,
} from "@praxa/core";
import { createCheckpoint, type CheckpointSigner } from "./audit.js";
import { requireScope, type WorkspaceScope, type WorkspaceTurns } from "./scope.js";

export interface AuditSigner {
  readonly keyId: string;
  readonly privateKey: KeyObject;
}

export interface AppendOptions {
  /** Sign a checkpoint over the whole chain whenever the head crosses a multiple of `every`. */
  readonly checkpoint?: { readonly every: number; readonly signer: CheckpointSigner };
}

/** A chain's head and the workspace's redaction policy (with the database's digest of it), as last known. */
interface ChainTip {
  readonly seq: number;
  readonly hash: string;
  readonly policy: RedactionPolicy;
  readonly policyDigest: string;
}

/** Per workspace, most recently used last; bounded, since a missing or stale entry costs only one more round trip. */
const tips = new Map<WorkspaceId, ChainTip>();
const MAX_TIPS = 10_000;
/** The head a transaction left after its last append: exact, and locked by it until it ends. */
const heldTips = new WeakMap<WorkspaceScope, ChainTip>();
/** This process's latest call per workspace: where it expects to leave the head, and when it is done. */
interface Turn {
  readonly expected: ChainTip | undefined;
  readonly settled: Promise<void>;
}
const turns = new Map<WorkspaceId, Turn>();

/**
 * Forget what this process remembers of these workspaces' heads: for a caller whose transaction rolled back after
 * appends that succeeded in it (the audit writer's failed batch). Only speed depends on it — a stale head costs one
 * more round trip, never a wrong append.
 */
export function forgetAuditTips(workspaceIds: Iterable<WorkspaceId>): void {
  for (const ws of workspaceIds) tips.delete(ws);
}

function remember(scope: WorkspaceScope, tip: ChainTip): void {
  heldTips.set(scope, tip);
  rememberTip(scope.workspaceId, tip);
}

function rememberTip(ws: WorkspaceId, tip: ChainTip): void {
  tips.delete(ws);
  tips.set(ws, tip);
  if (tips.size > MAX_TIPS) tips.delete(tips.keys().next().value as WorkspaceId);
}

const AppendRow = z.object({
  appended: z.number().int().min(0),
  head_seq: z.union([z.number(), z.string()]).transform(Number),
  head_hash: z.string(),
  policy_digest: z.string(),
  policy: z.unknown(),
});
const AppendRows = z.tuple([AppendRow]);
const APPEND =
  "select * from public.audit_append_events($1::bigint, $2::text, $3::text, $4::text[], $5::text[], $6::text[])";

/** Calls in a row that append nothing before giving up: past the first, only a policy changing meanwhile causes one. */
const MAX_ATTEMPTS = 5;

interface Sealing {
  readonly tip: ChainTip | undefined;
  readonly sealed: readonly SealedAuditEvent[];
}

function seal(
  workspaceId: WorkspaceId,
  tip: ChainTip | undefined,
  drafts: readonly AuditEventDraft[],
  signer: AuditSigner,
): Sealing {
  const sealed =
    tip && drafts.length > 0
      ? sealAuditDrafts(
          drafts,
          { workspaceId, seq: tip.seq + 1, prevHash: tip.hash, keyId: signer.keyId },
          tip.policy,
          signer.privateKey,
        )
      : [];
  return { tip, sealed };
}

/** Where the head is after `sealing` is placed (undefined if there is nothing to place). */
function after(sealing: Sealing): ChainTip | undefined {
  const last = sealing.sealed.at(-1);
  return sealing.tip && last
    ? { ...sealing.tip, seq: sealing.tip.seq + sealing.sealed.length, hash: last.hash }
    : undefined;
}

const sameTip = (a: ChainTip | undefined, b: ChainTip | undefined): boolean =>
  a !== undefined && b !== undefined && a.seq === b.seq && a.hash === b.hash && a.policyDigest === b.policyDigest;

/** The arguments of APPEND for a sealing (an empty call when there is no head to seal against). */
const appendParams = ({ tip, sealed }: Sealing): unknown[] => [
  tip ? tip.seq + 1 : null,
  tip?.hash ?? null,
  tip?.policyDigest ?? null,
  sealed.map((e) => e.hash),
  sealed.map((e) => e.signature),
  sealed.map((e) => Buffer.from(e.canonical).toString("utf8")),
];

/** The head (and policy) the database answered to a call that appended nothing. */
function answeredTip(row: z.infer<typeof AppendRow>, previous: ChainTip | undefined): ChainTip {
  const policy = row.policy === null || row.policy === undefined ? previous?.policy : parseRedactionPolicy(row.policy);
  if (!policy) throw new InternalError("audit_append_events answered no redaction policy to a caller that had none");
  return { seq: row.head_seq, hash: row.head_hash, policy, policyDigest: row.policy_digest };
}

/** Call the database until the batch is placed (resealing against the head it answers); the head is locked by `s` after. */
async function place(
  s: WorkspaceScope,
  first: Sealing,
  drafts: readonly AuditEventDraft[],
  signer: AuditSigner,
): Promise<{ events: StoredAuditEvent[]; from: number; to: number }> {
  let { tip, sealed } = first;
  for (let attempt = 1; ; attempt++) {
    const [row] = AppendRows.parse(await s.executePrepared(APPEND, appendParams({ tip, sealed })));
    if (tip && sealed.length > 0 && row.appended === sealed.length) {
      remember(s, { ...tip, seq: row.head_seq, hash: row.head_hash });
      return { events: sealed.map((e) => e.event), from: tip.seq, to: row.head_seq };
    }
    // Nothing appended: the database answered the head (now locked by this transaction) and, if ours was stale, the policy.
    tip = answeredTip(row, tip);
    remember(s, tip);
    if (drafts.length === 0) return { events: [], from: tip.seq, to: tip.seq };
    if (attempt >= MAX_ATTEMPTS)
      throw new ConflictError("the audit redaction policy kept changing during the append; retry");
    ({ sealed } = seal(s.workspaceId, tip, drafts, signer));
  }
}

/**
 * How long a call waits for the previous call's turn before it goes to the database anyway. A wait here is invisible
 * to Postgres's deadlock detector: if the previous call waits for a transaction that itself waits for a lock this
 * one's transaction holds, only waiting in the database (for the head) lets Postgres see the cycle and break it.
 * Postgres checks for deadlocks after deadlock_timeout (1 s by default); past this bound, the turn is only lost
 * speed (the statement may be answered the head and sealed again).
 */
const TURN_WAIT_MS = 1_000;

function turnOf(previous: Turn): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, TURN_WAIT_MS);
    timer.unref();
  });
  return Promise.race([previous.settled, timeout]).finally(() => clearTimeout(timer));
}

export async function appendAuditEvents(
  scope: WorkspaceScope,
  drafts: readonly AuditEventDraft[],
  signer: AuditSigner,
  options: AppendOptions = {},
): Promise<StoredAuditEvent[]> {
  const s = requireScope(scope);
  const ws = s.workspaceId;
  const held = heldTips.get(s);
  let placed: Awaited<ReturnType<typeof place>>;
  try {
    if (held) {
      placed = await place(s, seal(s.workspaceId, held, drafts, signer), drafts, signer);
    } else {
      // Seal now, after this process's previous call (as it expects to leave the head); send once that call is done.
      const previous = turns.get(ws);
      const base = previous ? previous.expected : tips.get(ws);
      let sealing = seal(s.workspaceId, base, drafts, signer);
      let done!: () => void;
      const turn: Turn = { expected: after(sealing), settled: new Promise<void>((resolve) => (done = resolve)) };
      turns.set(ws, turn);
      try {
        if (previous) {
          await turnOf(previous);
          const actual = tips.get(ws);
          if (!sameTip(base, actual)) sealing = seal(s.workspaceId, actual, drafts, signer);
        }
        placed = await place(s, sealing, drafts, signer);
      } finally {
        done();
        if (turns.get(ws) === turn) turns.delete(ws);
      }
    }
  } catch (err) {
    tips.delete(ws); // whatever this transaction placed goes with it
    throw err;
  }
  const cp = options.checkpoint;
  if (cp && Math.floor(placed.to / cp.every) > Math.floor(placed.from / cp.every)) await createCheckpoint(s, cp.signer);
  return placed.events;
}

/** One workspace's drafts in `appendAuditEventsInTurns`. */
export interface WorkspaceDrafts {
  readonly workspaceId: WorkspaceId;
  readonly drafts: readonly AuditEventDraft[];
}

/**
 * Append to several workspaces' chains in one `withWorkspacesInTurn` transaction, pipelined. Every group is sealed
 * against the head this process remembers and handed at once, without waiting for the previous group's answer (a
 * group with no remembered head is handed as an empty call, which locks and answers its head), so the database works
 * on the first groups while the next are sealed. Heads are locked in the order of `groups`: callers that may run
 * concurrently give their workspaces in one order (the audit writer sorts them), so they cannot deadlock. Then each
 * group the database placed nothing of — its remembered head was stale or missing: the database answered the head,
 * now held by this transaction — is sealed again and placed in a turn of its own, and a checkpoint is signed where a
 * chain crossed a multiple of `options.checkpoint.every`. Returns each group's events, in the order of `groups`.
 *
 * The database checks each group exactly as for `appendAuditEvents` (the workspace is the scope's, the batch must
 * continue the head, every hash is recomputed from the stored bytes). If the transaction does not commit, what this
 * process remembered of these heads is stale: call `forgetAuditTips`.
 */
export async function appendAuditEventsInTurns(
  turns: WorkspaceTurns,
  groups: readonly WorkspaceDrafts[],
  signer: AuditSigner,
  options: AppendOptions = {},
): Promise<StoredAuditEvent[][]> {
  const handed: { g: WorkspaceDrafts; sealing: Sealing; answer: Promise<Record<string, unknown>[]> }[] = [];
  try {
    for (const g of groups) {
      const sealing = seal(g.workspaceId, tips.get(g.workspaceId), g.drafts, signer);
      handed.push({ g, sealing, answer: turns.send(g.workspaceId, APPEND, appendParams(sealing)) });
    }
  } catch (err) {
    await Promise.allSettled(handed.map((h) => h.answer)); // a draft that does not seal: let what was handed finish first
    throw err;
  }
  const answers = await Promise.allSettled(handed.map((h) => h.answer));
  const failed = answers.find((a): a is PromiseRejectedResult => a.status === "rejected");
  if (failed) throw failed.reason; // the first failure in order: every later statement failed because of it
  const out: StoredAuditEvent[][] = [];
  for (const [i, { g, sealing }] of handed.entries()) {
    const [row] = AppendRows.parse((answers[i] as PromiseFulfilledResult<Record<string, unknown>[]>).value);
    let placed: { events: StoredAuditEvent[]; from: number; to: number };
    if (sealing.tip && sealing.sealed.length > 0 && row.appended === sealing.sealed.length) {
      rememberTip(g.workspaceId, { ...sealing.tip, seq: row.head_seq, hash: row.head_hash });
      placed = { events: sealing.sealed.map((e) => e.event), from: sealing.tip.seq, to: row.head_seq };
    } else {
      const tip = answeredTip(row, sealing.tip);
      rememberTip(g.workspaceId, tip);
      placed = await turns.enter(g.workspaceId, (s) =>
        place(s, seal(g.workspaceId, tip, g.drafts, signer), g.drafts, signer),
      );
    }
    const cp = options.checkpoint;
    if (cp && Math.floor(placed.to / cp.every) > Math.floor(placed.from / cp.every))
      await turns.enter(g.workspaceId, (s) => createCheckpoint(s, cp.signer));
    out.push(placed.events);
  }
  return out;
}
