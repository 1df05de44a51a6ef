/**
 * What bench/worker and bench/scale share: a fresh database with one workspace running the built-in pr-review Skill
 * (its key pair made by the keys job, no BYOK key: the offline model), the sandbox GitHub in a process of its own
 * (github-sandbox.ts), a unique queue prefix, and worker processes (`apps/worker/dist/main.js`, the env the e2e
 * worker harness builds). Runs are committed as ingest commits them when it dispatches on the spot (queued,
 * `dispatched_at` set, `dispatch_seq` 1, the installation recorded) and their jobs added under `<runId>.1`.
 */
import { spawn, fork, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import postgres from "postgres";
import { newId, type RunId } from "@praxa/core";
import { createDatabase, createTestDatabase, seedWorkspaceFixture, type WorkspaceFixture } from "@praxa/db";
import {
  createQueues,
  createRedis,
  enqueue,
  removeRedisPrefix,
  runJobId,
  type QueueSet,
  type Redis,
} from "@praxa/queue";
import { PR_REVIEW_MANIFEST } from "@praxa/skills";
import { createKeyProvider, runKeysJob } from "@praxa/worker";
import { procCpuMs } from "../proc-cpu.js";

const APP_ID = 777001;
const INSTALLATION = 5150;
const BOT = "praxa-sandbox[bot]";
const TERMINAL = ["succeeded", "failed", "skipped", "cancelled"];
const here = dirname(fileURLToPath(import.meta.url));
// BENCH_WORKER_ROOT: another checkout (built) whose worker and sandbox GitHub to run — a before/after comparison.
const root = process.env.BENCH_WORKER_ROOT ?? join(here, "..", "..");
const require = createRequire(import.meta.url);
const tsxLoader = pathToFileURL(join(dirname(require.resolve("tsx/package.json")), "dist", "loader.mjs")).href;

/** Same derivation as github-sandbox.ts. */
const headSha = (n: number): string => n.toString(16).padStart(40, "0");

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** CPU ms (user + system) of the process so far, from /proc (null where /proc does not show it). */
  cpuMs(): number | null;
  stop(): Promise<void>;
}

export interface BenchFleet {
  readonly admin: postgres.Sql;
  readonly ws: WorkspaceFixture;
  readonly adminUrl: string;
  /** The bench database's URL for an app's login role. */
  readonly roleUrl: (role: "praxa_worker" | "praxa_ingest") => string;
  readonly redis: Redis;
  readonly queues: QueueSet;
  readonly env: Record<string, string>;
  readonly sandboxPid: number;
  /** Commit `count` runs on new PRs (added to the sandbox first); returns their ids (jobs not added yet). */
  createRuns(count: number): Promise<RunId[]>;
  /** Add the runs' jobs (`<runId>.1`), all at once. */
  enqueueRuns(ids: readonly RunId[]): Promise<void>;
  /** Resolves once every run is finished (polls every 20 ms); returns the poller's own transactions. */
  waitFinished(ids: readonly RunId[]): Promise<number>;
  githubCalls(): Promise<Record<string, number>>;
  /** A worker process; `extraEnv` on top of the fleet's env, `nodeArgs` before the script (e.g. --cpu-prof). */
  startWorker(extraEnv?: Record<string, string>, nodeArgs?: readonly string[]): Promise<WorkerProcess>;
  /** Committed + rolled-back transactions of the bench database (after the backends' ~1 s stats flush). */
  xacts(): Promise<number>;
  close(): Promise<void>;
}

export async function startBenchFleet(options: { prefix: string; concurrency: number }): Promise<BenchFleet> {
  const appKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
    .privateKey.export({ format: "pem", type: "pkcs8" })
    .toString();
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const tdb = await createTestDatabase({ prefix: options.prefix });
  const admin = postgres(tdb.adminUrl, { max: 2, onnotice: () => {} });
  const ws = await seedWorkspaceFixture(tdb.adminUrl, "W", {
    manifest: PR_REVIEW_MANIFEST,
    installationId: String(INSTALLATION),
    botLogin: BOT,
  });
  // The fixture's BYOK credential has no sealed secret behind it; without it the worker picks the offline model.
  await admin`delete from llm_credentials where workspace_id = ${ws.workspaceId}`;
  // A fleet-wide cap high enough that the cap never hands a run back in these benches.
  await admin`update fleet_settings set default_workspace_concurrency = 10000, dispatch_ahead = 100000`;

  const sandbox = fork(join(root, "bench", "worker", "github-sandbox.ts"), [], {
    execArgv: ["--import", tsxLoader],
    env: { ...process.env, BENCH_GITHUB_APP_KEY: appKey, BENCH_GITHUB_APP_ID: String(APP_ID) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  type Msg = { url?: string; added?: number; calls?: Record<string, number> };
  const nextMessage = <K extends keyof Msg>(key: K): Promise<NonNullable<Msg[K]>> =>
    new Promise((resolve, reject) => {
      const onMsg = (m: Msg) => {
        if (m[key] === undefined) return;
        sandbox.off("message", onMsg);
        sandbox.off("exit", onExit);
        resolve(m[key] as NonNullable<Msg[K]>);
      };
      const onExit = (code: number | null) => reject(new Error(`github sandbox exited (${code})`));
      sandbox.on("message", onMsg);
      sandbox.once("exit", onExit);
    });
  const ghUrl = await nextMessage("url");

  const dir = mkdtempSync(join(tmpdir(), "praxa-bench-worker-"));
  const prefix = `bench-${randomUUID()}`;
  const redis = createRedis(redisUrl, "producer");
  const queues = createQueues(redis, prefix);
  const env: Record<string, string> = {
    NODE_ENV: "test",
    LOG_LEVEL: "info",
    WORKER_DATABASE_URL: tdb.roleUrl("praxa_worker"),
    REDIS_URL: redisUrl,
    PRAXA_QUEUE_PREFIX: prefix,
    PRAXA_KEY_PROVIDER: "local",
    PRAXA_KEY_FILE: join(dir, "master.key"),
    PRAXA_AUDIT_SIGNING_KEY_FILE: join(dir, "audit-signing.key"),
    GITHUB_APP_ID: String(APP_ID),
    GITHUB_APP_PRIVATE_KEY: appKey,
    GITHUB_API_URL: ghUrl,
    WORKER_CONCURRENCY: String(options.concurrency),
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
  const workers = new Set<WorkerProcess>();
  const poller = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });

  const fleet: BenchFleet = {
    admin,
    ws,
    adminUrl: tdb.adminUrl,
    roleUrl: (role) => tdb.roleUrl(role),
    redis,
    queues,
    env,
    sandboxPid: sandbox.pid ?? 0,
    async createRuns(count) {
      const from = prNumber + 1;
      prNumber += count;
      sandbox.send({ add: { from, count } });
      await nextMessage("added");
      const rows = Array.from({ length: count }, (_, i) => ({
        workspace_id: ws.workspaceId,
        id: newId("run"),
        skill_id: ws.skillId,
        skill_version_id: ws.skillVersionId,
        trigger: "github.pull_request.opened",
        source: "github",
        integration_id: ws.integrationId,
        dispatch_seq: 1,
        dispatched_at: new Date(),
        input: admin.json({
          repo: "acme/shop",
          prNumber: from + i,
          headSha: headSha(from + i),
          baseRef: "main",
          draft: false,
          authorLogin: "dev",
          authorIsBot: false,
        }),
      }));
      for (let i = 0; i < rows.length; i += 1000)
        await admin`insert into agent_runs ${admin(rows.slice(i, i + 1000), "workspace_id", "id", "skill_id", "skill_version_id", "trigger", "source", "integration_id", "dispatch_seq", "dispatched_at", "input")}`;
      return rows.map((r) => r.id as RunId);
    },
    async enqueueRuns(ids) {
      await Promise.all(ids.map((runId) => enqueue(queues, "run", { runId }, { jobId: runJobId(runId, 1) })));
    },
    async waitFinished(ids) {
      let polls = 0;
      for (;;) {
        const [row] = await poller<{ n: number }[]>`
          select count(*)::int as n from agent_runs where id = any(${ids as string[]}) and status = any(${TERMINAL})`;
        polls++;
        if ((row?.n ?? 0) >= ids.length) return polls;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async githubCalls() {
      sandbox.send({ calls: true });
      return nextMessage("calls");
    },
    async startWorker(extraEnv = {}, nodeArgs = []) {
      const child = spawn(process.execPath, [...nodeArgs, join(root, "apps", "worker", "dist", "main.js")], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? "", ...env, ...extraEnv },
        stdio: ["ignore", "pipe", "inherit"],
      });
      const pid = child.pid ?? 0;
      await new Promise<void>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout! });
        const onExit = (code: number | null) => reject(new Error(`worker exited during start (${code})`));
        child.once("exit", onExit);
        lines.on("line", (line) => {
          if (line.includes('"WORKER_STARTED"')) {
            child.off("exit", onExit);
            resolve();
          }
          if (process.env.BENCH_WORKER_LOG) process.stderr.write(`${line}\n`);
        });
      });
      const w: WorkerProcess = {
        child,
        pid,
        cpuMs: () => procCpuMs(pid),
        async stop() {
          workers.delete(w);
          if (child.exitCode !== null) return;
          const exited = new Promise<void>((r) => child.once("exit", () => r()));
          child.kill("SIGTERM");
          await exited;
        },
      };
      workers.add(w);
      return w;
    },
    async xacts() {
      await new Promise((r) => setTimeout(r, 2_000));
      const [row] = await poller<
        { n: string }[]
      >`select (xact_commit + xact_rollback)::text as n from pg_stat_database where datname = current_database()`;
      return Number(row?.n ?? 0);
    },
    async close() {
      await Promise.all([...workers].map((w) => w.stop()));
      await queues.close();
      // Every key the fleet left under its prefix (queues, events, the dispatcher's and the limiter's keys).
      await removeRedisPrefix(redis, prefix).catch(() => undefined);
      redis.disconnect();
      sandbox.disconnect();
      await poller.end({ timeout: 5 });
      await admin.end({ timeout: 5 });
      await tdb.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fleet;
}
