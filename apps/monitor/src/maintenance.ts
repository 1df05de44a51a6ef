/**
 * Scheduled maintenance, once per fleet however many monitor processes run: BullMQ job schedulers (upserts under fixed
 * ids, so every monitor may declare them and there is still one of each) produce one job per interval on the
 * `maintenance` queue — `reconcile` (runs and notifications whose jobs were lost, and approvals past their time:
 * expired, their runs handed back to the dispatcher to finish `denied`), `acceptance` (the quality monitor's
 * pass) and `checkpoints` (time-based audit checkpoints) — and whichever monitor's worker takes a job runs it.
 */
import { ActiveJobs, bullQueueName, parseJobData, Worker, type Job, type QueueSet, type Redis } from "@praxa/queue";
import { isPraxaError } from "@praxa/core";
import { expireApprovals } from "@praxa/db";
import { ROOT_CONTEXT, SpanStatusCode, type Logger, type Tracer } from "@praxa/observability";
import { evaluateAcceptance, type AcceptanceDeps } from "./acceptance.js";
import { checkpointPass, type CheckpointDeps } from "./checkpoints.js";
import { exportPass, lifecyclePass, type LifecycleDeps } from "./lifecycle.js";
import { reconcileNotifications, type NotificationOutboxDeps } from "./notification-outbox.js";
import { reconcileOnce, type ReconcilerDeps } from "./reconciler.js";
import { reconcileReplays } from "./replay-outbox.js";
import { sweepSiemSubscriptions } from "./siem-sweep.js";

export const RECONCILE_SCHEDULER_ID = "praxa-reconcile";
export const ACCEPTANCE_SCHEDULER_ID = "praxa-acceptance";
export const CHECKPOINT_SCHEDULER_ID = "praxa-audit-checkpoints";
export const SIEM_SWEEP_SCHEDULER_ID = "praxa-siem-sweep";
export const LIFECYCLE_SCHEDULER_ID = "praxa-lifecycle";
export const EXPORTS_SCHEDULER_ID = "praxa-exports";

export interface MaintenanceIntervals {
  readonly reconcileMs: number;
  readonly acceptanceMs: number;
  readonly checkpointMs: number;
  /** SIEM streams with work due get a delivery job (default 2 s: the stream's latency when idle). */
  readonly siemSweepMs?: number;
  readonly lifecycleMs: number;
  readonly exportsMs: number;
}

export const DEFAULT_INTERVALS: MaintenanceIntervals = {
  reconcileMs: 10_000,
  acceptanceMs: 15_000,
  checkpointMs: 5 * 60_000,
  siemSweepMs: 2_000,
  // Retention is by days and erasure by a 7-day bound: every 15 minutes keeps both far inside their promises.
  lifecycleMs: 15 * 60_000,
  exportsMs: 10_000,
};

const KEEP = { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } };

export async function scheduleMaintenance(
  queues: QueueSet,
  intervals: MaintenanceIntervals = DEFAULT_INTERVALS,
): Promise<void> {
  const q = queues.get("maintenance");
  await q.upsertJobScheduler(
    RECONCILE_SCHEDULER_ID,
    { every: intervals.reconcileMs },
    { name: "reconcile", data: {}, opts: KEEP },
  );
  await q.upsertJobScheduler(
    ACCEPTANCE_SCHEDULER_ID,
    { every: intervals.acceptanceMs },
    { name: "acceptance", data: {}, opts: KEEP },
  );
  await q.upsertJobScheduler(
    CHECKPOINT_SCHEDULER_ID,
    { every: intervals.checkpointMs },
    { name: "checkpoints", data: {}, opts: KEEP },
  );
  await q.upsertJobScheduler(
    SIEM_SWEEP_SCHEDULER_ID,
    { every: intervals.siemSweepMs ?? 2_000 },
    { name: "siem-sweep", data: {}, opts: KEEP },
  );
  await q.upsertJobScheduler(
    LIFECYCLE_SCHEDULER_ID,
    { every: intervals.lifecycleMs },
    { name: "lifecycle", data: {}, opts: KEEP },
  );
  await q.upsertJobScheduler(
    EXPORTS_SCHEDULER_ID,
    { every: intervals.exportsMs },
    { name: "exports", data: {}, opts: KEEP },
  );
}

export type MaintenanceDeps = ReconcilerDeps &
  AcceptanceDeps &
  CheckpointDeps &
  LifecycleDeps &
  NotificationOutboxDeps & {
    /** A span per pass: `praxa.monitor.reconcile`, `praxa.monitor.acceptance`, `praxa.monitor.checkpoints`. */
    readonly tracer?: Tracer;
  };

const SPAN_NAMES: Readonly<Record<string, string>> = {
  reconcile: "praxa.monitor.reconcile",
  acceptance: "praxa.monitor.acceptance",
  checkpoints: "praxa.monitor.checkpoints",
  "siem-sweep": "praxa.monitor.siem_sweep",
  lifecycle: "praxa.monitor.lifecycle",
  exports: "praxa.monitor.exports",
};

/** Run one maintenance job by name, in a span of its own (its trace's root; `ms`, and a `code` if it failed). */
export async function runMaintenanceJob(name: string, data: unknown, deps: MaintenanceDeps): Promise<unknown> {
  const spanName = SPAN_NAMES[name];
  if (!deps.tracer || !spanName) return runMaintenancePass(name, data, deps);
  const t0 = Date.now();
  const span = deps.tracer.startSpan(spanName, {}, ROOT_CONTEXT);
  try {
    return await runMaintenancePass(name, data, deps);
  } catch (err) {
    span.setAttribute("code", isPraxaError(err) ? err.code : "MAINTENANCE_FAILED");
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.setAttribute("ms", Date.now() - t0);
    span.end();
  }
}

/**
 * Pending approvals past their time → `expired` (by the database's clock), their runs handed back to the dispatcher:
 * the worker finds the expiry at the gated step, audits `approval.expired`, and the run finishes `denied`.
 */
export async function expireApprovalsPass(deps: Pick<ReconcilerDeps, "database" | "log">): Promise<number> {
  const expired = await expireApprovals(deps.database, 500);
  if (expired.length > 0) deps.log.info({ code: "APPROVALS_EXPIRED", n: expired.length }, "approvals expired");
  return expired.length;
}

/** One maintenance job by name (what the worker below does with each scheduled job). */
async function runMaintenancePass(name: string, data: unknown, deps: MaintenanceDeps): Promise<unknown> {
  switch (name) {
    case "reconcile":
      parseJobData("reconcile", data);
      return {
        runs: await reconcileOnce(deps),
        notifications: await reconcileNotifications(deps),
        replays: await reconcileReplays(deps),
        approvalsExpired: await expireApprovalsPass(deps),
      };
    case "acceptance":
      parseJobData("acceptance", data);
      return evaluateAcceptance(deps);
    case "checkpoints":
      parseJobData("checkpoints", data);
      return checkpointPass(deps);
    case "siem-sweep":
      parseJobData("siem-sweep", data);
      return sweepSiemSubscriptions(deps);
    case "lifecycle":
      parseJobData("lifecycle", data);
      return lifecyclePass(deps);
    case "exports":
      parseJobData("exports", data);
      return exportPass(deps);
    default:
      throw new Error("unknown maintenance job");
  }
}

/** The maintenance worker, with its jobs in flight counted (`active`) so that shutdown can wait for them (closeWorkers). */
export function startMaintenanceWorker(
  connection: Redis,
  prefix: string,
  deps: MaintenanceDeps,
  log: Logger,
): { worker: Worker; active: ActiveJobs } {
  const active = new ActiveJobs();
  const worker = new Worker(
    bullQueueName("maintenance", connection),
    active.track(async (job: Job) => runMaintenanceJob(job.name, job.data, deps)),
    {
      connection,
      prefix,
      concurrency: 1,
      autorun: true,
    },
  );
  worker.on("failed", (job, err) =>
    log.error({ job: job?.name, code: "MAINTENANCE_FAILED", err }, "maintenance job failed"),
  );
  return { worker, active };
}
