/**
 * The job catalog: one const object maps each job name to its queue, its zod schema and its options, so producers and
 * workers are generic over it and a job's data is typed at both ends. Jobs carry ids only — never a payload, never a
 * credential. Any workspace id in a job is a tracing hint and is never used to authorize anything: the worker derives
 * the workspace from the row it claims.
 */
import type { JobsOptions } from "bullmq";
import { z } from "zod";
import { RunIdSchema, SiemSubscriptionIdSchema, WorkspaceIdSchema, type RunId } from "@praxa/core";

/** Optional tracing hints. Ignored for authorization by design. */
const TraceHint = z
  .object({ workspaceId: z.string().max(64).optional(), traceId: z.string().max(64).optional() })
  .strict();

export const JOB_CATALOG = {
  run: {
    queue: "runs",
    schema: z.object({ runId: RunIdSchema, hint: TraceHint.optional() }).strict(),
    options: {
      attempts: 5,
      backoff: { type: "exponential", delay: 2_000 },
      // Kept a while so the reconciler can tell "completed" from "lost"; removed after.
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  },
  keys: {
    queue: "keys",
    schema: z.object({ workspaceId: WorkspaceIdSchema, operation: z.enum(["create", "rotate"]) }).strict(),
    options: {
      attempts: 5,
      backoff: { type: "exponential", delay: 2_000 },
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  },
  notification: {
    queue: "notifications",
    schema: z.object({ notificationId: z.string().regex(/^nt_[0-9a-z]{26}$/) }).strict(),
    options: {
      attempts: 8,
      backoff: { type: "exponential", delay: 5_000 },
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  },
  /** Replay one recorded decision for a request row (migrations/0035): claimed by id under its own lease. */
  replay: {
    queue: "replays",
    schema: z.object({ replayId: z.string().regex(/^rp_[0-7][0-9a-hjkmnp-tv-z]{25}$/) }).strict(),
    options: {
      // replay_claim refuses a fourth attempt.
      attempts: 3,
      backoff: { type: "exponential", delay: 5_000 },
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  },
  /**
   * One delivery pass of a SIEM stream: the worker claims the subscription (a lease in Postgres: one stream per
   * subscription at a time, whatever the number of processes), sends batches until caught up or its budget is spent,
   * and releases it. The monitor's sweep enqueues it (jobId `siem.<subscription id>`) while there is work due.
   */
  siem: {
    queue: "siem",
    schema: z.object({ subscriptionId: SiemSubscriptionIdSchema }).strict(),
    options: { attempts: 1, removeOnComplete: true, removeOnFail: true },
  },
  /** The monitor's sweep of SIEM streams with work due. */
  "siem-sweep": {
    queue: "maintenance",
    schema: z.object({}).strict(),
    options: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
  },
  reconcile: {
    queue: "maintenance",
    schema: z.object({}).strict(),
    options: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
  },
  /** The quality monitor's pass: recompute changed acceptance rates, pause Skills below their threshold. */
  acceptance: {
    queue: "maintenance",
    schema: z.object({}).strict(),
    options: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
  },
  /** Time-based audit checkpoints for workspaces whose chain grew since their newest checkpoint. */
  checkpoints: {
    queue: "maintenance",
    schema: z.object({}).strict(),
    options: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
  },
  /** Workspace exports (GDPR): write each pending export's archive to the object store. */
  exports: {
    queue: "maintenance",
    schema: z.object({}).strict(),
    options: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
  },
  /** The data lifecycle sweep: retention cuts, run-log retention, due erasures, overdue erasures. */
  lifecycle: {
    queue: "maintenance",
    schema: z.object({}).strict(),
    options: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
  },
} as const satisfies Record<string, { queue: string; schema: z.ZodType; options: JobsOptions }>;

export type JobName = keyof typeof JOB_CATALOG;
export type JobData<N extends JobName> = z.infer<(typeof JOB_CATALOG)[N]["schema"]>;
export type QueueName = (typeof JOB_CATALOG)[JobName]["queue"];

export function runJobData(runId: RunId): JobData<"run"> {
  return { runId };
}

/**
 * The job id of one dispatch of a run: `<runId>.<seq>` (migrations/0027). Each dispatch gets its own id, so a run
 * handed back and dispatched again never collides with its earlier job (kept a while as completed, or still "active"
 * under a dead worker's lock); adding the same dispatch twice collapses onto one job. Sequence 0 is a run queued
 * before fleet control existed: its job has the bare run id.
 */
export function runJobId(runId: RunId, dispatchSeq: number): string {
  if (!Number.isInteger(dispatchSeq) || dispatchSeq < 0) throw new RangeError("a dispatch sequence is an integer ≥ 0");
  return dispatchSeq === 0 ? runId : `${runId}.${dispatchSeq}`;
}
