import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { newId } from "@praxa/core";
import { startPrivateRedis } from "@praxa/testkit";
import {
  redisReady,
  checkRedisEvictionPolicy,
  createQueues,
  createRedis,
  enqueue,
  parseJobData,
  removeRedisPrefix,
  type QueueSet,
  type Redis,
} from "./index.js";

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
let redis: Redis;
let queues: QueueSet;
const prefix = `test-${randomUUID()}`;

beforeAll(async () => {
  redis = createRedis(url, "producer");
  await redisReady(redis);
  queues = createQueues(redis, prefix);
});
afterAll(async () => {
  await queues.close();
  await removeRedisPrefix(redis, prefix);
  redis.disconnect();
});

describe("job catalog", () => {
  it("a run job carries only the run id, and duplicates collapse on jobId", async () => {
    const runId = newId("run");
    const a = await enqueue(queues, "run", { runId }, { jobId: runId });
    const b = await enqueue(queues, "run", { runId }, { jobId: runId });
    expect(a.id).toBe(runId);
    expect(b.id).toBe(runId);
    expect(await queues.get("runs").getJobCounts("waiting", "delayed")).toMatchObject({ waiting: 1, delayed: 0 });
    const job = await queues.get("runs").getJob(runId);
    expect(job?.data).toEqual({ runId });
  });

  it("refuses job data with anything else in it", () => {
    expect(() => parseJobData("run", { runId: newId("run"), workspaceId: newId("workspace") })).toThrow(
      "invalid run job data",
    );
    expect(() => parseJobData("run", { runId: newId("workspace") })).toThrow("invalid run job data");
    expect(
      parseJobData("run", { runId: "rn_01h2xcejqtf2nbrexx3vqjhp41", hint: { workspaceId: "ws_anything" } }).hint
        ?.workspaceId,
    ).toBe("ws_anything");
  });

  it("checks Redis’s eviction policy (on a private Redis, so other suites are undisturbed)", async () => {
    const server = await startPrivateRedis();
    const own = createRedis(server.url, "producer");
    try {
      await redisReady(own);
      expect(await checkRedisEvictionPolicy(own, { skip: false })).toBe("noeviction");
      await own.config("SET", "maxmemory-policy", "allkeys-lru");
      await expect(checkRedisEvictionPolicy(own, { skip: false })).rejects.toMatchObject({ code: "REDIS_POLICY" });
      expect(await checkRedisEvictionPolicy(own, { skip: true })).toBe("skipped");
    } finally {
      own.disconnect();
      await server.stop();
    }
  });
});
