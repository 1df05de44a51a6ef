/**
 * Typed calls to the run pipeline's SECURITY DEFINER functions (migrations/0003). Rows are parsed with zod: the
 * database is a boundary too.
 */
import { sql as dsql } from "drizzle-orm";
import { z } from "zod";
import { InternalError, RunIdSchema, WorkspaceIdSchema, type RunId, type WorkspaceId } from "@praxa/core";
import type { Database } from "./client.js";
import { requireScope, type WorkspaceScope } from "./scope.js";
import { queryRows, queryScopedRows } from "./typed-query.js";

const date = z.union([z.date(), z.string().transform((s) => new Date(s))]);

// ── ingest ──────────────────────────────────────────────────────────────────────────────────────────────────────

const InstallationRow = z.object({
  workspace_id: WorkspaceIdSchema,
  integration_id: z.string(),
  status: z.enum(["active", "suspended", "revoked", "pending_confirmation"]),
  bot_identity: z.record(z.string(), z.unknown()),
});
export type ResolvedInstallation = z.infer<typeof InstallationRow>;

export async function resolveInstallation(
  database: Database,
  source: "github" | "slack",
  externalId: string,
): Promise<ResolvedInstallation | null> {
  const rows = await queryRows(
    database,
    InstallationRow,
    dsql`select * from public.ingest_resolve_installation(${source}, ${externalId})`,
  );
  return rows[0] ?? null;
}

const SubscribedRow = z.object({
  skill_id: z.string(),
  skill_version_id: z.string(),
  status: z.enum(["active", "paused"]),
});
export type SubscribedSkill = z.infer<typeof SubscribedRow>;

export async function subscribedSkills(
  database: Database,
  workspaceId: WorkspaceId,
  trigger: string,
): Promise<SubscribedSkill[]> {
  return queryRows(
    database,
    SubscribedRow,
    dsql`select * from public.ingest_subscribed_skills(${workspaceId}, ${trigger})`,
  );
}

export interface CreateRunsInput {
  readonly source: "github" | "slack" | "trigger";
  readonly deliveryId: string;
  readonly bodySha256: string;
  readonly workspaceId: WorkspaceId | null;
  readonly trigger: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly runs: readonly { readonly runId: RunId; readonly skillId: string }[];
  readonly notBefore?: Date;
  /** The integration the verified webhook resolved to (GitHub installation, Slack team), recorded on each run. */
  readonly integrationId?: string | null;
}

const CreateRunsRow = z.object({
  run_ids: z.array(RunIdSchema),
  statuses: z.array(z.enum(["queued", "running", "succeeded", "failed", "skipped", "cancelled"])),
  duplicate: z.boolean(),
});
export type CreatedRuns = z.infer<typeof CreateRunsRow>;

/**
 * Record a delivery and its runs atomically. A delivery seen before — GitHub and Slack: same delivery id or body
 * digest; signed producers: same (Skill, webhook-id) only — returns `duplicate` with its runs, and only when they are
 * the caller's workspace's: never another workspace's run ids.
 */
export async function createRunsForDelivery(database: Database, input: CreateRunsInput): Promise<CreatedRuns> {
  const runs = JSON.stringify(input.runs.map((r) => ({ run_id: r.runId, skill_id: r.skillId })));
  const rows = await queryRows(
    database,
    CreateRunsRow,
    dsql`select * from public.ingest_create_runs(${input.source}, ${input.deliveryId}, ${input.bodySha256}, ${input.workspaceId},
      ${input.trigger}, ${JSON.stringify(input.input)}::jsonb, ${runs}::jsonb, ${input.notBefore ? input.notBefore.toISOString() : null}::timestamptz,
      ${input.integrationId ?? null}::text)`,
  );
  const row = rows[0];
  if (!row) throw new InternalError("ingest_create_runs returned no row");
  return row;
}

// ── worker ──────────────────────────────────────────────────────────────────────────────────────────────────────

const ClaimRow = z.object({
  workspace_id: WorkspaceIdSchema,
  skill_id: z.string(),
  skill_version_id: z.string(),
  trigger: z.string(),
  attempt: z.number().int(),
  lease_token: z.uuid(),
  lease_expires_at: date,
});

export interface RunLease {
  readonly runId: RunId;
  readonly token: string;
  readonly expiresAt: Date;
}

export interface ClaimedRun {
  readonly runId: RunId;
  readonly workspaceId: WorkspaceId;
  readonly skillId: string;
  readonly skillVersionId: string;
  readonly trigger: string;
  readonly attempt: number;
  readonly lease: RunLease;
}

/**
 * Claim a run by id: the workspace, Skill version and trigger come from the run row. Null if the run is not
 * claimable (finished, or held by a live lease).
 */
export async function claimRun(
  database: Database,
  runId: RunId,
  workerId: string,
  leaseSeconds = 60,
): Promise<ClaimedRun | null> {
  const rows = await queryRows(
    database,
    ClaimRow,
    dsql`select * from public.claim_run(${runId}, ${workerId}, ${leaseSeconds})`,
  );
  const r = rows[0];
  if (!r) return null;
  return {
    runId,
    workspaceId: r.workspace_id,
    skillId: r.skill_id,
    skillVersionId: r.skill_version_id,
    trigger: r.trigger,
    attempt: r.attempt,
    lease: { runId, token: r.lease_token, expiresAt: r.lease_expires_at },
  };
}

export async function renewRunLease(scope: WorkspaceScope, lease: RunLease, leaseSeconds = 60): Promise<RunLease> {
  const rows = await queryScopedRows(
    scope,
    z.object({ expires: date }),
    dsql`select public.renew_run_lease(${lease.runId}, ${lease.token}::uuid, ${leaseSeconds}) as expires`,
  );
  return { ...lease, expiresAt: rows[0]?.expires ?? lease.expiresAt };
}

/** Just before an external effect: throws LeaseLostError unless the lease is still ours. */
export async function assertRunLease(scope: WorkspaceScope, lease: RunLease): Promise<void> {
  await requireScope(scope).execute(dsql`select public.assert_run_lease(${lease.runId}, ${lease.token}::uuid)`);
}

export interface StepWrite {
  readonly idx: number;
  readonly kind: string;
  readonly idempotencyKey: string;
  readonly status: "started" | "completed" | "failed";
  readonly result?: unknown;
  readonly resultSealed?: Buffer;
}

const StepRow = z.object({
  idx: z.number().int(),
  kind: z.string(),
  status: z.enum(["started", "completed", "failed"]),
  result: z.unknown(),
  result_sealed: z.instanceof(Buffer).nullable(),
  replayed: z.boolean(),
});
export type StepRecord = z.infer<typeof StepRow>;

/** Record a step under the lease. A step already completed comes back with `replayed: true` and is not rewritten. */
export async function recordRunStep(scope: WorkspaceScope, lease: RunLease, step: StepWrite): Promise<StepRecord> {
  const result = step.result === undefined ? null : JSON.stringify(step.result);
  const rows = await queryScopedRows(
    scope,
    StepRow,
    dsql`select * from public.record_run_step(${lease.runId}, ${lease.token}::uuid, ${step.idx}, ${step.kind},
      ${step.idempotencyKey}, ${step.status}, ${result}::jsonb, ${step.resultSealed ?? null}::bytea)`,
  );
  const row = rows[0];
  if (!row) throw new InternalError("record_run_step returned no row");
  return row;
}

export async function finishRun(
  scope: WorkspaceScope,
  lease: RunLease,
  status: "succeeded" | "failed" | "skipped" | "cancelled",
  errorCode: string | null = null,
): Promise<void> {
  await requireScope(scope).execute(
    dsql`select public.finish_run(${lease.runId}, ${lease.token}::uuid, ${status}, ${errorCode})`,
  );
}

// ── reconciler (monitor) ────────────────────────────────────────────────────────────────────────────────────────

const StaleRow = z.object({
  run_id: RunIdSchema,
  workspace_id: WorkspaceIdSchema,
  status: z.enum(["queued", "running"]),
  not_before: date.nullable(),
  created_at: date,
});
export type StaleRun = z.infer<typeof StaleRow>;

export async function listStaleRuns(
  database: Database,
  queuedGraceSeconds: number,
  limit: number,
): Promise<StaleRun[]> {
  return queryRows(database, StaleRow, dsql`select * from public.list_stale_runs(${queuedGraceSeconds}, ${limit})`);
}

export async function handBackRun(database: Database, runId: RunId): Promise<boolean> {
  const rows = await queryRows(
    database,
    z.object({ handed_back: z.boolean() }),
    dsql`select public.hand_back_run(${runId}) as handed_back`,
  );
  return rows[0]?.handed_back ?? false;
}
