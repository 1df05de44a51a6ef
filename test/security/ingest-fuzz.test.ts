/**
 * Fuzzing ingest (fast-check, 1,500 cases across the routes): random bodies and headers, and real fixtures mutated
 * and then correctly signed — so they get past verification and reach parsing and resolution. Properties: never a
 * 5xx; never a run without a valid signature; never a run from a malformed event.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import postgres from "postgres";
import { createDatabase, createTestDatabase, seedWorkspaceFixture, type Database, type TestDatabase } from "@praxa/db";
import { buildIngestServer, createWorkspaceLimiter, mapGithubEvent, slackSignature } from "@praxa/ingest";
import { createLogger } from "@praxa/observability";
import { createQueues, createRedis, redisReady, removeRedisPrefix, type QueueSet, type Redis } from "@praxa/queue";

const SECRET = "fuzz-github-webhook-secret-0123";
const SLACK = "fuzz-slack-signing-secret-01234";
let tdb: TestDatabase;
let admin: postgres.Sql;
let db: Database;
let redis: Redis;
let queues: QueueSet;
let base: string;
let close: () => Promise<void>;
const prefix = `test-${randomUUID()}`;
const fixtures = [
  "pull_request.opened",
  "pull_request.synchronize",
  "pull_request.reopened",
  "pull_request.closed",
  "issue_comment.created",
  "ping",
].map(
  (n) =>
    JSON.parse(readFileSync(new URL(`../data/fixtures/github/${n}.json`, import.meta.url), "utf8")) as Record<
      string,
      unknown
    >,
);
const slackFixture = JSON.parse(
  readFileSync(new URL("../data/fixtures/slack/event_callback.app_mention.json", import.meta.url), "utf8"),
) as Record<string, unknown>;

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  await seedWorkspaceFixture(tdb.adminUrl, "A", { installationId: "1" });
  await admin`delete from run_steps; delete from agent_run_events; delete from agent_runs`.simple();
  db = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 4 });
  redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", "producer");
  await redisReady(redis);
  queues = createQueues(redis, prefix);
  const app = await buildIngestServer({
    config: {
      GITHUB_WEBHOOK_SECRET: SECRET,
      SLACK_SIGNING_SECRET: SLACK,
      INGEST_BODY_LIMIT_BYTES: 64 * 1024,
      INGEST_UNVERIFIED_RATE_PER_MINUTE: 1_000_000,
      INGEST_TRUST_PROXY: false,
    },
    database: db,
    queues,
    limiter: createWorkspaceLimiter(redis, prefix, 1_000_000),
    log: createLogger({ name: "fuzz", level: "silent" }),
    now: Date.now,
    githubAppId: 1,
    ready: async () => ({ postgres: true, redis: true }),
  });
  base = await app.listen({ port: 0, host: "127.0.0.1" });
  close = () => app.close();
});
afterAll(async () => {
  await close?.();
  await queues?.close();
  if (redis) await removeRedisPrefix(redis, prefix);
  redis?.disconnect();
  await db?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

async function post(path: string, headers: Record<string, string>, body: string | Buffer) {
  const res = await fetch(base + path, { method: "POST", headers, body });
  const text = await res.text();
  return { status: res.status, text };
}
const runCount = async () => (await admin<{ n: number }[]>`select count(*)::int as n from agent_runs`)[0]?.n ?? 0;

/** Mutate a JSON value: drop, retype or replace fields at random depths. */
const mutation = fc.array(
  fc.tuple(fc.array(fc.string({ maxLength: 12 }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 2 })),
  { minLength: 1, maxLength: 4 },
);
function mutate(obj: Record<string, unknown>, edits: [string[], unknown][]): unknown {
  const copy = structuredClone(obj) as Record<string, unknown>;
  const keys = (o: unknown) => (o && typeof o === "object" ? Object.keys(o) : []);
  for (const [path, value] of edits) {
    let node: unknown = copy;
    for (const step of path.slice(0, -1)) {
      const k = keys(node);
      if (k.length === 0) break;
      node = (node as Record<string, unknown>)[k[step.length % k.length] ?? ""];
    }
    if (node && typeof node === "object") {
      const k = keys(node);
      const target =
        k.length > 0 && path.length % 2 === 0 ? (k[(path[0]?.length ?? 0) % k.length] ?? "x") : (path.at(-1) ?? "x");
      if (value === null && path.length % 3 === 0) delete (node as Record<string, unknown>)[target];
      else (node as Record<string, unknown>)[target] = value;
    }
  }
  return copy;
}

describe("ingest fuzz", () => {
  it("random bodies and headers without a valid signature: never a 5xx, never a run (600 cases)", async () => {
    const before = await runCount();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("/webhooks/github", "/webhooks/slack/events", "/webhooks/slack/interactions"),
        fc.oneof(
          fc.string({ maxLength: 2000 }),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b).toString("latin1")),
        ),
        fc.dictionary(
          fc.constantFrom(
            "x-github-event",
            "x-github-delivery",
            "x-hub-signature-256",
            "x-slack-signature",
            "x-slack-request-timestamp",
            "content-type",
            "x-slack-retry-num",
          ),
          fc.string({ maxLength: 80 }).map((s) => s.replace(/[^\x20-\x7e]/g, "")),
        ),
        async (path, body, headers) => {
          const res = await post(path, headers, body);
          expect(res.status).toBeLessThan(500);
          expect([400, 401, 404, 413, 415, 429]).toContain(res.status);
        },
      ),
      { numRuns: 600 },
    );
    expect(await runCount()).toBe(before);
  });

  it("real fixtures mutated then correctly signed: never a 5xx, and a run only from an event that parses (700 cases)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: fixtures.length - 1 }), mutation, async (i, edits) => {
        const fixture = fixtures[i] ?? {};
        const eventName = "pull_request" in fixture ? "pull_request" : "issue" in fixture ? "issue_comment" : "ping";
        const payload = mutate(fixture, edits as [string[], unknown][]);
        const body = JSON.stringify(payload);
        const before = await runCount();
        const res = await post(
          "/webhooks/github",
          {
            "content-type": "application/json",
            "x-github-event": eventName,
            "x-github-delivery": randomUUID(),
            "x-hub-signature-256": "sha256=" + createHmac("sha256", SECRET).update(body).digest("hex"),
          },
          body,
        );
        expect(res.status).toBeLessThan(500);
        const created = (await runCount()) - before;
        const mapped = mapGithubEvent(eventName, payload);
        if (mapped.kind === "ignored") expect(created).toBe(0);
        else expect(created).toBeLessThanOrEqual(1);
      }),
      { numRuns: 700 },
    );
  });

  it("Slack bodies mutated then correctly signed: never a 5xx (200 cases)", async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async (edits) => {
        const body = JSON.stringify(mutate(slackFixture, edits as [string[], unknown][]));
        const ts = String(Math.floor(Date.now() / 1000));
        const res = await post(
          "/webhooks/slack/events",
          {
            "content-type": "application/json",
            "x-slack-request-timestamp": ts,
            "x-slack-signature": slackSignature(SLACK, ts, Buffer.from(body)),
          },
          body,
        );
        expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 200 },
    );
  });
});
