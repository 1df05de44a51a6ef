/**
 * The built-in tools. Each acts on the run's subject (the PR or Slack thread named by the run row), as the
 * workspace's bot — the model chooses arguments like a file path, never which repository or channel.
 */
import { z } from "zod";
import { PraxaError } from "@praxa/core";
import { resolveSubAgentRequest, SubagentDispatchArgsSchema } from "../subagent-request.js";
import type { AnyTool, ToolCallContext, ToolDefinition } from "./tool.js";

/** The tool needs a subject (a PR, a Slack thread, a memory namespace) this run does not have. */
export class ToolSubjectMissingError extends PraxaError {
  readonly code = "TOOL_SUBJECT_MISSING";
  readonly httpStatus = 400;
}

function pullRequestOf(ctx: ToolCallContext): NonNullable<ToolCallContext["subject"]["pullRequest"]> {
  const pr = ctx.subject.pullRequest;
  if (!pr) throw new ToolSubjectMissingError("this run is not about a pull request");
  return pr;
}

const MAX_PATCH_CHARS = 60_000;

export const githubReadDiff: ToolDefinition<Record<string, never>, unknown> = {
  name: "github.read.diff",
  description:
    "Read the pull request under review: title, description, author and the changed files with their unified diff patches.",
  input: z.object({}).strict(),
  effect: false,
  offeredToModel: true,
  resultHoldsContent: true,
  async run(ctx) {
    const pr = pullRequestOf(ctx);
    const gh = await ctx.env.github();
    // On synchronize only the pushed commits are reviewed: the diff between the previous head and the new one.
    const [info, files] = await Promise.all([
      gh.pullRequest(pr.repo, pr.number),
      pr.sinceSha ? gh.compareFiles(pr.repo, pr.sinceSha, pr.headSha) : gh.pullRequestFiles(pr.repo, pr.number),
    ]);
    let budget = MAX_PATCH_CHARS;
    // The author's history in the directories the change touches (the first few): a newcomer to payments/ matters.
    const dirs = [...new Set(files.map((f) => f.filename.split("/").slice(0, -1).join("/") || "."))].slice(0, 5);
    const authorHistory = info.authorIsBot
      ? []
      : await Promise.all(
          dirs.map(async (dir) => ({
            dir,
            commits: await gh.authorCommitCount(pr.repo, info.author, dir === "." ? "" : dir),
          })),
        );
    return {
      authorHistory,
      scope: pr.sinceSha ? { since: pr.sinceSha, head: pr.headSha } : { since: null, head: pr.headSha },
      pullRequest: {
        number: info.number,
        title: info.title,
        body: info.body,
        author: info.author,
        authorIsBot: info.authorIsBot,
        draft: info.draft,
        headSha: info.headSha,
        baseRef: info.baseRef,
      },
      files: files.map((f) => {
        const patch = f.patch !== null && f.patch.length <= budget ? f.patch : null;
        if (patch !== null) budget -= patch.length;
        return {
          filename: f.filename,
          status: f.status,
          additions: f.additions,
          deletions: f.deletions,
          patch,
          truncated: f.patch !== null && patch === null,
        };
      }),
    };
  },
};

export const githubReadFile: ToolDefinition<{ path: string }, unknown> = {
  name: "github.read.file",
  description: "Read one file of the repository at the pull request head commit.",
  input: z
    .object({
      path: z
        .string()
        .min(1)
        .max(500)
        .regex(/^[^\0]+$/)
        .refine((p) => !p.split("/").includes(".."), "no .. segments"),
    })
    .strict(),
  effect: false,
  offeredToModel: true,
  resultHoldsContent: true,
  async run(ctx, input) {
    const pr = pullRequestOf(ctx);
    const text = await (await ctx.env.github()).fileContent(pr.repo, input.path, pr.headSha);
    return text === null
      ? { path: input.path, found: false }
      : { path: input.path, found: true, content: text.slice(0, 100_000) };
  },
};

const ReviewInput = z
  .object({
    event: z.enum(["APPROVE", "REQUEST_CHANGES", "COMMENT"]),
    body: z.string().min(1).max(60_000),
    comments: z
      .array(
        z
          .object({
            path: z.string().min(1).max(500),
            line: z.number().int().min(1),
            body: z.string().min(1).max(10_000),
          })
          .strict(),
      )
      .max(50),
    /** A note said once per PR: appended only if no earlier review on the PR carries its key (e.g. a config problem). */
    once: z
      .object({ key: z.string().regex(/^[a-z0-9:._-]{1,100}$/), text: z.string().min(1).max(4_000) })
      .strict()
      .optional(),
  })
  .strict();

/** Posts one review (with inline comments) on the run's PR — once: a review carrying this step's marker is reused. */
export const githubCommentPr: ToolDefinition<z.infer<typeof ReviewInput>, unknown> = {
  name: "github.comment.pr",
  description: "Post a pull request review with inline comments, as the bot.",
  input: ReviewInput,
  effect: true,
  offeredToModel: false,
  resultHoldsContent: false,
  async run(ctx, input) {
    const pr = pullRequestOf(ctx);
    const gh = await ctx.env.github();
    const existing = await gh.findReviewWithMarker(pr.repo, pr.number, ctx.marker);
    if (existing) return { reviewId: existing.id, url: existing.url, reused: true, skippedRepeats: 0 };
    // Never repeat a comment already on the PR (same file, line and text) — a later push re-reviewed, say.
    const already = new Set(
      (await gh.reviewComments(pr.repo, pr.number)).map((c) => `${c.path}\u0000${c.line ?? ""}\u0000${c.body}`),
    );
    const fresh = input.comments.filter((c) => !already.has(`${c.path}\u0000${c.line}\u0000${c.body}`));
    const onceMarker = input.once ? `<!-- praxa:once:${input.once.key} -->` : null;
    const sayOnce =
      input.once !== undefined &&
      onceMarker !== null &&
      (await gh.findReviewWithMarker(pr.repo, pr.number, onceMarker)) === null;
    const body = sayOnce && input.once ? `${input.once.text}\n\n${input.body}\n\n${onceMarker}` : input.body;
    const created = await gh.createReview(pr.repo, pr.number, {
      event: input.event,
      body: `${body}\n\n${ctx.marker}`,
      commitId: pr.headSha,
      comments: fresh,
    });
    return {
      reviewId: created.id,
      url: created.url,
      reused: false,
      skippedRepeats: input.comments.length - fresh.length,
    };
  },
};

const SlackPostInput = z
  .object({
    text: z.string().min(1).max(40_000),
    blocks: z.array(z.unknown()).max(50).optional(),
    /** One of the channels the Skill's pinned manifest names (its subject's `slackChannels`); else the run's thread. */
    channel: z
      .string()
      .regex(/^[CG][A-Z0-9]{2,30}$/)
      .optional(),
  })
  .strict();

/**
 * Answers in the run's Slack thread, as the bot — or posts in a channel the Skill's pinned manifest names (never one
 * of the model's choosing: effect tools are not offered to the model) — once per step (the marker rides in the
 * message metadata).
 */
export const slackPostMessage: ToolDefinition<z.infer<typeof SlackPostInput>, unknown> = {
  name: "slack.post_message",
  description: "Post a message in the Slack thread this run answers (or a channel its Skill names), as the bot.",
  input: SlackPostInput,
  effect: true,
  offeredToModel: false,
  resultHoldsContent: false,
  async run(ctx, input) {
    if (input.channel !== undefined) {
      if (!(ctx.subject.slackChannels ?? []).includes(input.channel))
        throw new ToolSubjectMissingError("this Skill names no such Slack channel");
      const posted = await (
        await ctx.env.slack(await ctx.env.slackTeam())
      ).postMessage({ channel: input.channel, text: input.text, blocks: input.blocks, marker: ctx.marker });
      return { ts: posted.ts, channel: posted.channel, reused: posted.reused };
    }
    const thread = ctx.subject.slackThread;
    if (!thread) throw new ToolSubjectMissingError("this run is not about a Slack thread");
    const posted = await (
      await ctx.env.slack(thread.teamId)
    ).postMessage({
      channel: thread.channel,
      threadTs: thread.threadTs,
      text: input.text,
      blocks: input.blocks,
      marker: ctx.marker,
    });
    return { ts: posted.ts, channel: posted.channel, reused: posted.reused };
  },
};

/** Reads the run's Slack thread as the bot: the question being answered and what was said before. */
export const slackReadThread: ToolDefinition<Record<string, never>, unknown> = {
  name: "slack.read.thread",
  description: "Read the Slack thread this run answers (the parent message first), as the bot.",
  input: z.object({}).strict(),
  effect: false,
  offeredToModel: true,
  resultHoldsContent: true,
  async run(ctx) {
    const thread = ctx.subject.slackThread;
    if (!thread) throw new ToolSubjectMissingError("this run is not about a Slack thread");
    const messages = await (await ctx.env.slack(thread.teamId)).readThread(thread.channel, thread.threadTs);
    return { messages: messages.slice(-50).map((m) => ({ ts: m.ts, fromBot: m.isBot, text: m.text.slice(0, 4_000) })) };
  },
};

function namespaceOf(ctx: ToolCallContext): string {
  if (ctx.memoryNamespace === null) throw new ToolSubjectMissingError("this Skill has no memory namespace");
  return ctx.memoryNamespace;
}

export const memoryRead: ToolDefinition<{ keys?: string[] | undefined }, unknown> = {
  name: "memory.read",
  description: "Read facts from this Skill’s memory namespace (all recent facts, or the given keys).",
  input: z.object({ keys: z.array(z.string().min(1).max(200)).max(50).optional() }).strict(),
  effect: false,
  offeredToModel: true,
  resultHoldsContent: true,
  async run(ctx, input) {
    return { facts: await ctx.env.memory.read(namespaceOf(ctx), input.keys ?? null) };
  },
};

export const memoryWrite: ToolDefinition<{ key: string; value: unknown }, unknown> = {
  name: "memory.write",
  description: "Remember a fact in this Skill’s memory namespace.",
  input: z.object({ key: z.string().min(1).max(200), value: z.json() }).strict(),
  effect: true,
  offeredToModel: true,
  resultHoldsContent: false,
  async run(ctx, input) {
    await ctx.env.memory.write(namespaceOf(ctx), input.key, input.value);
    return { written: input.key };
  },
};

export const subagentDispatch: ToolDefinition<z.infer<typeof SubagentDispatchArgsSchema>, unknown> = {
  name: "subagent.dispatch",
  description:
    "Hand a sub-task to another Skill of this workspace that this Skill may dispatch. The sub-agent works on this run’s own pull request or thread — never name a repository, PR, channel or thread. Put what it should do in `task`; `input` takes only the fields the sub-agent declares.",
  input: SubagentDispatchArgsSchema,
  effect: true,
  offeredToModel: true,
  resultHoldsContent: false,
  async run(ctx, input) {
    return ctx.env.dispatchSubagent(resolveSubAgentRequest(ctx.subAgents, input), ctx.step);
  },
};

const IssueCommentInput = z
  .object({
    repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, "owner/name"),
    number: z.number().int().min(1),
    body: z.string().min(1).max(60_000),
  })
  .strict();

/**
 * Comments on an issue or a PR's conversation, as the installation's bot — once per step: a comment carrying this
 * step's marker is reused. Only the act phase calls it (never offered to the model), with the issue its Skill's
 * pinned manifest names from the run's input; the installation's token limits it to the installation's repositories.
 */
export const githubCommentIssue: ToolDefinition<z.infer<typeof IssueCommentInput>, unknown> = {
  name: "github.comment.issue",
  description: "Comment on a GitHub issue or pull request conversation, as the bot.",
  input: IssueCommentInput,
  effect: true,
  offeredToModel: false,
  resultHoldsContent: false,
  async run(ctx, input) {
    const [owner = "", repo = ""] = input.repo.split("/");
    const gh = await ctx.env.github();
    const existing = await gh.findIssueCommentWithMarker({ owner, repo }, input.number, ctx.marker);
    if (existing) return { commentId: existing.id, url: existing.url, reused: true };
    const made = await gh.createIssueComment({ owner, repo }, input.number, `${input.body}\n\n${ctx.marker}`);
    return { commentId: made.id, url: made.url, reused: false };
  },
};

const CallbackInput = z.object({ body: z.record(z.string(), z.json()) }).strict();

/**
 * Calls the producer back: POSTs a JSON body to the callback URL the Skill's pinned manifest names, signed with the
 * Skill's Standard Webhooks secret, through the egress guard. The `webhook-id` is the run's and step's, so a retry
 * after a crash is the same message (receivers deduplicate on it).
 */
export const webhookCallback: ToolDefinition<z.infer<typeof CallbackInput>, unknown> = {
  name: "webhook.callback",
  description: "Call the producer back with a signed Standard Webhooks request.",
  input: CallbackInput,
  effect: true,
  offeredToModel: false,
  resultHoldsContent: false,
  async run(ctx, input) {
    const url = ctx.subject.callbackUrl;
    if (!url) throw new ToolSubjectMissingError("this Skill names no callback URL");
    const webhookId = `msg_${ctx.runId}_${ctx.step}`;
    const sent = await ctx.env.callback({ url, webhookId, body: JSON.stringify(input.body) });
    return { webhookId, status: sent.status };
  },
};

export const BUILTIN_TOOLS: readonly AnyTool[] = [
  githubReadDiff,
  githubReadFile,
  githubCommentPr,
  githubCommentIssue,
  slackReadThread,
  slackPostMessage,
  memoryRead,
  memoryWrite,
  subagentDispatch,
  webhookCallback,
] as unknown as readonly AnyTool[];
