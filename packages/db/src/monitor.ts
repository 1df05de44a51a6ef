/**
 * Typed calls to the quality monitor's definer functions (migrations/0014): the acceptance pass, self-pause, the
 * notification outbox's reconciler, time-based checkpoints — and the api's manual pause and human-only resume.
 */
import { sql as dsql } from "drizzle-orm";
import { z } from "zod";
import { InternalError, NotificationIdSchema, SkillIdSchema, WorkspaceIdSchema } from "@praxa/core";
import type { Database } from "./client.js";
import type { WorkspaceScope } from "./scope.js";
import { queryRows, queryScopedRows } from "./typed-query.js";

const num = z.union([z.number(), z.string()]).transform(Number);
const date = z.union([z.date(), z.string().transform((s) => new Date(s))]);

// ── the acceptance pass ──

const AcceptanceRow = z.object({
  workspace_id: WorkspaceIdSchema,
  skill_id: SkillIdSchema,
  status: z.enum(["active", "paused"]),
  decided: z.number().int(),
  accepted: z.number().int(),
  rate: num.nullable(),
  threshold: num.nullable(),
  window_size: z.number().int().nullable(),
  min_samples: z.number().int().nullable(),
  below: z.boolean(),
});
export type AcceptanceFigures = z.infer<typeof AcceptanceRow>;

/**
 * Recompute the figures of up to `limit` Skills whose feedback changed (rows another monitor holds are skipped), keep a
 * sample of each change, and return them; `below` marks a rate under the threshold with at least minSamples decisions.
 */
export async function acceptancePass(database: Database, limit: number): Promise<AcceptanceFigures[]> {
  return queryRows(database, AcceptanceRow, dsql`select * from public.monitor_acceptance_pass(${limit})`);
}

const PauseRow = z.object({
  paused: z.boolean(),
  pause_id: num.nullable(),
  reason: z.string().nullable(),
  rate: num.nullable(),
  threshold: num.nullable(),
  decided: z.number().int().nullable(),
  accepted: z.number().int().nullable(),
  window_size: z.number().int().nullable(),
  min_samples: z.number().int().nullable(),
  incident_key: z.string().nullable(),
  notification_ids: z.array(NotificationIdSchema),
});
export type AcceptancePause = z.infer<typeof PauseRow>;

/**
 * In the scope's transaction: pause the Skill if — recomputed by the database — it is active and below its threshold
 * with enough decisions; records the pause and one notification per configured channel. `paused: false` otherwise
 * (another monitor paused it first, or it recovered). The caller appends the audit event in the same transaction.
 */
export async function pauseSkillForAcceptance(scope: WorkspaceScope, skillId: string): Promise<AcceptancePause> {
  const [row] = await queryScopedRows(scope, PauseRow, dsql`select * from public.monitor_pause_skill(${skillId})`);
  if (!row) throw new InternalError("monitor_pause_skill returned no row");
  return row;
}

// ── the notification outbox ──

const OpenNotificationRow = z.object({
  notification_id: NotificationIdSchema,
  workspace_id: WorkspaceIdSchema,
  status: z.enum(["pending", "sending"]),
  updated_at: date,
});
export type OpenNotification = z.infer<typeof OpenNotificationRow>;

/** Pending notifications older than the grace period, and sending ones whose lease expired (oldest first). */
export async function listOpenNotifications(
  database: Database,
  graceSeconds: number,
  limit: number,
): Promise<OpenNotification[]> {
  return queryRows(
    database,
    OpenNotificationRow,
    dsql`select * from public.monitor_open_notifications(${graceSeconds}, ${limit})`,
  );
}

// ── time-based checkpoints ──

const DueRow = z.object({ workspace_id: WorkspaceIdSchema, head_seq: num, checkpointed: num });
export type CheckpointDue = z.infer<typeof DueRow>;

/** Workspaces whose audit chain grew past their newest checkpoint. */
export async function checkpointsDue(database: Database, limit: number): Promise<CheckpointDue[]> {
  return queryRows(database, DueRow, dsql`select * from public.monitor_checkpoints_due(${limit})`);
}

// ── api: manual pause and resume ──

/** The token the caller authenticated with; the database re-checks it (kind, role, liveness) from its hash. */
export interface PresentedToken {
  readonly tokenId: string;
  readonly secretSha256: string;
}

const ManualPauseRow = z.object({ paused: z.boolean(), pause_id: num.nullable(), member_id: z.string() });
export type ManualPause = z.infer<typeof ManualPauseRow>;

/** An admin's pause (human or automation token). `paused: false` when it was paused already. */
export async function pauseSkillByAdmin(
  scope: WorkspaceScope,
  skillId: string,
  token: PresentedToken,
  reason: string,
): Promise<ManualPause> {
  const [row] = await queryScopedRows(
    scope,
    ManualPauseRow,
    dsql`select * from public.api_pause_skill(${skillId}, ${token.tokenId}, ${token.secretSha256}, ${reason})`,
  );
  if (!row) throw new InternalError("api_pause_skill returned no row");
  return row;
}

const PublishedRow = z.object({
  skill_id: z.string(),
  version_id: z.string(),
  version: z.number().int(),
  created: z.boolean(),
  member_id: z.string(),
});
export type PublishedSkillVersion = z.infer<typeof PublishedRow>;

/**
 * A workspace admin publishes a declarative Skill version: the database re-checks the token, numbers the version and
 * refuses tools of uninstalled integrations or publishing over a built-in; the same manifest hash as the newest
 * version answers that version (`created: false`).
 */
export async function publishSkillVersion(
  scope: WorkspaceScope,
  token: PresentedToken,
  v: {
    readonly skillId: string;
    readonly slug: string;
    readonly name: string;
    readonly versionId: string;
    readonly manifest: unknown;
    readonly manifestHash: string;
  },
): Promise<PublishedSkillVersion> {
  const [row] = await queryScopedRows(
    scope,
    PublishedRow,
    dsql`select * from public.api_publish_skill_version(${v.skillId}, ${v.slug}, ${v.name}, ${v.versionId},
           ${JSON.stringify(v.manifest)}::jsonb, ${v.manifestHash}, ${token.tokenId}, ${token.secretSha256})`,
  );
  if (!row) throw new InternalError("api_publish_skill_version returned no row");
  return row;
}

const ResumeRow = z.object({
  resumed: z.boolean(),
  pause_id: num.nullable(),
  member_id: z.string(),
  notification_ids: z.array(NotificationIdSchema),
});
export type Resume = z.infer<typeof ResumeRow>;

/**
 * A human admin's resume: the database refuses any other token (PermissionDeniedError) and any other path from paused
 * to active. `resumed: false` when the Skill was not paused. Returns the resume notifications to enqueue.
 */
export async function resumeSkillByAdmin(
  scope: WorkspaceScope,
  skillId: string,
  token: PresentedToken,
  reason: string,
): Promise<Resume> {
  const [row] = await queryScopedRows(
    scope,
    ResumeRow,
    dsql`select * from public.api_resume_skill(${skillId}, ${token.tokenId}, ${token.secretSha256}, ${reason})`,
  );
  if (!row) throw new InternalError("api_resume_skill returned no row");
  return row;
}
