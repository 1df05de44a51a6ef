/**
 * The replay request row is the outbox, as the run and notification rows are: the api (or the CLI) commits the
 * request, then enqueues its `{replayId}` job. This reconciler, run with the others, repairs what an outage or a dead
 * worker left: a queued request past the grace period, or one whose lease expired, whose job is missing → enqueued;
 * failed → retried; completed → removed and re-added. Duplicates collapse on jobId = request id. A request past its
 * last attempt is marked failed in SQL (`monitor_open_replays`).
 */
import { listOpenReplays, type Database } from "@praxa/db";
import type { Logger } from "@praxa/observability";
import { enqueue, type QueueSet } from "@praxa/queue";

export interface ReplayOutboxDeps {
  readonly database: Database;
  readonly queues: QueueSet;
  readonly log: Logger;
  readonly graceSeconds: number;
  readonly batch: number;
}

export async function reconcileReplays(
  deps: ReplayOutboxDeps,
): Promise<{ examined: number; enqueued: number; retried: number; leftAlone: number }> {
  const summary = { examined: 0, enqueued: 0, retried: 0, leftAlone: 0 };
  const queue = deps.queues.get("replays");
  const add = async (replayId: string): Promise<void> => {
    await enqueue(deps.queues, "replay", { replayId }, { jobId: replayId }, { timeoutMs: 1_500 });
    summary.enqueued++;
  };
  for (const r of await listOpenReplays(deps.database, deps.graceSeconds, deps.batch)) {
    summary.examined++;
    const job = await queue.getJob(r.replay_id);
    const state = job ? await job.getState() : "missing";
    if (!job || state === "missing" || state === "unknown") await add(r.replay_id);
    else if (state === "failed") {
      await job.retry("failed");
      summary.retried++;
    } else if (state === "completed") {
      await job.remove();
      await add(r.replay_id);
    } else summary.leftAlone++;
  }
  if (summary.examined > 0) deps.log.info({ ...summary, code: "REPLAYS_RECONCILED" }, "replay outbox pass");
  return summary;
}
