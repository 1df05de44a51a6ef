/**
 * Replays of recorded decisions (migrations/0035). The api — or the operator CLI — records a request in the caller's
 * scope (`requestReplay`, audited by the caller in the same transaction); a worker claims it by id under a lease of its
 * own (the workspace and the event's signed bytes come from the rows, never the job), opens only the Slack bot token of
 * the team the replayed run came through (`replaySlackSecret`, `replayWorkspaceKeys`), and stores the report
 * (`finishReplay`). `readReplay` is what `GET /v1/audit/replays/:id` answers.
 */
import { sql as dsql } from "drizzle-orm";
import { z } from "zod";
import {
  AuditEventIdSchema,
  WorkspaceIdSchema,
  type AuditEventId,
  type ReplayReport,
  type WorkspaceId,
} from "@praxa/core";
import type { Database } from "./client.js";
import { requireScope, type WorkspaceScope } from "./scope.js";
import { queryRows, queryScopedRows } from "./typed-query.js";
import type { RunKeyMaterial } from "./keys.js";

const date = z.union([z.date(), z.string().transform((s) => new Date(s))]);
const bytes = z.instanceof(Buffer);

export interface ReplayLease {
  readonly replayId: string;
  readonly token: string;
  readonly expiresAt: Date;
}

export interface ClaimedReplay {
  readonly replayId: string;
  readonly workspaceId: WorkspaceId;
  readonly eventId: AuditEventId;
  /** The event's stored canonical bytes (null when the event is no longer stored: retention cut it). */
  readonly canonical: Buffer | null;
  readonly attempt: number;
  readonly lease: ReplayLease;
}

const ClaimRow = z.object({
  workspace_id: WorkspaceIdSchema,
  event_id: AuditEventIdSchema,
  canonical: bytes.nullable(),
  attempts: z.number().int(),
  lease_token: z.uuid(),
  lease_expires_at: date,
});

/** Record a replay request in the caller's scope (queued). The caller audits it in the same transaction. */
export async function requestReplay(
  scope: WorkspaceScope,
  r: { replayId: string; eventId: string; memberId: string | null; tokenId: string | null },
): Promise<void> {
  await requireScope(scope).execute(
    dsql`insert into public.audit_replays (workspace_id, id, event_id, requested_by_member, requested_by_token)
         values (${scope.workspaceId}, ${r.replayId}, ${r.eventId}, ${r.memberId}, ${r.tokenId})`,
  );
}

const ReplayRow = z.object({
  id: z.string(),
  event_id: z.string(),
  status: z.enum(["queued", "running", "done", "failed"]),
  outcome: z.enum(["reproduced", "changed", "unavailable", "differs"]).nullable(),
  report: z.unknown().nullable(),
  error_code: z.string().nullable(),
  requested_by_member: z.string().nullable(),
  created_at: date,
  finished_at: date.nullable(),
});
export type ReplayRow = z.infer<typeof ReplayRow>;

/** A replay request of the caller's workspace (null: none with this id here). */
export async function readReplay(scope: WorkspaceScope, replayId: string): Promise<ReplayRow | null> {
  const rows = await queryScopedRows(
    scope,
    ReplayRow,
    dsql`select id, event_id, status, outcome, report, error_code, requested_by_member, created_at, finished_at
           from public.audit_replays where id = ${replayId}`,
  );
  return rows[0] ?? null;
}

/** Claim a replay request; null if it is not claimable (done, failed, held under a live lease, out of attempts). */
export async function claimReplay(
  database: Database,
  replayId: string,
  holder: string,
  leaseSeconds = 120,
): Promise<ClaimedReplay | null> {
  const [r] = await queryRows(
    database,
    ClaimRow,
    dsql`select * from public.replay_claim(${replayId}, ${holder}, ${leaseSeconds})`,
  );
  if (!r) return null;
  return {
    replayId,
    workspaceId: r.workspace_id,
    eventId: r.event_id,
    canonical: r.canonical,
    attempt: r.attempts,
    lease: { replayId, token: r.lease_token, expiresAt: r.lease_expires_at },
  };
}

const SecretRow = z.object({
  ciphertext: bytes,
  key_id: z.string(),
  provider: z.string(),
  purpose: z.string(),
  expires_at: date.nullable(),
});
export type ReplaySecret = z.infer<typeof SecretRow>;

/** Under the lease: the sealed bot token of `teamId` if it is the replayed run's team; null otherwise. */
export async function replaySlackSecret(
  scope: WorkspaceScope,
  lease: ReplayLease,
  teamId: string,
): Promise<ReplaySecret | null> {
  const rows = await queryScopedRows(
    scope,
    SecretRow,
    dsql`select * from public.replay_slack_secret(${lease.replayId}, ${lease.token}::uuid, ${teamId})`,
  );
  return rows[0] ?? null;
}

const KeyRow = z.object({
  key_id: z.string(),
  status: z.enum(["active", "retired"]),
  public_key: bytes,
  wrapped_private_key: bytes,
  tenant_id: z.string(),
  tenant_key_id: z.string(),
  tenant_wrapped_key: bytes,
  kms_key_ref: z.string(),
});

/** Under the lease: the workspace's wrapped private keys (newest first) to open the secret with. */
export async function replayWorkspaceKeys(scope: WorkspaceScope, lease: ReplayLease): Promise<RunKeyMaterial[]> {
  return queryScopedRows(
    scope,
    KeyRow,
    dsql`select * from public.replay_workspace_keys(${lease.replayId}, ${lease.token}::uuid)`,
  );
}

/** Store the report (done), or an error code (failed), or give the request back (queued); releases the lease. */
export async function finishReplay(
  scope: WorkspaceScope,
  lease: ReplayLease,
  result:
    | { readonly status: "done"; readonly report: ReplayReport }
    | { readonly status: "failed" | "queued"; readonly errorCode: string },
): Promise<void> {
  const report = result.status === "done" ? JSON.stringify(result.report) : null;
  const outcome = result.status === "done" ? result.report.outcome : null;
  const code = result.status === "done" ? null : result.errorCode;
  await requireScope(scope).execute(
    dsql`select public.replay_finish(${lease.replayId}, ${lease.token}::uuid, ${result.status}, ${outcome}, ${report}::jsonb, ${code})`,
  );
}

const OpenReplayRow = z.object({ replay_id: z.string(), workspace_id: WorkspaceIdSchema, status: z.string() });

/** Monitor only: requests whose job may be lost (queued past the grace period, or held under an expired lease). */
export async function listOpenReplays(
  database: Database,
  graceSeconds: number,
  limit: number,
): Promise<z.infer<typeof OpenReplayRow>[]> {
  return queryRows(database, OpenReplayRow, dsql`select * from public.monitor_open_replays(${graceSeconds}, ${limit})`);
}
