/**
 * Slack as an OAuth v2 bot installation — Praxa's bot user on Slack — through the real `@slack/web-api` client:
 *  - `exchangeSlackCode`: the install callback's code → the bot token (and, with token rotation, its `xoxe-` refresh
 *    token and expiry). A user token Slack may add under `authed_user` is dropped by `parseSlackOAuthAnswer`.
 *  - `refreshSlackBotToken`: `oauth.v2.access` with `grant_type=refresh_token` → a new expiring bot token AND a new
 *    refresh token (Slack revokes the one presented, so the caller must store the new pair).
 * Slack's own error code (`invalid_code`, `invalid_refresh_token`, …) is kept on the typed error; nothing the client
 * logs or throws carries a token or the client secret (the SDK's logger is silenced, its errors are not chained).
 * Sources: Slack "Installing with OAuth", "Using token rotation", and the `oauth.v2.access` method reference.
 */
import { ErrorCode, LogLevel, WebClient, type Logger, type WebAPIPlatformError } from "@slack/web-api";
import { z } from "zod";
import {
  IntegrationGoneError,
  PraxaError,
  ThrottledError,
  UnavailableError,
  type PraxaErrorOptions,
} from "@praxa/core";
import {
  assertBotCredential,
  OAuthAnswerInvalidError,
  parseSlackOAuthAnswer,
  type SlackBotInstall,
} from "./bot-credentials.js";

export interface SlackAppConfig {
  readonly clientId: string;
  readonly clientSecret: string;
  /** `https://slack.com` (the Web API is `{baseUrl}/api/`, the authorize page `{baseUrl}/oauth/v2/authorize`) or a sandbox. */
  readonly baseUrl: string;
}

export class SlackOAuthError extends PraxaError {
  readonly code = "SLACK_OAUTH_FAILED";
  readonly httpStatus = 502;
}

/**
 * The refresh was refused for good (`invalid_refresh_token`, `token_revoked`, `app_uninstalled`): the integration is
 * gone and the workspace must reinstall. An `IntegrationGoneError` (`INTEGRATION_GONE`, resource `slack`), so the
 * worker treats it like any other integration that is gone.
 */
export class SlackReinstallNeededError extends IntegrationGoneError {
  constructor(message: string, options: PraxaErrorOptions = {}) {
    super(message, { ...options, resource: "slack" });
  }
}

const SILENT: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

// No retries: a code is single-use and a refresh token is revoked on use, so a retried call after a lost answer could
// only fail (`code_already_used`, `invalid_refresh_token`).
function slackClient(baseUrl: string): WebClient {
  const slackApiUrl = `${baseUrl.replace(/\/+$/, "")}/api/`;
  return new WebClient(undefined, {
    slackApiUrl,
    logger: SILENT,
    retryConfig: { retries: 0 },
    timeout: 15_000,
    rejectRateLimitedCalls: true,
  });
}

function slackErrorCode(err: unknown): string {
  const data = (err as Partial<WebAPIPlatformError>).data;
  const code = typeof data?.error === "string" ? data.error : (err as { code?: unknown }).code;
  return typeof code === "string" && /^[a-z0-9_.]{1,64}$/i.test(code) ? code : "request_failed";
}

/** Exchange the install callback's code for the bot installation (user tokens discarded). */
export async function exchangeSlackCode(
  app: SlackAppConfig,
  code: string,
  redirectUri: string,
  now: number = Date.now(),
): Promise<SlackBotInstall> {
  let answer: unknown;
  try {
    answer = await slackClient(app.baseUrl).oauth.v2.access({
      client_id: app.clientId,
      client_secret: app.clientSecret,
      code,
      redirect_uri: redirectUri,
    });
  } catch (err) {
    const slackError = slackErrorCode(err);
    throw new SlackOAuthError(`Slack refused the code exchange (${slackError})`, { details: { slackError } });
  }
  return parseSlackOAuthAnswer(answer, now);
}

const SlackRefreshAnswer = z.object({
  ok: z.literal(true),
  access_token: z.string(),
  token_type: z.literal("bot"),
  refresh_token: z.string(),
  expires_in: z.number().int().positive(),
  scope: z.string().optional(),
  team: z.object({ id: z.string() }).optional(),
});

export interface SlackRefreshedToken {
  readonly botToken: string;
  readonly refreshToken: string;
  readonly expiresAt: Date;
  readonly grantedScopes: readonly string[] | null;
}

/**
 * Token rotation: trade the refresh token for a new expiring bot token and a new refresh token. Only rotating bot
 * tokens are accepted on either side (UserCredentialRefusedError otherwise).
 */
export async function refreshSlackBotToken(
  app: SlackAppConfig,
  refreshToken: string,
  now: number = Date.now(),
): Promise<SlackRefreshedToken> {
  if (assertBotCredential("slack", refreshToken) !== "slack_refresh")
    throw new OAuthAnswerInvalidError("not a Slack refresh token");
  let answer: unknown;
  try {
    answer = await slackClient(app.baseUrl).oauth.v2.access({
      client_id: app.clientId,
      client_secret: app.clientSecret,
      grant_type: "refresh_token",
      refresh_token: refreshToken,
    });
  } catch (err) {
    const slackError = slackErrorCode(err);
    if (slackError === "invalid_refresh_token" || slackError === "token_revoked" || slackError === "app_uninstalled") {
      throw new SlackReinstallNeededError(`Slack refused the refresh token (${slackError}); reinstall the Slack app`, {
        details: { slackError },
      });
    }
    // Not processed by Slack, so the refresh token is still the live one: safe to try again later.
    const code = (err as { code?: unknown }).code;
    if (code === ErrorCode.RateLimitedError || slackError === "ratelimited") {
      const seconds = (err as { retryAfter?: unknown }).retryAfter;
      throw new ThrottledError("Slack is rate limiting the token refresh", {
        resource: "slack",
        retryAfterMs: Math.min(typeof seconds === "number" && seconds >= 0 ? seconds * 1000 : 60_000, 3_600_000),
        code: "SLACK_RATE_LIMITED",
        details: { slackError },
      });
    }
    if (
      slackError === "internal_error" ||
      slackError === "service_unavailable" ||
      code === ErrorCode.HTTPError ||
      code === ErrorCode.RequestError
    ) {
      // An outage. (Had Slack processed a refresh whose answer was lost, the retry meets `invalid_refresh_token`.)
      throw new UnavailableError(`Slack is unavailable for the token refresh (${slackError})`, {
        details: { slackError },
      });
    }
    throw new SlackOAuthError(`Slack refused the token refresh (${slackError})`, { details: { slackError } });
  }
  const parsed = SlackRefreshAnswer.safeParse(answer);
  if (!parsed.success) throw new OAuthAnswerInvalidError("Slack did not return a rotated bot token");
  const a = parsed.data;
  if (assertBotCredential("slack", a.access_token) !== "slack_bot_rotating")
    throw new OAuthAnswerInvalidError("Slack returned a non-rotating token on refresh");
  if (assertBotCredential("slack", a.refresh_token) !== "slack_refresh")
    throw new OAuthAnswerInvalidError("Slack returned an unexpected refresh token");
  return {
    botToken: a.access_token,
    refreshToken: a.refresh_token,
    expiresAt: new Date(now + a.expires_in * 1000),
    grantedScopes:
      a.scope === undefined
        ? null
        : a.scope
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
            .sort(),
  };
}

/**
 * How a Slack bot installation sits in the vault: one sealed record per team (`slack/bot/<team id>`, provider `slack`,
 * purpose `bot_token`, the vault row's `expires_at` = the bot token's expiry with rotation), so the token and its
 * refresh token are always replaced together.
 */
export const SLACK_BOT_TOKEN_PURPOSE = "bot_token";

export function slackBotVaultName(teamId: string): string {
  if (!/^T[A-Z0-9]{2,}$/.test(teamId)) throw new OAuthAnswerInvalidError("not a Slack team id");
  return `slack/bot/${teamId.toLowerCase()}`;
}

const SlackBotTokenRecordSchema = z
  .object({ v: z.literal(1), botToken: z.string(), refreshToken: z.string().nullable() })
  .strict();
export type SlackBotTokenRecord = z.infer<typeof SlackBotTokenRecordSchema>;

/** Serialize for sealing; only bot tokens (and a Slack refresh token) are accepted. */
export function encodeSlackBotTokenRecord(r: { botToken: string; refreshToken: string | null }): string {
  const kind = assertBotCredential("slack", r.botToken);
  if (kind === "slack_refresh") throw new OAuthAnswerInvalidError("a refresh token is not a bot token");
  if (r.refreshToken !== null && assertBotCredential("slack", r.refreshToken) !== "slack_refresh")
    throw new OAuthAnswerInvalidError("not a Slack refresh token");
  return JSON.stringify({ v: 1, botToken: r.botToken, refreshToken: r.refreshToken } satisfies SlackBotTokenRecord);
}

export function decodeSlackBotTokenRecord(plaintext: string): SlackBotTokenRecord {
  let value: unknown;
  try {
    value = JSON.parse(plaintext);
  } catch {
    throw new OAuthAnswerInvalidError("the stored Slack bot token record is malformed");
  }
  const parsed = SlackBotTokenRecordSchema.safeParse(value);
  if (!parsed.success) throw new OAuthAnswerInvalidError("the stored Slack bot token record is malformed");
  return parsed.data;
}
