/**
 * The run reconciler: the run row is the outbox, and this makes it so. Undispatched queued runs belong to the
 * workers' dispatcher (docs/decisions/0005); this repairs what a Redis outage or a crash left behind after a dispatch:
 *  - a dispatched run whose dispatch is older than the grace period and whose job (`<runId>.<seq>`) is missing → the
 *    job is added (delayed to its `not_before`);
 *  - one whose job completed or failed without the run leaving `queued` → handed back to the dispatcher, which adds a
 *    job under a new id (a re-add under the same id would collide with the kept job);
 *  - an active, waiting or delayed job → left alone;
 *  - a `running` run whose lease expired → handed back to the dispatcher (the dispatch pass does the same; whichever
 *    comes first).
 * Job ids are per dispatch, so running it twice, or on two monitors at once, is harmless.
 */
import type { RunId } from "@praxa/core";
import { handBackRun, listStaleRuns, undispatchRun, type Database } from "@praxa/db";
import type { Logger } from "@praxa/observability";
import { enqueue, runJobId, type QueueSet } from "@praxa/queue";

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
  /** Kept for the summary's shape: always 0 now (a failed job's run is handed back instead). */
  retried: number;
  /** Dispatched runs whose job ended without them: handed back to the dispatcher. */
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
      if (await handBackRun(deps.database, run.run_id)) summary.handedBack++;
      continue;
    }
    const delay = run.not_before ? Math.max(0, run.not_before.getTime() - deps.now()) : 0;
    const job = await runs.getJob(runJobId(run.run_id, run.dispatch_seq));
    const state = job ? await job.getState() : "missing";
    if (!job || state === "missing" || state === "unknown") {
      await enqueueRun(deps, run.run_id, run.dispatch_seq, delay);
      summary.enqueued++;
    } else if (state === "failed" || state === "completed") {
      if (await undispatchRun(deps.database, run.run_id, run.dispatch_seq)) summary.readded++;
    } else {
      summary.leftAlone++;
    }
  }
  if (summary.examined > 0) deps.log.info({ ...summary, code: "RECONCILED" }, "reconciler pass");
  return summary;
}

async function enqueueRun(deps: ReconcilerDeps, runId: RunId, seq: number, delay: number): Promise<void> {
  await enqueue(deps.queues, "run", { runId }, { jobId: runJobId(runId, seq), ...(delay > 0 ? { delay } : {}) });
}
