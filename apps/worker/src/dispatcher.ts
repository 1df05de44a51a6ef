/**
 * The dispatcher: moves queued runs from Postgres into the `runs` queue in fair order (docs/decisions/0005). Every
 * worker process runs one; `dispatch_runs` lets one pass run at a time fleet-wide (a concurrent caller gets nothing
 * back at once), so a killed dispatcher is simply replaced by the next process's pass. A pass:
 *  1. hands back runs whose lease expired (their worker died) — this is what bounds recovery to about one lease;
 *  2. marks up to `batch` runs dispatched, round-robin across workspaces within each one's cap and the fleet's
 *     look-ahead, committing before any job exists (the run row stays the outbox);
 *  3. adds their `{runId}` jobs under `<runId>.<seq>`, prioritised by how much their workspace has in flight (so a
 *     quiet workspace's run overtakes a flooding one's inside the queue too). A job that fails to be added (Redis
 *     away) is found by the monitor's reconciler once the dispatch is older than its grace period, and added then.
 * Passes run on a timer (`pollMs`) and whenever this process frees a slot or creates a run (`kick()`); kicks that
 * arrive during a pass fold into one more pass.
 */
import type { RunId } from "@praxa/core";
import { isPraxaError } from "@praxa/core";
import { dispatchRuns, type Database } from "@praxa/db";
import { ROOT_CONTEXT, SpanStatusCode, type Logger, type Tracer } from "@praxa/observability";
import { enqueue, runJobId, type QueueSet } from "@praxa/queue";

export interface DispatcherDeps {
  readonly database: Database;
  readonly queues: QueueSet;
  readonly log: Logger;
  /** Timer between passes when nothing kicks (default 500 ms): bounds how late a delayed or handed-back run starts. */
  readonly pollMs?: number;
  /** Runs marked per pass at most (default 64). */
  readonly batch?: number;
  /** Bound on one job add while Redis is slow (default 2 000 ms); the reconciler repairs what did not make it. */
  readonly enqueueTimeoutMs?: number;
  /** A `praxa.dispatch` span for each pass that moved runs or failed (idle passes leave none). */
  readonly tracer?: Tracer;
}

export interface Dispatcher {
  /** Ask for a pass soon (coalesced). */
  kick(): void;
  /** One pass now; resolves with how many runs it dispatched (0 when another process holds the pass). */
  passOnce(): Promise<number>;
  stop(): Promise<void>;
}

export function startDispatcher(deps: DispatcherDeps): Dispatcher {
  const pollMs = deps.pollMs ?? 500;
  const batch = deps.batch ?? 64;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  function passSpan(startTime: number, code: string | null): void {
    if (!deps.tracer) return;
    const end = Date.now();
    const span = deps.tracer.startSpan(
      "praxa.dispatch",
      { startTime, attributes: { ms: end - startTime } },
      ROOT_CONTEXT,
    );
    if (code) {
      span.setAttribute("code", code);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end(end);
  }

  async function passOnce(): Promise<number> {
    let total = 0;
    for (;;) {
      const picked = await dispatchRuns(deps.database, batch);
      for (const [i, run] of picked.entries()) {
        try {
          await enqueue(
            deps.queues,
            "run",
            { runId: run.run_id as RunId },
            // BullMQ priorities run from 1 (first) to 2^21 − 1; a workspace with less in flight goes first.
            { jobId: runJobId(run.run_id as RunId, run.dispatch_seq), priority: Math.min(run.priority, 2_097_151) },
            { timeoutMs: deps.enqueueTimeoutMs ?? 2_000 },
          );
        } catch (err) {
          // The dispatch is committed; the reconciler adds its job after the grace period. Never lose the run.
          // Redis is away: stop adding for this pass (each add would wait its full timeout); the rest of the batch
          // is committed as dispatched and the reconciler adds their jobs once Redis answers again.
          deps.log.warn(
            {
              runId: run.run_id,
              notAdded: picked.length - i,
              code: isPraxaError(err) ? err.code : "ENQUEUE_FAILED",
            },
            "dispatched runs' jobs not added; the reconciler will add them",
          );
          return total + i;
        }
      }
      total += picked.length;
      if (picked.length < batch || stopped) return total;
    }
  }

  function schedule(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        const t0 = Date.now();
        try {
          const n = await passOnce();
          if (n > 0) deps.log.debug({ code: "DISPATCHED", runs: n }, "dispatch pass");
          if (n > 0) passSpan(t0, null);
        } catch (err) {
          const code = isPraxaError(err) ? err.code : "DISPATCH_FAILED";
          deps.log.warn({ code, err }, "dispatch pass failed");
          passSpan(t0, code);
        }
      } while (again && !stopped);
    })().finally(() => {
      running = null;
    });
  }

  const timer = setInterval(schedule, pollMs);
  timer.unref();
  schedule();
  return {
    kick: schedule,
    passOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
