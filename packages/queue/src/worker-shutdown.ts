/**
 * Closing BullMQ workers so that shutdown always ends.
 *
 * BullMQ's graceful `Worker.close()` first disconnects the worker's blocking connection and waits for its `end` event.
 * After a Redis outage that connection can sit in ioredis's `reconnecting` state (a retry timer, no socket); ioredis's
 * `disconnect()` then clears the timer and emits neither `end` nor `error`, so `close()` never resolves — even though
 * Redis is back and no job is running (reproduced with bullmq 5.81.5 and 6.7.6 and a Redis restarted just before the
 * close — worker-shutdown.test.ts; upstream: taskforcesh/bullmq#4656, open). Once a graceful close has started,
 * `close(true)` returns that same pending promise, so a grace-period-then-force pattern built on `close()` hangs too.
 *
 * So we never call the graceful close. We stop the workers taking jobs (`pause(true)`: a flag, no connection waits),
 * wait for the processors we started — counted by `ActiveJobs`, which wraps each processor — for at most the grace
 * period, and then force-close, which disconnects without waiting on any connection event. A job still running when
 * the grace period ends is left to its lease: the next claim replays its durable steps, as after a crash.
 */
import type { Worker } from "bullmq";

/** Counts the jobs in flight in the processors it wraps, and tells when there are none. */
export class ActiveJobs {
  #count = 0;
  readonly #idle = new Set<() => void>();

  get count(): number {
    return this.#count;
  }

  /** The processor, counted while it runs (whatever it returns or throws). */
  track<A extends unknown[], R>(processor: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A) => {
      this.#count += 1;
      try {
        return await processor(...args);
      } finally {
        this.#count -= 1;
        if (this.#count === 0) for (const resolve of [...this.#idle]) resolve();
      }
    };
  }

  /** Resolves when no tracked processor is running (at once if none is). */
  idle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#idle.delete(done);
        resolve();
      };
      this.#idle.add(done);
    });
  }
}

export interface WorkersClosed {
  /** True when every tracked job finished within the grace period. */
  readonly drained: boolean;
  /** Jobs still running when the workers were force-closed (their leases hand them to the next claim). */
  readonly abandoned: number;
}

/**
 * Stop `workers` taking jobs, wait up to `graceMs` for the jobs `active` tracks, then force-close them. Resolves
 * whatever state their Redis connections are in (see the module comment).
 */
export async function closeWorkers(
  workers: readonly Worker[],
  active: ActiveJobs,
  graceMs: number,
): Promise<WorkersClosed> {
  await Promise.all(workers.map((w) => w.pause(true)));
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    active.idle().then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    }),
  ]);
  clearTimeout(timer);
  const abandoned = active.count;
  await Promise.all(workers.map((w) => w.close(true)));
  return { drained, abandoned };
}
