/**
 * The run row is the outbox. Redis is down when a webhook arrives: ingest still answers 202 and the run row exists,
 * dispatched on the spot; once Redis is back, the reconciler adds its job — exactly once, however often it runs. A
 * dispatched run whose job already completed (or failed) without the run finishing goes back to the dispatcher, not
 * silently dropped, and the dispatcher adds a job under a new id; a running run whose lease expired is handed back.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { sign } from "@octokit/webhooks-methods";
import postgres from "postgres";
import { newId, type RunId } from "@praxa/core";
import {
  claimRun,
  dispatchRuns,
  createDatabase,
  createTestDatabase,
  seedWorkspaceFixture,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { buildIngestServer, createWorkspaceLimiter } from "@praxa/ingest";
import { reconcileOnce, type ReconcilerDeps } from "@praxa/monitor";
import { createLogger } from "@praxa/observability";
import {
  createQueues,
  createRedis,
  enqueue,
  redisReady,
  runJobId,
  UnrecoverableError,
  Worker,
  type QueueSet,
  type Redis,
} from "@praxa/queue";
import { startPrivateRedis, type PrivateRedis } from "@praxa/testkit";

const SECRET = "outbox-test-webhook-secret-01";
const log = createLogger({ name: "outbox-test", level: "silent" });
let tdb: TestDatabase;
let admin: postgres.Sql;
let ingestDb: Database;
let monitorDb: Database;
let workerDb: Database;
let ws: WorkspaceFixture;
let redisServer: PrivateRedis;
let redis: Redis;
let queues: QueueSet;
const prefix = `test-${randomUUID()}`;

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  ws = await seedWorkspaceFixture(tdb.adminUrl, "A", { installationId: "1" });
  ingestDb = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 2 });
  monitorDb = createDatabase(tdb.roleUrl("praxa_monitor"), { max: 2 });
  workerDb = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
  redisServer = await startPrivateRedis();
  redis = createRedis(redisServer.url, "producer");
  redis.on("error", () => {});
  await redisReady(redis);
  queues = createQueues(redis, prefix);
});
afterAll(async () => {
  await redisServer?.start().catch(() => {}); // if a test failed while Redis was down
  await Promise.race([queues?.close().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
  redis?.disconnect();
  await redisServer?.stop();
  await Promise.all([ingestDb?.close(), monitorDb?.close(), workerDb?.close(), admin?.end({ timeout: 5 })]);
  await tdb?.drop();
});

const reconcilerDeps = (): ReconcilerDeps => ({
  database: monitorDb,
  queues,
  log,
  now: Date.now,
  graceSeconds: 0,
  batch: 100,
});

describe("the run row is the outbox", () => {
  it("Redis unreachable at ingest time → 202 and a run row; once Redis is back the reconciler enqueues it, exactly once", async () => {
    const app = await buildIngestServer({
      config: {
        GITHUB_WEBHOOK_SECRET: SECRET,
        SLACK_SIGNING_SECRET: "unused-slack-secret-0123",
        INGEST_BODY_LIMIT_BYTES: 5 << 20,
        INGEST_UNVERIFIED_RATE_PER_MINUTE: 1000,
        INGEST_TRUST_PROXY: false,
      },
      database: ingestDb,
      queues,
      limiter: createWorkspaceLimiter(redis, prefix, 100),
      log,
      now: Date.now,
      githubAppId: undefined,
      ready: async () => ({ postgres: true, redis: false }),
    });
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      await redisServer.stop();
      const body = readFileSync(new URL("../data/fixtures/github/pull_request.opened.json", import.meta.url), "utf8");
      const res = await fetch(`${url}/webhooks/github`, {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          "x-github-event": "pull_request",
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": await sign(SECRET, body),
        },
      });
      expect(res.status).toBe(202);
      const { runIds } = (await res.json()) as { runIds: string[] };
      expect(runIds).toHaveLength(1);
      const runId = runIds[0] ?? "";
      const [row] = await admin<{ status: string }[]>`select status from agent_runs where id = ${runId}`;
      expect(row?.status).toBe("queued");

      await redisServer.start();
      await redisReady(redis, 10_000);
      // Whatever the client had buffered for the dead server is gone with it: the job never reached Redis.
      await new Promise((r) => setTimeout(r, 200));
      await redis.flushall();
      const jobId = runJobId(runId as RunId, 1); // dispatched on the spot by ingest: an idle fleet
      expect(await queues.get("runs").getJob(jobId)).toBeUndefined();
      const first = await reconcileOnce(reconcilerDeps());
      expect(first.enqueued).toBe(1);
      expect((await queues.get("runs").getJob(jobId))?.data).toEqual({ runId });
      const second = await reconcileOnce(reconcilerDeps());
      expect(second).toMatchObject({ enqueued: 0, leftAlone: 1 });
      const counts = await queues.get("runs").getJobCounts("waiting", "delayed", "active");
      expect((counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.active ?? 0)).toBe(1);
    } finally {
      await app.close();
    }
  });

  it("a dispatched run whose job completed or failed without the run finishing goes back to the dispatcher; a stale lease is handed back", async () => {
    await queues.get("runs").obliterate({ force: true });
    await admin`update agent_runs set status = 'cancelled', dispatched_at = null, finished_at = now() where status = 'queued'`;
    const mkRun = async () => {
      const id = newId("run");
      await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, dispatched_at, dispatch_seq)
                  values (${ws.workspaceId}, ${id}, ${ws.skillId}, ${ws.skillVersionId}, 'github.pull_request.opened', 'github', now(), 1)`;
      return id as RunId;
    };
    const completedRun = await mkRun();
    const failedRun = await mkRun();
    // A worker that "processes" jobs without finishing their runs (it died after BullMQ marked them, say).
    const workerRedis = createRedis(redisServer.url, "worker");
    const done = new Set<string>();
    const worker = new Worker(
      "runs",
      async (job) => {
        done.add(String(job.id));
        if (job.id === runJobId(failedRun, 1)) throw new UnrecoverableError("simulated");
        return "ok";
      },
      { connection: workerRedis, prefix, concurrency: 2 },
    );
    await enqueue(queues, "run", { runId: completedRun }, { jobId: runJobId(completedRun, 1) });
    await enqueue(queues, "run", { runId: failedRun }, { jobId: runJobId(failedRun, 1), attempts: 1 });
    for (let i = 0; i < 200 && done.size < 2; i++) await new Promise((r) => setTimeout(r, 25));
    await worker.close();
    workerRedis.disconnect();
    for (let i = 0; i < 40; i++) {
      const states = await Promise.all(
        [completedRun, failedRun].map(async (id) => (await queues.get("runs").getJob(runJobId(id, 1)))?.getState()),
      );
      if (states[0] === "completed" && states[1] === "failed") break;
      await new Promise((r) => setTimeout(r, 25));
    }
    // A plain re-add would be a silent no-op on the same jobId: prove it, then let the reconciler do it properly.
    await enqueue(queues, "run", { runId: completedRun }, { jobId: runJobId(completedRun, 1) });
    expect(await (await queues.get("runs").getJob(runJobId(completedRun, 1)))?.getState()).toBe("completed");

    const runningRun = await mkRun();
    await claimRun(workerDb, runningRun, "dead-worker", 5);
    await admin`update agent_runs set lease_expires_at = now() - interval '1 second' where id = ${runningRun}`;

    const summary = await reconcileOnce(reconcilerDeps());
    expect(summary).toMatchObject({ readded: 2, handedBack: 1 });
    // All three are the dispatcher's again: its next pass dispatches each under a new job id.
    const picked = await dispatchRuns(workerDb, 10);
    expect(picked.map((p) => p.run_id).sort()).toEqual([completedRun, failedRun, runningRun].sort());
    for (const p of picked) {
      expect(p.dispatch_seq).toBe(2); // a new job id: the first dispatch's job is kept (or held by a dead worker)
      const jobId = runJobId(p.run_id, p.dispatch_seq);
      await enqueue(queues, "run", { runId: p.run_id }, { jobId });
      expect(["waiting", "delayed", "prioritized"]).toContain(
        await (await queues.get("runs").getJob(jobId))?.getState(),
      );
    }
    const [row] = await admin<{ status: string }[]>`select status from agent_runs where id = ${runningRun}`;
    expect(row?.status).toBe("queued");
  });
});
