/**
 * bench/ingest — verified GitHub webhooks per second, to a durable run row and a `{runId}` job, over loopback with
 * autocannon. Baseline, measured in the same run with the same client: the same Fastify route doing only the HMAC
 * check and answering 202. Every request is a distinct PR (distinct body, delivery id and signature), so nothing is
 * deduplicated away. Prints throughput and p50/p99 latency for both, then the JSON line.
 */
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import autocannon from "autocannon";
import Fastify from "fastify";
import postgres from "postgres";
import { manifestHash, newId } from "@praxa/core";
import { createDatabase, createTestDatabase, sampleManifest, seedWorkspaceFixture } from "@praxa/db";
import { buildIngestServer, createWorkspaceLimiter, verifyGithubSignature } from "@praxa/ingest";
import { createLogger } from "@praxa/observability";
import { createQueues, createRedis, redisReady } from "@praxa/queue";

const SECRET = "bench-github-webhook-secret-012";
const AMOUNT = Number(process.env.BENCH_REQUESTS ?? 4000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const template = JSON.parse(
  readFileSync(new URL("../../test/data/fixtures/github/pull_request.opened.json", import.meta.url), "utf8"),
) as Record<string, unknown>;

let counter = 0;
function nextRequest(): { body: string; headers: Record<string, string> } {
  counter++;
  const body = JSON.stringify({
    ...template,
    number: counter,
    pull_request: { ...(template.pull_request as object), number: counter },
  });
  return {
    body,
    headers: {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": "sha256=" + createHmac("sha256", SECRET).update(body).digest("hex"),
    },
  };
}

const SLACK_SECRET = "bench-slack-signing-secret-0123";
const slackTemplate = JSON.parse(
  readFileSync(new URL("../../test/data/fixtures/slack/event_callback.app_mention.json", import.meta.url), "utf8"),
) as Record<string, unknown>;
function nextSlackRequest(): { body: string; headers: Record<string, string> } {
  counter++;
  const body = JSON.stringify({ ...slackTemplate, event_id: `Ev${String(counter).padStart(10, "0")}` });
  const ts = String(Math.floor(Date.now() / 1000));
  return {
    body,
    headers: {
      "content-type": "application/json",
      "x-slack-request-timestamp": ts,
      "x-slack-signature": "v0=" + createHmac("sha256", SLACK_SECRET).update(`v0:${ts}:${body}`).digest("hex"),
    },
  };
}

async function loadSlack(url: string): Promise<{ rps: number; p50: number; p99: number; max: number; non2xx: number }> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    amount: Math.floor(AMOUNT / 2),
    requests: [
      { method: "POST", path: "/webhooks/slack/events", setupRequest: (req) => ({ ...req, ...nextSlackRequest() }) },
    ],
  });
  return {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
  };
}

async function load(url: string): Promise<{ rps: number; p50: number; p99: number; non2xx: number }> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    amount: AMOUNT,
    requests: [{ method: "POST", path: "/webhooks/github", setupRequest: (req) => ({ ...req, ...nextRequest() }) }],
  });
  return {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
  };
}

const tdb = await createTestDatabase({ prefix: "praxa_bench_ingest" });
const admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
const ws = await seedWorkspaceFixture(tdb.adminUrl, "A", { installationId: "1" });
{
  const slackManifest = sampleManifest({
    slug: "slack-answer",
    name: "Slack answer",
    triggers: ["slack.app_mention"],
    tools: ["slack.post_message"],
  });
  const skillId = newId("skill");
  await admin`insert into integrations (workspace_id, id, provider, external_id, bot_identity) values (${ws.workspaceId}, ${newId("integration")}, 'slack', 'T00FAKE00BB', ${admin.json({ user_id: "U00FAKEBOT02" })})`;
  await admin`insert into skills (workspace_id, id, slug, name) values (${ws.workspaceId}, ${skillId}, 'slack-answer', 'Slack answer')`;
  await admin`insert into skill_versions (workspace_id, id, skill_id, version, manifest, manifest_hash) values (${ws.workspaceId}, ${newId("skillVersion")}, ${skillId}, 1, ${admin.json(slackManifest as never)}, ${manifestHash(slackManifest)})`;
}
const db = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 10 });
const redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", "producer");
await redisReady(redis);
const prefix = `bench-${randomUUID()}`;
const queues = createQueues(redis, prefix);
const ours = await buildIngestServer({
  config: {
    GITHUB_WEBHOOK_SECRET: SECRET,
    SLACK_SIGNING_SECRET: SLACK_SECRET,
    INGEST_BODY_LIMIT_BYTES: 5 << 20,
    INGEST_UNVERIFIED_RATE_PER_MINUTE: 60,
    INGEST_TRUST_PROXY: false,
  },
  database: db,
  queues,
  limiter: createWorkspaceLimiter(redis, prefix, 1_000_000),
  log: createLogger({ name: "bench", level: "silent" }),
  now: Date.now,
  githubAppId: undefined,
  ready: async () => ({ postgres: true, redis: true }),
});
const baseline = Fastify({ logger: false, bodyLimit: 5 << 20 });
baseline.removeAllContentTypeParsers();
baseline.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
baseline.post("/webhooks/github", async (req, reply) => {
  const ok = verifyGithubSignature(
    SECRET,
    req.body as Buffer,
    req.headers["x-hub-signature-256"] as string | undefined,
  );
  return reply.status(ok ? 202 : 401).send({ runIds: [] });
});
try {
  const oursUrl = await ours.listen({ port: 0, host: "127.0.0.1" });
  const baseUrl = await baseline.listen({ port: 0, host: "127.0.0.1" });
  await load(baseUrl); // warm-up
  await load(oursUrl);
  const b = await load(baseUrl);
  const o = await load(oursUrl);
  const sl = await loadSlack(oursUrl);
  const [runs] = await admin<{ n: number }[]>`select count(*)::int as n from agent_runs`;
  console.log(
    `baseline (HMAC + 202):            ${b.rps.toFixed(0)} req/s, p50 ${b.p50} ms, p99 ${b.p99} ms, non-2xx ${b.non2xx}`,
  );
  console.log(
    `ingest (verify → run row → job):  ${o.rps.toFixed(0)} req/s, p50 ${o.p50} ms, p99 ${o.p99} ms, non-2xx ${o.non2xx}`,
  );
  console.log(
    `slack events (verify → run row → job): ${sl.rps.toFixed(0)} req/s, p50 ${sl.p50} ms, p99 ${sl.p99} ms, max ${sl.max} ms (Slack allows 3,000 ms), non-2xx ${sl.non2xx}`,
  );
  console.log(`durable run rows written: ${runs?.n ?? 0}; ratio ours/baseline = ${(o.rps / b.rps).toFixed(3)}`);
  console.log(
    JSON.stringify({
      bench: "ingest",
      ratio: Number((o.rps / b.rps).toFixed(3)),
      unit: "req/s (ours/baseline, higher is better)",
      ours: Math.round(o.rps),
      baseline: Math.round(b.rps),
      p50_ms: o.p50,
      p99_ms: o.p99,
      baseline_p50_ms: b.p50,
      baseline_p99_ms: b.p99,
      slack_p99_ms: sl.p99,
      slack_max_ms: sl.max,
    }),
  );
} finally {
  await ours.close();
  await baseline.close();
  await queues
    .get("runs")
    .obliterate({ force: true })
    .catch(() => {});
  await queues.close();
  redis.disconnect();
  await db.close();
  await admin.end({ timeout: 5 });
  await tdb.drop();
}
