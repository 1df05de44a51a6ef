/**
 * Slack as the workspace's bot, for the runtime's tools: `@slack/web-api`'s WebClient with the bot token opened for the
 * run (never a user token). Posting is idempotent per (run, step): the message carries an invisible block whose
 * `block_id` is derived from the step's marker, and the thread is checked for it before posting again.
 */
import { createHash } from "node:crypto";
import { WebClient, type KnownBlock } from "@slack/web-api";
import { PraxaError, UnavailableError } from "@praxa/core";
import { assertBotCredential } from "./bot-credentials.js";

export class SlackRequestError extends PraxaError {
  readonly code = "SLACK_REQUEST_REJECTED";
  readonly httpStatus = 502;
}

/** The `block_id` that marks a message as the one a given step posted (Slack shows no block ids to people). */
export function slackMarkerBlockId(marker: string): string {
  return `praxa-${createHash("sha256").update(marker).digest("hex").slice(0, 40)}`;
}

function mapSlackError(err: unknown, what: string): never {
  const data = (err as { data?: { error?: unknown } }).data;
  const code = typeof data?.error === "string" && /^[a-z_]{1,64}$/.test(data.error) ? data.error : null;
  if (code !== null && code !== "ratelimited" && code !== "internal_error" && code !== "service_unavailable") {
    throw new SlackRequestError(`Slack refused ${what} (${code})`, { cause: err, details: { slackError: code } });
  }
  throw new UnavailableError(`Slack unavailable for ${what}`, { cause: err });
}

export interface SlackThreadMessage {
  readonly ts: string;
  readonly user: string | null;
  readonly isBot: boolean;
  readonly text: string;
}

export function createSlackBotClient(options: { token: string; baseUrl: string }) {
  assertBotCredential("slack", options.token);
  const client = new WebClient(options.token, {
    slackApiUrl: `${options.baseUrl.replace(/\/$/, "")}/api/`,
    retryConfig: { retries: 0 },
  });
  const replies = async (channel: string, ts: string) => {
    try {
      const r = await client.conversations.replies({ channel, ts, limit: 200 });
      return r.messages ?? [];
    } catch (err) {
      return mapSlackError(err, "the thread");
    }
  };
  return {
    async readThread(channel: string, threadTs: string): Promise<SlackThreadMessage[]> {
      return (await replies(channel, threadTs)).map((m) => ({
        ts: m.ts ?? "",
        user: m.user ?? null,
        isBot: m.bot_id !== undefined,
        text: m.text ?? "",
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
        return mapSlackError(err, "the message");
      }
    },
  };
}

export type SlackBotClient = ReturnType<typeof createSlackBotClient>;
