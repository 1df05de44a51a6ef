/**
 * Slack `chat.postMessage` as the workspace's bot (`@slack/web-api`), with its own retries off — the queue retries
 * with backoff. A bot token only (a user token is refused before any call). Slack's answers: `ok: false` with an error
 * such as channel_not_found, not_in_channel or invalid_auth is refused for good; rate limits, HTTP 5xx, Slack's own
 * internal errors and network errors are worth retrying.
 */
import { ErrorCode, LogLevel, WebClient } from "@slack/web-api";
import { UnavailableError } from "@praxa/core";
import { assertBotCredential } from "./bot-credentials.js";
import { NotificationRejectedError } from "./notify-errors.js";
import { noticeSummary, noticeText, type Notice } from "./notify-message.js";

export const SLACK_API_URL = "https://slack.com/api/";
const TRANSIENT = new Set(["ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"]);

export interface SlackTarget {
  readonly apiUrl: string;
  readonly botToken: string;
  readonly channel: string;
  readonly timeoutMs?: number;
}

export async function postSlackNotice(target: SlackTarget, notice: Notice): Promise<{ ts: string }> {
  assertBotCredential("slack", target.botToken);
  const client = new WebClient(target.botToken, {
    slackApiUrl: target.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: target.timeoutMs ?? 10_000,
    logLevel: LogLevel.ERROR,
  });
  try {
    const res = await client.chat.postMessage({
      channel: target.channel,
      text: noticeSummary(notice),
      blocks: [{ type: "section", text: { type: "mrkdwn", text: noticeText(notice) } }],
      unfurl_links: false,
    });
    return { ts: typeof res.ts === "string" ? res.ts : "" };
  } catch (err) {
    const e = err as { code?: unknown; data?: { error?: unknown }; statusCode?: unknown };
    if (e.code === ErrorCode.PlatformError) {
      const slackError = typeof e.data?.error === "string" ? e.data.error : "unknown";
      if (TRANSIENT.has(slackError))
        throw new UnavailableError(`Slack answered ${slackError}`, { cause: err, details: { slack: slackError } });
      throw new NotificationRejectedError(`Slack refused the message (${slackError})`, {
        cause: err,
        details: { slack: slackError },
      });
    }
    throw new UnavailableError("Slack could not be reached", { cause: err });
  }
}
