/**
 * closeWorkers against a real, private redis-server: it ends after a Redis restart (where BullMQ's own graceful close
 * waits forever on a connection parked in `reconnecting`), waits for a running job, and gives up on one after the grace
 * period.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Queue, Worker } from "bullmq";
import { startPrivateRedis, type PrivateRedis } from "@praxa/testkit";
import { createRedis, redisReady, type Redis } from "./connection.js";
import { ActiveJobs, closeWorkers, type WorkersClosed } from "./worker-shutdown.js";

let server: PrivateRedis;
const clients: Redis[] = [];

beforeAll(async () => {
  server = await startPrivateRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

function client(): Redis {
  const c = createRedis(server.url, "worker");
  c.on("error", () => undefined); // the outage below makes every client fail its reconnects
  clients.push(c);
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** closeWorkers, or a readable failure if it has not resolved in `ms` (a liveness bound, not a speed check). */
async function closedWithin(promise: Promise<WorkersClosed>, ms = 30_000): Promise<WorkersClosed> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`closeWorkers did not resolve within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, hung]);
  } finally {
    clearTimeout(timer);
  }
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe("closeWorkers", () => {
  it("ends right after Redis comes back from an outage (BullMQ's graceful close does not)", async () => {
    const connection = client();
    await redisReady(connection);
    const active = new ActiveJobs();
    const prefix = `test-shutdown-${randomUUID()}`;
    const worker = new Worker(
      "q",
      active.track(async () => undefined),
      { connection, prefix },
    );
    worker.on("error", () => undefined);
    await worker.waitUntilReady();
    await sleep(300); // the blocking connection is waiting for a job
    await server.stop();
    await sleep(2_000); // long enough for the blocking connection to be parked between reconnect attempts
    await server.start();
    await redisReady(client(), 10_000);
    const closed = await closedWithin(closeWorkers([worker], active, 5_000));
    expect(closed).toEqual({ drained: true, abandoned: 0 });
    expect(worker.closing).toBeTruthy();
  }, 60_000);

  it("waits for a running job to finish, and starts no new one once closing", async () => {
    const connection = client();
    await redisReady(connection);
    const prefix = `test-shutdown-${randomUUID()}`;
    const queue = new Queue("q", { connection, prefix });
    const active = new ActiveJobs();
    const started: string[] = [];
    const finished: string[] = [];
    const running = gate();
    const release = gate();
    const worker = new Worker(
      "q",
      active.track(async (job: { name: string }) => {
        started.push(job.name);
        running.open();
        await release.opened;
        finished.push(job.name);
      }),
      { connection, prefix, concurrency: 1 },
    );
    worker.on("error", () => undefined);
    await queue.add("first", {});
    await running.opened;
    expect(active.count).toBe(1);
    const closing = closeWorkers([worker], active, 30_000);
    await queue.add("second", {});
    await sleep(200);
    release.open();
    const closed = await closedWithin(closing);
    expect(closed).toEqual({ drained: true, abandoned: 0 });
    expect(finished).toEqual(["first"]);
    expect(started).toEqual(["first"]);
    expect(await queue.getWaitingCount()).toBe(1); // "second" waits for the next worker
    await queue.obliterate({ force: true });
    await queue.close();
  }, 60_000);

  it("force-closes after the grace period, reporting the job it left to its lease", async () => {
    const connection = client();
    await redisReady(connection);
    const prefix = `test-shutdown-${randomUUID()}`;
    const queue = new Queue("q", { connection, prefix });
    const active = new ActiveJobs();
    const running = gate();
    const release = gate();
    const worker = new Worker(
      "q",
      active.track(async () => {
        running.open();
        await release.opened;
      }),
      { connection, prefix },
    );
    worker.on("error", () => undefined);
    await queue.add("stuck", {});
    await running.opened;
    const closed = await closedWithin(closeWorkers([worker], active, 200));
    expect(closed).toEqual({ drained: false, abandoned: 1 });
    release.open();
    await active.idle();
    expect(active.count).toBe(0);
    await queue.obliterate({ force: true });
    await queue.close();
  }, 60_000);
});

describe("ActiveJobs", () => {
  it("counts a processor while it runs, whether it returns or throws", async () => {
    const active = new ActiveJobs();
    expect(active.count).toBe(0);
    await expect(active.idle()).resolves.toBeUndefined();
    const g = gate();
    const ok = active.track(async () => {
      await g.opened;
      return 7;
    });
    const bad = active.track(async () => {
      await g.opened;
      throw new Error("boom");
    });
    const a = ok();
    const b = bad();
    expect(active.count).toBe(2);
    let idle = false;
    const waiting = active.idle().then(() => (idle = true));
    await sleep(10);
    expect(idle).toBe(false);
    g.open();
    await expect(a).resolves.toBe(7);
    await expect(b).rejects.toThrow("boom");
    await waiting;
    expect(active.count).toBe(0);
  });
});
