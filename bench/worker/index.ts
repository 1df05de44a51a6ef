/**
 * bench/worker — pull-request runs per second through the real worker, against two baselines measured in the same run.
 *  - ours: N pr-review runs (the built-in Skill on the offline model) through `startWorker` in this process, at
 *    WORKER_CONCURRENCY: run rows are inserted first (as ingest would), then the clock starts, all `{runId}` jobs are
 *    enqueued and we wait until every run is finished. Each run: claim by id under a lease → guards → model → tools as
 *    the GitHub App against the sandbox GitHub (loopback, real HTTP) → review posted → signed audit event → finish.
 *  - baseline 1: a no-op BullMQ Worker on the same Redis, same concurrency and job options (jobs/s).
 *  - baseline 2: plain INSERTs of an agent_runs-like row (a copy of the table without RLS, triggers or keys), at the
 *    same concurrency (rows/s). Both baselines process 10 × N items (BENCH_BASELINE_ITEMS) so their clock is not noise.
 * CPU per run is `process.cpuUsage()` over the phase: this process hosts the worker, the sandbox GitHub, the enqueuer
 * and the poller. Postgres CPU is read from /proc for the backends connected to the bench database (skipped when
 * Postgres is not on this host). What one run does (model calls, tool calls, audit events, GitHub requests, Postgres
 * transactions from pg_stat_database) is counted afterwards and printed: today's pr-review makes 2 model calls and 2
 * tool calls with one audit event, not the "3 tool calls, ~4 audit events" shape issue #8 imagined.
 * Ratio = ours runs/s ÷ no-op BullMQ jobs/s.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { newId } from "@praxa/core";
import { createDatabase, createTestDatabase, seedWorkspaceFixture } from "@praxa/db";
import { createQueues, createRedis, enqueue, JOB_CATALOG, Queue, Worker } from "@praxa/queue";
import { PR_REVIEW_MANIFEST } from "@praxa/skills";
import { startGithubServer } from "@praxa/testkit";
import { createKeyProvider, runKeysJob, startWorker } from "@praxa/worker";
import { procCpuMs } from "../proc-cpu.js";

const N = Number(process.env.BENCH_RUNS ?? 200);
const CONCURRENCY = Number(process.env.WORKER_CONCURRENCY ?? 4);
const WARMUP = 8;
// The baselines are far faster; 10× the items keeps their clock well above timer and start-up noise.
const BASELINE_ITEMS = Number(process.env.BENCH_BASELINE_ITEMS ?? N * 10);
const APP_ID = 777001;
const INSTALLATION = 5150;
const BOT = "praxa-sandbox[bot]";
const TERMINAL = ["succeeded", "failed", "skipped", "cancelled"];
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

const appKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ format: "pem", type: "pkcs8" })
  .toString();
const patch = (lines: readonly string[]): string =>
  [`@@ -0,0 +1,${lines.length} @@`, ...lines.map((l) => `+${l}`)].join("\n");
// A risky change with one finding (→ request_changes with an inline comment) and an ordinary file.
const FILES = [
  {
    filename: "src/payments/checkout.ts",
    patch: patch(["export function charge(amount: number) {", "  console.log(amount);", "  return amount * 100;", "}"]),
  },
  {
    filename: "src/cart/total.ts",
    patch: patch(["export const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);"]),
  },
];

const tdb = await createTestDatabase({ prefix: "praxa_bench_worker" });
const admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
const poller = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
const [{ pid: pollerPid } = { pid: 0 }] = await poller<{ pid: number }[]>`select pg_backend_pid() as pid`;
const pgVisible = procCpuMs(pollerPid) !== null;

/** Postgres backend CPU of the bench database's connections (except the poller's), sampled while a phase runs. */
function pgCpuMeter() {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  let started = false;
  return {
    sample(pids: readonly number[]) {
      for (const pid of pids) {
        if (pid === pollerPid) continue;
        const ms = procCpuMs(pid);
        if (ms === null) continue;
        if (!first.has(pid)) first.set(pid, started ? 0 : ms); // a backend that appeared mid-phase counts from birth
        last.set(pid, ms);
      }
      started = true;
    },
    total: () => [...last].reduce((sum, [pid, ms]) => sum + ms - (first.get(pid) ?? 0), 0),
  };
}
const dbPids = async () =>
  (await poller<{ pid: number }[]>`select pid from pg_stat_activity where datname = current_database()`).map(
    (r) => r.pid,
  );

const ws = await seedWorkspaceFixture(tdb.adminUrl, "W", {
  manifest: PR_REVIEW_MANIFEST,
  installationId: String(INSTALLATION),
  botLogin: BOT,
});
// The fixture's BYOK credential has no sealed secret behind it; without it the worker picks the offline model.
await admin`delete from llm_credentials where workspace_id = ${ws.workspaceId}`;
const gh = await startGithubServer({
  appId: APP_ID,
  privateKeyPem: appKey,
  installations: [{ id: INSTALLATION, account: "acme", permissions: { pull_requests: "write", contents: "read" } }],
  botLogin: BOT,
});
const dir = mkdtempSync(join(tmpdir(), "praxa-bench-worker-"));
const prefix = `bench-${randomUUID()}`;
const redis = createRedis(REDIS_URL, "producer");
const queues = createQueues(redis, prefix);
const env: Record<string, string> = {
  NODE_ENV: "test",
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "silent",
  WORKER_DATABASE_URL: tdb.roleUrl("praxa_worker"),
  REDIS_URL,
  PRAXA_QUEUE_PREFIX: prefix,
  PRAXA_KEY_PROVIDER: "local",
  PRAXA_KEY_FILE: join(dir, "master.key"),
  PRAXA_AUDIT_SIGNING_KEY_FILE: join(dir, "audit-signing.key"),
  GITHUB_APP_ID: String(APP_ID),
  GITHUB_APP_PRIVATE_KEY: appKey,
  GITHUB_API_URL: gh.url,
  WORKER_CONCURRENCY: String(CONCURRENCY),
};
{
  // The workspace's key pair, made by the keys job as in production.
  const keysDb = createDatabase(tdb.roleUrl("praxa_worker"), { max: 1 });
  const provider = await createKeyProvider({
    NODE_ENV: "test",
    PRAXA_KEY_PROVIDER: "local",
    PRAXA_KEY_FILE: env.PRAXA_KEY_FILE ?? "",
    PRAXA_KMS_WRAP_KEY_ID: undefined,
    PRAXA_KMS_SIGN_KEY_ID: undefined,
    AWS_REGION: undefined,
    PRAXA_KMS_ENDPOINT: undefined,
  });
  await runKeysJob({ database: keysDb, provider, holder: "bench" }, ws.workspaceId, "create");
  await keysDb.close();
}

let prNumber = 0;
async function createRuns(count: number): Promise<string[]> {
  const rows = Array.from({ length: count }, () => {
    prNumber++;
    const headSha = randomUUID().replace(/-/g, "").padEnd(40, "0");
    gh.sandbox.addPullRequest({
      owner: "acme",
      repo: "shop",
      number: prNumber,
      title: `Change ${prNumber}`,
      body: "",
      author: { login: "dev", type: "User" },
      headSha,
      baseRef: "main",
      files: FILES.map((f) => ({ ...f })),
    });
    const input = {
      repo: "acme/shop",
      prNumber,
      headSha,
      baseRef: "main",
      draft: false,
      authorLogin: "dev",
      authorIsBot: false,
    };
    return {
      workspace_id: ws.workspaceId,
      id: newId("run"),
      skill_id: ws.skillId,
      skill_version_id: ws.skillVersionId,
      trigger: "github.pull_request.opened",
      source: "github",
      input: admin.json(input),
    };
  });
  await admin`insert into agent_runs ${admin(rows, "workspace_id", "id", "skill_id", "skill_version_id", "trigger", "source", "input")}`;
  return rows.map((r) => r.id);
}

interface Phase {
  readonly perSecond: number;
  readonly cpuMsPerItem: number;
  readonly pgCpuMsPerItem: number | null;
  readonly seconds: number;
  readonly pgXactsPerItem?: number;
}

/** Committed + rolled-back transactions of the bench database; backends flush these counters about 1 s after going idle. */
async function xacts(): Promise<number> {
  await new Promise((r) => setTimeout(r, 2_000));
  const [row] = await poller<
    { n: string }[]
  >`select (xact_commit + xact_rollback)::text as n from pg_stat_database where datname = current_database()`;
  return Number(row?.n ?? 0);
}

/** Enqueue every run, wait until all are finished; CPU of this process and of the database's backends. */
async function runPhase(ids: readonly string[]): Promise<Phase> {
  const x0 = await xacts();
  let pollerXacts = 2; // the x0 read and the first pid sample
  const meter = pgCpuMeter();
  meter.sample(await dbPids());
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(ids.map((runId) => enqueue(queues, "run", { runId: runId as never }, { jobId: runId })));
  for (;;) {
    const [row] = await poller<{ n: number; pids: number[] }[]>`
      select (select count(*)::int from agent_runs where id = any(${ids as string[]}) and status = any(${TERMINAL})) as n,
             (select coalesce(array_agg(pid), '{}') from pg_stat_activity where datname = current_database()) as pids`;
    pollerXacts++;
    meter.sample(row?.pids ?? []);
    if ((row?.n ?? 0) >= ids.length) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  meter.sample(await dbPids());
  pollerXacts++;
  const pgXactsPerItem = ((await xacts()) - x0 - pollerXacts) / ids.length;
  return {
    perSecond: ids.length / seconds,
    cpuMsPerItem: (cpu.user + cpu.system) / 1000 / ids.length,
    pgCpuMsPerItem: pgVisible ? meter.total() / ids.length : null,
    seconds,
    pgXactsPerItem,
  };
}

/** A no-op BullMQ worker on the same Redis, same concurrency and job options as the runs queue. */
async function noopBaseline(count: number): Promise<Phase> {
  const conn = createRedis(REDIS_URL, "worker");
  const queue = new Queue("noop", { connection: redis, prefix });
  const worker = new Worker("noop", async () => undefined, { connection: conn, prefix, concurrency: CONCURRENCY });
  let done = 0;
  let target = 0;
  let release: () => void = () => {};
  worker.on("completed", () => {
    if (++done >= target) release();
  });
  try {
    await worker.waitUntilReady();
    const measure = async (n: number): Promise<Phase> => {
      done = 0;
      target = n;
      const finished = new Promise<void>((r) => (release = r));
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: n }, () =>
          queue.add("noop", { runId: newId("run") }, { ...JOB_CATALOG.run.options, jobId: randomUUID() }),
        ),
      );
      await finished;
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      return {
        perSecond: n / seconds,
        cpuMsPerItem: (cpu.user + cpu.system) / 1000 / n,
        pgCpuMsPerItem: null,
        seconds,
      };
    };
    await measure(Math.min(WARMUP * 4, count)); // warm-up
    return await measure(count);
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    conn.disconnect();
  }
}

/** N plain INSERTs of an agent_runs-like row (no RLS, triggers, keys), CONCURRENCY at a time, as the admin. */
async function insertBaseline(count: number): Promise<Phase> {
  await admin`create table bench_plain_runs (like agent_runs including defaults)`;
  const pool = postgres(tdb.adminUrl, { max: CONCURRENCY, onnotice: () => {} });
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, () => pool`select 1`));
    const input = {
      repo: "acme/shop",
      prNumber: 1,
      headSha: "a".repeat(40),
      baseRef: "main",
      draft: false,
      authorLogin: "dev",
      authorIsBot: false,
    };
    const meter = pgCpuMeter();
    meter.sample(await dbPids());
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < count) {
          next++;
          await pool`insert into bench_plain_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input)
                     values (${ws.workspaceId}, ${newId("run")}, ${ws.skillId}, ${ws.skillVersionId}, 'github.pull_request.opened', 'github', ${pool.json(input)})`;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    meter.sample(await dbPids());
    return {
      perSecond: count / seconds,
      cpuMsPerItem: (cpu.user + cpu.system) / 1000 / count,
      pgCpuMsPerItem: pgVisible ? meter.total() / count : null,
      seconds,
    };
  } finally {
    await pool.end({ timeout: 5 });
  }
}

const worker = await startWorker(env);
try {
  // Warm-up: JIT, pools, the installation token, the audit chain head.
  await runPhase(await createRuns(WARMUP));
  const noop = await noopBaseline(BASELINE_ITEMS);
  const ids = await createRuns(N);
  const ghBefore = { ...gh.calls };
  const ours = await runPhase(ids);
  const ghCalls = Object.entries(gh.calls)
    .map(([k, v]) => [k, v - (ghBefore[k] ?? 0)] as const)
    .filter(([, v]) => v > 0);
  const plain = await insertBaseline(BASELINE_ITEMS);

  // What one run did, from the database.
  const statuses = await admin<
    { status: string; error_code: string | null; n: number }[]
  >`select status, error_code, count(*)::int as n from agent_runs where id = any(${ids}) group by status, error_code`;
  const bad = statuses.filter((s) => s.status !== "succeeded");
  if (bad.length > 0) throw new Error(`runs did not all succeed: ${JSON.stringify(statuses)}`);
  const [ev] = await admin<{ model: number; tools: number }[]>`
    select count(*) filter (where meta->>'tool_name' = 'model')::int as model, count(*) filter (where meta->>'tool_name' <> 'model')::int as tools
    from agent_run_events where run_id = any(${ids})`;
  const audits = await admin<
    { kind: string; n: number }[]
  >`select kind, count(*)::int as n from audit_events where run_id = any(${ids}) group by kind order by kind`;
  const [cp] = await admin<
    { n: number }[]
  >`select count(*)::int as n from audit_checkpoints where workspace_id = ${ws.workspaceId}`;
  const per = (n: number) => (n / N).toFixed(2);
  const auditTotal = audits.reduce((s, a) => s + a.n, 0);
  const ghTotal = ghCalls.reduce((s, [, v]) => s + v, 0);

  const pg = (p: Phase) => (p.pgCpuMsPerItem === null ? "   n/a" : p.pgCpuMsPerItem.toFixed(2).padStart(6));
  console.log(
    `worker bench: ${N} runs (baselines: ${BASELINE_ITEMS} items), concurrency ${CONCURRENCY}, one workspace, offline model, sandbox GitHub in-process`,
  );
  console.log(
    `per run: ${per(ev?.model ?? 0)} model calls, ${per(ev?.tools ?? 0)} tool calls, ${per(auditTotal)} audit events (${audits.map((a) => `${a.kind} ${a.n}`).join(", ")}), ${(ours.pgXactsPerItem ?? 0).toFixed(1)} Postgres transactions, ${per(ghTotal)} GitHub requests (${ghCalls.map(([k, v]) => `${k} ${v}`).join(", ")}); ${cp?.n ?? 0} audit checkpoints in the chain`,
  );
  console.log("                                 items/s   process CPU ms/item   Postgres CPU ms/item   wall s");
  console.log(
    `ours: pr-review runs          ${ours.perSecond.toFixed(1).padStart(10)}   ${ours.cpuMsPerItem.toFixed(2).padStart(19)}   ${pg(ours).padStart(20)}   ${ours.seconds.toFixed(2).padStart(6)}`,
  );
  console.log(
    `baseline: no-op BullMQ jobs   ${noop.perSecond.toFixed(1).padStart(10)}   ${noop.cpuMsPerItem.toFixed(2).padStart(19)}   ${pg(noop).padStart(20)}   ${noop.seconds.toFixed(2).padStart(6)}`,
  );
  console.log(
    `baseline: plain INSERTs       ${plain.perSecond.toFixed(1).padStart(10)}   ${plain.cpuMsPerItem.toFixed(2).padStart(19)}   ${pg(plain).padStart(20)}   ${plain.seconds.toFixed(2).padStart(6)}`,
  );
  console.log(
    `process CPU covers the worker, the sandbox GitHub, the enqueuer and the poller; Postgres CPU: ${pgVisible ? "the bench database’s backends, from /proc" : "not measured (Postgres is not on this host)"}`,
  );
  console.log(
    `ratio ours runs/s ÷ no-op BullMQ jobs/s = ${(ours.perSecond / noop.perSecond).toFixed(4)}; ÷ plain INSERT rows/s = ${(ours.perSecond / plain.perSecond).toFixed(4)}`,
  );
  console.log(
    JSON.stringify({
      bench: "worker",
      ratio: Number((ours.perSecond / noop.perSecond).toFixed(4)),
      unit: "runs/s ÷ no-op BullMQ jobs/s (higher is better)",
      ours: Number(ours.perSecond.toFixed(1)),
      baseline: Number(noop.perSecond.toFixed(1)),
      ratio_insert: Number((ours.perSecond / plain.perSecond).toFixed(4)),
      insert_rows_per_s: Number(plain.perSecond.toFixed(1)),
      cpu_ms_per_run: Number(ours.cpuMsPerItem.toFixed(2)),
      noop_cpu_ms_per_job: Number(noop.cpuMsPerItem.toFixed(3)),
      pg_cpu_ms_per_run: ours.pgCpuMsPerItem === null ? null : Number(ours.pgCpuMsPerItem.toFixed(2)),
      per_run: {
        model_calls: Number(per(ev?.model ?? 0)),
        tool_calls: Number(per(ev?.tools ?? 0)),
        audit_events: Number(per(auditTotal)),
        github_requests: Number(per(ghTotal)),
        pg_transactions: Number((ours.pgXactsPerItem ?? 0).toFixed(1)),
      },
      concurrency: CONCURRENCY,
      runs: N,
      baseline_items: BASELINE_ITEMS,
    }),
  );
} finally {
  await worker.close();
  await queues
    .get("runs")
    .obliterate({ force: true })
    .catch(() => {});
  await queues
    .get("keys")
    .obliterate({ force: true })
    .catch(() => {});
  await queues.close();
  redis.disconnect();
  await poller.end({ timeout: 5 });
  await admin.end({ timeout: 5 });
  await tdb.drop();
  await gh.close();
  rmSync(dir, { recursive: true, force: true });
}
