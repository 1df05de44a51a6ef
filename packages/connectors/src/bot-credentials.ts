/**
 * Bot users only. Praxa acts as a GitHub App installation or a Slack bot user — never as a person. A user credential
 * (Slack `xoxp-`, GitHub user-to-server `ghu_`, an OAuth user token `gho_`, a personal access token) is refused with a
 * typed error wherever one could enter, and a Slack OAuth v2 answer's user token is discarded, never stored.
 * Token formats: Slack "Token types" and "Token rotation" docs; GitHub "About authentication" (token prefixes).
 */
import { z } from "zod";
import { PraxaError } from "@praxa/core";

export class UserCredentialRefusedError extends PraxaError {
  readonly code = "USER_CREDENTIAL_REFUSED";
  readonly httpStatus = 400;
}

export class OAuthAnswerInvalidError extends PraxaError {
  readonly code = "OAUTH_ANSWER_INVALID";
  readonly httpStatus = 502;
}

export type BotCredentialKind = "slack_bot" | "slack_bot_rotating" | "slack_refresh" | "github_installation";

/** Classify a credential; throws UserCredentialRefusedError for anything that acts as a person, or is unknown. */
export function assertBotCredential(provider: "slack" | "github", token: string): BotCredentialKind {
  if (provider === "slack") {
    if (/^xoxe\.xoxb-[A-Za-z0-9-]{10,}$/.test(token)) return "slack_bot_rotating";
    if (/^xoxb-[A-Za-z0-9-]{10,}$/.test(token)) return "slack_bot";
    if (/^xoxe-1-[A-Za-z0-9-]{10,}$/.test(token)) return "slack_refresh";
    throw new UserCredentialRefusedError("only Slack bot tokens are accepted (user tokens such as xoxp- are refused)");
  }
  if (/^ghs_[A-Za-z0-9]{20,}$/.test(token)) return "github_installation";
  throw new UserCredentialRefusedError(
    "only GitHub App installation tokens are accepted (user, OAuth and personal tokens are refused)",
  );
}

const SlackOAuthV2Answer = z.object({
  ok: z.literal(true),
  access_token: z.string(),
  token_type: z.literal("bot"),
  scope: z.string(),
  bot_user_id: z.string().regex(/^[UW][A-Z0-9]{2,}$/),
  app_id: z.string(),
  team: z.object({ id: z.string().regex(/^T[A-Z0-9]{2,}$/), name: z.string().optional() }),
  refresh_token: z.string().optional(),
  expires_in: z.number().int().positive().optional(),
  authed_user: z.object({ id: z.string() }).passthrough().optional(),
});

export interface SlackBotInstall {
  readonly teamId: string;
  /** The team's name as Slack gave it (shown to the installing member to confirm), if any. */
  readonly teamName: string | null;
  readonly appId: string;
  readonly botUserId: string;
  readonly botToken: string;
  readonly refreshToken: string | null;
  readonly expiresAt: Date | null;
  readonly grantedScopes: readonly string[];
}

/**
 * Read Slack's `oauth.v2.access` answer: keep the bot token (and, with rotation, its refresh token); the user token
 * Slack may include under `authed_user` is dropped here and never reaches storage.
 */
export function parseSlackOAuthAnswer(answer: unknown, now: number): SlackBotInstall {
  const parsed = SlackOAuthV2Answer.safeParse(answer);
  if (!parsed.success) throw new OAuthAnswerInvalidError("Slack did not return a bot installation");
  const a = parsed.data;
  const kind = assertBotCredential("slack", a.access_token);
  if (kind === "slack_refresh")
    throw new OAuthAnswerInvalidError("Slack returned a refresh token in place of a bot token");
  if (a.refresh_token !== undefined && assertBotCredential("slack", a.refresh_token) !== "slack_refresh") {
    throw new OAuthAnswerInvalidError("Slack returned an unexpected refresh token");
  }
  return {
    teamId: a.team.id,
    teamName: a.team.name !== undefined && a.team.name.length > 0 ? a.team.name.slice(0, 200) : null,
    appId: a.app_id,
    botUserId: a.bot_user_id,
    botToken: a.access_token,
    refreshToken: a.refresh_token ?? null,
    expiresAt: a.expires_in !== undefined ? new Date(now + a.expires_in * 1000) : null,
    grantedScopes: a.scope
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .sort(),
  };
}

/** The install URL's scopes: bot scopes only — a `user_scope` is never requested. */
export function slackInstallUrl(
  clientId: string,
  botScopes: readonly string[],
  state: string,
  redirectUri: string,
  authorizeUrl = "https://slack.com/oauth/v2/authorize",
): string {
  const url = new URL(authorizeUrl);
  url.searchParams.set("client_id", clientId);
  url.searchParams.set("scope", botScopes.join(","));
  url.searchParams.set("state", state);
  url.searchParams.set("redirect_uri", redirectUri);
  return url.toString();
}

/** Scopes granted beyond what the workspace's Skills need — flagged to the workspace, never silently accepted. */
export function excessScopes(granted: readonly string[], needed: readonly string[]): string[] {
  const need = new Set(needed);
  return granted.filter((s) => !need.has(s)).sort();
}
