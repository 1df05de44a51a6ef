/**
 * The api's rate limits (review finding 5), counted in Redis by @fastify/rate-limit's Redis store so one budget holds
 * across every api process:
 *   - per source address, on every request but /healthz, in `onRequest` — before the token is looked up, so a flood of
 *     made-up tokens costs Postgres nothing;
 *   - per token, once it has authenticated (the route builder calls `token`): the key is the token id the database
 *     vouched for, so made-up token ids cannot buy fresh budgets;
 *   - full audit verifications (`/v1/audit/verify?full=true`), per workspace and hour.
 * Beyond a limit: 429 `{"error":{"code":"RATE_LIMITED",…}}` with `Retry-After`.
 *
 * Redis down: the limits fail OPEN, logged as `RATE_LIMIT_UNAVAILABLE` (at most every 10 s). They protect capacity, and
 * what a request costs without them stays bounded (a body limit, one indexed lookup per token, verifications capped
 * separately — that cap fails closed, see audit-verify.ts); refusing every call while a cache is down would turn a Redis
 * outage into a control-plane outage — no Skill could be paused during an incident.
 */
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { WorkspaceId } from "@praxa/core";
import type { Logger } from "@praxa/observability";
import type { Redis } from "@praxa/queue";
import { RateLimitedError } from "./errors.js";

interface ApiLimits {
  readonly perIpPerMinute: number;
  readonly perTokenPerMinute: number;
  readonly verifyFullPerHour: number;
}

export interface ApiRateLimitDeps {
  /** A connection for counting only (fail fast: no offline queue; see main.ts). */
  readonly redis: Redis;
  /** Key prefix (PRAXA_QUEUE_PREFIX): processes sharing it share the budgets. */
  readonly prefix: string;
  readonly limits: ApiLimits;
  readonly log: Logger;
}

/** What the routes ask after authentication; each throws `RateLimitedError` past its budget. */
export interface ApiRateLimiter {
  token(req: FastifyRequest, tokenId: string): Promise<void>;
  verifyFull(req: FastifyRequest, workspaceId: WorkspaceId): Promise<void>;
}

type Check = (
  req: FastifyRequest,
) => Promise<{ isAllowed: true } | { isAllowed: false; isExceeded: boolean; ttlInSeconds: number }>;

const limiters = new WeakMap<FastifyInstance, ApiRateLimiter>();

/** The limiter registered on `app`, if any (the route builder asks; an app built without Redis has none). */
export function apiRateLimiter(app: FastifyInstance): ApiRateLimiter | undefined {
  return limiters.get(app);
}

export async function registerRateLimits(app: FastifyInstance, deps: ApiRateLimitDeps): Promise<ApiRateLimiter> {
  await app.register(rateLimit, {
    global: false,
    redis: deps.redis,
    nameSpace: `${deps.prefix}:api-rate:`,
    skipOnError: false,
  });
  // One counter key per request and limit: the key generators read it from here (set just before each check).
  const keys = new WeakMap<FastifyRequest, string>();
  const keyOf = (req: FastifyRequest): string => keys.get(req) ?? `ip:${req.ip}`;
  const perIp = app.createRateLimit({
    max: deps.limits.perIpPerMinute,
    timeWindow: 60_000,
    keyGenerator: keyOf,
  }) as Check;
  const perToken = app.createRateLimit({
    max: deps.limits.perTokenPerMinute,
    timeWindow: 60_000,
    keyGenerator: keyOf,
  }) as Check;
  const verifyFull = app.createRateLimit({
    max: deps.limits.verifyFullPerHour,
    timeWindow: 3_600_000,
    keyGenerator: keyOf,
  }) as Check;

  let lastWarned = 0;
  const enforce = async (check: Check, req: FastifyRequest, key: string, message: string): Promise<void> => {
    keys.set(req, key);
    let result: Awaited<ReturnType<Check>>;
    try {
      result = await check(req);
    } catch (err) {
      if (Date.now() - lastWarned > 10_000) {
        lastWarned = Date.now();
        deps.log.warn(
          { code: "RATE_LIMIT_UNAVAILABLE", err },
          "rate limits not enforced: the counter store did not answer",
        );
      }
      return;
    }
    if (!result.isAllowed && result.isExceeded) throw new RateLimitedError(message, result.ttlInSeconds);
  };

  app.addHook("onRequest", async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.url === "/healthz") return;
    try {
      await enforce(perIp, req, `ip:${req.ip}`, "too many requests from this address");
    } catch (err) {
      if (err instanceof RateLimitedError) void reply.header("retry-after", String(err.retryAfterSeconds));
      throw err;
    }
  });

  const limiter: ApiRateLimiter = {
    token: (req, tokenId) => enforce(perToken, req, `token:${tokenId}`, "too many requests with this token"),
    verifyFull: (req, workspaceId) =>
      enforce(
        verifyFull,
        req,
        `verify-full:${workspaceId}`,
        "too many full verifications of this workspace; the default verify is incremental",
      ),
  };
  limiters.set(app, limiter);
  return limiter;
}
