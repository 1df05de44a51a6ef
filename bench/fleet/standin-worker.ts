/**
 * bench/fleet's worker process: the real fleet-control path with a stand-in run body. It runs the real dispatcher
 * (`startDispatcher`, one pass at a time fleet-wide) and a BullMQ worker on `runs` that claims each run through
 * `claim_run` (caps, gates), holds it under a renewed lease, makes ONE model call with the real Anthropic client
 * (`createModelProvider`) to the workspace's stand-in Anthropic server (a process of its own), then works for the
 * run's `input.workMs` (what tools and the rest of a review would take) and finishes it. A 429 from the workspace's key
 * is a `ThrottledError`: the run is deferred and the workspace's model gated, as the real worker does
 * (apps/worker/src/run-job.ts). What it leaves out: guards, tools, audit — their cost is bench/worker's subject, not
 * the fairness of the fleet.
 * Env: BENCH_DATABASE_URL (praxa_worker), REDIS_URL, PRAXA_QUEUE_PREFIX, CONCURRENCY, LEASE_SECONDS,
 * BENCH_MODEL_ENDPOINTS (JSON {workspaceId: {url, apiKey}}).
 */
import { hostname } from "node:os";
import { ThrottledError, isPraxaError, type RunId, type WorkspaceId } from "@praxa/core";
import {
  claimRunOutcome,
  createDatabase,
  deferRun,
  eq,
  finishRun,
  renewRunLease,
  schema,
  withWorkspace,
  type ClaimedRun,
} from "@praxa/db";
import { createLogger } from "@praxa/observability";
import { createQueues, createRedis, parseJobData, Worker } from "@praxa/queue";
import { createModelProvider, type ModelProvider } from "@praxa/runtime";
import { startDispatcher } from "@praxa/worker";

const env = process.env;
const database = createDatabase(env.BENCH_DATABASE_URL ?? "", {
  max: Number(env.CONCURRENCY ?? 4) + 3,
  applicationName: "bench-fleet-worker",
});
const redis = createRedis(env.REDIS_URL ?? "redis://127.0.0.1:6379", "worker");
const prefix = env.PRAXA_QUEUE_PREFIX ?? "bench";
const queues = createQueues(redis, prefix);
const log = createLogger({ name: "bench-fleet-worker", level: env.BENCH_LOG_LEVEL === "warn" ? "warn" : "silent" });
const leaseSeconds = Number(env.LEASE_SECONDS ?? 12);
const endpoints = JSON.parse(env.BENCH_MODEL_ENDPOINTS ?? "{}") as Record<string, { url: string; apiKey: string }>;
const holder = `${hostname()}:${process.pid}`;
const providers = new Map<string, ModelProvider>();
const dispatcher = startDispatcher({ database, queues, log, pollMs: 100 });

function providerFor(workspaceId: WorkspaceId): ModelProvider {
  let p = providers.get(workspaceId);
  if (!p) {
    const e = endpoints[workspaceId];
    if (!e) throw new Error(`no stand-in model endpoint for ${workspaceId}`);
    p = createModelProvider(
      { provider: "anthropic", apiKey: e.apiKey },
      { workspaceId, endpoints: { anthropicBaseUrl: e.url }, retry: { maxAttempts: 1 } },
    );
    providers.set(workspaceId, p);
  }
  return p;
}

async function execute(run: ClaimedRun, workMs: number): Promise<void> {
  const ws = run.workspaceId;
  let lease = run.lease;
  const renew = setInterval(
    () => {
      withWorkspace(database, ws, (s) => renewRunLease(s, lease, leaseSeconds)).then(
        (l) => (lease = { ...lease, expiresAt: l.expiresAt }),
        () => undefined,
      );
    },
    (leaseSeconds * 1000) / 3,
  );
  try {
    await providerFor(ws).complete({
      model: "claude-sonnet-5-5",
      system: "bench",
      messages: [{ role: "user", content: [{ type: "text", text: "bench" }] }],
      tools: [],
      toolChoice: { type: "auto" },
      maxTokens: 16,
    });
    if (workMs > 0) await new Promise((r) => setTimeout(r, workMs));
    await withWorkspace(database, ws, (s) => finishRun(s, lease, "succeeded"));
  } catch (err) {
    if (err instanceof ThrottledError) {
      await withWorkspace(database, ws, (s) =>
        deferRun(s, lease, err.retryAfterMs, { resource: "model", code: err.code }),
      );
      return;
    }
    await withWorkspace(database, ws, (s) =>
      finishRun(
        s,
        lease,
        "failed",
        isPraxaError(err) && /^[A-Z][A-Z0-9_]{1,63}$/.test(err.code) ? err.code : "INTERNAL",
      ),
    );
  } finally {
    clearInterval(renew);
  }
}

const worker = new Worker(
  "runs",
  async (job) => {
    const { runId } = parseJobData("run", job.data);
    const claim = await claimRunOutcome(database, runId as RunId, holder, leaseSeconds);
    if (claim.outcome !== "claimed") {
      if (claim.outcome !== "not_claimable") dispatcher.kick();
      return claim.outcome;
    }
    await execute(claim.run, await workOf(claim.run));
    dispatcher.kick();
    return "done";
  },
  { connection: redis, prefix, concurrency: Number(env.CONCURRENCY ?? 4) },
);

/** The run's stand-in work, from its input (`{"workMs": n}`), read in the run's workspace scope. */
async function workOf(run: ClaimedRun): Promise<number> {
  const rows = await withWorkspace(database, run.workspaceId, (s) =>
    s.db.select({ input: schema.agentRuns.input }).from(schema.agentRuns).where(eq(schema.agentRuns.id, run.runId)),
  );
  const w = (rows[0]?.input as { workMs?: unknown } | undefined)?.workMs;
  return typeof w === "number" && w >= 0 ? w : 0;
}

// BullMQ reports a job it lost track of (the driver empties the queue between phases) as an error event: not ours.
worker.on("error", () => undefined);

const stop = async (): Promise<void> => {
  await dispatcher.stop();
  await worker.close(true);
  await queues.close();
  redis.disconnect();
  await database.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.stdout.write("ready\n");
