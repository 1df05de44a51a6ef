/**
 * Slack as the workspace's bot, for the runtime's tools: `@slack/web-api`'s WebClient with the bot token opened for the
 * run (never a user token). Posting is idempotent per (run, step): the message carries an invisible block whose
 * `block_id` is derived from the step's marker, and the thread is checked for it before posting again.
 *
 * Slack's answers by what they mean (docs/failures.md):
 *  - HTTP 429 with `Retry-After` (the WebClient's `rejectRateLimitedCalls`, so it never sleeps it out in-process), or
 *    `{ok:false, error:"ratelimited"}` → `ThrottledError({resource: "slack"})`, `SLACK_RATE_LIMITED`: the worker gives
 *    the run back and delays it;
 *  - `token_revoked`, `account_inactive`, `invalid_auth` → `IntegrationGoneError({resource: "slack"})`: the bot token
 *    the worker opened no longer acts for the team (app uninstalled, token revoked, workspace deactivated);
 *  - `internal_error`, `fatal_error`, `service_unavailable`, `request_timeout`, an HTTP error or no answer →
 *    `UnavailableError` (retried with backoff);
 *  - any other Slack error code (`channel_not_found`, `not_in_channel`, `missing_scope`, …) → `SlackRequestError`,
 *    refused for good.
 */
import { createHash } from "node:crypto";
import { ErrorCode, LogLevel, WebClient, type KnownBlock, type Logger } from "@slack/web-api";
import { IntegrationGoneError, PraxaError, ThrottledError, UnavailableError, type ErrorDetails } from "@praxa/core";
import { assertBotCredential } from "./bot-credentials.js";

export class SlackRequestError extends PraxaError {
  readonly code = "SLACK_REQUEST_REJECTED";
  readonly httpStatus = 502;
}

/** The `block_id` that marks a message as the one a given step posted (Slack shows no block ids to people). */
export function slackMarkerBlockId(marker: string): string {
  return `praxa-${createHash("sha256").update(marker).digest("hex").slice(0, 40)}`;
}

/** `{ok:false, error:"ratelimited"}` without a `Retry-After` (an HTTP 200): Slack's windows are per minute. */
export const SLACK_THROTTLE_DEFAULT_MS = 60_000;
/** Upper bound of a Slack `Retry-After` honoured. */
export const SLACK_MAX_THROTTLE_MS = 60 * 60_000;
/** The bot token no longer acts for the team. */
const SLACK_GONE = new Set(["token_revoked", "account_inactive", "invalid_auth"]);
const SLACK_TRANSIENT = new Set(["internal_error", "fatal_error", "service_unavailable", "request_timeout"]);

/** A failed Web API call by intent; see the module header. Slack's own text is never copied into a message. */
export function slackCallError(err: unknown, what: string, ids: ErrorDetails = {}): PraxaError {
  const e = err as { code?: unknown; retryAfter?: unknown; data?: { error?: unknown } } | null;
  if (e?.code === ErrorCode.RateLimitedError) {
    const seconds = typeof e.retryAfter === "number" && e.retryAfter >= 0 ? e.retryAfter : null;
    return new ThrottledError(`Slack is rate limiting this team's bot (${what})`, {
      resource: "slack",
      retryAfterMs: Math.min(seconds === null ? SLACK_THROTTLE_DEFAULT_MS : seconds * 1000, SLACK_MAX_THROTTLE_MS),
      code: "SLACK_RATE_LIMITED",
      details: { ...ids, status: 429, retryAfterGiven: seconds !== null },
    });
  }
  const data = e?.code === ErrorCode.PlatformError ? e.data : undefined;
  const code = typeof data?.error === "string" && /^[a-z_]{1,64}$/.test(data.error) ? data.error : null;
  if (code === "ratelimited") {
    return new ThrottledError(`Slack is rate limiting this team's bot (${what})`, {
      resource: "slack",
      retryAfterMs: SLACK_THROTTLE_DEFAULT_MS,
      code: "SLACK_RATE_LIMITED",
      details: { ...ids, slackError: code, retryAfterGiven: false },
    });
  }
  if (code !== null && SLACK_GONE.has(code)) {
    return new IntegrationGoneError(`Slack no longer accepts this team's bot token (${code})`, {
      resource: "slack",
      details: { ...ids, slackError: code },
    });
  }
  if (code !== null && !SLACK_TRANSIENT.has(code)) {
    return new SlackRequestError(`Slack refused ${what} (${code})`, { cause: err, details: { slackError: code } });
  }
  return new UnavailableError(`Slack unavailable for ${what}`, {
    cause: err,
    ...(code === null ? {} : { details: { slackError: code } }),
  });
}

function mapSlackError(err: unknown, what: string, ids: ErrorDetails): never {
  throw slackCallError(err, what, ids);
}

// The SDK logs request failures with their URL and message; errors are mapped to typed ones instead.
const SILENT: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

export interface SlackThreadMessage {
  readonly ts: string;
  readonly user: string | null;
  readonly isBot: boolean;
  readonly text: string;
  /** Block ids (a Praxa post's marker block among them). */
  readonly blockIds: readonly string[];
  /** Slack's `edited.ts`, when the message was edited. */
  readonly editedTs?: string | undefined;
  /** A deleted message Slack keeps as a placeholder because it has replies (`subtype: "tombstone"`). */
  readonly deleted: boolean;
}

export function createSlackBotClient(options: {
  token: string;
  baseUrl: string;
  /** The team the token is for: added to a rate limit's or a gone token's details, so the worker can act on it. */
  teamId?: string;
}) {
  const ids: ErrorDetails = options.teamId === undefined ? {} : { teamId: options.teamId };
  assertBotCredential("slack", options.token);
  const client = new WebClient(options.token, {
    slackApiUrl: `${options.baseUrl.replace(/\/$/, "")}/api/`,
    retryConfig: { retries: 0 },
    // Without this the WebClient sleeps out a 429's Retry-After in-process, holding the worker's slot.
    rejectRateLimitedCalls: true,
    logger: SILENT,
  });
  const replies = async (channel: string, ts: string) => {
    try {
      const r = await client.conversations.replies({ channel, ts, limit: 200 });
      return r.messages ?? [];
    } catch (err) {
      return mapSlackError(err, "the thread", ids);
    }
  };
  return {
    async readThread(channel: string, threadTs: string): Promise<SlackThreadMessage[]> {
      return (await replies(channel, threadTs)).map((m) => ({
        ts: m.ts ?? "",
        user: m.user ?? null,
        isBot: m.bot_id !== undefined,
        text: m.text ?? "",
        blockIds: (m.blocks ?? []).flatMap((b) => (typeof b.block_id === "string" ? [b.block_id] : [])),
        ...(typeof m.edited?.ts === "string" ? { editedTs: m.edited.ts } : {}),
        deleted: (m as { subtype?: unknown }).subtype === "tombstone",
      }));
    },
    async postMessage(m: {
      channel: string;
      text: string;
      threadTs?: string | undefined;
      blocks?: readonly unknown[] | undefined;
      marker: string;
    }) {
      const blockId = slackMarkerBlockId(m.marker);
      if (m.threadTs !== undefined) {
        const existing = (await replies(m.channel, m.threadTs)).find((msg) =>
          (msg.blocks ?? []).some((b) => b.block_id === blockId),
        );
        if (existing?.ts) return { ts: existing.ts, channel: m.channel, reused: true };
      }
      const blocks = [
        ...((m.blocks as KnownBlock[] | undefined) ?? [
          { type: "section", text: { type: "mrkdwn", text: m.text.slice(0, 3000) } } as KnownBlock,
        ]),
        { type: "context", block_id: blockId, elements: [{ type: "mrkdwn", text: "Praxa" }] } as KnownBlock,
      ];
      try {
        const r = await client.chat.postMessage({
          channel: m.channel,
          text: m.text,
          blocks,
          ...(m.threadTs === undefined ? {} : { thread_ts: m.threadTs }),
        });
        return { ts: r.ts ?? "", channel: r.channel ?? m.channel, reused: false };
      } catch (err) {
        return mapSlackError(err, "the message", ids);
      }
    },
  };
}

export type SlackBotClient = ReturnType<typeof createSlackBotClient>;
