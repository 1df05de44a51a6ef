import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startSlackServer, type SlackServer } from "@praxa/testkit";
import {
  decodeSlackBotTokenRecord,
  encodeSlackBotTokenRecord,
  exchangeSlackCode,
  refreshSlackBotToken,
  slackBotVaultName,
  SlackOAuthError,
  SlackReinstallNeededError,
  UserCredentialRefusedError,
  type SlackAppConfig,
} from "./index.js";

// The real @slack/web-api client against the loopback Slack (packages/testkit/src/slack-server.ts).
let slack: SlackServer;
let app: SlackAppConfig;
beforeAll(async () => {
  slack = await startSlackServer({ tokenRotation: true, tokenLifetimeSeconds: 43_200 });
  app = { clientId: slack.clientId, clientSecret: slack.clientSecret, baseUrl: slack.url };
});
afterAll(async () => {
  await slack.close();
});

const REDIRECT = "https://praxa.example/v1/integrations/slack/callback";

describe("Slack OAuth v2 through the real WebClient", () => {
  it("exchanges a code for the rotating bot token, its refresh token and expiry; a user token in the answer is dropped", async () => {
    slack.userTokenInAnswers = true;
    try {
      const before = Date.now();
      const install = await exchangeSlackCode(app, slack.issueCode({ redirectUri: REDIRECT }), REDIRECT);
      const userToken = slack.issuedTokens.filter((t) => t.kind === "user").at(-1)?.token ?? "";
      expect(userToken).toMatch(/^xoxp-/);
      expect(JSON.stringify(install)).not.toContain(userToken);
      expect(install).toMatchObject({
        teamId: slack.teamId,
        botUserId: slack.botUserId,
        appId: slack.appId,
        grantedScopes: ["app_mentions:read", "channels:history", "chat:write"],
      });
      expect(install.botToken).toMatch(/^xoxe\.xoxb-/);
      expect(install.refreshToken).toMatch(/^xoxe-1-/);
      expect(install.expiresAt!.getTime()).toBeGreaterThanOrEqual(before + 43_200_000 - 1000);
      // The client sent what Slack expects: form body with the code and the same redirect_uri, no token.
      const call = slack.apiCalls.filter((c) => c.method === "oauth.v2.access").at(-1);
      expect(call).toMatchObject({
        contentType: "form",
        token: null,
        ok: true,
        args: { client_id: slack.clientId, redirect_uri: REDIRECT },
      });
    } finally {
      slack.userTokenInAnswers = false;
    }
  });

  it("a refused exchange is a typed error carrying Slack’s code, never the client secret or the code", async () => {
    const code = slack.issueCode({ redirectUri: REDIRECT });
    await exchangeSlackCode(app, code, REDIRECT);
    const reused = (await exchangeSlackCode(app, code, REDIRECT).catch((e: unknown) => e)) as SlackOAuthError;
    expect(reused).toBeInstanceOf(SlackOAuthError);
    expect(reused.details).toEqual({ slackError: "code_already_used" });
    const wrongSecret = (await exchangeSlackCode(
      { ...app, clientSecret: "not-the-secret" },
      slack.issueCode(),
      REDIRECT,
    ).catch((e: unknown) => e)) as SlackOAuthError;
    expect(wrongSecret.details).toEqual({ slackError: "bad_client_secret" });
    for (const e of [reused, wrongSecret]) {
      const shown = `${e.message} ${JSON.stringify(e)} ${String(e.stack)}`;
      expect(shown).not.toContain(slack.clientSecret);
      expect(shown).not.toContain(code);
      expect(e.cause).toBeUndefined();
    }
  });

  it("refresh: a new bot token and a new refresh token; the old refresh token is then refused (reinstall needed)", async () => {
    const install = await exchangeSlackCode(app, slack.issueCode({ redirectUri: REDIRECT }), REDIRECT);
    const refreshed = await refreshSlackBotToken(app, install.refreshToken!);
    expect(refreshed.botToken).toMatch(/^xoxe\.xoxb-/);
    expect(refreshed.botToken).not.toBe(install.botToken);
    expect(refreshed.refreshToken).not.toBe(install.refreshToken);
    expect(refreshed.grantedScopes).toEqual(install.grantedScopes);
    const again = await refreshSlackBotToken(app, install.refreshToken!).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(SlackReinstallNeededError);
    expect((again as SlackReinstallNeededError).details).toEqual({ slackError: "invalid_refresh_token" });
    expect(String((again as Error).message)).not.toContain(install.refreshToken!);
  });

  it("refuses a user token wherever one could enter: as a refresh token, or in a stored record", async () => {
    const xoxp = "xoxp-1234567890-1234567890-1234567890-abcdefabcdef";
    await expect(refreshSlackBotToken(app, xoxp)).rejects.toBeInstanceOf(UserCredentialRefusedError);
    expect(() => encodeSlackBotTokenRecord({ botToken: xoxp, refreshToken: null })).toThrow(UserCredentialRefusedError);
    expect(() =>
      encodeSlackBotTokenRecord({ botToken: "xoxb-1234567890-1234567890-abcdefghij", refreshToken: xoxp }),
    ).toThrow(UserCredentialRefusedError);
    const record = encodeSlackBotTokenRecord({
      botToken: "xoxe.xoxb-1-abcdefghijklmnop",
      refreshToken: "xoxe-1-abcdefghijklmnop",
    });
    expect(decodeSlackBotTokenRecord(record)).toEqual({
      v: 1,
      botToken: "xoxe.xoxb-1-abcdefghijklmnop",
      refreshToken: "xoxe-1-abcdefghijklmnop",
    });
    expect(slackBotVaultName("T0PRAXA01")).toBe("slack/bot/t0praxa01");
  });
});
