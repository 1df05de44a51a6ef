/**
 * A verified event becomes durable runs, then `{runId}` jobs. The run row is the outbox: it is committed first (with
 * the delivery, atomically, by `ingest_create_runs`); the enqueue that follows may fail — Redis down — and the
 * reconciler enqueues it later. A delivery seen before (same id, or — GitHub and Slack, whose bodies name their
 * installation — same body under a fresh id) creates nothing and answers with the original run ids of this workspace
 * only. Each run records the integration it came through, so the worker acts through that installation only.
 */
import { newId, type RunId, type WorkspaceId } from "@praxa/core";
import { acceptDeliveries, type AcceptDeliveryInput, type AcceptedDelivery, type Database } from "@praxa/db";
import {
  SpanStatusCode,
  startChildSpan,
  traceparentOf,
  type Logger,
  type Span,
  type Tracer,
} from "@praxa/observability";
import { enqueue, runJobId, type QueueSet } from "@praxa/queue";
import type { DeliveryWriter } from "./delivery-writer.js";
import type { IgnoreReason, MappedEvent } from "./events/intake-event.js";
import { askWorkspaceLimiter, type WorkspaceLimiter } from "./workspace-limiter.js";

/** How long a webhook waits for Redis before answering anyway (the reconciler enqueues later). */
export const ENQUEUE_TIMEOUT_MS = 1_500;

/** Run ids handed to `ingest_accept_delivery` up front: one per subscribed Skill (more Skills: a second call). Few: minting ids costs CPU on every request. */
const RUN_IDS_UP_FRONT = 2;

export interface IntakeDeps {
  readonly database: Database;
  readonly queues: QueueSet;
  readonly limiter: WorkspaceLimiter;
  /** How long intake waits for the limiter, after the commit, before enqueueing without a delay (default 50 ms). */
  readonly limiterTimeoutMs?: number;
  readonly log: Logger;
  readonly now: () => number;
  /** Our own GitHub App id: events it caused never start a run. */
  readonly githubAppId: number | undefined;
  /** Group commit of concurrent requests' deliveries (delivery-writer.ts); without it, one statement per delivery. */
  readonly deliveries?: DeliveryWriter;
  /** The process's tracer (its exporter filters to the whitelist); without it, no spans. */
  readonly tracer?: Tracer;
}

export interface Delivery {
  readonly source: "github" | "slack" | "trigger";
  readonly deliveryId: string;
  readonly bodySha256: string;
}

export interface IntakeResult {
  readonly runIds: readonly RunId[];
  readonly duplicate: boolean;
  readonly ignored?: IgnoreReason;
}

const IGNORE_REASONS: ReadonlySet<string> = new Set<IgnoreReason>([
  "unsupported_event",
  "malformed_event",
  "own_app",
  "unknown_installation",
  "no_subscribed_skill",
  "ping",
  "not_a_pull_request",
  "not_a_member",
]);

function freshRunIds(n: number): RunId[] {
  return Array.from({ length: n }, () => newId("run"));
}

/**
 * Place one delivery — resolve, subscribe, record and create, in one definer call — through the group-committing
 * writer when there is one. The answer comes once the runs are committed. A span `praxa.ingest.commit` under `parent`.
 */
export async function placeDelivery(
  deps: IntakeDeps,
  input: AcceptDeliveryInput,
  parent: Span | undefined,
): Promise<AcceptedDelivery> {
  const span = deps.tracer && parent ? startChildSpan(deps.tracer, "praxa.ingest.commit", parent) : undefined;
  const place = (x: AcceptDeliveryInput) =>
    deps.deliveries
      ? deps.deliveries.accept(x)
      : acceptDeliveries(deps.database, [x]).then((r) => r[0] as AcceptedDelivery);
  try {
    let placed = await place(input);
    // More subscribed Skills than ids handed up front (rare): nothing was written; again with enough ids.
    if (placed.outcome === "need_ids") placed = await place({ ...input, runIds: freshRunIds(placed.needed) });
    return placed;
  } catch (err) {
    span?.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span?.end();
  }
}

/** Add the jobs of the runs dispatched on the spot (ids `<runId>.<seq>`); a failure is the reconciler's to mend. */
export async function enqueueDispatched(
  deps: IntakeDeps,
  placed: Pick<AcceptedDelivery, "run_ids" | "statuses" | "dispatch_seqs">,
  delayMs: number,
  parent: Span | undefined,
  logFields: Readonly<Record<string, unknown>>,
): Promise<number> {
  let enqueued = 0;
  for (const [i, runId] of placed.run_ids.entries()) {
    const seq = placed.dispatch_seqs[i];
    // Only a run dispatched on the spot (its workspace under its cap, the fleet's look-ahead not full) gets its job
    // here; the others wait in Postgres for the dispatcher's fair order (docs/decisions/0005).
    if (placed.statuses[i] !== "queued" || seq === undefined || seq === 0) continue;
    const span = deps.tracer && parent ? startChildSpan(deps.tracer, "praxa.ingest.enqueue", parent) : undefined;
    try {
      await enqueue(
        deps.queues,
        "run",
        { runId },
        { jobId: runJobId(runId, seq), ...(delayMs > 0 ? { delay: delayMs } : {}) },
        { timeoutMs: ENQUEUE_TIMEOUT_MS },
      );
      enqueued++;
    } catch (err) {
      span?.setAttribute("code", "ENQUEUE_DEFERRED");
      // The run row is committed: the reconciler will enqueue it. Never fail the webhook for this.
      deps.log.warn(
        { ...logFields, runId, code: "ENQUEUE_DEFERRED", err },
        "enqueue failed; the reconciler will pick the run up",
      );
    } finally {
      span?.end();
    }
  }
  return enqueued;
}

async function recordIgnored(
  deps: IntakeDeps,
  delivery: Delivery,
  reason: IgnoreReason,
  parent: Span | undefined,
): Promise<IntakeResult> {
  const created = await placeDelivery(
    deps,
    { ...delivery, trigger: "ignored.event", input: {}, runIds: [], ignored: reason },
    parent,
  );
  return { runIds: created.run_ids, duplicate: created.duplicate, ignored: reason };
}

export async function acceptEvent(
  deps: IntakeDeps,
  delivery: Delivery,
  mapped: MappedEvent,
  parent?: Span,
): Promise<IntakeResult> {
  const started = deps.now();
  if (mapped.kind === "ignored") return recordIgnored(deps, delivery, mapped.reason, parent);
  const event = mapped.event;
  if (event.source !== "github" && event.source !== "slack")
    return recordIgnored(deps, delivery, "unsupported_event", parent);
  if (deps.githubAppId !== undefined && event.actor.appId === deps.githubAppId)
    return recordIgnored(deps, delivery, "own_app", parent);

  // One definer call: the installation (active only), our own bot, the subscribed Skills, the delivery and its runs.
  const created = await placeDelivery(
    deps,
    {
      source: event.source,
      deliveryId: delivery.deliveryId,
      bodySha256: delivery.bodySha256,
      trigger: event.trigger,
      input: event.input,
      externalId: event.externalId,
      actorLogin: event.actor.login,
      runIds: freshRunIds(RUN_IDS_UP_FRONT),
      traceparent: parent ? traceparentOf(parent) : null,
    },
    parent,
  );
  if (created.outcome !== "accepted") {
    const reason = IGNORE_REASONS.has(created.outcome) ? (created.outcome as IgnoreReason) : "unsupported_event";
    return { runIds: created.run_ids, duplicate: created.duplicate, ignored: reason };
  }
  const workspaceId = created.workspace_id as WorkspaceId;
  if (created.duplicate) {
    deps.log.info(
      { deliveryId: delivery.deliveryId, workspaceId, trigger: event.trigger, code: "DUPLICATE_DELIVERY" },
      "delivery already recorded",
    );
    return { runIds: created.run_ids, duplicate: true };
  }
  // The runs are committed: only now ask the limiter, and only briefly (a paused Redis must not hold the webhook). Its
  // answer sets just the jobs' delay.
  const delayMs = await askWorkspaceLimiter(
    deps.limiter,
    { workspaceId, deliveryId: delivery.deliveryId, nowMs: deps.now() },
    { log: deps.log, timeoutMs: deps.limiterTimeoutMs },
  );
  const enqueued = await enqueueDispatched(deps, created, delayMs, parent, {
    deliveryId: delivery.deliveryId,
    workspaceId,
  });
  deps.log.info(
    {
      deliveryId: delivery.deliveryId,
      workspaceId,
      trigger: event.trigger,
      runs: created.run_ids.length,
      enqueued,
      delayMs,
      ms: deps.now() - started,
    },
    "delivery accepted",
  );
  return { runIds: created.run_ids, duplicate: false };
}
