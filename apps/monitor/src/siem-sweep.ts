/**
 * The SIEM sweep: the audit table is the outbox, so the work is "a subscription whose cursor is behind its workspace's
 * chain head" (or that has a batch in flight, or a test asked for) — found in Postgres, never remembered in Redis.
 * Each such subscription, active, due and not leased, gets one `siem` job (jobId `siem.<subscription id>`: a second
 * sweep while it waits or runs adds nothing). The job claims the subscription's lease itself, so a job added twice, or
 * by two monitors, still delivers one stream at a time.
 */
import { SiemSubscriptionIdSchema } from "@praxa/core";
import { listDueSiemSubscriptions, type Database } from "@praxa/db";
import type { Logger } from "@praxa/observability";
import { enqueue, type QueueSet } from "@praxa/queue";

export interface SiemSweepDeps {
  readonly database: Database;
  readonly queues: QueueSet;
  readonly log: Logger;
  readonly batch: number;
}

export function siemJobId(subscriptionId: string): string {
  return `siem.${subscriptionId}`;
}

export async function sweepSiemSubscriptions(deps: SiemSweepDeps): Promise<{ due: number; enqueued: number }> {
  const due = await listDueSiemSubscriptions(deps.database, deps.batch);
  const queue = deps.queues.get("siem");
  let enqueued = 0;
  for (const s of due) {
    const jobId = siemJobId(s.subscription_id);
    const job = await queue.getJob(jobId);
    const state = job ? await job.getState() : "missing";
    if (job && (state === "completed" || state === "failed")) await job.remove();
    else if (job && state !== "missing" && state !== "unknown") continue;
    await enqueue(
      deps.queues,
      "siem",
      { subscriptionId: SiemSubscriptionIdSchema.parse(s.subscription_id) },
      { jobId },
    );
    enqueued++;
  }
  if (enqueued > 0) deps.log.debug({ code: "SIEM_SWEEP", due: due.length, enqueued }, "SIEM sweep");
  return { due: due.length, enqueued };
}
