/**
 * bench/fleet — fairness, quota isolation, caps and recovery of the fleet (issue #19), every figure against a baseline
 * measured in the same run. Processes: this driver (the load generator: it commits runs as ingest does, through
 * `ingest_create_runs`, and adds the jobs of runs dispatched on the spot), N worker processes (standin-worker.ts: the
 * real dispatcher, claim, lease, gates and deferral around a stand-in run body of one real-SDK model call plus
 * `input.workMs`), and stand-in model servers (model-standin.ts). Postgres and Redis are the machine's.
 * Phases:
 *  1. idle: B sends 50 runs 40 ms apart to an idle fleet → B's queue wait (started_at − created_at) p50/p99;
 *  2. flood: A commits 5 000 runs at once, then B sends the same 50 → B's wait under the flood (fair dispatch); and the
 *     same with A's 5 000 all in the queue ahead of B (a FIFO queue, what the fleet had before) for comparison;
 *  3. share: n = 2, 10, 100 workspaces each with a deep backlog; when half of all runs are done, each workspace's
 *     completions ÷ its fair share (total ÷ n) → the worst-off workspace's figure;
 *  4. quota: B alone for 10 s (runs/s); then A's key answers 429 for BENCH_QUOTA_SECONDS (30) while A and B are both
 *     backlogged → B's runs/s during that window ÷ B's solo runs/s (measured just before and just after), and how
 *     often A's runs were given back;
 *  5. cap: a cap of 5 on A, 4 worker processes of concurrency 4, A floods → the most of A's runs seen running at once
 *     (sampled every 50 ms);
 *  6. recovery: worker processes SIGKILLed while they hold long runs (lease 12 s, the default) → time from the kill to
 *     each of its runs being held again by another process.
 * Last line: one JSON object with wait_p99_ratio, worst_share (at 10 workspaces), quota_isolation, cap_max_seen, cap,
 * recovery_p99_s and the figures behind them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import postgres from "postgres";
import { newId, type RunId, type WorkspaceId } from "@praxa/core";
import {
  createDatabase,
  createRunsForDelivery,
  createTestDatabase,
  seedWorkspaceFixture,
  setFleetSettings,
  setWorkspaceCap,
  type WorkspaceFixture,
} from "@praxa/db";
import { createQueues, createRedis, enqueue, JOB_CATALOG, runJobId } from "@praxa/queue";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const PROCS = Number(process.env.BENCH_WORKER_PROCS ?? 2);
const CONC = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 8);
const WORK_MS = Number(process.env.BENCH_WORK_MS ?? 20);
const FLOOD = Number(process.env.BENCH_FLOOD ?? 5000);
const QUOTA_SECONDS = Number(process.env.BENCH_QUOTA_SECONDS ?? 30);
const KILLS = Number(process.env.BENCH_KILLS ?? 4);
const KEY = "sk-ant-bench-key";
const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
// `node --import <tsx>/dist/esm/index.mjs`: one process per worker or stand-in, so a signal reaches the process that
// holds the runs (tsx's CLI would run the script in a child of its own that a SIGKILL of the parent leaves alive).
const tsxEsm = pathToFileURL(join(dirname(require.resolve("tsx/package.json")), "dist", "esm", "index.mjs")).href;

const tdb = await createTestDatabase({ prefix: "praxa_bench_fleet" });
const admin = postgres(tdb.adminUrl, { max: 2, onnotice: () => {} });
const owner = createDatabase(tdb.adminUrl, { max: 1 });
const ingest = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 4 });
const prefix = `bench-fleet-${randomUUID()}`;
const redis = createRedis(REDIS_URL, "producer");
const queues = createQueues(redis, prefix);
const children = new Set<ChildProcess>();

const log = (s: string): void => void process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN);
};

log(`bench/fleet: ${PROCS} worker processes × concurrency ${CONC}, stand-in run body ${WORK_MS} ms + one model call`);
const workspaces: WorkspaceFixture[] = [];
for (let i = 0; i < 101; i++) workspaces.push(await seedWorkspaceFixture(tdb.adminUrl, `W${i}`, { auditChain: false }));
const [A, B] = workspaces as [WorkspaceFixture, WorkspaceFixture];

function spawnLine(script: string, env: Record<string, string>): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ["--import", tsxEsm, join(here, script)], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once("line", (line) => {
      resolve({ child, line });
      // Anything a worker logs afterwards (BENCH_LOG_LEVEL=warn) goes to this process's stderr.
      rl.on("line", (l) => process.stderr.write(`${l}\n`));
    });
    child.once("exit", (code) => reject(new Error(`${script} exited (${code}) before it was ready`)));
  });
}

async function modelServer(throttleForMs = 0): Promise<{ url: string; child: ChildProcess }> {
  const { child, line } = await spawnLine("model-standin.ts", {
    BENCH_MODEL_KEY: KEY,
    BENCH_THROTTLE_FOR_MS: String(throttleForMs),
  });
  return { url: line.trim(), child };
}

async function workers(
  n: number,
  concurrency: number,
  endpoints: Record<string, string>,
  leaseSeconds = 12,
): Promise<ChildProcess[]> {
  const map = Object.fromEntries(Object.entries(endpoints).map(([ws, url]) => [ws, { url, apiKey: KEY }]));
  const started = await Promise.all(
    Array.from({ length: n }, () =>
      spawnLine("standin-worker.ts", {
        BENCH_DATABASE_URL: tdb.roleUrl("praxa_worker"),
        REDIS_URL,
        PRAXA_QUEUE_PREFIX: prefix,
        CONCURRENCY: String(concurrency),
        LEASE_SECONDS: String(leaseSeconds),
        BENCH_MODEL_ENDPOINTS: JSON.stringify(map),
      }),
    ),
  );
  return started.map((s) => s.child);
}

async function stop(procs: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    procs.map(
      (c) =>
        new Promise((r) => {
          if (c.exitCode !== null || c.signalCode !== null) return r(null);
          c.once("exit", r);
          c.kill("SIGTERM");
          setTimeout(() => c.kill("SIGKILL"), 5_000).unref();
        }),
    ),
  );
}

/** A backlog committed at once (a burst ingest took while the workspace was already over its look-ahead). */
async function backlog(f: WorkspaceFixture, n: number, workMs = WORK_MS): Promise<void> {
  const ids = Array.from({ length: n }, () => newId("run"));
  for (let i = 0; i < ids.length; i += 2000) {
    const chunk = ids.slice(i, i + 2000);
    await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input)
                select ${f.workspaceId}, id, ${f.skillId}, ${f.skillVersionId}, 'github.pull_request.opened', 'github', ${admin.json({ workMs })}
                  from unnest(${chunk}::text[]) as id`;
  }
}

/** Backlogs of several workspaces committed in one transaction: none gets a head start while the others insert. */
async function backlogs(fs: readonly WorkspaceFixture[], n: number, workMs = WORK_MS): Promise<void> {
  await admin.begin(async (tx) => {
    for (const f of fs) {
      const ids = Array.from({ length: n }, () => newId("run"));
      await tx`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input)
               select ${f.workspaceId}, id, ${f.skillId}, ${f.skillVersionId}, 'github.pull_request.opened', 'github', ${tx.json({ workMs })}
                 from unnest(${ids}::text[]) as id`;
    }
  });
}

/** One run as ingest commits it: `ingest_create_runs` (dispatched on the spot when it overtakes nobody), then its job. */
async function ingestRun(f: WorkspaceFixture, workMs = WORK_MS): Promise<RunId> {
  const runId = newId("run");
  const created = await createRunsForDelivery(ingest, {
    source: "github",
    deliveryId: randomUUID(),
    bodySha256: randomUUID().replace(/-/g, "").padEnd(64, "0"),
    workspaceId: f.workspaceId as WorkspaceId,
    trigger: "github.pull_request.opened",
    input: { workMs },
    runs: [{ runId, skillId: f.skillId }],
    integrationId: f.integrationId,
  });
  const seq = created.dispatch_seqs[0] ?? 0;
  if (seq > 0) await enqueue(queues, "run", { runId }, { jobId: runJobId(runId, seq) }, { timeoutMs: 2_000 });
  return runId;
}

async function spaced(f: WorkspaceFixture, n: number, gapMs: number): Promise<RunId[]> {
  const ids: RunId[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(await ingestRun(f));
    await sleep(gapMs);
  }
  return ids;
}

async function waitDone(ids: readonly string[], timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await admin<
      { open: number }[]
    >`select count(*)::int as open from agent_runs where id = any(${ids as string[]}) and status in ('queued', 'running')`;
    if ((row?.open ?? 0) === 0) return;
    if (Date.now() > deadline) throw new Error("runs did not finish in time");
    await sleep(100);
  }
}

async function waits(ids: readonly string[]): Promise<number[]> {
  const rows = await admin<
    { ms: number }[]
  >`select extract(epoch from (started_at - created_at)) * 1000 as ms from agent_runs where id = any(${ids as string[]})`;
  return rows.map((r) => Number(r.ms));
}

/** End a phase: its worker processes stopped, whatever is still open cancelled (rows), the queue emptied. */
async function drain(procs: readonly ChildProcess[] = []): Promise<void> {
  for (const c of procs) c.kill("SIGKILL");
  await Promise.all(
    procs.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once("exit", r)))),
  );
  await admin`update agent_runs set status = 'cancelled', dispatched_at = null, lease_token = null, lease_holder = null,
              lease_expires_at = null, finished_at = now() where status in ('queued', 'running')`;
  await admin`delete from run_gates`;
  await queues.get("runs").obliterate({ force: true });
}

async function succeeded(ws: readonly string[]): Promise<Map<string, number>> {
  const rows = await admin<
    { w: string; n: number }[]
  >`select workspace_id as w, count(*)::int as n from agent_runs where workspace_id = any(${ws as string[]}) and status = 'succeeded' and source = 'github' and input ? 'workMs' group by 1`;
  return new Map(rows.map((r) => [r.w, r.n]));
}

const result: Record<string, number | string | null> = { bench: "fleet" };
// BENCH_PHASES=idle,flood,fifo,share,quota,cap,recovery (default: all) runs a subset; the figures of phases not run
// are null in the JSON line (flood needs idle for its ratio).
const PHASES = new Set((process.env.BENCH_PHASES ?? "idle,flood,fifo,share,quota,cap,recovery").split(","));
const phase = (name: string): boolean => PHASES.has(name);
let idle: number[] = [];
let fair: number[] = [];
let fifo: number[] = [];
const shares: Record<number, number> = {};
let during = NaN;
let solo = NaN;
let capMax = NaN;
const CAP = 5;
const recoveries: number[] = [];
try {
  // The look-ahead, as a multiple of the fleet's worker slots (BENCH_AHEAD_FACTOR, default 2: what docs/operations.md
  // recommends; with 1, a pass at a time could not refill 16 slots freed at ≈ 300 runs/s — quota isolation 0.81).
  const fleetSlots = Math.max(1, Math.round(PROCS * CONC * Number(process.env.BENCH_AHEAD_FACTOR ?? 2)));
  await setFleetSettings(owner, { defaultWorkspaceConcurrency: 100_000, dispatchAhead: fleetSlots });
  const normal = await modelServer();
  const allNormal = Object.fromEntries(workspaces.map((w) => [w.workspaceId, normal.url]));
  let procs = await workers(PROCS, CONC, allNormal);

  // 1. idle
  if (phase("idle")) {
    const idleIds = await spaced(B, 50, 40);
    await waitDone(idleIds);
    idle = await waits(idleIds);
    log(`idle: B's wait p50 ${pct(idle, 50).toFixed(1)} ms, p99 ${pct(idle, 99).toFixed(1)} ms`);
  }

  // 2. flood, fair dispatch
  if (phase("flood")) {
    await backlog(A, FLOOD);
    const floodStart = Date.now();
    const fairIds = await spaced(B, 50, 40);
    await waitDone(fairIds);
    fair = await waits(fairIds);
    const aDone = (await succeeded([A.workspaceId])).get(A.workspaceId) ?? 0;
    log(
      `flood (fair): B's wait p50 ${pct(fair, 50).toFixed(1)} ms, p99 ${pct(fair, 99).toFixed(1)} ms; A ran ${aDone} of ${FLOOD} meanwhile (${((aDone * 1000) / (Date.now() - floodStart)).toFixed(0)} runs/s)`,
    );
    await drain(procs);
    procs = await workers(PROCS, CONC, allNormal);
  }

  // 2b. the same flood in a plain FIFO queue, as the fleet had before: A's 5 000 jobs all added, in order and without
  // priorities, before B's arrive (the driver dispatches them itself, as ingest used to enqueue every run at once).
  if (phase("fifo")) {
    await setFleetSettings(owner, { dispatchAhead: 100_000 });
    const ids = Array.from({ length: FLOOD }, () => newId("run"));
    await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input, dispatched_at, dispatch_seq)
                select ${A.workspaceId}, id, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github', ${admin.json({ workMs: WORK_MS })}, now(), 1
                  from unnest(${ids}::text[]) as id`;
    await queues.get("runs").addBulk(
      ids.map((runId) => ({
        name: "run",
        data: { runId },
        opts: { ...JOB_CATALOG.run.options, jobId: runJobId(runId, 1) },
      })),
    );
    const fifoIds = await spaced(B, 50, 40);
    await waitDone(fifoIds);
    fifo = await waits(fifoIds);
    log(
      `flood (FIFO, for comparison): B's wait p50 ${pct(fifo, 50).toFixed(1)} ms, p99 ${pct(fifo, 99).toFixed(1)} ms`,
    );
    await drain(procs);
    procs = await workers(PROCS, CONC, allNormal);
    await setFleetSettings(owner, { dispatchAhead: fleetSlots });
  }

  // 3. shares
  for (const n of phase("share") ? [2, 10, 100] : []) {
    const group = workspaces.slice(1, n + 1);
    const per = Math.ceil(3000 / n);
    const before = await succeeded(group.map((g) => g.workspaceId));
    await backlogs(group, per);
    const total = per * n;
    for (;;) {
      const now = await succeeded(group.map((g) => g.workspaceId));
      const done = group.reduce((s, g) => s + (now.get(g.workspaceId) ?? 0) - (before.get(g.workspaceId) ?? 0), 0);
      if (done >= total / 2) {
        const fairShare = done / n;
        const worst = Math.min(
          ...group.map((g) => ((now.get(g.workspaceId) ?? 0) - (before.get(g.workspaceId) ?? 0)) / fairShare),
        );
        shares[n] = worst;
        log(
          `share: ${n} workspaces × ${per} runs, at ${done} done: worst-off workspace at ${worst.toFixed(3)} of fair`,
        );
        break;
      }
      await sleep(20);
    }
    await drain(procs);
    procs = await workers(PROCS, CONC, allNormal);
  }
  await stop(procs);

  // 4. quota isolation. B alone is measured just before and just after the 429 window, in the same conditions, and the
  // window is compared with their mean (this machine's other load moves the figures between phases).
  if (phase("quota")) {
    // Mean of B's runs running at once over a window (sampled every 100 ms): how much of the fleet B holds.
    const meanRunning = async (ms: number): Promise<number> => {
      const samples: number[] = [];
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const [row] = await admin<
          { n: number; d: number }[]
        >`select count(*) filter (where status = 'running')::int as n, count(*) filter (where status = 'queued' and dispatched_at is not null)::int as d
            from agent_runs where status in ('running', 'queued')`;
        samples.push(row?.n ?? 0);
        if (process.env.BENCH_DEBUG) {
          const per = await admin<
            { w: string; s: string; n: number }[]
          >`select case when workspace_id = ${A.workspaceId} then 'A' else 'B' end as w, case when status = 'running' then 'run' when dispatched_at is null then 'wait' else 'disp' end as s, count(*)::int as n
              from agent_runs where status in ('running', 'queued') group by 1, 2 order by 1, 2`;
          const t0 = performance.now();
          let got = -1;
          await admin
            .begin(async (tx) => {
              await tx`set local role praxa_worker`;
              got = (await tx`select * from public.dispatch_runs(16)`).length;
              throw new Error("rollback");
            })
            .catch(() => undefined);
          const jc = await queues.get("runs").getJobCounts("active", "waiting", "prioritized", "delayed");
          log(
            `  ${per.map((p) => `${p.w}.${p.s}=${p.n}`).join(" ")} pass ${(performance.now() - t0).toFixed(1)} ms (${got}) jobs ${JSON.stringify(jc)}`,
          );
        }
        await sleep(100);
      }
      return samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length);
    };
    let soloSlots = 0;
    const bSolo = async (): Promise<number> => {
      await backlog(B, 5_000);
      procs = await workers(PROCS, CONC, allNormal);
      await sleep(2_000);
      const from = (await succeeded([B.workspaceId])).get(B.workspaceId) ?? 0;
      soloSlots = await meanRunning(10_000);
      const to = (await succeeded([B.workspaceId])).get(B.workspaceId) ?? 0;
      await drain(procs);
      return (to - from) / 10;
    };
    const soloBefore = await bSolo();
    await backlog(A, 20_000);
    await backlog(B, 20_000);
    // A's key answers 429 from its first request on, for the window and a margin either side of it.
    const WARM_MS = 3_000;
    const throttled = await modelServer(WARM_MS + QUOTA_SECONDS * 1000 + 2_000);
    procs = await workers(PROCS, CONC, { ...allNormal, [A.workspaceId]: throttled.url });
    await sleep(WARM_MS);
    const qFrom = (await succeeded([B.workspaceId])).get(B.workspaceId) ?? 0;
    const quotaSlots = await meanRunning(QUOTA_SECONDS * 1000);
    const qTo = (await succeeded([B.workspaceId])).get(B.workspaceId) ?? 0;
    during = (qTo - qFrom) / QUOTA_SECONDS;
    const [aState] = await admin<
      { deferrals: number }[]
    >`select coalesce(sum(deferrals), 0)::int as deferrals from agent_runs where workspace_id = ${A.workspaceId}`;
    await drain(procs);
    throttled.child.kill("SIGTERM");
    const soloAfter = await bSolo();
    solo = (soloBefore + soloAfter) / 2;
    log(
      `quota: B alone ${soloBefore.toFixed(0)} then ${soloAfter.toFixed(0)} runs/s; while A's key answers 429: B ${during.toFixed(0)} runs/s; A's runs were given back ${aState?.deferrals ?? 0} times (no slot held while throttled); B held ${quotaSlots.toFixed(1)} of ${PROCS * CONC} slots on average (alone: ${soloSlots.toFixed(1)})`,
    );
  }

  // 5. cap
  if (phase("cap")) {
    await setFleetSettings(owner, { defaultWorkspaceConcurrency: 100_000, dispatchAhead: 16 });
    await setWorkspaceCap(owner, A.workspaceId as WorkspaceId, CAP);
    procs = await workers(4, 4, allNormal);
    await backlog(A, 300, 50);
    capMax = 0;
    for (;;) {
      const [row] = await admin<
        { running: number; open: number }[]
      >`select count(*) filter (where status = 'running')::int as running, count(*) filter (where status in ('queued', 'running'))::int as open
        from agent_runs where workspace_id = ${A.workspaceId}`;
      capMax = Math.max(capMax, row?.running ?? 0);
      if ((row?.open ?? 0) === 0) break;
      await sleep(50);
    }
    log(`cap: cap ${CAP}, 4 worker processes × 4: at most ${capMax} of A's runs running at once`);
    await setWorkspaceCap(owner, A.workspaceId as WorkspaceId, null);
    await stop(procs);
  }

  // 6. recovery
  for (let k = 0; k < (phase("recovery") ? KILLS : 0); k++) {
    procs = await workers(4, 4, allNormal, 12);
    await backlog(B, 16, 30_000);
    let victim: { child: ChildProcess; runs: string[] } | null = null;
    while (!victim) {
      for (const c of procs) {
        const held = await admin<
          { id: string }[]
        >`select id from agent_runs where status = 'running' and lease_holder like ${`%:${c.pid}`}`;
        if (held.length >= 2 && !victim) victim = { child: c, runs: held.map((h) => h.id) };
      }
      await sleep(50);
    }
    const doomed = victim.child;
    doomed.kill("SIGKILL");
    await new Promise((r) =>
      doomed.exitCode !== null || doomed.signalCode !== null ? r(null) : doomed.once("exit", r),
    );
    const killedAt = Date.now();
    procs = [...procs.filter((c) => c !== doomed), ...(await workers(1, 4, allNormal, 12))];
    const pending = new Set(victim.runs);
    while (pending.size > 0) {
      const rows = await admin<
        { id: string }[]
      >`select id from agent_runs where id = any(${[...pending]}) and attempt >= 2`;
      for (const r of rows) {
        recoveries.push((Date.now() - killedAt) / 1000);
        pending.delete(r.id);
      }
      await sleep(50);
    }
    await drain(procs);
  }
  if (phase("recovery"))
    log(
      `recovery: ${recoveries.length} runs of ${KILLS} SIGKILLed workers held again after p50 ${pct(recoveries, 50).toFixed(1)} s, p99 ${pct(recoveries, 99).toFixed(1)} s (lease 12 s)`,
    );
  normal.child.kill("SIGTERM");

  const num = (x: number, digits = 3): number | null => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);
  Object.assign(result, {
    ratio: num(pct(fair, 99) / pct(idle, 99)),
    unit: "B's p99 queue wait under A's flood ÷ idle",
    wait_p99_ratio: num(pct(fair, 99) / pct(idle, 99)),
    wait_idle_p50_ms: num(pct(idle, 50), 1),
    wait_idle_p99_ms: num(pct(idle, 99), 1),
    wait_flood_p50_ms: num(pct(fair, 50), 1),
    wait_flood_p99_ms: num(pct(fair, 99), 1),
    wait_fifo_p99_ms: num(pct(fifo, 99), 1),
    worst_share: num(shares[10] ?? NaN),
    worst_share_2: num(shares[2] ?? NaN),
    worst_share_100: num(shares[100] ?? NaN),
    quota_isolation: num(during / solo),
    b_solo_runs_per_s: num(solo, 1),
    b_during_429_runs_per_s: num(during, 1),
    cap_max_seen: num(capMax, 0),
    cap: CAP,
    recovery_p99_s: num(pct(recoveries, 99), 1),
  });
} finally {
  for (const c of children) c.kill("SIGKILL");
  await queues
    .get("runs")
    .obliterate({ force: true })
    .catch(() => undefined);
  await queues.close();
  // Nothing left behind: every key of this run's prefix goes (SCAN, never KEYS).
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== "0");
  redis.disconnect();
  await owner.close();
  await ingest.close();
  await admin.end({ timeout: 5 });
  await tdb.drop();
}
log(JSON.stringify(result));
