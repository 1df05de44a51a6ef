/**
 * Feedback on a Skill's action (a run): accepted or rejected, by a person, through Slack, GitHub or the api. The rules
 * every entry point shares live here, pure:
 *  - the Slack buttons a Skill posts carry these action ids and the run id as their value;
 *  - `/praxa accept` or `/praxa reject` on the first line of a PR comment is a verdict (anything after is ignored);
 *  - on GitHub only a repository member (author_association OWNER, MEMBER or COLLABORATOR) gives feedback, and a Bot's
 *    is recorded as a bot's: it never counts.
 * How verdicts become a rate (the latest verdict of each human per action; the action's verdict is the majority of
 * those, a tie counting as rejected; the last `window` decided actions) is computed in SQL (migrations/0014).
 */
import { z } from "zod";

export const FEEDBACK_VERDICTS = ["accepted", "rejected"] as const;
export type FeedbackVerdict = (typeof FEEDBACK_VERDICTS)[number];
export const FeedbackVerdictSchema = z.enum(FEEDBACK_VERDICTS);

export const FEEDBACK_SOURCES = ["slack", "github", "api"] as const;
export type FeedbackSource = (typeof FEEDBACK_SOURCES)[number];

/** Block Kit `action_id`s of the Helpful / Not helpful buttons; each button's `value` is the run id. */
export const SLACK_FEEDBACK_ACTIONS = {
  praxa_feedback_accept: "accepted",
  praxa_feedback_reject: "rejected",
} as const satisfies Readonly<Record<string, FeedbackVerdict>>;
export type SlackFeedbackActionId = keyof typeof SLACK_FEEDBACK_ACTIONS;

/** The verdict a Slack block action stands for, or null if it is not one of our feedback buttons. */
export function slackFeedbackVerdict(actionId: string): FeedbackVerdict | null {
  return Object.hasOwn(SLACK_FEEDBACK_ACTIONS, actionId)
    ? SLACK_FEEDBACK_ACTIONS[actionId as SlackFeedbackActionId]
    : null;
}

/** The two buttons, ready for a Block Kit `actions` block (the slack-answer Skill posts them under its answer). */
export function slackFeedbackButtons(
  runId: string,
): { type: "button"; action_id: SlackFeedbackActionId; value: string; text: { type: "plain_text"; text: string } }[] {
  return [
    { type: "button", action_id: "praxa_feedback_accept", value: runId, text: { type: "plain_text", text: "Helpful" } },
    {
      type: "button",
      action_id: "praxa_feedback_reject",
      value: runId,
      text: { type: "plain_text", text: "Not helpful" },
    },
  ];
}

const COMMAND = /^\s*\/praxa\s+(accept|reject)(?:\s|$)/i;

/** `/praxa accept` or `/praxa reject` on the comment's first non-empty line → the verdict; anything else → null. */
export function parseFeedbackCommand(body: string): FeedbackVerdict | null {
  const first = body.split(/\r?\n/).find((line) => line.trim() !== "") ?? "";
  const m = COMMAND.exec(first);
  if (!m) return null;
  return m[1]?.toLowerCase() === "accept" ? "accepted" : "rejected";
}

/** GitHub's author_association values that make a commenter a member of the repository. */
export const GITHUB_MEMBER_ASSOCIATIONS = ["OWNER", "MEMBER", "COLLABORATOR"] as const;

export function isGithubMember(authorAssociation: string): boolean {
  return (GITHUB_MEMBER_ASSOCIATIONS as readonly string[]).includes(authorAssociation);
}
