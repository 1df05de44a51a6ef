/**
 * "A run enqueued while Redis was down executes exactly once": the run row is written (the outbox) and dispatched
 * while Redis is unreachable, so its job add fails (a dispatcher killed between its commit and its adds leaves the
 * same state); once Redis is back the reconciler adds the job, a worker runs it, and however often the reconciler runs
 * again, the PR gets one review and the run one audit event.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createDatabase, dispatchRuns, type Database } from "@praxa/db";
import { reconcileOnce } from "@praxa/monitor";
import { createLogger } from "@praxa/observability";
import { enqueue, redisReady, runJobId } from "@praxa/queue";
import { startPrivateRedis, type PrivateRedis } from "@praxa/testkit";
import { startWorker } from "@praxa/worker";
import { addedPatch, startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

let redisServer: PrivateRedis;
let h: WorkerHarness;
let monitorDb: Database;
let worker: Awaited<ReturnType<typeof startWorker>> | undefined;

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  h = await startWorkerHarness({ redisUrl: redisServer.url });
  monitorDb = createDatabase(h.tdb.roleUrl("praxa_monitor"), { max: 2 });
});
afterAll(async () => {
  await redisServer?.start().catch(() => undefined);
  await worker?.close();
  await monitorDb?.close();
  await h?.close();
  await redisServer?.stop();
});

describe("Redis down at enqueue time", () => {
  it("the reconciler enqueues the run once Redis is back; it executes exactly once", async () => {
    const runId = await h.createPrRun({
      number: 61,
      files: [{ filename: "src/pay/checkout.ts", patch: addedPatch(["export const total = 1;"]) }],
    });
    await redisServer.stop();
    const [dispatched] = await dispatchRuns(h.workerDb, 10);
    expect(dispatched).toMatchObject({ run_id: runId, dispatch_seq: 1 });
    await expect(
      enqueue(h.queues, "run", { runId }, { jobId: runJobId(runId, 1) }, { timeoutMs: 500 }),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await redisServer.start();
    await redisReady(h.redis);
    // Whatever the client had buffered for the dead server may reach the new one: drop it, so the job is surely lost.
    await new Promise((r) => setTimeout(r, 200));
    await h.redis.flushall();
    expect(await h.queues.get("runs").getJob(runJobId(runId, 1))).toBeUndefined();
    worker = await startWorker(h.env);
    const deps = {
      database: monitorDb,
      queues: h.queues,
      log: createLogger({ name: "t", level: "silent" }),
      now: Date.now,
      graceSeconds: 0,
      batch: 100,
    };
    expect((await reconcileOnce(deps)).enqueued).toBe(1);
    expect((await h.waitForRun(runId)).status).toBe("succeeded");
    await reconcileOnce(deps);
    await reconcileOnce(deps);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(h.gh.sandbox.reviews("acme", "shop", 61)).toHaveLength(1);
    const audit = await h.admin`select 1 from audit_events where run_id = ${runId}`;
    expect(audit).toHaveLength(1);
  }, 60_000);
});
