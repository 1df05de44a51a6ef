/**
 * What GET /v1/audit/verify keeps between calls, per workspace: a cap on verifications running at once (a semaphore
 * whose slots expire, so a crashed process cannot hold one for ever) and the memo "verified up to checkpoint T" that
 * lets the next call start there. In Redis, so both hold across api processes; in process memory for an api built
 * without Redis (tests, tools).
 *
 * The memo is a hint, never trusted on its own: the route re-checks checkpoint T's signature and body, that its signed
 * root is the memo's, and that the memo's frontier with the stored hash of event T folds to that root (audit-verify.ts).
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { WorkspaceId } from "@praxa/core";
import type { Redis } from "@praxa/queue";

/** Verified up to checkpoint `treeSize`: its root, and the Merkle frontier of the first `treeSize - 1` leaves (hex). */
const VerifiedMemoSchema = z
  .object({
    treeSize: z.number().int().min(1),
    rootHash: z.string().regex(/^[0-9a-f]{64}$/),
    frontierBefore: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(64),
  })
  .strict();
export type VerifiedMemo = z.infer<typeof VerifiedMemoSchema>;

export interface VerifySlot {
  /** Keep the slot while a long verification runs (between pages). */
  renew(): Promise<void>;
  release(): Promise<void>;
}

export interface VerifyGate {
  /** A slot, or how long to wait for one. Throws when the gate cannot be asked (Redis down): the caller refuses. */
  acquire(workspaceId: WorkspaceId): Promise<VerifySlot | { readonly retryAfterSeconds: number }>;
  readMemo(workspaceId: WorkspaceId): Promise<VerifiedMemo | null>;
  writeMemo(workspaceId: WorkspaceId, memo: VerifiedMemo): Promise<void>;
}

export interface VerifyGateOptions {
  /** Verifications of one workspace at once (default 1). */
  readonly concurrency?: number;
  /** A slot lapses this long after it was taken or last renewed (default 60 s). */
  readonly slotTtlMs?: number;
  /** A memo stands this long (default one day; 0: no memo — every verify reads the whole chain). */
  readonly memoSeconds?: number;
}

/**
 * Take a slot: drop lapsed holders, then admit if fewer than the cap hold one. Returns -1 when admitted, otherwise the
 * milliseconds until the earliest holder's slot lapses (an upper bound on the wait). Redis's own clock, one script:
 * every api process sees the same set.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  return -1
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(0, tonumber(first[2]) - now)
`;
const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return 1
`;

/** Seconds to suggest in Retry-After: the wait bound, but no more than 10 s (slots free as verifications end). */
const retryAfter = (ms: number): number => Math.max(1, Math.min(10, Math.ceil(ms / 1000)));

export function redisVerifyGate(redis: Redis, prefix: string, options: VerifyGateOptions = {}): VerifyGate {
  const concurrency = options.concurrency ?? 1;
  const ttl = options.slotTtlMs ?? 60_000;
  const memoSeconds = options.memoSeconds ?? 86_400;
  const slots = (ws: WorkspaceId) => `${prefix}:audit-verify:slots:${ws}`;
  const memo = (ws: WorkspaceId) => `${prefix}:audit-verify:memo:${ws}`;
  return {
    async acquire(ws) {
      const holder = randomUUID();
      const wait = Number(await redis.eval(ACQUIRE, 1, slots(ws), holder, concurrency, ttl));
      if (wait >= 0) return { retryAfterSeconds: retryAfter(wait) };
      return {
        renew: async () => void (await redis.eval(RENEW, 1, slots(ws), holder, ttl)),
        release: async () => void (await redis.zrem(slots(ws), holder)),
      };
    },
    async readMemo(ws) {
      if (memoSeconds === 0) return null;
      const raw = await redis.get(memo(ws));
      if (raw === null) return null;
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        return null;
      }
      const parsed = VerifiedMemoSchema.safeParse(json);
      return parsed.success ? parsed.data : null;
    },
    async writeMemo(ws, m) {
      if (memoSeconds === 0) return;
      await redis.set(memo(ws), JSON.stringify(m), "EX", memoSeconds);
    },
  };
}

/** The same gate in process memory: for an api built without Redis (one process; memos kept `memoSeconds`). */
export function localVerifyGate(options: VerifyGateOptions = {}): VerifyGate {
  const concurrency = options.concurrency ?? 1;
  const memoMs = (options.memoSeconds ?? 86_400) * 1000;
  const running = new Map<WorkspaceId, number>();
  const memos = new Map<WorkspaceId, { memo: VerifiedMemo; until: number }>();
  return {
    async acquire(ws) {
      const n = running.get(ws) ?? 0;
      if (n >= concurrency) return { retryAfterSeconds: 1 };
      running.set(ws, n + 1);
      let released = false;
      return {
        renew: async () => undefined,
        release: async () => {
          if (released) return;
          released = true;
          const left = (running.get(ws) ?? 1) - 1;
          if (left <= 0) running.delete(ws);
          else running.set(ws, left);
        },
      };
    },
    async readMemo(ws) {
      const m = memos.get(ws);
      return m && m.until > Date.now() ? m.memo : null;
    },
    async writeMemo(ws, memo) {
      if (memoMs > 0) memos.set(ws, { memo, until: Date.now() + memoMs });
    },
  };
}
