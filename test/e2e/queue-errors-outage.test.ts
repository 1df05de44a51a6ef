/**
 * A Redis outage under a running monitor and worker is reported in the structured log, never through console.error
 * (issue 20): every BullMQ Queue, Worker and job scheduler, and every ioredis connection of ours, has its `error`
 * events handled by the app's logger (packages/queue queue-errors.ts). Without those handlers BullMQ prints each
 * reconnect failure's raw stack with console.error, and ioredis prints "[ioredis] Unhandled error event".
 */
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { startMonitor } from "@praxa/monitor";
import { createRedis, redisReady, type Redis } from "@praxa/queue";
import { startPrivateRedis, type PrivateRedis } from "@praxa/testkit";
import { startWorker } from "@praxa/worker";
import { startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

let redisServer: PrivateRedis;
let h: WorkerHarness;
let probe: Redis;
let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
let monitor: Awaited<ReturnType<typeof startMonitor>> | undefined;
const lines: Record<string, unknown>[] = [];
const sink = () =>
  new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  h = await startWorkerHarness({ redisUrl: redisServer.url, extraEnv: { LOG_LEVEL: "info" } });
  worker = await startWorker(h.env, { providerFactory: null, logDestination: sink() });
  monitor = await startMonitor(
    {
      NODE_ENV: "test",
      LOG_LEVEL: "info",
      REDIS_URL: redisServer.url,
      PRAXA_QUEUE_PREFIX: h.env["PRAXA_QUEUE_PREFIX"] ?? "",
      MONITOR_DATABASE_URL: h.tdb.roleUrl("praxa_monitor"),
      PRAXA_KEY_PROVIDER: "local",
      PRAXA_KEY_FILE: h.env["PRAXA_KEY_FILE"] ?? "",
      PRAXA_AUDIT_SIGNING_KEY_FILE: join(mkdtempSync(join(tmpdir(), "praxa-outage-")), "monitor-audit.key"),
    },
    { logDestination: sink() },
  );
  // A client of the test's own, to count the server's reconnect failures as every client sees them.
  probe = createRedis(redisServer.url, "worker");
  await redisReady(probe);
});
afterAll(async () => {
  await redisServer?.start().catch(() => undefined);
  // Close right after Redis is back, some of the apps' connections still between reconnect attempts: the moment
  // BullMQ's own graceful Worker.close() never returns from (the apps close through closeWorkers in @praxa/queue).
  if (probe) await redisReady(probe, 10_000);
  await monitor?.close();
  await worker?.close();
  probe?.disconnect();
  await h?.close();
  await redisServer?.stop();
}, 120_000);

describe("Redis outage under a running monitor and worker", () => {
  it("is logged with a code, throttled; nothing goes to console.error", async () => {
    const consoleError = jest.spyOn(console, "error");
    let probeErrors = 0;
    const enough = new Promise<void>((resolve) =>
      probe.on("error", () => {
        probeErrors += 1;
        if (probeErrors >= 4) resolve();
      }),
    );
    try {
      await redisServer.stop();
      // Several reconnect attempts later (each one fails on every client, the apps' included)…
      await enough;
      const logged = () => lines.filter((l) => l["code"] === "QUEUE_REDIS_UNAVAILABLE");
      const refused = () => logged().some((l) => l["errCode"] === "ECONNREFUSED");
      for (let i = 0; i < 100 && !refused(); i += 1) await new Promise((r) => setTimeout(r, 50));
      // …the outage is in the structured log, with a code, the component and the error's own code: the reconnects'
      // ECONNREFUSED, and before it whatever the dropped sockets said (ECONNRESET; "Connection is closed" under BullMQ
      // 6 — ERR_CONNECTION_CLOSED), each a connection code, as a warning…
      expect(refused()).toBe(true);
      for (const l of logged()) {
        expect(l).toMatchObject({ level: 40 });
        expect(["ECONNREFUSED", "ECONNRESET", "ERR_CONNECTION_CLOSED", "EPIPE", "ETIMEDOUT"]).toContain(l["errCode"]);
        expect(["redis", "queue", "worker"]).toContain(l["component"]);
      }
      // …once per error code per interval per process, not once per attempt per queue
      const keys = logged().map((l) => `${String(l["service"])}/${String(l["errCode"])}`);
      expect(keys.length).toBe(new Set(keys).size);
      // …and nothing was printed by console.error (BullMQ's fallback, ioredis's "Unhandled error event").
      expect(consoleError).not.toHaveBeenCalled();
    } finally {
      consoleError.mockRestore();
      await redisServer.start();
    }
  });
});
