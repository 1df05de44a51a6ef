/**
 * A tool the runtime can run for a Skill, always as the workspace's bot user. The registry is the set of names the
 * runtime knows: a name the model invents maps to `unknown` in telemetry and is refused by the allowlist guard.
 *
 * - `effect`: the tool changes the outside world (a PR review, a Slack post, a child run). The executor re-checks
 *   the run's lease just before it runs, and the tool must be idempotent across a crash between the effect and its
 *   record (e.g. a hidden marker it looks for before posting).
 * - `offeredToModel`: read tools are offered to the model; effect tools run only from the Skill's `act` phase, after
 *   the structured decision — so the model can never post on its own, whatever a prompt says.
 * - `resultHoldsContent`: the result carries user or model content, so its step record is sealed to the workspace key
 *   and purged when the run ends.
 */
import type { z } from "zod";
import type { RunId, WorkspaceId } from "@praxa/core";
import type { SubAgentContext, SubAgentRequest } from "../subagent-request.js";

/** What tools reach the outside world through; the worker implements it for a run it holds. */
export interface ToolEnvironment {
  readonly github: () => Promise<GithubToolClient>;
  /** The Slack bot of the given team (the run's team, from its row). */
  readonly slack: (teamId: string) => Promise<SlackToolClient>;
  /**
   * The Slack team a run with no Slack subject acts in (a producer's event posting to a Skill's channel, an approval
   * message): the workspace's one active Slack integration. None: `INTEGRATION_MISSING`; several: `INTEGRATION_AMBIGUOUS`.
   */
  readonly slackTeam: () => Promise<string>;
  readonly memory: {
    read(namespace: string, keys: readonly string[] | null): Promise<{ key: string; value: unknown }[]>;
    write(namespace: string, key: string, value: unknown): Promise<void>;
  };
  /**
   * Create (once per step) a child run on this run's own subject: the request is validated (child schema, no subject
   * of the model's); its `task` is model-written text, sealed by the implementation and never stored in plain text.
   */
  readonly dispatchSubagent: (request: SubAgentRequest, step: number) => Promise<{ runId: string; created: boolean }>;
  /**
   * POST `body` to the Skill's callback URL (from its pinned manifest), signed with the Skill's own Standard Webhooks
   * secret, through the egress guard (resolve once, no private or metadata address, pinned, no redirects, bounded).
   * `webhookId` is stable for the step, so a retried delivery is the same message to the receiver.
   */
  readonly callback: (request: { url: string; webhookId: string; body: string }) => Promise<{ status: number }>;
}

/** The GitHub calls tools make, as the installation's bot (implemented with Octokit in connectors). */
export interface GithubToolClient {
  pullRequest(repo: RepoRef, number: number): Promise<PullRequestInfo>;
  pullRequestFiles(repo: RepoRef, number: number): Promise<PullRequestFile[]>;
  /** Commits by `author` under `path` on the default branch (capped at 100). */
  authorCommitCount(repo: RepoRef, author: string, path: string): Promise<number>;
  /** Files changed between two commits (what a `synchronize` pushed). */
  compareFiles(repo: RepoRef, base: string, head: string): Promise<PullRequestFile[]>;
  fileContent(repo: RepoRef, path: string, ref: string): Promise<string | null>;
  /** Reviews on the PR whose body carries `marker` (the idempotency check before posting). */
  findReviewWithMarker(repo: RepoRef, number: number, marker: string): Promise<{ id: number; url: string } | null>;
  createReview(repo: RepoRef, number: number, review: ReviewDraft): Promise<{ id: number; url: string }>;
  /** The issue's (or PR conversation's) comment carrying `marker`, if any (the idempotency check before commenting). */
  findIssueCommentWithMarker(
    repo: RepoRef,
    number: number,
    marker: string,
  ): Promise<{ id: number; url: string } | null>;
  /** A comment on an issue or a PR's conversation, as the bot. */
  createIssueComment(repo: RepoRef, number: number, body: string): Promise<{ id: number; url: string }>;
  /** Inline review comments already on the PR (path, line, body), to never repeat one. */
  reviewComments(repo: RepoRef, number: number): Promise<{ path: string; line: number | null; body: string }[]>;
}

export interface SlackToolClient {
  /** The thread's messages (the parent first), read as the bot. */
  readThread(channel: string, threadTs: string): Promise<SlackThreadEntry[]>;
  /** Posts as the bot; `marker` is carried in message metadata and checked first, so a retry never posts twice. */
  postMessage(message: {
    channel: string;
    text: string;
    threadTs?: string | undefined;
    blocks?: readonly unknown[] | undefined;
    marker: string;
  }): Promise<{ ts: string; channel: string; reused: boolean }>;
}

/** One message of a thread as the bot reads it. */
export interface SlackThreadEntry {
  readonly ts: string;
  readonly user: string | null;
  readonly isBot: boolean;
  readonly text: string;
  /** The message's block ids (a Praxa post carries its step's marker as one: how a replay knows its own answer). */
  readonly blockIds?: readonly string[] | undefined;
  /** Slack's `edited.ts`: when the message was last edited, if it was. */
  readonly editedTs?: string | undefined;
  /** A deleted message Slack still shows because it has replies (`subtype: "tombstone"`). */
  readonly deleted?: boolean | undefined;
}

export interface RepoRef {
  readonly owner: string;
  readonly repo: string;
}
export interface PullRequestInfo {
  readonly number: number;
  readonly title: string;
  readonly body: string;
  readonly draft: boolean;
  readonly author: string;
  readonly authorIsBot: boolean;
  readonly headSha: string;
  readonly baseRef: string;
}
export interface PullRequestFile {
  readonly filename: string;
  readonly status: string;
  readonly additions: number;
  readonly deletions: number;
  readonly patch: string | null;
}
export interface ReviewDraft {
  readonly event: "APPROVE" | "REQUEST_CHANGES" | "COMMENT";
  readonly body: string;
  readonly commitId: string;
  readonly comments: readonly { readonly path: string; readonly line: number; readonly body: string }[];
}

/** What the run is about, derived from the run row's input (never from the model): tools act on this and nothing else. */
export interface RunSubject {
  readonly pullRequest?:
    | {
        readonly repo: RepoRef;
        readonly number: number;
        readonly headSha: string;
        /** On `synchronize`: the head before the push — only the commits after it are reviewed. */
        readonly sinceSha?: string | undefined;
      }
    | undefined;
  readonly slackThread?: { readonly teamId: string; readonly channel: string; readonly threadTs: string } | undefined;
  /** Channels the Skill's pinned manifest names for its messages (a declarative Skill's actions), in the workspace's team. */
  readonly slackChannels?: readonly string[] | undefined;
  /** The producer's callback URL the pinned manifest names (a declarative Skill's `callback.url`). */
  readonly callbackUrl?: string | undefined;
}

export interface ToolCallContext {
  readonly subject: RunSubject;
  readonly runId: RunId;
  readonly workspaceId: WorkspaceId;
  /** This call's step index (stable across retries). */
  readonly step: number;
  /** A marker unique to (run, step), for idempotent effects. */
  readonly marker: string;
  readonly env: ToolEnvironment;
  /** The manifest's memory namespace, if any (the guard has checked it). */
  readonly memoryNamespace: string | null;
  /** For `subagent.dispatch`: this run's input (its subject) and the dispatchable Skills' declared inputs. */
  readonly subAgents: SubAgentContext;
}

export interface ToolDefinition<I = unknown, O = unknown> {
  /** Registered name, dotted: `github.read.diff`. */
  readonly name: string;
  readonly description: string;
  readonly input: z.ZodType<I>;
  readonly effect: boolean;
  readonly offeredToModel: boolean;
  readonly resultHoldsContent: boolean;
  run(ctx: ToolCallContext, input: I): Promise<O>;
}

/** A tool of any input/output, as the registry holds it. */
export type AnyTool = ToolDefinition<never, unknown>;

/** The wire name the model sees (the Messages API allows `[a-zA-Z0-9_-]`, no dots): `github.read.diff` → `github_read_diff`. */
export function wireToolName(name: string): string {
  return name.replace(/\./g, "_");
}
