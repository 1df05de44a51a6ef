/**
 * bench/ingest — verified GitHub webhooks per second, each to a durable run row and a `{runId}` job, at 16 connections.
 *
 *  - ours: the real ingest server (`buildIngestServer`, a `praxa_ingest` pool of 10 as `main.ts` opens it): verify, one
 *    `ingest_accept_delivery` call per request — concurrent requests' calls grouped into one statement and one commit
 *    (delivery-writer.ts) —, the workspace limiter asked after the commit, then the job added.
 *  - baseline, measured in the same run with the same load: a naive Fastify route doing the same HMAC check, then one
 *    INSERT of the run row (a plain table, pool of 10) and one `queue.add` of `{runId}` (jobId = runId), answering 202.
 *
 *  - before (printed for the record, not in the ratio): the same server's work as intake did it before 0028 — three
 *    definer calls per request (resolve the installation, the subscribed Skills, create the runs), one commit each.
 *
 * The load generator (autocannon) runs in a process of its own (load-generator.ts), posting the same kind of signed
 * GitHub bodies to both — each a distinct PR with a fresh delivery id, so nothing is deduplicated away. Phases
 * alternate (baseline, ours) × BENCH_ROUNDS after a warm-up of each, and the medians are reported.
 *
 * Every run is dispatched on the spot, as on a fleet that keeps up, so ours adds a job for every request as the baseline
 * does: the fleet's look-ahead and the workspace cap are raised, and a drain stands in for the workers — every 100 ms
 * it marks the dispatched runs finished (one UPDATE), so the in-flight counts ingest reads stay what a fleet that keeps
 * up would leave (no worker consumes the jobs here). Each ours phase posts to a fresh workspace, and the table is
 * vacuumed between phases, so every round starts alike.
 *
 * Prints throughput and p50/p99 of both, a Slack phase (ours only), then the JSON line with `ratio_vs_naive`.
 */
import { spawn } from "node:child_process";
import { createHash, createHmac, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import Fastify from "fastify";
import postgres from "postgres";
import { z } from "zod";
import { manifestHash, newId } from "@praxa/core";
import {
  createDatabase,
  createRunsForDelivery,
  createTestDatabase,
  resolveInstallation,
  sampleManifest,
  seedWorkspaceFixture,
  setFleetSettings,
  subscribedSkills,
} from "@praxa/db";
import {
  askWorkspaceLimiter,
  buildIngestServer,
  createDeliveryWriter,
  createWorkspaceLimiter,
  mapGithubEvent,
  verifyGithubSignature,
} from "@praxa/ingest";
import { createLogger } from "@praxa/observability";
import { createQueues, createRedis, enqueue, redisReady, runJobId } from "@praxa/queue";
import { procCpuMs } from "../proc-cpu.js";

const SECRET = "bench-github-webhook-secret-012";
const SLACK_SECRET = "bench-slack-signing-secret-0123";
const AMOUNT = Number(process.env.BENCH_REQUESTS ?? 4000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const here = dirname(fileURLToPath(import.meta.url));
const tsx = join(dirname(createRequire(import.meta.url).resolve("tsx/package.json")), "dist", "cli.mjs");

const LoadResult = z.object({
  rps: z.number(),
  p50: z.number(),
  p90: z.number(),
  p99: z.number(),
  max: z.number(),
  non2xx: z.number(),
  errors: z.number(),
});
type LoadResult = z.infer<typeof LoadResult>;

let offset = 0;
/** One phase of load from a process of its own. */
function load(url: string, kind: "github" | "slack", installationId: string, amount = AMOUNT): Promise<LoadResult> {
  const args = {
    url,
    kind,
    amount,
    connections: CONNECTIONS,
    offset,
    installationId,
    secret: kind === "github" ? SECRET : SLACK_SECRET,
  };
  offset += amount;
  const child = spawn(process.execPath, [tsx, join(here, "load-generator.ts")], {
    env: { ...process.env, BENCH_LOAD: JSON.stringify(args) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let line = "";
    createInterface({ input: child.stdout }).on("line", (l) => (line = l));
    child.once("exit", (code) =>
      code === 0 ? resolve(LoadResult.parse(JSON.parse(line))) : reject(new Error(`load generator exited ${code}`)),
    );
  });
}

/** CPU of this process (the servers) and of the bench database's Postgres backends, per request of one phase. */
async function metered<T extends LoadResult>(
  amount: number,
  phase: () => Promise<T>,
): Promise<T & { cpuMs: number; pgCpuMs: number | null }> {
  // The servers' pools only: the admin connections (the drain standing in for the workers, the vacuum) are not counted.
  const pids = async () =>
    (
      await admin<{ pid: number }[]>`select pid from pg_stat_activity
                                      where datname = current_database() and application_name <> 'bench-admin'`
    ).map((r) => r.pid);
  const before = new Map((await pids()).map((pid) => [pid, procCpuMs(pid)]));
  const cpu0 = process.cpuUsage();
  const result = await phase();
  const cpu = process.cpuUsage(cpu0);
  let pg: number | null = 0;
  for (const pid of await pids()) {
    const now = procCpuMs(pid);
    if (now === null) pg = null;
    else if (pg !== null) pg += now - (before.get(pid) ?? 0);
  }
  return {
    ...result,
    cpuMs: (cpu.user + cpu.system) / 1000 / amount,
    pgCpuMs: pg === null ? null : pg / amount,
  };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
};

const tdb = await createTestDatabase({ prefix: "praxa_bench_ingest" });
const admin = postgres(tdb.adminUrl, {
  max: 2,
  onnotice: () => {},
  connection: { application_name: "bench-admin" },
});
const owner = createDatabase(tdb.adminUrl, { max: 1 });
await setFleetSettings(owner, { defaultWorkspaceConcurrency: 100_000, dispatchAhead: 100_000 });
// One workspace per ours phase (installation ids 1001, 1002, …), and one with Slack.
let installations = 1000;
async function freshWorkspace(): Promise<string> {
  installations++;
  await seedWorkspaceFixture(tdb.adminUrl, `B${installations}`, {
    installationId: String(installations),
    auditChain: false,
  });
  return String(installations);
}
const slackWs = await seedWorkspaceFixture(tdb.adminUrl, "S", { installationId: "999", auditChain: false });
{
  const slackManifest = sampleManifest({
    slug: "slack-answer",
    name: "Slack answer",
    triggers: ["slack.app_mention"],
    tools: ["slack.post_message"],
  });
  const skillId = newId("skill");
  await admin`insert into integrations (workspace_id, id, provider, external_id, bot_identity) values (${slackWs.workspaceId}, ${newId("integration")}, 'slack', 'T00FAKE00BB', ${admin.json({ user_id: "U00FAKEBOT02" })})`;
  await admin`insert into skills (workspace_id, id, slug, name) values (${slackWs.workspaceId}, ${skillId}, 'slack-answer', 'Slack answer')`;
  await admin`insert into skill_versions (workspace_id, id, skill_id, version, manifest, manifest_hash) values (${slackWs.workspaceId}, ${newId("skillVersion")}, ${skillId}, 1, ${admin.json(slackManifest as never)}, ${manifestHash(slackManifest)})`;
}
// The naive route's table: the run row's columns, no RLS, no triggers, no definer function.
await admin`create table naive_runs (id text primary key, delivery_id text not null unique, workspace_id text not null,
  trigger text not null, input jsonb not null, status text not null default 'queued', created_at timestamptz not null default now())`;

const db = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 10 });
const naiveDb = postgres(tdb.adminUrl, { max: 10, onnotice: () => {} });
const redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", "producer");
await redisReady(redis);
const prefix = `bench-${randomUUID()}`;
const queues = createQueues(redis, prefix);
const naiveQueues = createQueues(redis, `${prefix}-naive`);
const ours = await buildIngestServer({
  config: {
    GITHUB_WEBHOOK_SECRET: SECRET,
    SLACK_SIGNING_SECRET: SLACK_SECRET,
    INGEST_BODY_LIMIT_BYTES: 5 << 20,
    INGEST_UNVERIFIED_RATE_PER_MINUTE: 60,
    INGEST_TRUST_PROXY: false,
  },
  database: db,
  ...(process.env.BENCH_WRITER_CONCURRENCY
    ? { deliveries: createDeliveryWriter(db, { concurrency: Number(process.env.BENCH_WRITER_CONCURRENCY) }) }
    : {}),
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
  const body = req.body as Buffer;
  if (!verifyGithubSignature(SECRET, body, req.headers["x-hub-signature-256"] as string | undefined))
    return reply.status(401).send({ error: { code: "SIGNATURE_INVALID" } });
  const payload = JSON.parse(body.toString("utf8")) as { number: number; pull_request: { head?: { sha?: string } } };
  const runId = newId("run");
  await naiveDb`insert into naive_runs (id, delivery_id, workspace_id, trigger, input)
                values (${runId}, ${String(req.headers["x-github-delivery"])}, 'ws_naive', 'github.pull_request.opened',
                        ${naiveDb.json({ prNumber: payload.number, headSha: payload.pull_request.head?.sha ?? null })})`;
  await naiveQueues.get("runs").add("run", { runId }, { jobId: runId });
  return reply.status(202).send({ runIds: [runId] });
});

// Before 0028: intake's three definer calls, one transaction each (apps/ingest/src/intake.ts as it was).
const beforeLimiter = createWorkspaceLimiter(redis, `${prefix}-before`, 1_000_000);
const silent = createLogger({ name: "bench-before", level: "silent" });
const before = Fastify({ logger: false, bodyLimit: 5 << 20 });
before.removeAllContentTypeParsers();
before.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
before.post("/webhooks/github", async (req, reply) => {
  const body = req.body as Buffer;
  if (!verifyGithubSignature(SECRET, body, req.headers["x-hub-signature-256"] as string | undefined))
    return reply.status(401).send({ error: { code: "SIGNATURE_INVALID" } });
  const mapped = mapGithubEvent("pull_request", JSON.parse(body.toString("utf8")));
  if (mapped.kind !== "event" || mapped.event.source !== "github") return reply.status(400).send({});
  const event = mapped.event;
  const deliveryId = String(req.headers["x-github-delivery"]);
  const installation = await resolveInstallation(db, "github", event.externalId);
  if (!installation) return reply.status(400).send({});
  const skills = await subscribedSkills(db, installation.workspace_id, event.trigger);
  const created = await createRunsForDelivery(db, {
    source: "github",
    deliveryId,
    bodySha256: createHash("sha256").update(body).digest("hex"),
    workspaceId: installation.workspace_id,
    trigger: event.trigger,
    input: event.input,
    runs: skills.map((s) => ({ runId: newId("run"), skillId: s.skill_id })),
    integrationId: installation.integration_id,
  });
  const delayMs = await askWorkspaceLimiter(
    beforeLimiter,
    { workspaceId: installation.workspace_id, deliveryId, nowMs: Date.now() },
    { log: silent },
  );
  for (const [i, runId] of created.run_ids.entries()) {
    const seq = created.dispatch_seqs[i] ?? 0;
    if (created.statuses[i] === "queued" && seq > 0)
      await enqueue(
        queues,
        "run",
        { runId },
        { jobId: runJobId(runId, seq), ...(delayMs > 0 ? { delay: delayMs } : {}) },
      );
  }
  return reply.status(202).send({ runIds: created.run_ids });
});

const drainOnce = () =>
  admin`update agent_runs set status = 'succeeded', dispatched_at = null, finished_at = now()
         where status = 'queued' and dispatched_at is not null`;
let draining = true;
const drain = (async () => {
  while (draining) {
    await drainOnce();
    await new Promise((r) => setTimeout(r, 100));
  }
})();
const settle = async () => {
  await drainOnce();
  await admin`vacuum analyze agent_runs`;
};
try {
  const oursUrl = await ours.listen({ port: 0, host: "127.0.0.1" });
  const baseUrl = await baseline.listen({ port: 0, host: "127.0.0.1" });
  const beforeUrl = await before.listen({ port: 0, host: "127.0.0.1" });
  // Sanity: a signed body through ours is a run row and a job.
  {
    const body = JSON.stringify({ zen: "ping" });
    const ping = await fetch(`${oursUrl}/webhooks/github`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "ping",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": "sha256=" + createHmac("sha256", SECRET).update(body).digest("hex"),
      },
      body,
    });
    if (ping.status !== 200) throw new Error(`ours answered ${ping.status} to a ping`);
  }
  const warm = await freshWorkspace();
  await load(baseUrl, "github", warm, Math.min(1000, AMOUNT));
  await load(oursUrl, "github", warm, Math.min(1000, AMOUNT));
  await settle();
  type Metered = LoadResult & { cpuMs: number; pgCpuMs: number | null };
  const b: Metered[] = [];
  const o: Metered[] = [];
  const pre: Metered[] = [];
  const loads: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    b.push(await metered(AMOUNT, () => load(baseUrl, "github", "0")));
    const inst = await freshWorkspace();
    loads.push(loadavg()[0] ?? 0);
    o.push(await metered(AMOUNT, () => load(oursUrl, "github", inst)));
    await settle();
    const instBefore = await freshWorkspace();
    pre.push(await metered(AMOUNT, () => load(beforeUrl, "github", instBefore)));
    await settle();
    const last = o.at(-1) as Metered;
    const lastB = b.at(-1) as Metered;
    console.log(
      `round ${r + 1}: naive ${lastB.rps.toFixed(0)} req/s (p50 ${lastB.p50} ms, p99 ${lastB.p99} ms) · ours ${last.rps.toFixed(0)} req/s (p50 ${last.p50} ms, p99 ${last.p99} ms) · ratio ${(last.rps / lastB.rps).toFixed(3)}; CPU per request: server process ${lastB.cpuMs.toFixed(2)} vs ${last.cpuMs.toFixed(2)} ms, Postgres ${lastB.pgCpuMs?.toFixed(2) ?? "n/a"} vs ${last.pgCpuMs?.toFixed(2) ?? "n/a"} ms`,
    );
  }
  const sl = await load(oursUrl, "slack", "999", Math.floor(AMOUNT / 2));
  const preRps = median(pre.map((x) => x.rps));
  const [runs] = await admin<{ n: number }[]>`select count(*)::int as n from agent_runs`;
  const [naiveRows] = await admin<{ n: number }[]>`select count(*)::int as n from naive_runs`;
  const oursRps = median(o.map((x) => x.rps));
  const baseRps = median(b.map((x) => x.rps));
  const ratios = o.map((x, i) => x.rps / (b[i] as Metered).rps);
  const non2xx = [...o, ...b].reduce((n, x) => n + x.non2xx + x.errors, 0);
  console.log(
    `naive (HMAC + INSERT + queue.add):          ${baseRps.toFixed(0)} req/s, p50 ${median(b.map((x) => x.p50))} ms, p99 ${median(b.map((x) => x.p99))} ms (median of ${ROUNDS})`,
  );
  console.log(
    `ingest (verify → one definer call → job):    ${oursRps.toFixed(0)} req/s, p50 ${median(o.map((x) => x.p50))} ms, p99 ${median(o.map((x) => x.p99))} ms (median of ${ROUNDS})`,
  );
  console.log(
    `before 0028 (3 definer calls, a commit each): ${preRps.toFixed(0)} req/s, p50 ${median(pre.map((x) => x.p50))} ms, p99 ${median(pre.map((x) => x.p99))} ms; ratio ${median(pre.map((x, i) => x.rps / (b[i] as Metered).rps)).toFixed(3)}; CPU per request: process ${median(pre.map((x) => x.cpuMs)).toFixed(2)} ms, Postgres ${pre.every((x) => x.pgCpuMs !== null) ? median(pre.map((x) => x.pgCpuMs as number)).toFixed(2) : "n/a"} ms`,
  );
  console.log(
    `slack events (verify → run row → job): ${sl.rps.toFixed(0)} req/s, p50 ${sl.p50} ms, p99 ${sl.p99} ms, max ${sl.max} ms (Slack allows 3,000 ms)`,
  );
  console.log(
    `rows: ${runs?.n ?? 0} run rows, ${naiveRows?.n ?? 0} naive rows; non-2xx or errors: ${non2xx}; 1-min load average during ours: ${loads.map((l) => l.toFixed(2)).join(", ")} (2 cores, shared)`,
  );
  console.log(
    JSON.stringify({
      bench: "ingest",
      ratio: Number(median(ratios).toFixed(3)),
      ratio_vs_naive: Number(median(ratios).toFixed(3)),
      unit: "req/s (ours/naive INSERT + queue.add, same out-of-process load, higher is better)",
      ours: Math.round(oursRps),
      baseline: Math.round(baseRps),
      connections: CONNECTIONS,
      p50_ms: median(o.map((x) => x.p50)),
      p99_ms: median(o.map((x) => x.p99)),
      baseline_p50_ms: median(b.map((x) => x.p50)),
      baseline_p99_ms: median(b.map((x) => x.p99)),
      rounds: ROUNDS,
      slack_p99_ms: sl.p99,
      slack_max_ms: sl.max,
      non_2xx: non2xx,
      cpu_ms_per_request: Number(median(o.map((x) => x.cpuMs)).toFixed(3)),
      baseline_cpu_ms_per_request: Number(median(b.map((x) => x.cpuMs)).toFixed(3)),
      pg_cpu_ms_per_request: o.every((x) => x.pgCpuMs !== null)
        ? Number(median(o.map((x) => x.pgCpuMs as number)).toFixed(3))
        : null,
      baseline_pg_cpu_ms_per_request: b.every((x) => x.pgCpuMs !== null)
        ? Number(median(b.map((x) => x.pgCpuMs as number)).toFixed(3))
        : null,
      load_average: Number(median(loads).toFixed(2)),
      before_0028: Math.round(preRps),
      before_0028_p99_ms: median(pre.map((x) => x.p99)),
      ratio_before_0028_vs_naive: Number(median(pre.map((x, i) => x.rps / (b[i] as Metered).rps)).toFixed(3)),
    }),
  );
} finally {
  draining = false;
  await drain;
  await ours.close();
  await baseline.close();
  await before.close();
  for (const q of [queues, naiveQueues])
    await q
      .get("runs")
      .obliterate({ force: true })
      .catch(() => {});
  await queues.close();
  await naiveQueues.close();
  redis.disconnect();
  await db.close();
  await owner.close();
  await naiveDb.end({ timeout: 5 });
  await admin.end({ timeout: 5 });
  await tdb.drop();
}
