/**
 * bench/scale — the same Postgres and Redis served by 1, 2 and 4 worker PROCESSES, and by 1 and 2 ingest processes.
 *  - workers: `apps/worker/dist/main.js` processes (WORKER_CONCURRENCY each, the env the e2e worker harness builds),
 *    the sandbox GitHub in a process of its own (bench/worker/setup.ts); BENCH_RUNS pr-review runs on the offline model
 *    are committed (as ingest dispatches them), their jobs added, and the clock runs until all are finished → runs/s,
 *    and the workers' CPU per run (from /proc). Each phase starts fresh processes and warms them up first.
 *  - ingest: `apps/ingest/dist/main.js` processes on loopback ports, loaded by TWO autocannon processes
 *    (bench/scale/load.ts; BENCH_CONNECTIONS in all, split between them) with signed GitHub pull_request bodies as
 *    bench/ingest builds them; with one ingest process both generators hit it, with two each hits its own → req/s.
 * Every figure comes from the same machine in the same run; the last line is one JSON object with the ratios
 * (runs/s with N processes ÷ runs/s with 1; req/s with 2 ingest processes ÷ with 1) and the figures behind them.
 * The machine's core count is printed and in the JSON: N processes cannot go faster than the cores they share.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { availableParallelism, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { removeRedisPrefix } from "@praxa/queue";
import { startBenchFleet, type WorkerProcess } from "../worker/setup.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 300);
const CONCURRENCY = Number(process.env.WORKER_CONCURRENCY ?? 4);
const WORKER_PROCS = (process.env.BENCH_WORKER_PROCS ?? "1,2,4")
  .split(",")
  .map(Number)
  .filter((n) => n > 0);
const INGEST_PROCS = (process.env.BENCH_INGEST_PROCS ?? "1,2")
  .split(",")
  .map(Number)
  .filter((n) => n > 0);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 4000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const GENERATORS = 2;
const SECRET = "bench-github-webhook-secret-012";
const INSTALLATION = 5150;
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const require = createRequire(import.meta.url);
const tsx = join(dirname(require.resolve("tsx/package.json")), "dist", "cli.mjs");
const cores = availableParallelism();

const fleet = await startBenchFleet({ prefix: "praxa_bench_scale", concurrency: CONCURRENCY });
const children = new Set<ChildProcess>();

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

interface WorkerPhase {
  readonly procs: number;
  readonly runsPerSecond: number;
  readonly cpuMsPerRun: number;
  readonly seconds: number;
  /** The machine's 1-minute load average when the phase ended (other tenants of the machine included). */
  readonly load: number;
}

async function workerPhase(procs: number): Promise<WorkerPhase> {
  const workers: WorkerProcess[] = [];
  for (let i = 0; i < procs; i++) workers.push(await fleet.startWorker({ LOG_LEVEL: "info" }));
  try {
    const warm = await fleet.createRuns(4 * CONCURRENCY * procs);
    await fleet.enqueueRuns(warm);
    await fleet.waitFinished(warm);
    const ids = await fleet.createRuns(RUNS);
    const cpu0 = workers.reduce((s, w) => s + (w.cpuMs() ?? 0), 0);
    const t0 = performance.now();
    await fleet.enqueueRuns(ids);
    await fleet.waitFinished(ids);
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = workers.reduce((s, w) => s + (w.cpuMs() ?? 0), 0);
    const bad = await fleet.admin<{ status: string; n: number }[]>`
      select status, count(*)::int as n from agent_runs where id = any(${ids as string[]}) and status <> 'succeeded' group by status`;
    if (bad.length > 0) throw new Error(`runs did not all succeed: ${JSON.stringify(bad)}`);
    return {
      procs,
      runsPerSecond: RUNS / seconds,
      cpuMsPerRun: (cpu1 - cpu0) / RUNS,
      seconds,
      load: loadavg()[0] ?? 0,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

async function startIngest(prefix: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, "apps", "ingest", "dist", "main.js")], {
    cwd: fleet.env.PRAXA_KEY_FILE ? dirname(fleet.env.PRAXA_KEY_FILE) : root,
    env: {
      PATH: process.env.PATH ?? "",
      NODE_ENV: "test",
      LOG_LEVEL: "info",
      INGEST_DATABASE_URL: fleet.roleUrl("praxa_ingest"),
      REDIS_URL: fleet.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      PRAXA_QUEUE_PREFIX: prefix,
      GITHUB_WEBHOOK_SECRET: SECRET,
      INGEST_PORT: String(port),
      INGEST_HOST: "127.0.0.1",
      INGEST_WORKSPACE_RATE_PER_SECOND: "100000",
      INGEST_TRIGGER_KEY_FILE: join(dirname(fleet.env.PRAXA_KEY_FILE ?? "/tmp/x"), `ingest-trigger-${port}.key`),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`ingest exited during start (${code})`));
    child.once("exit", onExit);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.includes("ingest listening")) {
        child.off("exit", onExit);
        resolve();
      }
      if (process.env.BENCH_WORKER_LOG) process.stderr.write(`${line}\n`);
    });
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
}

let prBase = 1_000_000;
function generate(url: string, connections: number, amount: number): Promise<LoadResult> {
  const base = prBase;
  prBase += amount + 1;
  const child = spawn(process.execPath, [tsx, join(here, "load.ts")], {
    cwd: root,
    env: {
      ...process.env,
      LOAD_URL: url,
      LOAD_CONNECTIONS: String(connections),
      LOAD_AMOUNT: String(amount),
      LOAD_SECRET: SECRET,
      LOAD_INSTALLATION: String(INSTALLATION),
      LOAD_PR_BASE: String(base),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  return new Promise((resolve, reject) => {
    let last = "";
    createInterface({ input: child.stdout! }).on("line", (l) => (last = l));
    child.once("exit", (code) => {
      children.delete(child);
      if (code !== 0) reject(new Error(`load generator exited ${code}`));
      else resolve(JSON.parse(last) as LoadResult);
    });
  });
}

interface IngestPhase {
  readonly procs: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
}

async function ingestPhase(procs: number): Promise<IngestPhase> {
  // Every phase starts from the same state: no queued backlog (no worker drains these runs), the fleet's default
  // look-ahead (ingest dispatches on the spot only while it has room, and counts what is dispatched per request).
  await fleet.admin`update agent_runs set status = 'cancelled', failure_class = 'cancelled', dispatched_at = null,
                      finished_at = now() where status = 'queued'`;
  await fleet.admin`update fleet_settings set dispatch_ahead = 64`;
  const prefix = `bench-scale-ingest-${randomUUID()}`;
  const servers = await Promise.all(Array.from({ length: procs }, () => startIngest(prefix)));
  try {
    const target = (i: number) => servers[i % procs]!.url;
    const per = Math.floor(REQUESTS / GENERATORS);
    const conns = Math.max(1, Math.floor(CONNECTIONS / GENERATORS));
    // Warm-up: JIT and pools of every process.
    await Promise.all(Array.from({ length: GENERATORS }, (_, i) => generate(target(i), conns, Math.ceil(per / 4))));
    const results = await Promise.all(Array.from({ length: GENERATORS }, (_, i) => generate(target(i), conns, per)));
    const requests = results.reduce((s, r) => s + r.requests, 0);
    // Each generator's own clock excludes its start-up; the slower one bounds the phase.
    const seconds = Math.max(...results.map((r) => r.seconds), 0.001);
    return {
      procs,
      rps: requests / seconds,
      p50: Math.max(...results.map((r) => r.p50)),
      p99: Math.max(...results.map((r) => r.p99)),
      non2xx: results.reduce((s, r) => s + r.non2xx, 0),
    };
  } finally {
    for (const s of servers) {
      const exited = new Promise<void>((r) => s.child.once("exit", () => r()));
      s.child.kill("SIGTERM");
      await exited;
      children.delete(s.child);
    }
    await removeRedisPrefix(fleet.redis, prefix).catch(() => undefined);
  }
}

try {
  const workers: WorkerPhase[] = [];
  for (const n of WORKER_PROCS) workers.push(await workerPhase(n));
  const ingests: IngestPhase[] = [];
  for (const n of INGEST_PROCS) ingests.push(await ingestPhase(n));
  const w1Rate = (workers.find((w) => w.procs === 1) ?? workers[0])?.runsPerSecond ?? Number.NaN;
  const i1Rate = (ingests.find((i) => i.procs === 1) ?? ingests[0])?.rps ?? Number.NaN;
  console.log(
    `bench/scale on ${cores} cores (shared by the workers or ingest processes, the sandbox GitHub, the load generators, Postgres and Redis)`,
  );
  console.log(`workers (concurrency ${CONCURRENCY} each, ${RUNS} pr-review runs, one workspace, offline model):`);
  for (const w of workers)
    console.log(
      `  ${w.procs} process(es): ${w.runsPerSecond.toFixed(1)} runs/s (×${(w.runsPerSecond / w1Rate).toFixed(2)}), worker CPU ${w.cpuMsPerRun.toFixed(1)} ms/run, ${w.seconds.toFixed(1)} s, load average ${w.load.toFixed(1)}`,
    );
  console.log(`ingest (${GENERATORS} autocannon processes, ${CONNECTIONS} connections in all, ${REQUESTS} requests):`);
  for (const i of ingests)
    console.log(
      `  ${i.procs} process(es): ${i.rps.toFixed(0)} req/s (×${(i.rps / i1Rate).toFixed(2)}), p50 ${i.p50} ms, p99 ${i.p99} ms, non-2xx ${i.non2xx}`,
    );
  const ratio = (n: number) => {
    const w = workers.find((x) => x.procs === n);
    return w ? Number((w.runsPerSecond / w1Rate).toFixed(3)) : null;
  };
  const i2 = ingests.find((i) => i.procs === 2);
  console.log(
    JSON.stringify({
      bench: "scale",
      ratio: ratio(2),
      unit: "runs/s with 2 worker processes ÷ with 1 (higher is better)",
      ours: Number((workers.find((w) => w.procs === 2)?.runsPerSecond ?? 0).toFixed(1)),
      baseline: Number(w1Rate.toFixed(1)),
      cores,
      load_average: Number((loadavg()[0] ?? 0).toFixed(1)),
      worker_runs_per_s: Object.fromEntries(workers.map((w) => [w.procs, Number(w.runsPerSecond.toFixed(1))])),
      worker_cpu_ms_per_run: Object.fromEntries(workers.map((w) => [w.procs, Number(w.cpuMsPerRun.toFixed(1))])),
      worker_ratio_2: ratio(2),
      worker_ratio_4: ratio(4),
      ingest_req_per_s: Object.fromEntries(ingests.map((i) => [i.procs, Math.round(i.rps)])),
      ingest_p99_ms: Object.fromEntries(ingests.map((i) => [i.procs, i.p99])),
      ingest_ratio_2: i2 ? Number((i2.rps / i1Rate).toFixed(3)) : null,
      worker_concurrency: CONCURRENCY,
      runs: RUNS,
      requests: REQUESTS,
      connections: CONNECTIONS,
    }),
  );
} finally {
  for (const c of children) c.kill("SIGTERM");
  await fleet.close();
}
