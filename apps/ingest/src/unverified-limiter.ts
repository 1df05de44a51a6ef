/**
 * The limit on unverified traffic to `/triggers/:skillId`, asked in `onRequest` — before the body is read, before any
 * database query (the Skill's sealed secrets) and before any crypto. What counts is failed verification: each request
 * whose signature did not hold adds one to its source address's and its Skill's counter for the current minute; a
 * source or Skill over its budget is answered 429 (with Retry-After) until the window ends. Verified requests never
 * count, so a producer signing correctly is refused only while its own address, or its Skill's endpoint, is being
 * flooded with bad signatures — and then it retries after Retry-After, as Standard Webhooks producers do.
 *
 * Counted in Redis so the whole ingest fleet shares one budget. Each counter is one key, created and given its expiry
 * in one Lua script (atomic: INCR-then-EXPIRE as two commands could leave a key without a TTL on a noeviction Redis,
 * refusing that source forever); a key found without a TTL gets one. One key per script call, so it runs on a Redis
 * cluster too. A limiter that does not answer within `timeoutMs` (Redis down, reconnecting, or hung) fails open: the
 * request goes on to verification, where a bad signature is still a 401 — the check never blocks a request for longer
 * than the bound.
 */
import type { Redis } from "@praxa/queue";

export interface UnverifiedKeys {
  /** The client address (req.ip; X-Forwarded-For only when INGEST_TRUST_PROXY). */
  readonly source: string;
  /** The Skill id from the path, already checked to be a well-formed skill id. */
  readonly skillId: string;
}

export type UnverifiedVerdict =
  | {
      readonly limited: false;
      /** false: the limiter did not answer in time and the request was let through. */ readonly answered: boolean;
    }
  | { readonly limited: true; readonly by: "source" | "skill"; readonly retryAfterSeconds: number };

export interface UnverifiedLimiter {
  /** Over budget? Never rejects; resolves within the limiter's bound. */
  check(keys: UnverifiedKeys): Promise<UnverifiedVerdict>;
  /** Count one failed verification against the source and the Skill. Never rejects; resolves within the bound. */
  recordFailure(keys: UnverifiedKeys): Promise<void>;
}

export interface UnverifiedLimits {
  readonly perSourcePerMinute: number;
  readonly perSkillPerMinute: number;
  /** How long a check may wait for Redis before failing open (default 150 ms). */
  readonly timeoutMs?: number;
}

export const UNVERIFIED_WINDOW_MS = 60_000;
export const UNVERIFIED_LIMITER_TIMEOUT_MS = 150;

// KEYS[1] counter, ARGV[1] window ms → the new count. Atomic: the key never exists without an expiry.
const HIT_SCRIPT = `local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;
// KEYS[1] counter → {count, pttl}. Read-only.
const PEEK_SCRIPT = `return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1])}`;

/** Resolve `p`, or undefined after `ms` (or on error): a bounded wait that never rejects. */
async function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function createUnverifiedLimiter(
  redis: Redis,
  prefix: string,
  limits: UnverifiedLimits,
  onUnavailable: () => void = () => {},
): UnverifiedLimiter {
  const timeoutMs = limits.timeoutMs ?? UNVERIFIED_LIMITER_TIMEOUT_MS;
  const keyOf = (kind: "source" | "skill", id: string) => `${prefix}:ingest:unverified:${kind}:${id}`;
  const peek = async (key: string): Promise<[number, number]> => {
    const reply = (await redis.eval(PEEK_SCRIPT, 1, key)) as [number, number];
    return [Number(reply[0]), Number(reply[1])];
  };
  return {
    async check(keys) {
      // Never queue behind a reconnecting client on the request path.
      if (redis.status !== "ready") {
        onUnavailable();
        return { limited: false, answered: false };
      }
      const answer = await bounded(
        Promise.all([peek(keyOf("source", keys.source)), peek(keyOf("skill", keys.skillId))]),
        timeoutMs,
      );
      if (answer === undefined) {
        onUnavailable();
        return { limited: false, answered: false };
      }
      const [[bySource, sourceTtl], [bySkill, skillTtl]] = answer;
      const retry = (ttl: number) => Math.max(1, Math.ceil((ttl > 0 ? ttl : UNVERIFIED_WINDOW_MS) / 1000));
      if (bySource >= limits.perSourcePerMinute)
        return { limited: true, by: "source", retryAfterSeconds: retry(sourceTtl) };
      if (bySkill >= limits.perSkillPerMinute)
        return { limited: true, by: "skill", retryAfterSeconds: retry(skillTtl) };
      return { limited: false, answered: true };
    },
    async recordFailure(keys) {
      if (redis.status !== "ready") return;
      await bounded(
        Promise.all(
          [keyOf("source", keys.source), keyOf("skill", keys.skillId)].map((k) =>
            redis.eval(HIT_SCRIPT, 1, k, String(UNVERIFIED_WINDOW_MS)),
          ),
        ),
        timeoutMs,
      );
    },
  };
}
