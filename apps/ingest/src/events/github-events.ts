/**
 * GitHub webhook payloads → triggers. Only the fields we need are parsed (zod strips the rest); a payload that does
 * not have them is `malformed_event` and starts nothing.
 */
import { z } from "zod";
import type { MappedEvent } from "./intake-event.js";

const Account = z.object({ login: z.string().min(1).max(100), type: z.string().max(32) });
const Installation = z.object({ id: z.number().int().positive() });
const Repository = z.object({
  full_name: z
    .string()
    .regex(/^[\w.-]+\/[\w.-]+$/)
    .max(200),
});

const PullRequestEvent = z.object({
  action: z.string(),
  number: z.number().int().positive(),
  installation: Installation,
  repository: Repository,
  sender: Account,
  pull_request: z.object({
    draft: z.boolean().optional(),
    user: Account,
    head: z.object({ sha: z.string().regex(/^[0-9a-f]{40}$/) }),
    base: z.object({ ref: z.string().min(1).max(255) }),
  }),
  before: z
    .string()
    .regex(/^[0-9a-f]{40}$/)
    .optional(),
});

const IssueCommentEvent = z.object({
  action: z.string(),
  installation: Installation,
  repository: Repository,
  sender: Account,
  issue: z.object({ number: z.number().int().positive(), pull_request: z.object({}).passthrough().optional() }),
  comment: z.object({
    id: z.number().int().positive(),
    user: Account,
    performed_via_github_app: z.object({ id: z.number().int() }).nullable().optional(),
  }),
});

const PR_ACTIONS = new Set(["opened", "synchronize", "reopened"]);

export function mapGithubEvent(eventName: string, payload: unknown): MappedEvent {
  if (eventName === "ping") return { kind: "ignored", reason: "ping" };
  if (eventName === "pull_request") {
    const p = PullRequestEvent.safeParse(payload);
    if (!p.success) return { kind: "ignored", reason: "malformed_event" };
    if (!PR_ACTIONS.has(p.data.action)) return { kind: "ignored", reason: "unsupported_event" };
    const pr = p.data.pull_request;
    return {
      kind: "event",
      event: {
        source: "github",
        externalId: String(p.data.installation.id),
        trigger: `github.pull_request.${p.data.action}`,
        input: {
          repo: p.data.repository.full_name,
          prNumber: p.data.number,
          headSha: pr.head.sha,
          beforeSha: p.data.before ?? null,
          baseRef: pr.base.ref,
          draft: pr.draft ?? false,
          authorLogin: pr.user.login,
          authorIsBot: pr.user.type === "Bot",
        },
        actor: { login: p.data.sender.login, isBot: p.data.sender.type === "Bot", appId: null },
      },
    };
  }
  if (eventName === "issue_comment") {
    const p = IssueCommentEvent.safeParse(payload);
    if (!p.success) return { kind: "ignored", reason: "malformed_event" };
    if (p.data.action !== "created") return { kind: "ignored", reason: "unsupported_event" };
    return {
      kind: "event",
      event: {
        source: "github",
        externalId: String(p.data.installation.id),
        trigger: "github.issue_comment.created",
        input: {
          repo: p.data.repository.full_name,
          issueNumber: p.data.issue.number,
          isPullRequest: p.data.issue.pull_request !== undefined,
          commentId: p.data.comment.id,
          authorLogin: p.data.comment.user.login,
          authorIsBot: p.data.comment.user.type === "Bot",
        },
        actor: {
          login: p.data.sender.login,
          isBot: p.data.sender.type === "Bot",
          appId: p.data.comment.performed_via_github_app?.id ?? null,
        },
      },
    };
  }
  return { kind: "ignored", reason: "unsupported_event" };
}
