/**
 * Human approval of high-impact tools (docs/approvals.md):
 *  - `GET /v1/approvals` — the workspace's approvals, newest first, optionally by status;
 *  - `GET /v1/approvals/:id` — one approval;
 *  - `POST /v1/approvals/:id/grant`, `POST /v1/approvals/:id/deny` — only a human decides: a `human` token of a member
 *    whose role is one of the approval's roles. The route refuses other tokens (403), and so does the database, which
 *    re-checks the token from its hash in `api_decide_approval`. The run goes back to the dispatcher; its worker finds
 *    the decision at the gated step and audits it (`approval.granted|denied`, with the member). A decided, expired or
 *    cancelled one answers 409;
 *  - `PUT /v1/members/:id/slack` — link a member to their Slack user (their Approve / Deny clicks decide as them), or
 *    unlink (`slackUserId: null`): a human owner or admin only (re-checked in SQL); audited `admin.member.slack_linked`.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import {
  ApprovalIdSchema,
  ConflictError,
  MemberIdSchema,
  WorkspaceScopeError,
  type ApprovalDecision,
  type ApprovalId,
} from "@praxa/core";
import {
  APPROVAL_STATUSES,
  and,
  decideApprovalByMember,
  desc,
  eq,
  linkMemberSlack,
  lt,
  schema,
  type AuditSigner,
  type Database,
} from "@praxa/db";
import { appendAdminEvents, requireAuditSigner } from "../admin-audit.js";
import { route, type RouteContext } from "../route-builder.js";
import { Id, Timestamp } from "../schemas.js";

const Approval = z
  .object({
    id: Id("approval"),
    runId: Id("run"),
    skillId: Id("skill"),
    step: z.number().int(),
    tool: z.string(),
    status: z.enum(APPROVAL_STATUSES),
    roles: z.array(z.string()).meta({ description: "member roles that may decide (owner, admin, member)" }),
    slackChannel: z.string().nullable(),
    requestedAt: Timestamp,
    expiresAt: Timestamp,
    decidedAt: Timestamp.nullable(),
    decidedByMember: Id("member").nullable(),
    decidedVia: z.enum(["api", "slack", "expiry"]).nullable(),
    reason: z.string().nullable(),
  })
  .strict();

const exampleApproval = {
  id: "ap_01jdz3m2b4c6d8e0f2g4h6j8k0",
  runId: "rn_01jdz3m0r8f6q2v1a7b9c4d5e6",
  skillId: "sk_01jdz3kz2w9x8v7t6s5r4q3p2n",
  step: 3,
  tool: "github.comment.pr",
  status: "granted",
  roles: ["owner", "admin"],
  slackChannel: "C00FAKECHAN2",
  requestedAt: "2019-05-15T15:20:51.000Z",
  expiresAt: "2019-05-15T16:20:51.000Z",
  decidedAt: "2019-05-15T15:24:02.000Z",
  decidedByMember: "mb_01jdz3kyb1c2d3e4f5g6h7j8k9",
  decidedVia: "slack",
  reason: null,
};

const a = schema.runApprovals;
const fields = {
  id: a.id,
  runId: a.runId,
  skillId: a.skillId,
  step: a.step,
  tool: a.tool,
  status: a.status,
  roles: a.roles,
  slackChannel: a.slackChannel,
  requestedAt: a.requestedAt,
  expiresAt: a.expiresAt,
  decidedAt: a.decidedAt,
  decidedByMember: a.decidedByMember,
  decidedVia: a.decidedVia,
  reason: a.reason,
};

const Params = z.object({ id: ApprovalIdSchema }).strict();
const Decision = z.object({ reason: z.string().trim().min(1).max(500).optional() }).strict();
const Decided = z
  .object({
    approvalId: Id("approval"),
    runId: Id("run"),
    status: z.enum(["granted", "denied"]),
    decidedBy: Id("member"),
  })
  .strict();

async function decide(
  ctx: RouteContext<{ id: ApprovalId }, unknown, { reason?: string | undefined }>,
  decision: ApprovalDecision,
): Promise<z.infer<typeof Decided>> {
  const r = await decideApprovalByMember(ctx.scope, ctx.params.id, ctx.caller.token, decision, ctx.body.reason ?? null);
  if (r.outcome === "already_decided") throw new ConflictError(`this approval was already decided (${r.status})`);
  if (r.outcome === "expired") throw new ConflictError("this approval expired: the run does not act");
  if (r.outcome === "run_finished") throw new ConflictError("this approval's run has ended (cancelled)");
  return { approvalId: ctx.params.id, runId: r.run_id, status: r.outcome, decidedBy: r.member_id };
}

export function registerApprovalRoutes(app: FastifyInstance, db: Database, auditSigner: AuditSigner | undefined): void {
  route(app, db, {
    method: "GET",
    url: "/v1/approvals",
    tag: "approvals",
    summary: "List approvals (newest first)",
    description:
      "Approvals of gated tools (the manifest's `approval`): each names its run, step, tool, who may decide (roles) and when it expires. Page with `before` (the last `requestedAt` seen).",
    operationId: "listApprovals",
    query: z
      .object({
        status: z.enum(APPROVAL_STATUSES).optional(),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        before: z.iso.datetime().optional(),
      })
      .strict(),
    response: z.object({ approvals: z.array(Approval) }).strict(),
    examples: { response: { approvals: [exampleApproval] } },
    handler: async ({ scope, query }) => {
      const where = and(
        query.status ? eq(a.status, query.status) : undefined,
        query.before ? lt(a.requestedAt, new Date(query.before)) : undefined,
      );
      const approvals = await scope.db
        .select(fields)
        .from(a)
        .where(where)
        .orderBy(desc(a.requestedAt), desc(a.id))
        .limit(query.limit);
      return { approvals };
    },
  });

  route(app, db, {
    method: "GET",
    url: "/v1/approvals/:id",
    tag: "approvals",
    summary: "One approval",
    operationId: "getApproval",
    params: Params,
    response: z.object({ approval: Approval }).strict(),
    examples: { response: { approval: exampleApproval } },
    handler: async ({ scope, params }) => {
      const [approval] = await scope.db.select(fields).from(a).where(eq(a.id, params.id));
      if (!approval) throw new WorkspaceScopeError("no such approval in this workspace");
      return { approval };
    },
  });

  for (const [verb, decision] of [
    ["grant", "granted"],
    ["deny", "denied"],
  ] as const) {
    route(app, db, {
      method: "POST",
      url: `/v1/approvals/:id/${verb}`,
      tag: "approvals",
      summary: verb === "grant" ? "Approve: the run resumes and the tool acts" : "Deny: the tool never acts",
      description:
        "Only a human decides: a `human` token of a member whose role is one of the approval's roles (re-checked by the database; an automation token is refused with 403). The run goes back to the fleet's dispatcher and its worker audits the decision (`approval." +
        decision +
        "`, with the member). A decided, expired or cancelled approval answers 409.",
      operationId: verb === "grant" ? "grantApproval" : "denyApproval",
      errors: ["PERMISSION_DENIED", "CONFLICT"],
      roles: ["owner", "admin", "member"],
      kind: "human",
      bodyLimit: 2048,
      params: Params,
      body: Decision,
      response: Decided,
      examples: {
        body: { reason: verb === "grant" ? "reviewed the proposed comment" : "not on a release branch" },
        response: {
          approvalId: exampleApproval.id,
          runId: exampleApproval.runId,
          status: decision,
          decidedBy: exampleApproval.decidedByMember,
        },
      },
      handler: (ctx) => decide(ctx, decision),
    });
  }

  route(app, db, {
    method: "PUT",
    url: "/v1/members/:id/slack",
    tag: "members",
    summary: "Link a member to their Slack user (their Approve / Deny clicks decide as them)",
    description:
      "A human owner or admin only (re-checked by the database). `slackUserId: null` unlinks. A Slack user is linked to at most one member of a workspace (409). Audited: `admin.member.slack_linked`.",
    operationId: "linkMemberSlack",
    errors: ["UNAVAILABLE", "PERMISSION_DENIED", "CONFLICT"],
    roles: ["owner", "admin"],
    kind: "human",
    bodyLimit: 1024,
    params: z.object({ id: MemberIdSchema }).strict(),
    body: z
      .object({
        slackUserId: z
          .string()
          .regex(/^[UW][A-Z0-9]{2,30}$/, "a Slack user id such as U0123ABCD")
          .nullable(),
      })
      .strict(),
    response: z.object({ memberId: Id("member"), slackUserId: z.string().nullable() }).strict(),
    examples: {
      body: { slackUserId: "U00FAKEUSER2" },
      response: { memberId: "mb_01jdz3kyb1c2d3e4f5g6h7j8k9", slackUserId: "U00FAKEUSER2" },
    },
    handler: async ({ scope, caller, params, body }) => {
      requireAuditSigner(auditSigner);
      const r = await linkMemberSlack(scope, params.id, body.slackUserId, caller.token);
      await appendAdminEvents(scope, auditSigner, caller, [
        {
          kind: "admin.member.slack_linked",
          targetId: params.id,
          details: { slack_user_id: body.slackUserId, previous: r.previous },
          output: { linked: body.slackUserId !== null },
        },
      ]);
      return { memberId: params.id, slackUserId: body.slackUserId };
    },
  });
}
