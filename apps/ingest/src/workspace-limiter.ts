/**
 * The per-workspace limit after verification. It never drops a valid event (GitHub does not retry): over the limit,
 * the run is recorded as usual and its job is delayed, spreading the excess over the following seconds. Counted in
 * Redis so the whole ingest fleet shares one budget; if Redis is down the limiter lets everything through (the
 * enqueue fails anyway, and the reconciler picks the runs up).
 */
import type { Redis } from "@praxa/queue";

export interface WorkspaceLimiter {
  /** Milliseconds to delay this workspace's next job (0 when under the limit). */
  delayFor(workspaceId: string, nowMs: number): Promise<number>;
}

export function createWorkspaceLimiter(redis: Redis, prefix: string, perSecond: number): WorkspaceLimiter {
  return {
    async delayFor(workspaceId, nowMs) {
      const second = Math.floor(nowMs / 1000);
      const key = `${prefix}:ingest:rate:${workspaceId}:${second}`;
      try {
        if (redis.status !== "ready") return 0; // never wait on a reconnecting Redis on the request path
        const count = await redis.incr(key);
        if (count === 1) await redis.expire(key, 5);
        if (count <= perSecond) return 0;
        return Math.ceil((count - perSecond) / perSecond) * 1000;
      } catch {
        return 0;
      }
    },
  };
}
