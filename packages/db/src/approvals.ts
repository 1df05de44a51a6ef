/**
 * Human approval of a gated tool (migrations/0031): typed calls to its SECURITY DEFINER functions, rows parsed with zod.
 *  - worker, under the run's lease: `requestApproval` (one per run and step), `parkForApproval` (the message's ts; the
 *    run parks — no slot, no lease), `approvalForStep` (the decision a resumed run finds);
 *  - api, in the caller's scope: `decideApprovalByMember` (the token re-checked in SQL: a live human token of a member
 *    with one of the approval's roles), `linkMemberSlack` (a human owner or admin);
 *  - ingest: `decideApprovalFromSlack` (the team's workspace, a linked member with an allowed role, never the bot);
 *  - monitor: `expireApprovals`.
 */
import { sql as dsql } from "drizzle-orm";
import { z } from "zod";
import {
  ApprovalIdSchema,
  InternalError,
  RunIdSchema,
  WorkspaceIdSchema,
  type ApprovalDecision,
  type ApprovalId,
} from "@praxa/core";
import type { Database } from "./client.js";
import type { PresentedToken } from "./monitor.js";
import type { RunLease } from "./runs.js";
import { APPROVAL_STATUSES } from "./schema.js";
import type { WorkspaceScope } from "./scope.js";
import { queryRows, queryScopedRows } from "./typed-query.js";

const date = z.union([z.date(), z.string().transform((s) => new Date(s))]);
const Status = z.enum(APPROVAL_STATUSES);
const Via = z.enum(["api", "slack", "expiry"]);

const RequestRow = z.object({
  approval_id: ApprovalIdSchema,
  status: Status,
  created: z.boolean(),
  expires_at: date,
  slack_ts: z.string().nullable(),
});
export type RequestedApproval = z.infer<typeof RequestRow>;

export interface ApprovalRequest {
  /** A fresh id; the one recorded first for (run, step) is returned when the step asks again. */
  readonly approvalId: ApprovalId;
  readonly step: number;
  readonly tool: string;
  readonly expiresAfterMinutes: number;
  readonly roles: readonly string[];
  readonly slackChannel: string | null;
}

/** Worker: the approval of this step of the run (created, or the one asked for before). The run keeps its lease. */
export async function requestApproval(
  scope: WorkspaceScope,
  lease: RunLease,
  r: ApprovalRequest,
): Promise<RequestedApproval> {
  const [row] = await queryScopedRows(
    scope,
    RequestRow,
    dsql`select * from public.request_approval(${lease.runId}, ${lease.token}::uuid, ${r.approvalId}, ${r.step}::integer,
      ${r.tool}, ${r.expiresAfterMinutes}::integer, ${dsql.param([...r.roles])}::text[], ${r.slackChannel}::text)`,
  );
  if (!row) throw new InternalError("request_approval returned no row");
  return row;
}

/**
 * Worker: park the run for the approval (its Slack message's ts, if one was posted): `waiting_approval`, lease cleared,
 * undispatched. If it was decided meanwhile the run goes back to the dispatcher instead. Returns the approval's status.
 */
export async function parkForApproval(
  scope: WorkspaceScope,
  lease: RunLease,
  approvalId: ApprovalId,
  slackTs: string | null,
): Promise<z.infer<typeof Status>> {
  const [row] = await queryScopedRows(
    scope,
    z.object({ status: Status }),
    dsql`select public.park_for_approval(${lease.runId}, ${lease.token}::uuid, ${approvalId}, ${slackTs}::text) as status`,
  );
  if (!row) throw new InternalError("park_for_approval returned no row");
  return row.status;
}

const StepApprovalRow = z.object({
  approval_id: ApprovalIdSchema,
  status: Status,
  tool: z.string(),
  decided_by_member: z.string().nullable(),
  decided_via: Via.nullable(),
  reason: z.string().nullable(),
  decided_at: date.nullable(),
});
export type StepApproval = z.infer<typeof StepApprovalRow>;

/** Worker: the approval of this step, or null if none was asked for. */
export async function approvalForStep(
  scope: WorkspaceScope,
  lease: RunLease,
  step: number,
): Promise<StepApproval | null> {
  const [row] = await queryScopedRows(
    scope,
    StepApprovalRow,
    dsql`select * from public.approval_for_step(${lease.runId}, ${lease.token}::uuid, ${step}::integer)`,
  );
  return row ?? null;
}

const ApiDecisionRow = z.object({
  outcome: z.enum(["granted", "denied", "already_decided", "expired", "run_finished"]),
  status: Status,
  run_id: RunIdSchema,
  skill_id: z.string(),
  step: z.number().int(),
  tool: z.string(),
  member_id: z.string(),
});
export type ApiApprovalDecision = z.infer<typeof ApiDecisionRow>;

/**
 * Api: a member decides. The database re-checks the token from its hash — live, `human`, its member's role one of the
 * approval's roles — and refuses anything else (PermissionDeniedError); an unknown approval is a NotFoundError.
 */
export async function decideApprovalByMember(
  scope: WorkspaceScope,
  approvalId: ApprovalId,
  token: PresentedToken,
  decision: ApprovalDecision,
  reason: string | null,
): Promise<ApiApprovalDecision> {
  const [row] = await queryScopedRows(
    scope,
    ApiDecisionRow,
    dsql`select * from public.api_decide_approval(${approvalId}, ${token.tokenId}, ${token.secretSha256}, ${decision}, ${reason}::text)`,
  );
  if (!row) throw new InternalError("api_decide_approval returned no row");
  return row;
}

const SlackDecisionRow = z.object({
  outcome: z.enum([
    "granted",
    "denied",
    "refused",
    "unknown_installation",
    "not_found",
    "already_decided",
    "expired",
    "run_finished",
  ]),
  workspace_id: WorkspaceIdSchema.nullable(),
  run_id: RunIdSchema.nullable(),
  member_id: z.string().nullable(),
});
export type SlackApprovalDecision = z.infer<typeof SlackDecisionRow>;

/** Ingest: a verified click on Approve / Deny by Slack user `userId` of team `teamId`. */
export async function decideApprovalFromSlack(
  database: Database,
  teamId: string,
  userId: string,
  approvalId: ApprovalId,
  decision: ApprovalDecision,
): Promise<SlackApprovalDecision> {
  const [row] = await queryRows(
    database,
    SlackDecisionRow,
    dsql`select * from public.ingest_decide_approval(${teamId}, ${userId}, ${approvalId}, ${decision})`,
  );
  if (!row) throw new InternalError("ingest_decide_approval returned no row");
  return row;
}

const ExpiredRow = z.object({ approval_id: ApprovalIdSchema, workspace_id: WorkspaceIdSchema, run_id: RunIdSchema });
export type ExpiredApproval = z.infer<typeof ExpiredRow>;

/** Monitor: pending approvals past their time → expired, their runs handed back to the dispatcher (they end `denied`). */
export async function expireApprovals(database: Database, limit: number): Promise<ExpiredApproval[]> {
  return queryRows(database, ExpiredRow, dsql`select * from public.monitor_expire_approvals(${limit}::integer)`);
}

const LinkRow = z.object({ member_id: z.string(), actor_member_id: z.string(), previous: z.string().nullable() });
export type SlackLink = z.infer<typeof LinkRow>;

/** Api: link a member to a Slack user (null unlinks); a human owner's or admin's token only (re-checked in SQL). */
export async function linkMemberSlack(
  scope: WorkspaceScope,
  memberId: string,
  slackUserId: string | null,
  token: PresentedToken,
): Promise<SlackLink> {
  const [row] = await queryScopedRows(
    scope,
    LinkRow,
    dsql`select * from public.api_link_member_slack(${memberId}, ${slackUserId}::text, ${token.tokenId}, ${token.secretSha256})`,
  );
  if (!row) throw new InternalError("api_link_member_slack returned no row");
  return row;
}
