/**
 * The workspace limiter against the real Redis: each count is one script (no INCR-then-EXPIRE pair a crash could split),
 * so every key it writes has a TTL — also a key an older ingest left without one. Asked through
 * `askWorkspaceLimiter`, a limiter that is late, failing or not connected means "no delay", logged at debug with a code.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { createLogger } from "@praxa/observability";
import { createRedis, redisReady, removeRedisPrefix, type SingleRedis } from "@praxa/queue";
import {
  askWorkspaceLimiter,
  createWorkspaceLimiter,
  WORKSPACE_RATE_SCRIPT,
  WORKSPACE_RATE_TTL_MS,
  workspaceRateKey,
  type WorkspaceLimiter,
} from "./workspace-limiter.js";

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `test-${randomUUID()}`;
let redis: SingleRedis;

async function rateKeys(): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:ingest:rate:*`, "COUNT", 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== "0");
  return found;
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const line of chunk.toString("utf8").split("\n"))
        if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, log: createLogger({ name: "limiter-test", level: "debug", destination }) };
}

beforeAll(async () => {
  redis = createRedis(url, "producer");
  await redisReady(redis);
});
afterAll(async () => {
  await removeRedisPrefix(redis, prefix);
  redis.disconnect();
});

describe("the workspace limiter's count", () => {
  it("every key it writes has a TTL, after many calls across workspaces and windows", async () => {
    const limiter = createWorkspaceLimiter(redis, prefix, 3);
    const t0 = Date.now();
    const calls: Promise<number>[] = [];
    for (let i = 0; i < 300; i++) calls.push(limiter.delayFor(`ws_${i % 7}`, t0 + (i % 5) * 1000));
    await Promise.all(calls);
    const keys = await rateKeys();
    expect(keys).toHaveLength(35);
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(WORKSPACE_RATE_TTL_MS);
    }
  });

  it("is one command per count: the INCR and the expiry run inside the script, never as separate commands", async () => {
    const monitor = await redis.monitor();
    const seen: { command: string; fromScript: boolean }[] = [];
    const marker = `${prefix}:marker`;
    const sawMarker = new Promise<void>((resolve) => {
      monitor.on("monitor", (_time: string, args: string[], source: string) => {
        if (args.includes(marker)) resolve();
        if (!args.some((a) => a.startsWith(`${prefix}:ingest:rate:mono`))) return;
        seen.push({ command: String(args[0]).toLowerCase(), fromScript: source.includes("lua") });
      });
    });
    try {
      const limiter = createWorkspaceLimiter(redis, prefix, 1000);
      for (let i = 0; i < 5; i++) await limiter.delayFor("mono", Date.now());
      await redis.get(marker); // MONITOR reports in execution order: once it shows the marker, it has shown the counts
      await sawMarker;
    } finally {
      monitor.disconnect();
    }
    const direct = seen.filter((s) => !s.fromScript).map((s) => s.command);
    expect(direct.filter((c) => c === "evalsha" || c === "eval").length).toBeGreaterThanOrEqual(5);
    expect(direct.filter((c) => c !== "evalsha" && c !== "eval")).toEqual([]);
    const inScript = seen.filter((s) => s.fromScript).map((s) => s.command);
    expect(inScript.filter((c) => c === "incr")).toHaveLength(5);
    expect(inScript).toContain("pexpire");
  });

  it("the script counts, gives a new key its TTL and repairs a key left without one", async () => {
    const fresh = `${prefix}:ingest:rate:script:fresh`;
    expect(await redis.eval(WORKSPACE_RATE_SCRIPT, 1, fresh, "5000")).toBe(1);
    expect(await redis.eval(WORKSPACE_RATE_SCRIPT, 1, fresh, "5000")).toBe(2);
    expect(await redis.pttl(fresh)).toBeGreaterThan(0);
    const legacy = `${prefix}:ingest:rate:script:legacy`;
    await redis.set(legacy, "7"); // what INCR without its EXPIRE left behind
    expect(await redis.pttl(legacy)).toBe(-1);
    expect(await redis.eval(WORKSPACE_RATE_SCRIPT, 1, legacy, "5000")).toBe(8);
    expect(await redis.pttl(legacy)).toBeGreaterThan(0);
    // An existing TTL is kept, not extended.
    await redis.pexpire(fresh, 1_000_000);
    await redis.eval(WORKSPACE_RATE_SCRIPT, 1, fresh, "5000");
    expect(await redis.pttl(fresh)).toBeGreaterThan(5000);
  });

  it("delays the excess of a window by whole seconds", async () => {
    const limiter = createWorkspaceLimiter(redis, prefix, 2);
    const now = Date.now();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) delays.push(await limiter.delayFor("burst", now));
    expect(delays).toEqual([0, 0, 1000, 1000, 2000, 2000]);
    expect(await redis.get(workspaceRateKey(prefix, "burst", now))).toBe("6");
  });
});

describe("askWorkspaceLimiter: late, failing or not connected means no delay", () => {
  const request = { workspaceId: "ws_x", deliveryId: "d-1", nowMs: Date.now() };

  it("a limiter that does not answer within the bound → 0, logged at debug WORKSPACE_LIMITER_TIMEOUT", async () => {
    const { lines, log } = capture();
    const never: WorkspaceLimiter = { delayFor: () => new Promise<number>(() => {}) };
    expect(await askWorkspaceLimiter(never, request, { log, timeoutMs: 5 })).toBe(0);
    expect(lines).toEqual([
      expect.objectContaining({ level: 20, code: "WORKSPACE_LIMITER_TIMEOUT", workspaceId: "ws_x", deliveryId: "d-1" }),
    ]);
  });

  it("a failing limiter → 0, logged at debug with its code", async () => {
    const { lines, log } = capture();
    const failing: WorkspaceLimiter = { delayFor: () => Promise.reject(new Error("READONLY")) };
    expect(await askWorkspaceLimiter(failing, request, { log })).toBe(0);
    expect(lines).toEqual([expect.objectContaining({ level: 20, code: "WORKSPACE_LIMITER_ERROR" })]);
  });

  it("a connection that is not ready is not waited on → 0, WORKSPACE_LIMITER_NOT_READY", async () => {
    const { lines, log } = capture();
    const closed = createRedis(url, "producer", { lazyConnect: true });
    try {
      const limiter = createWorkspaceLimiter(closed, prefix, 1);
      expect(await askWorkspaceLimiter(limiter, request, { log, timeoutMs: 60_000 })).toBe(0);
      expect(lines).toEqual([expect.objectContaining({ level: 20, code: "WORKSPACE_LIMITER_NOT_READY" })]);
    } finally {
      closed.disconnect();
    }
  });

  it("an answer within the bound is the delay, and nothing is logged", async () => {
    const { lines, log } = capture();
    const limiter = createWorkspaceLimiter(redis, prefix, 1);
    const now = Date.now();
    await limiter.delayFor("asked", now);
    expect(
      await askWorkspaceLimiter(limiter, { ...request, workspaceId: "asked", nowMs: now }, { log, timeoutMs: 10_000 }),
    ).toBe(1000);
    expect(lines).toEqual([]);
  });
});
