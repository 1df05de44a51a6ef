/**
 * Slack's answers by what they mean, through the real `@slack/web-api` WebClient against the testkit's loopback Slack:
 * a rate limit is a `ThrottledError(slack)` after exactly one request (never slept out in-process), a bot token Slack
 * no longer honours is `IntegrationGoneError(slack)`, an outage is retryable, anything else is refused for good.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { IntegrationGoneError, ThrottledError, UnavailableError } from "@praxa/core";
import { startSlackServer, type SlackServer } from "@praxa/testkit";
import {
  createSlackBotClient,
  SLACK_THROTTLE_DEFAULT_MS,
  slackCallError,
  SlackRequestError,
} from "./slack-bot-client.js";
import {
  exchangeSlackCode,
  refreshSlackBotToken,
  SlackReinstallNeededError,
  type SlackAppConfig,
} from "./slack-oauth.js";

let slack: SlackServer;
let app: SlackAppConfig;
beforeAll(async () => {
  slack = await startSlackServer({ tokenRotation: true });
  app = { clientId: slack.clientId, clientSecret: slack.clientSecret, baseUrl: slack.url };
});
afterAll(async () => {
  await slack.close();
});

const CHANNEL = "C0PRAXA01";
const calls = (method: string): number => slack.calls[method] ?? 0;
const bot = () => {
  const { botToken } = slack.installBot();
  return {
    token: botToken,
    client: createSlackBotClient({ token: botToken, baseUrl: slack.url, teamId: slack.teamId }),
  };
};
async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
}

describe("the bot client (the runtime's Slack tools)", () => {
  it("HTTP 429 + Retry-After → ThrottledError(slack) with that wait, after exactly one request", async () => {
    const { client } = bot();
    const before = calls("chat.postMessage");
    slack.failNext("chat.postMessage", "ratelimited", { retryAfterSeconds: 42 });
    const err = await failure(client.postMessage({ channel: CHANNEL, text: "hi", marker: "m-1" }));
    expect(err).toBeInstanceOf(ThrottledError);
    expect(err).toMatchObject({
      code: "SLACK_RATE_LIMITED",
      resource: "slack",
      retryAfterMs: 42_000,
      retryable: true,
      details: { status: 429, retryAfterGiven: true, teamId: slack.teamId },
    });
    expect(calls("chat.postMessage") - before).toBe(1);
    // The thread read is limited the same way.
    slack.failNext("conversations.replies", "ratelimited", { retryAfterSeconds: 3 });
    await expect(client.readThread(CHANNEL, "1700000000.000100")).rejects.toMatchObject({
      code: "SLACK_RATE_LIMITED",
      retryAfterMs: 3_000,
    });
  });

  it("token_revoked, account_inactive, invalid_auth → IntegrationGoneError(slack), permanent", async () => {
    for (const code of ["token_revoked", "account_inactive"]) {
      const { client } = bot();
      slack.failNext("chat.postMessage", code);
      const err = await failure(client.postMessage({ channel: CHANNEL, text: "hi", marker: `m-${code}` }));
      expect(err).toBeInstanceOf(IntegrationGoneError);
      expect(err).toMatchObject({
        code: "INTEGRATION_GONE",
        resource: "slack",
        retryable: false,
        details: { slackError: code },
      });
    }
    const { token, client } = bot();
    slack.revokeToken(token); // Slack answers invalid_auth for a revoked token
    await expect(client.readThread(CHANNEL, "1700000000.000100")).rejects.toMatchObject({
      code: "INTEGRATION_GONE",
      resource: "slack",
      details: { slackError: "invalid_auth", teamId: slack.teamId },
    });
  });

  it("internal_error is retryable; channel_not_found is refused for good; no answer is retryable", async () => {
    const { token, client } = bot();
    slack.failNext("chat.postMessage", "internal_error");
    const down = await failure(client.postMessage({ channel: CHANNEL, text: "hi", marker: "m-ie" }));
    expect(down).toBeInstanceOf(UnavailableError);
    const refused = await failure(client.postMessage({ channel: "C0NOWHERE", text: "hi", marker: "m-nf" }));
    expect(refused).toBeInstanceOf(SlackRequestError);
    expect(refused).toMatchObject({ retryable: false, details: { slackError: "channel_not_found" } });
    const gone = createSlackBotClient({ token, baseUrl: "http://127.0.0.1:1" });
    await expect(gone.readThread(CHANNEL, "1700000000.000100")).rejects.toBeInstanceOf(UnavailableError);
  });

  it("{ok:false, error:ratelimited} without a Retry-After → the one-minute default", () => {
    const err = slackCallError({ code: "slack_webapi_platform_error", data: { ok: false, error: "ratelimited" } }, "x");
    expect(err).toBeInstanceOf(ThrottledError);
    expect(err).toMatchObject({ resource: "slack", retryAfterMs: SLACK_THROTTLE_DEFAULT_MS });
  });
});

describe("the token refresh (rotation) the worker runs", () => {
  const REDIRECT = "https://praxa.example/v1/integrations/slack/callback";
  it("rate limited → ThrottledError(slack), and the refresh token still works afterwards", async () => {
    const install = await exchangeSlackCode(app, slack.issueCode({ redirectUri: REDIRECT }), REDIRECT);
    slack.failNext("oauth.v2.access", "ratelimited", { retryAfterSeconds: 20 });
    const err = await failure(refreshSlackBotToken(app, install.refreshToken!));
    expect(err).toBeInstanceOf(ThrottledError);
    expect(err).toMatchObject({ code: "SLACK_RATE_LIMITED", resource: "slack", retryAfterMs: 20_000 });
    expect((await refreshSlackBotToken(app, install.refreshToken!)).botToken).toMatch(/^xoxe\.xoxb-/);
  });

  it("a refresh token Slack no longer honours → IntegrationGoneError(slack); an outage → retryable", async () => {
    const install = await exchangeSlackCode(app, slack.issueCode({ redirectUri: REDIRECT }), REDIRECT);
    slack.failNext("oauth.v2.access", "internal_error");
    await expect(refreshSlackBotToken(app, install.refreshToken!)).rejects.toBeInstanceOf(UnavailableError);
    await expect(
      refreshSlackBotToken({ ...app, baseUrl: "http://127.0.0.1:1" }, install.refreshToken!),
    ).rejects.toBeInstanceOf(UnavailableError);
    slack.revokeToken(install.refreshToken!);
    const err = await failure(refreshSlackBotToken(app, install.refreshToken!));
    expect(err).toBeInstanceOf(SlackReinstallNeededError);
    expect(err).toBeInstanceOf(IntegrationGoneError);
    expect(err).toMatchObject({ code: "INTEGRATION_GONE", resource: "slack", retryable: false });
  });
});
