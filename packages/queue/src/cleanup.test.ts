/**
 * removeRedisPrefix after a suite-like lifecycle: queues holding waiting, delayed, completed and failed jobs, a job
 * scheduler, a worker that ran jobs, queue events — then nothing is left under the prefix, and nothing outside it
 * (a sibling prefix, a key the prefix's glob characters would have matched) is touched.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { newId } from "@praxa/core";
import { createQueues, createRedis, enqueue, redisReady, removeRedisPrefix, type Redis } from "./index.js";
import { QueueEvents, Worker } from "bullmq";

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
let redis: Redis;

async function keysUnder(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== "0");
  return found;
}

beforeAll(async () => {
  redis = createRedis(url, "producer");
  await redisReady(redis);
});
afterAll(() => {
  redis.disconnect();
});

describe("removeRedisPrefix", () => {
  it("leaves 0 keys under a prefix that held queues, jobs in every state, a job scheduler and a worker", async () => {
    const prefix = `test-${randomUUID()}`;
    const sibling = `${prefix}-sibling`;
    await redis.set(`${sibling}:kept`, "1", "PX", 60_000);
    const queues = createQueues(redis, prefix);
    const workerRedis = createRedis(url, "worker");
    const eventsRedis = createRedis(url, "worker");
    const events = new QueueEvents("runs", { connection: eventsRedis, prefix });
    let seen = 0;
    const worker = new Worker(
      "runs",
      async () => {
        seen++;
        if (seen === 2) throw new Error("this one fails");
      },
      { connection: workerRedis, prefix, concurrency: 1 },
    );
    try {
      await events.waitUntilReady();
      const done = [newId("run"), newId("run"), newId("run")];
      const finished = done.map(
        (id) =>
          new Promise<void>((resolve) => {
            const on = ({ jobId }: { jobId: string }) => {
              if (jobId !== id) return;
              events.off("completed", on);
              events.off("failed", on);
              resolve();
            };
            events.on("completed", on);
            events.on("failed", on);
          }),
      );
      for (const id of done) await enqueue(queues, "run", { runId: id }, { jobId: id, attempts: 1 });
      await Promise.all(finished);
      await worker.close();
      // Left behind: a waiting and a delayed job, a job scheduler with its next job, other queues' meta.
      await enqueue(queues, "run", { runId: newId("run") }, { jobId: newId("run") });
      await enqueue(queues, "run", { runId: newId("run") }, { jobId: newId("run"), delay: 60_000 });
      await queues.get("maintenance").upsertJobScheduler("reconcile", { every: 60_000 }, { name: "reconcile" });
      await enqueue(queues, "notification", { notificationId: `nt_${"0".repeat(26)}` }, { jobId: "n1" });
      const counts = await queues.get("runs").getJobCounts("completed", "failed", "waiting", "delayed");
      expect(counts).toMatchObject({ completed: 2, failed: 1, waiting: 1, delayed: 1 });
      expect(await queues.get("maintenance").getJobSchedulersCount()).toBe(1);
    } finally {
      await worker.close();
      await events.close();
      await queues.close();
      workerRedis.disconnect();
      eventsRedis.disconnect();
    }
    const before = await keysUnder(`${prefix}:*`);
    expect(before.length).toBeGreaterThan(10);
    const removed = await removeRedisPrefix(redis, prefix, { batch: 3 });
    expect(removed).toBe(before.length);
    expect(await keysUnder(`${prefix}:*`)).toEqual([]);
    expect(await redis.exists(`${sibling}:kept`)).toBe(1);
    await removeRedisPrefix(redis, sibling);
    expect(await redis.exists(`${sibling}:kept`)).toBe(0);
  });

  it("matches the prefix literally: glob characters in it match only themselves", async () => {
    const base = `test-${randomUUID()}`;
    const globby = `${base}-[ab]*?`;
    const lookalike = `${base}-a-x`;
    await redis.set(`${globby}:one`, "1", "PX", 60_000);
    await redis.set(`${lookalike}:two`, "1", "PX", 60_000);
    expect(await removeRedisPrefix(redis, globby)).toBe(1);
    expect(await redis.exists(`${globby}:one`)).toBe(0);
    expect(await redis.exists(`${lookalike}:two`)).toBe(1);
    expect(await removeRedisPrefix(redis, lookalike)).toBe(1);
    await expect(removeRedisPrefix(redis, "")).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });
});
