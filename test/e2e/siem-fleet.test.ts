/**
 * SIEM streams in the worker fleet: real worker processes (apps/worker/dist/main.js) taking `siem` jobs from the
 * queue, the subscription leased in Postgres.
 *  - A worker SIGKILLed while its batch is on the wire (the receiver holds the request): once the lease expires,
 *    another worker resends exactly that batch under the same webhook-id, and the stream completes — nothing lost,
 *    in order.
 *  - Two worker processes given jobs for the same subscription at the same time (as a duplicate enqueue or a stalled
 *    job's redelivery would) never deliver it concurrently: the receiver never sees two of its requests at once, and
 *    every event arrives once, in order.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SiemSubscriptionIdSchema } from "@praxa/core";
import { createDatabase, type Database } from "@praxa/db";
import { enqueue } from "@praxa/queue";
import { sweepSiemSubscriptions } from "@praxa/monitor";
import { createLogger } from "@praxa/observability";
import { acknowledge, recordsOf, startSiemHarness, type SiemHarness } from "./siem-harness.js";

const WORKER_MAIN = fileURLToPath(new URL("../../apps/worker/dist/main.js", import.meta.url));
let x: SiemHarness;
const children: ChildProcess[] = [];

beforeAll(async () => {
  x = await startSiemHarness();
  monitorDb = createDatabase(x.h.tdb.roleUrl("praxa_monitor"), { max: 1 });
}, 60_000);
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      await exited;
    }
  }
});
afterAll(async () => {
  await monitorDb?.close();
  await x?.close();
});

function startWorkerProcess(): ChildProcess {
  const child = spawn(process.execPath, [WORKER_MAIN], {
    env: { ...process.env, ...x.h.env, SIEM_BATCHES_PER_PASS: "2" },
    stdio: ["ignore", "ignore", "ignore"],
  });
  children.push(child);
  return child;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const at = (path: string) => x.received.filter((r) => r.path === path && !r.raw.includes("praxa.siem.verification"));

async function subscribe(path: string, batchMaxEvents: number) {
  const res = await x.call("POST", "/v1/siem-subscriptions", {
    format: "jsonl",
    url: `${x.receiverBase}${path}`,
    startAt: "now",
    batchMaxEvents,
  });
  expect(res.status).toBe(201);
  return res.json as { id: string; cursorSeq: number };
}

async function cursorOf(id: string): Promise<number> {
  const [r] = await x.h.admin<{ c: string }[]>`select cursor_seq::text as c from siem_subscriptions where id = ${id}`;
  return Number(r?.c ?? -1);
}

let monitorDb: Database;
const sweepDeps = () => ({
  database: monitorDb,
  queues: x.h.queues,
  log: createLogger({ name: "siem-fleet-test", level: "silent" }),
  batch: 100,
});

describe("SIEM delivery across worker processes", () => {
  it("a worker killed mid-batch: the next one resends the same batch under the same webhook-id; nothing is lost", async () => {
    const sub = await subscribe("/killed", 50);
    await x.append(200);
    const head = await x.headSeq();
    let held = 0;
    x.behaviours.set("/killed", (r, res) => {
      // The first batch is held on the wire: the worker that sent it dies before any answer.
      if (held === 0) {
        held = r.at;
        return;
      }
      acknowledge(r, res);
    });
    const first = startWorkerProcess();
    await enqueue(
      x.h.queues,
      "siem",
      { subscriptionId: SiemSubscriptionIdSchema.parse(sub.id) },
      { jobId: `siem.${sub.id}.first` },
    );
    await until("the first batch to be on the wire", () => held !== 0);
    const exited = new Promise((r) => first.once("exit", r));
    first.kill("SIGKILL");
    await exited;
    const [inflight] = await x.h.admin<
      { id: string | null }[]
    >`select inflight_webhook_id as id from siem_subscriptions where id = ${sub.id}`;
    expect(inflight!.id).toBe(at("/killed")[0]!.id);

    // A second worker; the monitor's sweep enqueues the subscription once its lease has expired.
    startWorkerProcess();
    await until(
      "the stream to catch up on the second worker",
      async () => {
        await sweepSiemSubscriptions(sweepDeps());
        return (await cursorOf(sub.id)) === head;
      },
      90_000,
    );
    const got = at("/killed");
    expect(got[1]!.id).toBe(got[0]!.id);
    expect(recordsOf(got[1]!)).toEqual(recordsOf(got[0]!));
    // Completeness and order, the duplicate dropped by its webhook-id as a receiver would.
    const seen = new Set<string>();
    const seqs = got
      .filter((b) => (seen.has(b.id) ? false : (seen.add(b.id), true)))
      .flatMap((b) => recordsOf(b).map((r) => r.seq));
    expect(seqs).toEqual(Array.from({ length: head - sub.cursorSeq }, (_, i) => sub.cursorSeq + 1 + i));
  }, 120_000);

  it("two worker processes with jobs for the same subscription never deliver it concurrently", async () => {
    const sub = await subscribe("/contended", 25);
    await x.append(500);
    const head = await x.headSeq();
    x.behaviours.set("/contended", (r, res) => {
      // Slow answers widen the window in which a second deliverer would overlap.
      setTimeout(() => acknowledge(r, res), 40);
    });
    startWorkerProcess();
    startWorkerProcess();
    let n = 0;
    await until(
      "the contended stream to catch up",
      async () => {
        // Duplicate jobs for one subscription, as two monitors or a stalled job's redelivery would make.
        n++;
        await Promise.all(
          [0, 1, 2].map((k) =>
            enqueue(
              x.h.queues,
              "siem",
              { subscriptionId: SiemSubscriptionIdSchema.parse(sub.id) },
              { jobId: `siem.${sub.id}.${n}.${k}` },
            ),
          ),
        );
        await new Promise((r) => setTimeout(r, 200));
        return (await cursorOf(sub.id)) === head;
      },
      120_000,
    );
    expect(x.concurrency.get("/contended")?.max).toBe(1);
    const got = at("/contended");
    // No crash, so no duplicates at all: every batch once, every event once, in order.
    expect(new Set(got.map((b) => b.id)).size).toBe(got.length);
    expect(got.flatMap((b) => recordsOf(b).map((r) => r.seq))).toEqual(
      Array.from({ length: head - sub.cursorSeq }, (_, i) => sub.cursorSeq + 1 + i),
    );
  }, 150_000);
});
