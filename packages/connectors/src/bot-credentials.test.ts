import { describe, expect, it } from "@jest/globals";
import {
  assertBotCredential,
  excessScopes,
  parseSlackOAuthAnswer,
  slackInstallUrl,
  UserCredentialRefusedError,
} from "./index.js";

describe("bot users only", () => {
  it("refuses Slack user tokens and GitHub user-to-server, OAuth and personal tokens with the typed error", () => {
    for (const [provider, token] of [
      ["slack", "xoxp-1234567890-1234567890-abcdefghij"],
      ["slack", "xoxc-1234567890-abcdefghijkl"],
      ["github", "ghu_16C7e42F292c6912E7710c838347Ae178B4a"],
      ["github", "gho_16C7e42F292c6912E7710c838347Ae178B4a"],
      ["github", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"],
      ["github", "github_pat_11ABCDEFG0123456789_abcdefghijklmnop"],
    ] as const) {
      expect(() => assertBotCredential(provider, token)).toThrow(UserCredentialRefusedError);
    }
    expect(assertBotCredential("slack", "xoxb-1234567890-1234567890-abcdefghij")).toBe("slack_bot");
    expect(assertBotCredential("slack", "xoxe.xoxb-1-MS0yLTEyMzQ1Njc4OTA")).toBe("slack_bot_rotating");
    expect(assertBotCredential("github", "ghs_16C7e42F292c6912E7710c838347Ae178B4a")).toBe("github_installation");
  });

  it("a Slack OAuth v2 answer carrying a user token stores none of it", () => {
    const answer = {
      ok: true,
      access_token: "xoxe.xoxb-1-MS0yLTEyMzQ1Njc4OTAtYm90",
      token_type: "bot",
      scope: "chat:write,app_mentions:read,im:history",
      bot_user_id: "U0BOT12345",
      app_id: "A0APP12345",
      team: { id: "T0TEAM1234", name: "Acme" },
      refresh_token: "xoxe-1-My0xLTEyMzQ1Njc4OTAtcmVmcmVzaA",
      expires_in: 43200,
      authed_user: {
        id: "U0HUMAN123",
        scope: "search:read",
        access_token: "xoxp-1234567890-USER-TOKEN-CANARY",
        token_type: "user",
      },
    };
    const install = parseSlackOAuthAnswer(answer, 1_700_000_000_000);
    expect(JSON.stringify(install)).not.toContain("USER-TOKEN-CANARY");
    expect(install).toMatchObject({
      teamId: "T0TEAM1234",
      teamName: "Acme",
      botUserId: "U0BOT12345",
      grantedScopes: ["app_mentions:read", "chat:write", "im:history"],
    });
    expect(install.expiresAt?.toISOString()).toBe(new Date(1_700_000_000_000 + 43_200_000).toISOString());
    expect(() =>
      parseSlackOAuthAnswer({ ...answer, access_token: "xoxp-1234567890-USER", token_type: "bot" }, 0),
    ).toThrow(UserCredentialRefusedError);
    expect(() => parseSlackOAuthAnswer({ ...answer, token_type: "user" }, 0)).toThrow(
      "Slack did not return a bot installation",
    );
  });

  it("the install URL asks for bot scopes and never a user_scope; excess grants are flagged", () => {
    const url = new URL(
      slackInstallUrl("123.456", ["chat:write", "app_mentions:read"], "state-1", "https://praxa.example/slack/oauth"),
    );
    expect(url.searchParams.get("scope")).toBe("chat:write,app_mentions:read");
    expect(url.searchParams.has("user_scope")).toBe(false);
    expect(excessScopes(["chat:write", "channels:history", "users:read"], ["chat:write"])).toEqual([
      "channels:history",
      "users:read",
    ]);
  });
});
