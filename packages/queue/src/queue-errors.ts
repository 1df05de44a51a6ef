/**
 * Every BullMQ Queue, Worker and QueueEvents (a queue's job schedulers report through their queue, a worker's through
 * the worker) and every ioredis connection of ours has its `error` event handled here, by the app's structured logger.
 * Without a listener BullMQ's `emit('error')` throws, catches its own throw and prints the raw error with
 * `console.error` (and ioredis prints "[ioredis] Unhandled error event") — outside the structured log, once per
 * reconnect attempt, for every queue.
 *
 * During an outage each source reports every failed reconnect; the watcher logs the first of each error code at once
 * and then at most once per `throttleMs` per code for the whole process, with how many reports it folded in
 * (`suppressed`) — one line per interval, whatever the number of queues. Logged: a stable `code`
 * (`QUEUE_REDIS_UNAVAILABLE` for a connection error, `QUEUE_ERROR` otherwise), the component and queue name, the
 * error's own code (`ECONNREFUSED`…) and message — never job data.
 */

import { RedisConnection } from "bullmq";

/**
 * A BullMQ connection closed while it was still connecting (its owner closed mid-outage) rejects its `init` afterwards
 * and emits `error` on itself — after `close()` removed every listener, so the emit throws out of a promise handler
 * and would take the process down (seen under load in test/e2e/queue-errors-outage.test.ts). Such late errors go to
 * the watchers of this process instead (logged as any other Redis error, throttled); with no watcher yet, they are
 * dropped — their owner is gone and nothing waits on them.
 */
const orphanSinks = new Set<(err: unknown) => void>();
const emitOf = RedisConnection.prototype.emit;
RedisConnection.prototype.emit = function (this: RedisConnection, event: string | symbol, ...args: unknown[]) {
  if (event === "error" && this.listenerCount("error") === 0) {
    for (const sink of orphanSinks) sink(args[0]);
    return false;
  }
  return emitOf.call(this, event, ...args);
} as typeof emitOf;

/** The slice of a pino logger the watcher needs (structural: the queue package imports no logger). */
export interface QueueErrorLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface ErrorEmitter {
  on(event: "error", listener: (err: Error) => void): unknown;
}

export type QueueErrorComponent = "queue" | "worker" | "queue_events" | "redis";

export interface QueueErrorWatcher {
  /** Handle `source`'s `error` events from now on; returns the source. */
  watch<T extends ErrorEmitter>(source: T, where: { component: QueueErrorComponent; queue?: string }): T;
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "CLUSTERDOWN",
  "ERR_CONNECTION_CLOSED",
]);

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^[A-Z][A-Z0-9_]{1,63}$/.test(code)) return code;
  const message = err instanceof Error ? err.message : "";
  if (/Connection is closed|connect ETIMEDOUT|Stream isn't writeable/i.test(message)) return "ERR_CONNECTION_CLOSED";
  return err instanceof Error && /^[A-Za-z]{1,64}$/.test(err.name) ? err.name : "Error";
}

export function queueErrorLogger(
  log: QueueErrorLogger,
  options: { throttleMs?: number; now?: () => number } = {},
): QueueErrorWatcher {
  const throttleMs = options.throttleMs ?? 30_000;
  const now = options.now ?? Date.now;
  const seen = new Map<string, { at: number; suppressed: number }>();
  const report = (err: unknown, where: { component: QueueErrorComponent; queue?: string }) => {
    const errCode = errorCode(err);
    const last = seen.get(errCode);
    const t = now();
    if (last && t - last.at < throttleMs) {
      last.suppressed += 1;
      return;
    }
    seen.set(errCode, { at: t, suppressed: 0 });
    const connection = CONNECTION_CODES.has(errCode);
    const fields = {
      code: connection ? "QUEUE_REDIS_UNAVAILABLE" : "QUEUE_ERROR",
      component: where.component,
      ...(where.queue ? { queue: where.queue } : {}),
      errCode,
      message: err instanceof Error ? err.message.slice(0, 200) : "non-error thrown",
      suppressed: last?.suppressed ?? 0,
    };
    if (connection) log.warn(fields, "Redis unavailable to the queue (it reconnects by itself)");
    else log.error(fields, "queue error");
  };
  orphanSinks.add((err) => report(err, { component: "redis" }));
  return {
    watch(source, where) {
      source.on("error", (err) => report(err, where));
      return source;
    },
  };
}
