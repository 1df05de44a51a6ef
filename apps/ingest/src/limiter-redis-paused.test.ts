/**
 * The workspace limiter never stands between a verified delivery and its commit. A Redis of the test's own (a real
 * `redis-server` on a free loopback port) is frozen with SIGSTOP — connected, accepting bytes, answering nothing, the
 * way a fault probe's paused Redis looked — and a signed GitHub webhook sent through the ingest server:
 *  - its run row is committed while Redis is still frozen, even when intake would wait for the limiter for ten minutes
 *    (so the limiter is asked after the commit, not before it);
 *  - with the default bound, the webhook is answered 202 while Redis is still frozen, the run enqueued once Redis
 *    thaws.
 * No durations are asserted: "still frozen" is a fact of the test (Redis thaws only when the test resumes it, or on a
 * safety deadline that makes the test fail).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { sign as octokitSign } from "@octokit/webhooks-methods";
import { redisReady } from "@praxa/queue";
import { startPrivateRedis, type PrivateRedis } from "@praxa/testkit";
import { fixture, GITHUB_SECRET, startHarness, type Harness, type Served } from "./test-harness.js";

/** Only a guard against a hung test: if reached, Redis is thawed and the test fails on its "while frozen" checks. */
const SAFETY_DEADLINE_MS = 20_000;

let redisServer: PrivateRedis;
let h: Harness;

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  h = await startHarness(redisServer.url);
});
afterAll(async () => {
  redisServer?.resume();
  await h?.close();
  await redisServer?.stop();
});

async function send(app: Served, prNumber: number) {
  const o = JSON.parse(fixture("github/pull_request.opened.json").toString("utf8")) as Record<string, unknown>;
  (o as { number: number }).number = prNumber;
  const payload = JSON.stringify(o);
  return app.inject({
    method: "POST",
    url: "/webhooks/github",
    headers: {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": await octokitSign(GITHUB_SECRET, payload),
    },
    payload,
  });
}

async function runOf(prNumber: number): Promise<{ id: string; status: string } | undefined> {
  const [row] = await h.admin<{ id: string; status: string }[]>`
    select id, status from agent_runs where trigger = 'github.pull_request.opened' and (input->>'prNumber')::int = ${prNumber}`;
  return row;
}

/** Freeze Redis for the duration of `fn`; thawed after it (or at the safety deadline). */
async function whileFrozen<T>(fn: () => Promise<T>): Promise<T> {
  await h.redis.ping(); // the connection is up and ready before the freeze
  redisServer.pause();
  const guard = setTimeout(() => redisServer.resume(), SAFETY_DEADLINE_MS);
  try {
    return await fn();
  } finally {
    clearTimeout(guard);
    redisServer.resume();
  }
}

describe("a paused Redis does not hold a verified delivery back from its commit", () => {
  it("the run row is committed while Redis is frozen, even with a limiter bound of ten minutes", async () => {
    const app = await h.server({ limiterTimeoutMs: 600_000 });
    const pr = 7101;
    let response: ReturnType<typeof send> | undefined;
    const seenWhileFrozen = await whileFrozen(async () => {
      expect(h.redis.status).toBe("ready"); // connected: commands are sent, never answered
      response = send(app, pr);
      response.catch(() => {});
      for (;;) {
        const row = await runOf(pr);
        if (row) return { row, frozen: redisServer.paused };
        if (!redisServer.paused) return { row: undefined, frozen: false };
        await new Promise((r) => setTimeout(r, 25));
      }
    });
    expect(seenWhileFrozen.frozen).toBe(true);
    expect(seenWhileFrozen.row?.status).toBe("queued");
    // Thawed: the limiter answers, the job is enqueued, the webhook answered with the committed run.
    const res = await response;
    expect(res?.statusCode).toBe(202);
    const runId = seenWhileFrozen.row?.id ?? "";
    expect(res?.json()).toEqual({ runIds: [runId] });
    expect((await h.queues.get("runs").getJob(`${runId}.1`))?.data).toEqual({ runId });
  });

  it("with the default bound, the webhook is answered 202 while Redis is still frozen", async () => {
    const app = await h.server();
    const pr = 7102;
    const answered = await whileFrozen(async () => {
      const res = await send(app, pr);
      return { res, frozen: redisServer.paused, row: await runOf(pr) };
    });
    expect(answered.frozen).toBe(true);
    expect(answered.res.statusCode).toBe(202);
    const runId = answered.row?.id ?? "";
    expect(answered.res.json()).toEqual({ runIds: [runId] });
    expect(answered.row?.status).toBe("queued");
    // The enqueue that timed out while Redis was frozen lands once it thaws (the job id is the run id).
    await redisReady(h.redis);
    for (let i = 0; i < 200 && !(await h.queues.get("runs").getJob(`${runId}.1`)); i++)
      await new Promise((r) => setTimeout(r, 25));
    expect((await h.queues.get("runs").getJob(`${runId}.1`))?.data).toEqual({ runId });
  });
});
