/**
 * bench/worker — pull-request runs per second through the real worker, against two baselines measured in the same run.
 *  - ours: N pr-review runs (the built-in Skill on the offline model) through one worker PROCESS
 *    (`apps/worker/dist/main.js`, WORKER_CONCURRENCY) against the sandbox GitHub in a process of its own
 *    (github-sandbox.ts; real HTTP on loopback). Run rows are committed first, as ingest commits a run it dispatches on
 *    the spot, then the clock starts, all `{runId}` jobs are added and we wait until every run is finished. Each run:
 *    claim by id under a lease (with its context) → guards → model → tools as the GitHub App → review posted → signed
 *    audit event → finish.
 *  - baseline 1: a no-op BullMQ Worker on the same Redis, same concurrency and job options (jobs/s), in this process.
 *  - baseline 2: plain INSERTs of an agent_runs-like row (a copy of the table without RLS, triggers or keys), at the
 *    same concurrency (rows/s). Both baselines process 10 × N items (BENCH_BASELINE_ITEMS) so their clock is not noise.
 * CPU per run (`cpu_ms_per_run`) is the worker process's own CPU over the phase (from /proc), divided by N: the
 * sandbox GitHub, the enqueuer and the poller are other processes and are reported apart. Postgres CPU is read from
 * /proc for the backends connected to the bench database. Postgres transactions per run (`pg_transactions`) are the
 * pg_stat_database xact_commit + xact_rollback delta of the phase, less the poller's own, ÷ N (the worker's
 * dispatcher passes and the audit writer's group commits included). BENCH_CPU_PROF=<dir> writes the worker's
 * --cpu-prof profile there. Ratio = ours runs/s ÷ no-op BullMQ jobs/s.
 */
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { newId, type RunId } from "@praxa/core";
import { createRedis, JOB_CATALOG, Queue, Worker } from "@praxa/queue";
import { procCpuMs } from "../proc-cpu.js";
import { startBenchFleet } from "./setup.js";

const N = Number(process.env.BENCH_RUNS ?? 200);
const CONCURRENCY = Number(process.env.WORKER_CONCURRENCY ?? 4);
const WARMUP = 8;
// The baselines are far faster; 10× the items keeps their clock well above timer and start-up noise.
const BASELINE_ITEMS = Number(process.env.BENCH_BASELINE_ITEMS ?? N * 10);
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const PROF_DIR = process.env.BENCH_CPU_PROF;

const fleet = await startBenchFleet({ prefix: "praxa_bench_worker", concurrency: CONCURRENCY });
const { admin, ws, redis } = fleet;
const prefix = fleet.env.PRAXA_QUEUE_PREFIX ?? "";
const poller = postgres(fleet.adminUrl, { max: 1, onnotice: () => {} });
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

interface Phase {
  readonly perSecond: number;
  /** This process's CPU (baselines), or the worker process's (ours). */
  readonly cpuMsPerItem: number;
  readonly pgCpuMsPerItem: number | null;
  readonly seconds: number;
  readonly pgXactsPerItem?: number;
  readonly sandboxCpuMsPerItem?: number | null;
  readonly benchCpuMsPerItem?: number;
}

/** Enqueue every run, wait until all are finished; CPU of the worker, the sandbox, this process and the backends. */
async function runPhase(worker: { cpuMs(): number | null }, ids: readonly RunId[]): Promise<Phase> {
  const x0 = await fleet.xacts();
  const meter = pgCpuMeter();
  meter.sample(await dbPids());
  const w0 = worker.cpuMs() ?? 0;
  const s0 = procCpuMs(fleet.sandboxPid);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fleet.enqueueRuns(ids);
  const polls = await fleet.waitFinished(ids);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const w1 = worker.cpuMs() ?? 0;
  const s1 = procCpuMs(fleet.sandboxPid);
  meter.sample(await dbPids());
  // The poller's own transactions: its polls and the two xact reads (the meter's pid reads are another connection).
  const pgXactsPerItem = ((await fleet.xacts()) - x0 - polls - 1) / ids.length;
  return {
    perSecond: ids.length / seconds,
    cpuMsPerItem: (w1 - w0) / ids.length,
    pgCpuMsPerItem: pgVisible ? meter.total() / ids.length : null,
    seconds,
    pgXactsPerItem,
    sandboxCpuMsPerItem: s0 === null || s1 === null ? null : (s1 - s0) / ids.length,
    benchCpuMsPerItem: (cpu.user + cpu.system) / 1000 / ids.length,
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
  const pool = postgres(fleet.adminUrl, { max: CONCURRENCY, onnotice: () => {} });
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

const worker = await fleet.startWorker(
  { LOG_LEVEL: "info" },
  PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${PROF_DIR}`] : [],
);
try {
  // Warm-up: JIT, pools, the installation token, the audit chain head.
  await runPhase(worker, await fleet.createRuns(WARMUP));
  const noop = await noopBaseline(BASELINE_ITEMS);
  const ids = await fleet.createRuns(N);
  const ghBefore = await fleet.githubCalls();
  const ours = await runPhase(worker, ids);
  const ghAfter = await fleet.githubCalls();
  const ghCalls = Object.entries(ghAfter)
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
    `worker bench: ${N} runs (baselines: ${BASELINE_ITEMS} items), concurrency ${CONCURRENCY}, one workspace, offline model, worker and sandbox GitHub in processes of their own`,
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
    `ours' process CPU is the worker process's alone; the sandbox GitHub took ${ours.sandboxCpuMsPerItem?.toFixed(2) ?? "n/a"} ms/run in its own process, this bench process (enqueuer, poller) ${ours.benchCpuMsPerItem?.toFixed(2) ?? "n/a"} ms/run; baselines' CPU is this process's. Postgres CPU: ${pgVisible ? "the bench database’s backends, from /proc" : "not measured (Postgres is not on this host)"}`,
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
      sandbox_cpu_ms_per_run:
        ours.sandboxCpuMsPerItem === null || ours.sandboxCpuMsPerItem === undefined
          ? null
          : Number(ours.sandboxCpuMsPerItem.toFixed(2)),
      pg_transactions: Number((ours.pgXactsPerItem ?? 0).toFixed(1)),
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
  await worker.stop();
  await poller.end({ timeout: 5 });
  await fleet.close();
}
