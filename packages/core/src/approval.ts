/**
 * Human approval of a high-impact tool (the manifest's `approval`): the rules every entry point shares, pure.
 *  - the Approve / Deny buttons the worker posts carry these action ids and the approval id as their value;
 *  - the message says which Skill wants to use which tool, with the decision's verdict and confidence — never the
 *    run's input, the model's words or any user content.
 */
import { ApprovalIdSchema } from "./ids.js";

export const APPROVAL_DECISIONS = ["granted", "denied"] as const;
export type ApprovalDecision = (typeof APPROVAL_DECISIONS)[number];

/** Block Kit `action_id`s of the Approve / Deny buttons; each button's `value` is the approval id. */
export const SLACK_APPROVAL_ACTIONS = {
  praxa_approval_grant: "granted",
  praxa_approval_deny: "denied",
} as const satisfies Readonly<Record<string, ApprovalDecision>>;
export type SlackApprovalActionId = keyof typeof SLACK_APPROVAL_ACTIONS;

/** The decision a Slack block action stands for, or null if it is not one of our approval buttons. */
export function slackApprovalDecision(actionId: string): ApprovalDecision | null {
  return Object.hasOwn(SLACK_APPROVAL_ACTIONS, actionId)
    ? SLACK_APPROVAL_ACTIONS[actionId as SlackApprovalActionId]
    : null;
}

export interface ApprovalMessageFacts {
  readonly approvalId: string;
  readonly skillName: string;
  readonly tool: string;
  readonly verdict: string | null;
  readonly confidence: number | null;
  readonly expiresAt: Date;
}

/** The Approve / Deny message: plain text (the notification's fallback) and its Block Kit blocks. */
export function approvalMessage(f: ApprovalMessageFacts): { text: string; blocks: unknown[] } {
  const id = ApprovalIdSchema.parse(f.approvalId);
  // The verdict is shown only as a bare token (a Skill's declared verdict names); anything else is left out.
  const decided =
    f.verdict === null || !/^[a-z][a-z0-9_]{0,63}$/.test(f.verdict)
      ? ""
      : ` (verdict \`${f.verdict}\`${f.confidence === null ? "" : `, confidence ${f.confidence.toFixed(2)}`})`;
  const text = `*${f.skillName}* asks to run \`${f.tool}\`${decided}. Approval ${id} expires ${f.expiresAt.toISOString()}.`;
  return {
    text,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text } },
      {
        type: "actions",
        elements: [
          {
            type: "button",
            action_id: "praxa_approval_grant",
            style: "primary",
            value: id,
            text: { type: "plain_text", text: "Approve" },
          },
          {
            type: "button",
            action_id: "praxa_approval_deny",
            style: "danger",
            value: id,
            text: { type: "plain_text", text: "Deny" },
          },
        ],
      },
    ],
  };
}
