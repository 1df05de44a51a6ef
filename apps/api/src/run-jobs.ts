/**
 * The jobs of runs cancelled while queued are removed after the commit, best effort and bounded in time: a job that is
 * active, already gone or not reached in time (Redis away) is left, and a worker's claim finds its run cancelled and
 * drops it — the run row decides, never the job.
 */
import type { Logger } from "@praxa/observability";
import type { QueueSet } from "@praxa/queue";

/** How long one removal may hold the answer of a cancel (the run row is committed either way). */
const REMOVAL_BOUND_MS = 2_000;
/** Removals sent to Redis at once. */
const CHUNK = 100;

export function runJobRemover(
  queues: QueueSet,
  log: Logger,
  boundMs = REMOVAL_BOUND_MS,
): (jobIds: readonly string[]) => Promise<void> {
  return async (jobIds) => {
    const runs = queues.get("runs");
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), boundMs);
    });
    const removal = (async () => {
      let removed = 0;
      for (let i = 0; i < jobIds.length; i += CHUNK)
        for (const n of await Promise.all(jobIds.slice(i, i + CHUNK).map((id) => runs.remove(id)))) removed += n;
      return removed;
    })();
    removal.catch(() => undefined); // a late failure after the bound is already accounted for
    try {
      const removed = await Promise.race([removal, timeout]);
      if (removed === "timeout")
        log.warn({ jobs: jobIds.length, code: "JOB_REMOVAL_DEFERRED" }, "cancelled runs' jobs not all removed in time");
      else log.debug({ jobs: jobIds.length, removed }, "cancelled runs' jobs removed");
    } catch (err) {
      log.warn({ jobs: jobIds.length, code: "JOB_REMOVAL_FAILED", err }, "cancelled runs' jobs not removed");
    } finally {
      clearTimeout(timer);
    }
  };
}
