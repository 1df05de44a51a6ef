/**
 * The notification row is the outbox, as the run row is: the monitor (or the api, on resume) commits notifications,
 * then enqueues `{notificationId}` jobs. This reconciler, run with the run reconciler, repairs what an outage or a dead
 * worker left: a pending notification (past the grace period) or one whose sending lease expired, whose job is missing
 * → enqueued; failed → retried; completed → removed and re-added. Duplicates collapse on jobId = notification id.
 */
import { listOpenNotifications, type Database } from "@praxa/db";
import type { Logger } from "@praxa/observability";
import type { JobsOptions, QueueSet } from "@praxa/queue";
import { enqueueNotifications } from "./acceptance.js";

export interface NotificationOutboxDeps {
  readonly database: Database;
  readonly queues: QueueSet;
  readonly log: Logger;
  readonly graceSeconds: number;
  readonly batch: number;
  readonly notificationJobOptions?: Partial<JobsOptions>;
}

export async function reconcileNotifications(
  deps: NotificationOutboxDeps,
): Promise<{ examined: number; enqueued: number; retried: number; leftAlone: number }> {
  const summary = { examined: 0, enqueued: 0, retried: 0, leftAlone: 0 };
  const queue = deps.queues.get("notifications");
  for (const n of await listOpenNotifications(deps.database, deps.graceSeconds, deps.batch)) {
    summary.examined++;
    const job = await queue.getJob(n.notification_id);
    const state = job ? await job.getState() : "missing";
    if (!job || state === "missing" || state === "unknown") {
      summary.enqueued += await enqueueNotifications(deps, [n.notification_id]);
    } else if (state === "failed") {
      await job.retry("failed");
      summary.retried++;
    } else if (state === "completed") {
      await job.remove();
      summary.enqueued += await enqueueNotifications(deps, [n.notification_id]);
    } else {
      summary.leftAlone++;
    }
  }
  if (summary.examined > 0) deps.log.info({ ...summary, code: "NOTIFICATIONS_RECONCILED" }, "notification outbox pass");
  return summary;
}
