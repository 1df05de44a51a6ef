/**
 * The run reconciler: the run row is the outbox, and this makes it so. It compares runs with their jobs, through the
 * monitor's definer functions, and repairs what a Redis outage or a dead worker left behind:
 *  - a `queued` run older than the grace period whose job is missing → enqueued (delayed to its `not_before`);
 *  - one whose kept job failed → `job.retry()`;
 *  - one whose kept job completed (the run never finished) → removed and re-added, because BullMQ's jobId dedup would
 *    turn a plain re-add into a silent no-op;
 *  - an active, waiting or delayed job → left alone;
 *  - a `running` run whose lease expired → handed back to `queued`, then treated as above.
 * Duplicates collapse on `jobId = runId`, so running it twice, or on two monitors at once, is harmless.
 */
import type { RunId } from "@praxa/core";
import { handBackRun, listStaleRuns, type Database } from "@praxa/db";
import type { Logger } from "@praxa/observability";
import { enqueue, type QueueSet } from "@praxa/queue";

export interface ReconcilerDeps {
  readonly database: Database;
  readonly queues: QueueSet;
  readonly log: Logger;
  readonly now: () => number;
  /** A queued run younger than this is left to ingest's own enqueue. */
  readonly graceSeconds: number;
  readonly batch: number;
}

export interface ReconcileSummary {
  examined: number;
  enqueued: number;
  retried: number;
  readded: number;
  handedBack: number;
  leftAlone: number;
}

export async function reconcileOnce(deps: ReconcilerDeps): Promise<ReconcileSummary> {
  const summary: ReconcileSummary = { examined: 0, enqueued: 0, retried: 0, readded: 0, handedBack: 0, leftAlone: 0 };
  const stale = await listStaleRuns(deps.database, deps.graceSeconds, deps.batch);
  const runs = deps.queues.get("runs");
  for (const run of stale) {
    summary.examined++;
    if (run.status === "running") {
      if (!(await handBackRun(deps.database, run.run_id))) continue;
      summary.handedBack++;
    }
    const delay = run.not_before ? Math.max(0, run.not_before.getTime() - deps.now()) : 0;
    const job = await runs.getJob(run.run_id);
    const state = job ? await job.getState() : "missing";
    if (!job || state === "missing" || state === "unknown") {
      await enqueueRun(deps, run.run_id, delay);
      summary.enqueued++;
    } else if (state === "failed") {
      await job.retry("failed");
      summary.retried++;
    } else if (state === "completed") {
      await job.remove();
      await enqueueRun(deps, run.run_id, delay);
      summary.readded++;
    } else {
      summary.leftAlone++;
    }
  }
  if (summary.examined > 0) deps.log.info({ ...summary, code: "RECONCILED" }, "reconciler pass");
  return summary;
}

async function enqueueRun(deps: ReconcilerDeps, runId: RunId, delay: number): Promise<void> {
  await enqueue(deps.queues, "run", { runId }, { jobId: runId, ...(delay > 0 ? { delay } : {}) });
}
