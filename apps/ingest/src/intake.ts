/**
 * A verified event becomes durable runs, then `{runId}` jobs. The run row is the outbox: it is committed first (with
 * the delivery, atomically, by `ingest_create_runs`); the enqueue that follows may fail — Redis down — and the
 * reconciler enqueues it later. A delivery seen before (same id, or — GitHub and Slack, whose bodies name their
 * installation — same body under a fresh id) creates nothing and answers with the original run ids of this workspace
 * only. Each run records the integration it came through, so the worker acts through that installation only.
 */
import { newId, type RunId, type WorkspaceId } from "@praxa/core";
import { createRunsForDelivery, resolveInstallation, subscribedSkills, type Database } from "@praxa/db";
import type { Logger } from "@praxa/observability";
import { enqueue, runJobId, type QueueSet } from "@praxa/queue";
import type { IgnoreReason, MappedEvent } from "./events/intake-event.js";
import { askWorkspaceLimiter, type WorkspaceLimiter } from "./workspace-limiter.js";

/** How long a webhook waits for Redis before answering anyway (the reconciler enqueues later). */
export const ENQUEUE_TIMEOUT_MS = 1_500;

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

async function recordIgnored(
  deps: IntakeDeps,
  delivery: Delivery,
  reason: IgnoreReason,
  workspaceId: WorkspaceId | null = null,
): Promise<IntakeResult> {
  const created = await createRunsForDelivery(deps.database, {
    ...delivery,
    workspaceId,
    trigger: "ignored.event",
    input: {},
    runs: [],
  });
  return { runIds: created.run_ids, duplicate: created.duplicate, ignored: reason };
}

export async function acceptEvent(deps: IntakeDeps, delivery: Delivery, mapped: MappedEvent): Promise<IntakeResult> {
  const started = deps.now();
  if (mapped.kind === "ignored") return recordIgnored(deps, delivery, mapped.reason);
  const event = mapped.event;
  if (event.source !== "github" && event.source !== "slack") return recordIgnored(deps, delivery, "unsupported_event");
  if (deps.githubAppId !== undefined && event.actor.appId === deps.githubAppId)
    return recordIgnored(deps, delivery, "own_app");

  const installation = await resolveInstallation(deps.database, event.source, event.externalId);
  if (!installation || installation.status !== "active") return recordIgnored(deps, delivery, "unknown_installation");
  const botLogin = typeof installation.bot_identity.login === "string" ? installation.bot_identity.login : null;
  const botUserId = typeof installation.bot_identity.user_id === "string" ? installation.bot_identity.user_id : null;
  if (event.actor.login !== null && (event.actor.login === botLogin || event.actor.login === botUserId)) {
    return recordIgnored(deps, delivery, "own_app", installation.workspace_id);
  }

  const workspaceId = installation.workspace_id;
  const skills = await subscribedSkills(deps.database, workspaceId, event.trigger);
  if (skills.length === 0) return recordIgnored(deps, delivery, "no_subscribed_skill", workspaceId);

  const created = await createRunsForDelivery(deps.database, {
    ...delivery,
    workspaceId,
    trigger: event.trigger,
    input: event.input,
    runs: skills.map((s) => ({ runId: newId("run"), skillId: s.skill_id })),
    integrationId: installation.integration_id,
  });
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
  let enqueued = 0;
  for (const [i, runId] of created.run_ids.entries()) {
    const seq = created.dispatch_seqs[i];
    // Only a run dispatched on the spot (its workspace under its cap, the fleet's look-ahead not full) gets its job
    // here; the others wait in Postgres for the dispatcher's fair order (docs/decisions/0005).
    if (created.statuses[i] !== "queued" || seq === undefined || seq === 0) continue;
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
      // The run row is committed: the reconciler will enqueue it. Never fail the webhook for this.
      deps.log.warn(
        { deliveryId: delivery.deliveryId, workspaceId, runId, code: "ENQUEUE_DEFERRED", err },
        "enqueue failed; the reconciler will pick the run up",
      );
    }
  }
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
