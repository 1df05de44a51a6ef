/**
 * The per-workspace limit after verification. It never drops a valid event (GitHub does not retry) and never stands
 * between a verified delivery and its commit: intake commits the run rows first and asks the limiter only then, for
 * the BullMQ `delay` of the enqueue that follows — over the limit, the job is delayed, spreading the excess over the
 * following seconds. Counted in Redis so the whole ingest fleet shares one budget.
 *
 * The count is one Lua script, registered with ioredis `defineCommand` (EVALSHA, falling back to EVAL once per
 * connection): INCR, then PEXPIRE when the key has no expiry, atomically. A Lua script rather than MULTI with
 * `EXPIRE … NX` because EXPIRE's NX flag needs Redis ≥ 7.0 (managed Redis 6.x lacks it) while the script runs on any
 * version, in one round trip, and with one key per call (so on a cluster too). Either way no crash between two
 * commands can leave a counter without a TTL on a `noeviction` Redis; a key found without one (written by an older
 * ingest) gets one.
 *
 * `askWorkspaceLimiter` bounds the question (default 50 ms): a limiter that does not answer in time, fails, or whose
 * connection is not ready counts as "no delay", logged at debug with a code.
 */
import { isPraxaError, PraxaError } from "@praxa/core";
import type { Logger } from "@praxa/observability";
import type { Redis } from "@praxa/queue";

export interface WorkspaceLimiter {
  /** Milliseconds to delay this workspace's next job (0 when under the limit). Rejects when Redis cannot answer. */
  delayFor(workspaceId: string, nowMs: number): Promise<number>;
}

/** How long intake waits for the limiter's answer before enqueueing without a delay. */
export const WORKSPACE_LIMITER_TIMEOUT_MS = 50;
/** A one-second window's counter lives this long (a few windows: clocks across the fleet differ a little). */
export const WORKSPACE_RATE_TTL_MS = 5_000;

/** The limiter's Redis connection is not ready (connecting, reconnecting, closed): never queue behind it. */
export class WorkspaceLimiterNotReadyError extends PraxaError {
  readonly code = "WORKSPACE_LIMITER_NOT_READY";
  readonly httpStatus = 503;
  override readonly retryable = true;
}

// KEYS[1] the window's counter, ARGV[1] its TTL in ms → the new count. Atomic: the key never exists without a TTL.
export const WORKSPACE_RATE_SCRIPT = `local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;
const COMMAND = "praxaIngestRateHit";

interface RateCommand {
  praxaIngestRateHit(key: string, ttlMs: string): Promise<number>;
}

/** Register the script on this connection (idempotent) and return the connection typed with it. */
function withRateCommand(redis: Redis): Redis & RateCommand {
  if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: WORKSPACE_RATE_SCRIPT });
  return redis as Redis & RateCommand;
}

export function workspaceRateKey(prefix: string, workspaceId: string, nowMs: number): string {
  return `${prefix}:ingest:rate:${workspaceId}:${Math.floor(nowMs / 1000)}`;
}

export function createWorkspaceLimiter(redis: Redis, prefix: string, perSecond: number): WorkspaceLimiter {
  const r = withRateCommand(redis);
  return {
    async delayFor(workspaceId, nowMs) {
      if (redis.status !== "ready")
        throw new WorkspaceLimiterNotReadyError(`the limiter's Redis connection is ${redis.status}`);
      const count = Number(
        await r.praxaIngestRateHit(workspaceRateKey(prefix, workspaceId, nowMs), String(WORKSPACE_RATE_TTL_MS)),
      );
      if (count <= perSecond) return 0;
      return Math.ceil((count - perSecond) / perSecond) * 1000;
    },
  };
}

/**
 * The limiter's answer within `timeoutMs`, or 0. Never rejects: a late, failed or not-ready limiter means "no delay"
 * (the run row is already committed; a delay only smooths a burst), logged at debug with its code.
 */
export async function askWorkspaceLimiter(
  limiter: WorkspaceLimiter,
  request: { readonly workspaceId: string; readonly deliveryId: string; readonly nowMs: number },
  options: { readonly log: Logger; readonly timeoutMs?: number | undefined },
): Promise<number> {
  const timeoutMs = options.timeoutMs ?? WORKSPACE_LIMITER_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const late = Symbol("late");
  const timeout = new Promise<typeof late>((resolve) => {
    timer = setTimeout(() => resolve(late), timeoutMs);
  });
  const asked = limiter.delayFor(request.workspaceId, request.nowMs);
  asked.catch(() => {}); // an answer (or failure) after the bound is already accounted for
  const context = { workspaceId: request.workspaceId, deliveryId: request.deliveryId };
  try {
    const answer = await Promise.race([asked, timeout]);
    if (answer === late) {
      options.log.debug(
        { ...context, code: "WORKSPACE_LIMITER_TIMEOUT", timeoutMs },
        "the workspace limiter did not answer in time; no delay",
      );
      return 0;
    }
    return answer;
  } catch (err) {
    const code = isPraxaError(err) ? err.code : "WORKSPACE_LIMITER_ERROR";
    options.log.debug({ ...context, code, err }, "the workspace limiter failed; no delay");
    return 0;
  } finally {
    clearTimeout(timer);
  }
}
