/**
 * Feedback arriving through ingest, after the signature is verified:
 *  - Slack interactivity (`POST /webhooks/slack/interactions`, `application/x-www-form-urlencoded` with `payload=`):
 *    a click on a Helpful / Not helpful button (`block_actions`, action ids from core, the run id as the button's
 *    value) → a verdict by that Slack user on that run, if the run belongs to the workspace of the payload's team;
 *  - a GitHub `issue_comment.created` on a pull request whose first line is `/praxa accept` or `/praxa reject`, by a
 *    repository member (OWNER, MEMBER, COLLABORATOR) → a verdict on the PR's latest pull_request run; a Bot's is
 *    recorded as a bot's (never counted), anyone else's is ignored.
 * Each delivery is recorded once (replay protection in `ingest_record_feedback`). Only ids and the verdict are kept —
 * never the comment's text.
 */
import { z } from "zod";
import {
  ApprovalIdSchema,
  isGithubMember,
  slackApprovalDecision,
  type ApprovalDecision,
  type ApprovalId,
  parseFeedbackCommand,
  RunIdSchema,
  slackFeedbackVerdict,
  type FeedbackVerdict,
} from "@praxa/core";
import {
  decideApprovalFromSlack,
  recordPullRequestFeedback,
  recordSlackFeedback,
  type FeedbackOutcome,
  type SlackApprovalDecision,
} from "@praxa/db";
import { MalformedBodyError } from "./errors.js";
import type { Delivery, IntakeDeps } from "./intake.js";

const SlackId = z.string().regex(/^[A-Z0-9]{2,32}$/);

const BlockActions = z.object({
  type: z.literal("block_actions"),
  team: z.object({ id: SlackId }),
  user: z.object({ id: SlackId }),
  trigger_id: z
    .string()
    .regex(/^[0-9a-f.]{1,100}$/)
    .optional(),
  actions: z.array(z.object({ action_id: z.string().max(255), value: z.string().max(2000).optional() })).max(25),
});

export interface SlackFeedbackClick {
  readonly teamId: string;
  readonly userId: string;
  readonly triggerId: string | null;
  readonly runId: string;
  readonly verdict: FeedbackVerdict;
}

export interface SlackApprovalClick {
  readonly teamId: string;
  readonly userId: string;
  readonly approvalId: ApprovalId;
  readonly decision: ApprovalDecision;
}

function blockActions(body: Buffer): z.infer<typeof BlockActions> | null {
  const payload = new URLSearchParams(body.toString("utf8")).get("payload");
  if (payload === null) throw new MalformedBodyError("an interaction body is a form with a payload field");
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    throw new MalformedBodyError("the interaction payload is not valid JSON");
  }
  const p = BlockActions.safeParse(json);
  return p.success ? p.data : null;
}

/** A click on Approve / Deny (action ids from core, the approval id as the value), or null for anything else. */
export function parseSlackApprovalClick(body: Buffer): SlackApprovalClick | null {
  const p = blockActions(body);
  if (!p) return null;
  for (const a of p.actions) {
    const decision = slackApprovalDecision(a.action_id);
    const approvalId = ApprovalIdSchema.safeParse(a.value);
    if (decision && approvalId.success)
      return { teamId: p.team.id, userId: p.user.id, approvalId: approvalId.data, decision };
  }
  return null;
}

/**
 * Ingest: a verified Approve / Deny click. The database decides whether this Slack user may decide (a member of the
 * team's workspace, linked, with an allowed role — never the bot); a refused click changes nothing.
 */
export async function acceptSlackApproval(deps: IntakeDeps, click: SlackApprovalClick): Promise<SlackApprovalDecision> {
  const outcome = await decideApprovalFromSlack(
    deps.database,
    click.teamId,
    click.userId,
    click.approvalId,
    click.decision,
  );
  deps.log.info(
    {
      workspaceId: outcome.workspace_id,
      runId: outcome.run_id,
      approvalId: click.approvalId,
      outcome: outcome.outcome,
      code: "APPROVAL_CLICK",
    },
    "slack approval click",
  );
  return outcome;
}

/** The feedback click in a verified interactivity body, or null if the body is some other interaction. */
export function parseSlackInteraction(body: Buffer): SlackFeedbackClick | null {
  const payload = new URLSearchParams(body.toString("utf8")).get("payload");
  if (payload === null) throw new MalformedBodyError("an interaction body is a form with a payload field");
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    throw new MalformedBodyError("the interaction payload is not valid JSON");
  }
  const p = BlockActions.safeParse(json);
  if (!p.success) return null;
  for (const a of p.data.actions) {
    const verdict = slackFeedbackVerdict(a.action_id);
    const runId = RunIdSchema.safeParse(a.value);
    if (verdict && runId.success)
      return {
        teamId: p.data.team.id,
        userId: p.data.user.id,
        triggerId: p.data.trigger_id ?? null,
        runId: runId.data,
        verdict,
      };
  }
  return null;
}

const Account = z.object({
  login: z.string().min(1).max(100),
  id: z.number().int().positive(),
  type: z.string().max(32),
});
const FeedbackComment = z.object({
  action: z.literal("created"),
  installation: z.object({ id: z.number().int().positive() }),
  repository: z.object({
    full_name: z
      .string()
      .regex(/^[\w.-]+\/[\w.-]+$/)
      .max(200),
  }),
  issue: z.object({ number: z.number().int().positive(), pull_request: z.object({}).passthrough().optional() }),
  comment: z.object({
    body: z.string().max(65_536),
    author_association: z.string().max(32),
    user: Account,
    performed_via_github_app: z.object({ id: z.number().int() }).nullable().optional(),
  }),
});

export type PrFeedbackComment =
  | {
      readonly kind: "feedback";
      readonly installationId: string;
      readonly repo: string;
      readonly prNumber: number;
      readonly verdict: FeedbackVerdict;
      readonly actorId: string;
      readonly actorIsBot: boolean;
    }
  | { readonly kind: "ignored"; readonly reason: "not_a_pull_request" | "not_a_member" | "own_app" };

/** A `/praxa accept|reject` comment → the feedback it stands for (or why it is ignored); null if it is no such command. */
export function parsePrFeedbackComment(payload: unknown, ownAppId: number | undefined): PrFeedbackComment | null {
  const p = FeedbackComment.safeParse(payload);
  if (!p.success) return null;
  const verdict = parseFeedbackCommand(p.data.comment.body);
  if (!verdict) return null;
  const c = p.data.comment;
  if (ownAppId !== undefined && c.performed_via_github_app?.id === ownAppId)
    return { kind: "ignored", reason: "own_app" };
  if (p.data.issue.pull_request === undefined) return { kind: "ignored", reason: "not_a_pull_request" };
  const isBot = c.user.type === "Bot";
  if (!isBot && !isGithubMember(c.author_association)) return { kind: "ignored", reason: "not_a_member" };
  return {
    kind: "feedback",
    installationId: String(p.data.installation.id),
    repo: p.data.repository.full_name,
    prNumber: p.data.issue.number,
    verdict,
    actorId: String(c.user.id),
    actorIsBot: isBot,
  };
}

export async function acceptSlackFeedback(
  deps: IntakeDeps,
  delivery: Delivery,
  click: SlackFeedbackClick,
): Promise<FeedbackOutcome> {
  const outcome = await recordSlackFeedback(deps.database, delivery, click.teamId, click.runId, click.verdict, {
    id: click.userId,
    isBot: false,
  });
  deps.log.info(
    {
      deliveryId: delivery.deliveryId,
      workspaceId: outcome.workspace_id,
      runId: outcome.run_id,
      outcome: outcome.outcome,
      code: "FEEDBACK",
    },
    "slack feedback",
  );
  return outcome;
}

export async function acceptPrFeedback(
  deps: IntakeDeps,
  delivery: Delivery,
  fb: Extract<PrFeedbackComment, { kind: "feedback" }>,
): Promise<FeedbackOutcome> {
  const outcome = await recordPullRequestFeedback(
    deps.database,
    delivery,
    fb.installationId,
    fb.repo,
    fb.prNumber,
    fb.verdict,
    { id: fb.actorId, isBot: fb.actorIsBot },
  );
  deps.log.info(
    {
      deliveryId: delivery.deliveryId,
      workspaceId: outcome.workspace_id,
      runId: outcome.run_id,
      outcome: outcome.outcome,
      bot: fb.actorIsBot,
      code: "FEEDBACK",
    },
    "pull request feedback",
  );
  return outcome;
}
