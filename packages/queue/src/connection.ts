/**
 * Redis connections for BullMQ. Workers need `maxRetriesPerRequest: null` (BullMQ's blocking commands); producers on a
 * request path fail fast instead, so an outage answers quickly and the run row — the outbox — carries the work.
 */
import { Redis, type RedisOptions } from "ioredis";
import { PraxaError } from "@praxa/core";

export class RedisPolicyError extends PraxaError {
  readonly code = "REDIS_POLICY";
  readonly httpStatus = 500;
}

export type RedisRole = "worker" | "producer";

export function createRedis(url: string, role: RedisRole, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    lazyConnect: false,
    enableReadyCheck: true,
    ...(role === "worker"
      ? { maxRetriesPerRequest: null }
      : // Commands wait in ioredis's offline queue while it reconnects (so the connection recovers by itself after an
        // outage); callers bound the wait themselves (`enqueue(…, { timeoutMs })`).
        { maxRetriesPerRequest: 1, connectTimeout: 2_000, retryStrategy: (n: number) => Math.min(n * 200, 2_000) }),
    ...extra,
  });
}

/**
 * BullMQ loses jobs if Redis evicts keys. Refuse to start unless `maxmemory-policy` is `noeviction`; `skip` is for
 * managed Redis that hides CONFIG (then the operator must have set it).
 */
export async function checkRedisEvictionPolicy(
  redis: Redis,
  options: { skip: boolean },
): Promise<"noeviction" | "skipped"> {
  if (options.skip) return "skipped";
  let policy: string | undefined;
  try {
    const reply = (await redis.config("GET", "maxmemory-policy")) as unknown;
    policy = Array.isArray(reply) ? String(reply[1]) : undefined;
  } catch (err) {
    throw new RedisPolicyError(
      "cannot read Redis maxmemory-policy (CONFIG GET refused); set PRAXA_SKIP_REDIS_POLICY_CHECK=true if your managed Redis hides CONFIG and is set to noeviction",
      { cause: err },
    );
  }
  if (policy !== "noeviction") {
    throw new RedisPolicyError(
      `Redis maxmemory-policy is "${policy ?? "unknown"}"; BullMQ needs "noeviction" or queued jobs can be evicted`,
    );
  }
  return "noeviction";
}

/** Resolve once the connection is ready (producers do not queue commands while connecting). */
export async function redisReady(redis: Redis, timeoutMs = 5_000): Promise<void> {
  if (redis.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error("redis did not become ready in time"));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off("ready", onReady);
    };
    redis.on("ready", onReady);
  });
}
