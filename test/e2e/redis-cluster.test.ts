/**
 * Praxa on a real Redis Cluster (issue #20): three masters with a replica each, started by the test on loopback ports
 * (packages/testkit redis-cluster.ts), every connection an ioredis Cluster through REDIS_CLUSTER_NODES.
 *  - connections: the eviction-policy check visits every node, queue names carry hash tags (one queue → one slot,
 *    queues spread over the shards), a prefix sweep empties every master;
 *  - the limiters and the audit-verify gate, one key per script, on the cluster;
 *  - a pr-review run end to end with a worker process on the cluster;
 *  - the monitor (in-process, its job schedulers and reconciler on the cluster) adding the job of a run whose dispatch
 *    committed but whose job never reached Redis;
 *  - `praxa demo` with REDIS_CLUSTER_NODES (ingest, worker and monitor processes, webhook → review);
 *  - a failover: the master holding queued runs is SIGKILLed under a running worker process and monitor, its replica
 *    is promoted, and every run finishes, reviewed once.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Writable } from "node:stream";
import type { RunId, WorkspaceId } from "@praxa/core";
import { createTestDatabase, databaseUrl, dispatchRuns } from "@praxa/db";
import { askWorkspaceLimiter, createUnverifiedLimiter, createWorkspaceLimiter } from "@praxa/ingest";
import { startMonitor } from "@praxa/monitor";
import { createLogger } from "@praxa/observability";
import {
  checkRedisEvictionPolicy,
  createQueues,
  createRedis,
  isRedisCluster,
  redisNodes,
  removeRedisPrefix,
  runJobId,
  type Redis,
} from "@praxa/queue";
import { redisVerifyGate } from "@praxa/api";
import { startRedisCluster, type PrivateRedisCluster } from "@praxa/testkit";
import { addedPatch, startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

const WORKER_MAIN = fileURLToPath(new URL("../../apps/worker/dist/main.js", import.meta.url));
const CLI = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));
const silent = createLogger({
  name: "redis-cluster-test",
  level: "silent",
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

let cluster: PrivateRedisCluster;
let redis: Redis;
const prefix = `test-cluster-${process.pid}`;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicas: 1 });
  redis = createRedis({ clusterNodes: cluster.seeds }, "producer");
  redis.on("error", () => undefined);
}, 90_000);
afterAll(async () => {
  if (redis) {
    await removeRedisPrefix(redis, prefix).catch(() => undefined);
    redis.disconnect();
  }
  await cluster?.close();
});

/** Every key under `p` on every master (SCAN each one). */
async function keysUnder(p: string): Promise<string[]> {
  const out: string[] = [];
  for (const node of await redisNodes(redis, "master")) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", `${p}:*`, "COUNT", 1000);
      cursor = next;
      out.push(...keys);
    } while (cursor !== "0");
  }
  return out;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function keySlot(key: string): Promise<number> {
  return Number(await redis.cluster("KEYSLOT", key));
}

function startWorkerProcess(env: Record<string, string>): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, [WORKER_MAIN], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString("utf8")));
  return { child, stderr: () => err };
}

/**
 * SIGTERM, and SIGKILL if it has not exited after `killAfterMs`: on a cluster a worker process's graceful close can
 * wait until runProcess's 60 s bound — BullMQ (5.81) awaits the blocking cluster client's `end` while its bzpopmin patch
 * reconnects that client (upstream: taskforcesh/bullmq#4656, an un-timed `await disconnecting`); runs are durable either
 * way, and teardown need not wait for it.
 */
async function stopProcess(child: ChildProcess | undefined, options: { killAfterMs?: number } = {}): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer =
    options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), options.killAfterMs);
  await exited;
  clearTimeout(timer);
}

describe("connections on a Redis Cluster", () => {
  it("is a cluster connection; the eviction-policy check reads every node, replicas included", async () => {
    expect(isRedisCluster(redis)).toBe(true);
    expect(await redisNodes(redis, "all")).toHaveLength(6);
    expect(await checkRedisEvictionPolicy(redis, { skip: false })).toBe("noeviction");
    const replica = (await cluster.topology()).find((n) => n.role === "replica");
    expect(replica).toBeDefined();
    await cluster.cli(replica!.port, "config", "set", "maxmemory-policy", "allkeys-lru");
    try {
      await expect(checkRedisEvictionPolicy(redis, { skip: false })).rejects.toMatchObject({ code: "REDIS_POLICY" });
      expect(await checkRedisEvictionPolicy(redis, { skip: true })).toBe("skipped");
    } finally {
      await cluster.cli(replica!.port, "config", "set", "maxmemory-policy", "noeviction");
    }
  });

  it("a cluster that never answers: the boot check fails UNAVAILABLE instead of waiting for ever", async () => {
    const away = createRedis({ clusterNodes: [{ host: "127.0.0.1", port: 1 }] }, "worker");
    away.on("error", () => undefined);
    try {
      await expect(checkRedisEvictionPolicy(away, { skip: false })).rejects.toMatchObject({ code: "UNAVAILABLE" });
    } finally {
      away.disconnect();
    }
  }, 30_000);

  it("hash-tags each queue: one queue's keys share a slot, different queues land on different masters", async () => {
    const queues = createQueues(redis, prefix);
    try {
      expect(queues.name("runs")).toBe("{runs}");
      for (const name of ["runs", "keys", "notifications", "maintenance"] as const) {
        const q = queues.get(name);
        await q.add("probe", {}, { jobId: `probe-${name}`, delay: 60_000 });
        await q.add("probe", {}, { jobId: `probe2-${name}` });
      }
      const byQueue = new Map<string, Set<number>>();
      for (const key of await keysUnder(prefix)) {
        const tag = /^[^{]*\{([^}]+)\}/.exec(key)?.[1] ?? "(none)";
        const slots = byQueue.get(tag) ?? new Set<number>();
        slots.add(await keySlot(key));
        byQueue.set(tag, slots);
      }
      expect([...byQueue.keys()].sort()).toEqual(["keys", "maintenance", "notifications", "runs"]);
      for (const slots of byQueue.values()) expect(slots.size).toBe(1);
      const masters = new Set<number>();
      for (const name of ["runs", "keys", "notifications", "maintenance"])
        masters.add(await cluster.masterOf(`${prefix}:{${name}}:wait`));
      expect(masters.size).toBeGreaterThan(1);
    } finally {
      await queues.close();
    }
  });

  it("removeRedisPrefix empties every master (keys of many slots), and nothing else", async () => {
    const p = `${prefix}-sweep`;
    const other = `${prefix}-sweepish`;
    for (let i = 0; i < 60; i++) await redis.set(`${p}:k${i}`, "1");
    await redis.set(`${other}:keep`, "1");
    const masters = new Set<number>();
    for (const key of await keysUnder(p)) masters.add(await cluster.masterOf(key));
    expect(masters.size).toBe(3); // spread over every master
    expect(await removeRedisPrefix(redis, p, { batch: 7 })).toBe(60);
    expect(await keysUnder(p)).toEqual([]);
    expect(await redis.get(`${other}:keep`)).toBe("1");
    await removeRedisPrefix(redis, other);
  });
});

describe("the limiters and the audit-verify gate on a Redis Cluster", () => {
  it("the workspace limiter counts one window per key, each with a TTL, across slots", async () => {
    await new Promise<void>((resolve) => (redis.status === "ready" ? resolve() : redis.once("ready", resolve)));
    const limiter = createWorkspaceLimiter(redis, prefix, 3);
    const t0 = 1_700_000_000_000;
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) delays.push(await limiter.delayFor("ws_cluster", t0));
    expect(delays).toEqual([0, 0, 0, 1000, 1000, 1000, 2000]);
    // Many workspaces: keys on every master, every one with a TTL.
    for (let i = 0; i < 30; i++) await limiter.delayFor(`ws_${i}`, t0);
    const keys = (await keysUnder(prefix)).filter((k) => k.includes(":ingest:rate:"));
    expect(keys).toHaveLength(31);
    const masters = new Set<number>();
    for (const key of keys) {
      expect(await redis.pttl(key)).toBeGreaterThan(0);
      masters.add(await cluster.masterOf(key));
    }
    expect(masters.size).toBeGreaterThan(1); // keys of one limiter on different shards
    // As intake asks it: an answer, not the fail-open zero.
    expect(
      await askWorkspaceLimiter(
        limiter,
        { workspaceId: "ws_cluster", deliveryId: "d1", nowMs: t0 },
        { log: silent, timeoutMs: 5_000 },
      ),
    ).toBe(2000);
  });

  it("the unverified-traffic limiter refuses past its budget", async () => {
    const limiter = createUnverifiedLimiter(redis, prefix, {
      perSourcePerMinute: 2,
      perSkillPerMinute: 100,
      timeoutMs: 5_000,
    });
    const keys = { source: "203.0.113.9", skillId: "sk_cluster" };
    expect(await limiter.check(keys)).toEqual({ limited: false, answered: true });
    await limiter.recordFailure(keys);
    await limiter.recordFailure(keys);
    expect(await limiter.check(keys)).toMatchObject({ limited: true, by: "source" });
  });

  it("the audit-verify gate admits one verification per workspace at a time and keeps its memo", async () => {
    const gate = redisVerifyGate(redis, prefix, { concurrency: 1 });
    const ws = "ws_01jq0000000000000000000000" as WorkspaceId;
    const first = await gate.acquire(ws);
    expect("release" in first).toBe(true);
    expect(await gate.acquire(ws)).toMatchObject({ retryAfterSeconds: expect.any(Number) });
    if ("release" in first) {
      await first.renew();
      await first.release();
    }
    const again = await gate.acquire(ws);
    expect("release" in again).toBe(true);
    if ("release" in again) await again.release();
    const memo = { treeSize: 3, rootHash: "a".repeat(64), frontierBefore: ["b".repeat(64)] };
    await gate.writeMemo(ws, memo);
    expect(await gate.readMemo(ws)).toEqual(memo);
  });
});

describe("runs on a Redis Cluster", () => {
  let h: WorkerHarness;
  let worker: ReturnType<typeof startWorkerProcess> | undefined;
  let monitor: Awaited<ReturnType<typeof startMonitor>> | undefined;
  let n = 100;

  beforeAll(async () => {
    h = await startWorkerHarness({
      redisCluster: cluster,
      extraEnv: { WORKER_LEASE_SECONDS: "5", WORKER_STALLED_INTERVAL_MS: "2000", WORKER_DISPATCH_POLL_MS: "200" },
    });
  }, 60_000);
  afterAll(async () => {
    await stopProcess(worker?.child, { killAfterMs: 15_000 });
    await monitor?.close();
    await h?.close();
  }, 60_000);

  const prRun = (): Promise<RunId> => {
    n++;
    return h.createPrRun({
      number: n,
      files: [{ filename: `src/f${n}.ts`, patch: addedPatch([`export const f${n} = ${n};`]) }],
    });
  };

  it("the monitor's schedulers and reconciler run on the cluster: a dispatch whose job never reached Redis is repaired, and a worker process reviews it", async () => {
    // The dispatch commits but its job is never added (as when Redis is away between the two): only the reconciler,
    // scheduled on the cluster by the monitor, can add it.
    const lost = await prRun();
    const picked = await dispatchRuns(h.workerDb, 10);
    expect(picked.map((r) => r.run_id)).toEqual([lost]);
    expect(await h.queues.get("runs").getJob(runJobId(lost, picked[0]!.dispatch_seq))).toBeUndefined();

    monitor = await startMonitor({ ...h.env, MONITOR_DATABASE_URL: h.tdb.roleUrl("praxa_monitor") });
    const schedulers = await h.queues.get("maintenance").getJobSchedulers();
    expect(schedulers.map((s) => s.key).sort()).toEqual([
      "praxa-acceptance",
      "praxa-audit-checkpoints",
      "praxa-exports",
      "praxa-lifecycle",
      "praxa-reconcile",
      "praxa-siem-sweep",
    ]);

    worker = startWorkerProcess(h.env);
    expect(await h.waitForRun(lost, 60_000)).toEqual({ status: "succeeded", error_code: null });
    expect(h.gh.sandbox.reviews("acme", "shop", n)).toHaveLength(1);
    const job = await h.queues.get("runs").getJob(runJobId(lost, picked[0]!.dispatch_seq));
    expect(await job?.getState()).toBe("completed");
    expect(worker.stderr()).toBe("");
  }, 90_000);

  it("a pr-review run end to end: dispatched by the worker process into the {runs} queue, reviewed once", async () => {
    const runId = await prRun();
    expect(await h.waitForRun(runId, 30_000)).toEqual({ status: "succeeded", error_code: null });
    const reviews = h.gh.sandbox.reviews("acme", "shop", n);
    expect(reviews).toHaveLength(1);
    const [row] = await h.admin<{ dispatch_seq: number }[]>`select dispatch_seq from agent_runs where id = ${runId}`;
    const job = await h.queues.get("runs").getJob(runJobId(runId, row!.dispatch_seq));
    expect(await job?.getState()).toBe("completed");
    expect(job?.queueQualifiedName).toBe(`${h.env.PRAXA_QUEUE_PREFIX}:{runs}`);
  }, 60_000);

  it("failover: the master holding queued runs is killed under a running worker process and monitor; its replica takes over, and every run finishes once", async () => {
    const running = worker;
    if (!running) throw new Error("the worker process of the first test is not running");
    const runsQueue = h.queues.get("runs");
    // Queued in Redis and not yet taken: the queue is paused while the worker process's dispatcher adds their jobs.
    await runsQueue.pause();
    const runs: { id: RunId; pr: number }[] = [];
    for (let i = 0; i < 4; i++) runs.push({ id: await prRun(), pr: n });
    await until("the four runs' jobs queued", async () => {
      const counts = await runsQueue.getJobCounts("wait", "prioritized");
      return (counts.wait ?? 0) + (counts.prioritized ?? 0) === 4;
    });

    const runsQueueKey = `${h.env.PRAXA_QUEUE_PREFIX}:{runs}:wait`;
    const master = await cluster.masterOf(runsQueueKey);
    const replica = (await cluster.topology()).find((x) => x.role === "replica" && x.masterPort === master);
    expect(replica).toBeDefined();
    await cluster.kill(master);
    await cluster.waitHealthy(60_000);
    expect(await cluster.masterOf(runsQueueKey)).toBe(replica!.port);
    await runsQueue.resume();

    for (const run of runs) {
      expect(await h.waitForRun(run.id, 90_000)).toEqual({ status: "succeeded", error_code: null });
      expect(h.gh.sandbox.reviews("acme", "shop", run.pr)).toHaveLength(1);
    }
    const audit = await h.admin<{ n: number }[]>`select count(*)::int as n from audit_events
      where run_id in ${h.admin(runs.map((r) => r.id))} and kind = 'skill.action'`;
    expect(audit[0]?.n).toBe(4);
    // The same worker process throughout: its connections followed the promoted replica.
    expect({ exitCode: running.child.exitCode, signal: running.child.signalCode }).toEqual({
      exitCode: null,
      signal: null,
    });
  }, 180_000);
});

describe("pnpm praxa demo on a Redis Cluster", () => {
  it("completes with REDIS_CLUSTER_NODES: ingest, worker and monitor processes on the cluster, and leaves no key behind", async () => {
    const tdb = await createTestDatabase({ prefix: "praxa_test_demo_cluster" });
    try {
      const keyDir = mkdtempSync(join(tmpdir(), "praxa-keys-"));
      const run = spawnSync(process.execPath, [CLI, "demo"], {
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          DATABASE_URL: databaseUrl(tdb.adminUrl, {}),
          LOG_LEVEL: "silent",
          PRAXA_KEY_FILE: join(keyDir, "master.key"),
          PRAXA_AUDIT_SIGNING_KEY_FILE: join(keyDir, "audit-signing.key"),
          // A single Redis that does not exist: every connection must be the cluster's.
          REDIS_URL: "redis://127.0.0.1:1",
          REDIS_CLUSTER_NODES: cluster.nodes,
        },
        encoding: "utf8",
        timeout: 90_000,
      });
      const output = `${run.stdout}\n${run.stderr}`;
      expect({ status: run.status, output }).toEqual({ status: 0, output: expect.stringContaining("demo complete") });
      const runId = /→ 202 \{runIds: \[(rn_[0-9a-z]{26})\]\}/.exec(output)?.[1] ?? "";
      expect(output).toContain(`worker: run ${runId} succeeded`);
      expect(output).toContain("review posted on acme/payments#1284 as praxa-demo[bot]");
      const demoPrefix = /the fleet's Redis keys under (praxa-demo-[0-9a-f]{8}):/.exec(output)?.[1] ?? "";
      expect(output).toContain(`Redis keys under ${demoPrefix}: removed`);
      expect(await keysUnder(demoPrefix)).toEqual([]);
    } finally {
      await tdb.drop();
    }
  }, 120_000);
});
