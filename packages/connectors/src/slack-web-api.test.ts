import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ErrorCode, WebClient, type WebAPIPlatformError } from "@slack/web-api";
import { startSlackServer, type SlackServer } from "@praxa/testkit";

// The real @slack/web-api WebClient against the loopback Slack (packages/testkit/src/slack-server.ts): the calls the
// worker's slack tools and the monitor's notifications make, as they will make them.

let slack: SlackServer;
beforeAll(async () => {
  slack = await startSlackServer();
});
afterAll(async () => {
  await slack.close();
});

const client = (token: string): WebClient =>
  new WebClient(token, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });

describe("WebClient against the loopback Slack", () => {
  it("posts, replies in thread with blocks, updates, and reads the thread back", async () => {
    const { botToken } = slack.installBot();
    const web = client(botToken);
    expect(await web.auth.test()).toMatchObject({
      ok: true,
      user_id: slack.botUserId,
      bot_id: slack.botId,
      team_id: slack.teamId,
    });
    const top = await web.chat.postMessage({ channel: "C0PRAXA01", text: "Review started" });
    const ts = top.ts ?? "";
    const blocks = [{ type: "section" as const, text: { type: "mrkdwn" as const, text: "*2 findings*" } }];
    const reply = await web.chat.postMessage({ channel: "C0PRAXA01", thread_ts: ts, text: "2 findings", blocks });
    await web.chat.update({ channel: "C0PRAXA01", ts, text: "Review done" });
    const thread = await web.conversations.replies({ channel: "C0PRAXA01", ts });
    expect(thread.messages?.map((m) => [m.ts, m.text])).toEqual([
      [ts, "Review done"],
      [reply.ts, "2 findings"],
    ]);
    // Recorded as the server read them: WebClient sends form bodies, blocks JSON-encoded in one field.
    const call = slack.apiCalls.find((c) => c.method === "chat.postMessage" && c.args["thread_ts"] === ts);
    expect(call).toMatchObject({ contentType: "form", token: botToken, args: { blocks } });
    expect(slack.messages.find((m) => m.ts === reply.ts)).toMatchObject({ threadTs: ts, blocks, token: botToken });
  });

  it("an {ok:false} answer surfaces as the SDK’s platform error carrying Slack’s error code", async () => {
    const { botToken } = slack.installBot();
    const err = (await client(botToken)
      .chat.postMessage({ channel: "C0NOWHERE", text: "x" })
      .catch((e: unknown) => e)) as WebAPIPlatformError;
    expect(err.code).toBe(ErrorCode.PlatformError);
    expect(err.data.error).toBe("channel_not_found");
    slack.revokeToken(botToken);
    const revoked = (await client(botToken)
      .auth.test()
      .catch((e: unknown) => e)) as WebAPIPlatformError;
    expect(revoked.data.error).toBe("invalid_auth");
  });
});
