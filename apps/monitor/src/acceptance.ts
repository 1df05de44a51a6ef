/**
 * The quality monitor's pass: recompute the acceptance rate of every Skill whose feedback changed (in SQL, over the
 * manifest's window), and pause each active Skill found below its published threshold with at least minSamples
 * decisions. Each pause is one transaction in its workspace's scope: the database re-checks the rate and pauses only an
 * active Skill (locking it, so of two monitors the second does nothing), records the pause and one notification per
 * configured channel, and this code appends the signed `skill.paused` audit event in the same transaction. After the
 * commit, a `notification` job per notification goes to the workers (the row is the outbox: the reconciler enqueues
 * what an outage lost). Nothing here ever resumes a Skill.
 */
import { newId, type AuditEventDraft, type NotificationId, type SkillId } from "@praxa/core";
import {
  acceptancePass,
  appendAuditEvents,
  pauseSkillForAcceptance,
  withWorkspace,
  type AcceptancePause,
  type AuditSigner,
  type Database,
} from "@praxa/db";
import type { Logger } from "@praxa/observability";
import { enqueue, type JobsOptions, type QueueSet } from "@praxa/queue";

export interface AcceptanceDeps {
  readonly database: Database;
  readonly queues: QueueSet;
  readonly log: Logger;
  readonly now: () => number;
  /** Signs the `skill.paused` audit events (the monitor's Ed25519 key). */
  readonly auditSigner: AuditSigner;
  /** Skills recomputed per pass. */
  readonly batch: number;
  /** Overrides for the notification jobs' options (tests use a short backoff). */
  readonly notificationJobOptions?: Partial<JobsOptions>;
}

export interface AcceptanceSummary {
  evaluated: number;
  below: number;
  paused: number;
  notifications: number;
}

export const PAUSE_TRIGGER = "monitor.acceptance";

function pausedEvent(skillId: SkillId, p: AcceptancePause, occurredAt: string): AuditEventDraft {
  return {
    auditEventId: newId("auditEvent"),
    kind: "skill.paused",
    skillId,
    runId: null,
    trigger: PAUSE_TRIGGER,
    input: {
      rate: p.rate,
      threshold: p.threshold,
      decided: p.decided,
      accepted: p.accepted,
      window: p.window_size,
      min_samples: p.min_samples,
    },
    reasoning: [p.reason ?? "acceptance rate below the published threshold"],
    alternatives: [],
    confidence: null,
    output: { status: "paused", pause_id: p.pause_id, notifications: p.notification_ids.length },
    tools_used: [],
    duration_ms: 0,
    occurred_at: occurredAt,
  };
}

/** Enqueue one `{notificationId}` job per notification, jobId = the id; a failure is left to the reconciler. */
export async function enqueueNotifications(
  deps: Pick<AcceptanceDeps, "queues" | "log" | "notificationJobOptions">,
  ids: readonly NotificationId[],
): Promise<number> {
  let enqueued = 0;
  for (const notificationId of ids) {
    try {
      await enqueue(
        deps.queues,
        "notification",
        { notificationId },
        { ...deps.notificationJobOptions, jobId: notificationId },
        { timeoutMs: 1_500 },
      );
      enqueued++;
    } catch (err) {
      deps.log.warn(
        { notificationId, code: "ENQUEUE_DEFERRED", err },
        "notification enqueue failed; the reconciler will pick it up",
      );
    }
  }
  return enqueued;
}

/** Pause one Skill if the database agrees it is below its threshold; null if it did not pause (already paused, recovered). */
export async function pauseIfBelowThreshold(
  deps: AcceptanceDeps,
  workspaceId: string,
  skillId: SkillId,
): Promise<AcceptancePause | null> {
  const result = await withWorkspace(deps.database, workspaceId, async (scope) => {
    const p = await pauseSkillForAcceptance(scope, skillId);
    if (p.paused)
      await appendAuditEvents(scope, [pausedEvent(skillId, p, new Date(deps.now()).toISOString())], deps.auditSigner);
    return p;
  });
  if (!result.paused) return null;
  deps.log.warn(
    {
      workspaceId,
      skillId,
      rate: result.rate,
      threshold: result.threshold,
      decided: result.decided,
      code: "SKILL_PAUSED",
    },
    "skill paused: acceptance below threshold",
  );
  await enqueueNotifications(deps, result.notification_ids);
  return result;
}

export async function evaluateAcceptance(deps: AcceptanceDeps): Promise<AcceptanceSummary> {
  const summary: AcceptanceSummary = { evaluated: 0, below: 0, paused: 0, notifications: 0 };
  const figures = await acceptancePass(deps.database, deps.batch);
  summary.evaluated = figures.length;
  for (const f of figures) {
    if (!f.below || f.status !== "active") continue;
    summary.below++;
    const paused = await pauseIfBelowThreshold(deps, f.workspace_id, f.skill_id);
    if (paused) {
      summary.paused++;
      summary.notifications += paused.notification_ids.length;
    }
  }
  if (summary.evaluated > 0) deps.log.info({ ...summary, code: "ACCEPTANCE_PASS" }, "acceptance pass");
  return summary;
}
