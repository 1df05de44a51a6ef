import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startSlackServer, type SlackServer } from "./slack-server.js";

// Wire-level checks with plain fetch (testkit depends on core only); the real @slack/web-api WebClient drives this
// server in packages/connectors (slack-oauth.test.ts, slack-web-api.test.ts).

let slack: SlackServer;
beforeAll(async () => {
  slack = await startSlackServer({ channels: ["C0PRAXA01", "G0PRIVATE1"] });
});
afterAll(async () => {
  await slack.close();
});

type Answer = Record<string, unknown> & { ok: boolean; error?: string };

async function form(
  method: string,
  args: Record<string, string>,
  token?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Answer }> {
  const res = await fetch(`${slack.apiUrl}${method}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: new URLSearchParams(args).toString(),
  });
  return { status: res.status, body: (await res.json()) as Answer };
}

async function json(
  method: string,
  args: Record<string, unknown>,
  token?: string,
): Promise<{ status: number; body: Answer }> {
  const res = await fetch(`${slack.apiUrl}${method}`, {
    method: "POST",
    headers: {
      "content-type": "application/json; charset=utf-8",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(args),
  });
  return { status: res.status, body: (await res.json()) as Answer };
}

describe("loopback Slack: oauth.v2.access", () => {
  it("authorize redirects with a single-use code and the state; the code exchanges once for a bot token", async () => {
    const url = new URL(slack.authorizeUrl);
    url.searchParams.set("client_id", slack.clientId);
    url.searchParams.set("scope", "chat:write,channels:history");
    url.searchParams.set("state", "st-1");
    url.searchParams.set("redirect_uri", "https://praxa.example/cb");
    const res = await fetch(url, { redirect: "manual" });
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get("location") ?? "");
    expect(back.origin + back.pathname).toBe("https://praxa.example/cb");
    expect(back.searchParams.get("state")).toBe("st-1");
    const code = back.searchParams.get("code") ?? "";
    expect(slack.authorizeRequests.at(-1)?.userScope).toBeNull();

    const basic = `Basic ${Buffer.from(`${slack.clientId}:${slack.clientSecret}`).toString("base64")}`;
    const wrongRedirect = await form("oauth.v2.access", { code, redirect_uri: "https://evil.example/cb" }, undefined, {
      authorization: basic,
    });
    expect(wrongRedirect.body).toMatchObject({ ok: false, error: "bad_redirect_uri" });
    const first = await form("oauth.v2.access", { code, redirect_uri: "https://praxa.example/cb" }, undefined, {
      authorization: basic,
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      ok: true,
      token_type: "bot",
      scope: "channels:history,chat:write",
      bot_user_id: slack.botUserId,
      team: { id: slack.teamId },
    });
    expect(String(first.body["access_token"])).toMatch(/^xoxb-\d+-\d+-[A-Za-z0-9]{24}$/);
    expect(first.body["refresh_token"]).toBeUndefined();
    expect(first.body["authed_user"]).toEqual({ id: expect.any(String) });
    const again = await form("oauth.v2.access", { code, redirect_uri: "https://praxa.example/cb" }, undefined, {
      authorization: basic,
    });
    expect(again.body).toMatchObject({ ok: false, error: "code_already_used" });
  });

  it("client authentication by fields too; an unknown client or a wrong secret is refused", async () => {
    expect(
      (await form("oauth.v2.access", { client_id: "nope", client_secret: slack.clientSecret, code: slack.issueCode() }))
        .body.error,
    ).toBe("invalid_client_id");
    expect(
      (await form("oauth.v2.access", { client_id: slack.clientId, client_secret: "wrong", code: slack.issueCode() }))
        .body.error,
    ).toBe("bad_client_secret");
    expect(
      (await form("oauth.v2.access", { client_id: slack.clientId, client_secret: slack.clientSecret, code: "made-up" }))
        .body.error,
    ).toBe("invalid_code");
    expect(
      (
        await json("oauth.v2.access", {
          client_id: slack.clientId,
          client_secret: slack.clientSecret,
          code: slack.issueCode(),
        })
      ).body.ok,
    ).toBe(true);
    expect(
      (
        await form("oauth.v2.access", {
          client_id: slack.clientId,
          client_secret: slack.clientSecret,
          grant_type: "password",
        })
      ).body.error,
    ).toBe("invalid_grant_type");
  });

  it("a requested user_scope, or userTokenInAnswers, puts an xoxp- user token under authed_user", async () => {
    const creds = { client_id: slack.clientId, client_secret: slack.clientSecret };
    const withScope = await form("oauth.v2.access", {
      ...creds,
      code: slack.issueCode({ userScopes: ["search:read"] }),
    });
    expect(withScope.body["authed_user"]).toMatchObject({
      token_type: "user",
      scope: "search:read",
      access_token: expect.stringMatching(/^xoxp-/),
    });
    slack.userTokenInAnswers = true;
    try {
      const forced = await form("oauth.v2.access", { ...creds, code: slack.issueCode() });
      expect((forced.body["authed_user"] as { access_token?: string }).access_token).toMatch(/^xoxp-/);
    } finally {
      slack.userTokenInAnswers = false;
    }
  });

  it("token rotation: xoxe.xoxb- + xoxe- refresh token; refresh revokes the old refresh token; expiry → token_expired", async () => {
    let now = Date.now();
    const rotating = await startSlackServer({ tokenRotation: true, tokenLifetimeSeconds: 600, now: () => now });
    try {
      const creds = { client_id: rotating.clientId, client_secret: rotating.clientSecret };
      const res = await fetch(`${rotating.apiUrl}oauth.v2.access`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ ...creds, code: rotating.issueCode() }).toString(),
      });
      const install = (await res.json()) as Answer;
      expect(install).toMatchObject({ ok: true, expires_in: 600 });
      const access = String(install["access_token"]);
      const refresh = String(install["refresh_token"]);
      expect(access).toMatch(/^xoxe\.xoxb-1-/);
      expect(refresh).toMatch(/^xoxe-1-/);
      const call = async (method: string, args: Record<string, string>, token?: string): Promise<Answer> =>
        (await (
          await fetch(`${rotating.apiUrl}${method}`, {
            method: "POST",
            headers: {
              "content-type": "application/x-www-form-urlencoded",
              ...(token ? { authorization: `Bearer ${token}` } : {}),
            },
            body: new URLSearchParams(args).toString(),
          })
        ).json()) as Answer;

      expect((await call("auth.test", {}, access)).ok).toBe(true);
      expect((await call("auth.test", {}, refresh)).error).toBe("invalid_auth");
      now += 600_000;
      expect((await call("auth.test", {}, access)).error).toBe("token_expired");

      const renewed = await call("oauth.v2.access", { ...creds, grant_type: "refresh_token", refresh_token: refresh });
      expect(renewed).toMatchObject({ ok: true, token_type: "bot", expires_in: 600, team: { id: rotating.teamId } });
      expect(renewed["access_token"]).not.toBe(access);
      expect(renewed["refresh_token"]).not.toBe(refresh);
      expect((await call("auth.test", {}, String(renewed["access_token"]))).ok).toBe(true);
      expect(
        (await call("oauth.v2.access", { ...creds, grant_type: "refresh_token", refresh_token: refresh })).error,
      ).toBe("invalid_refresh_token");
    } finally {
      await rotating.close();
    }
  });
});

describe("loopback Slack: Web API methods", () => {
  it("every call checks its token: none → not_authed, unknown or revoked → invalid_auth; auth.test names the bot", async () => {
    expect((await form("auth.test", {})).body.error).toBe("not_authed");
    expect((await form("auth.test", {}, "xoxb-1-2-unknown")).body.error).toBe("invalid_auth");
    const { botToken } = slack.installBot();
    expect((await form("auth.test", {}, botToken)).body).toMatchObject({
      ok: true,
      team_id: slack.teamId,
      user_id: slack.botUserId,
      bot_id: slack.botId,
    });
    expect((await form("auth.test", { token: botToken })).body.ok).toBe(true);
    expect((await json("auth.test", { token: botToken })).body.error).toBe("not_authed");
    slack.revokeToken(botToken);
    expect((await form("auth.test", {}, botToken)).body.error).toBe("invalid_auth");
  });

  it("chat.postMessage records text, blocks (form: JSON-encoded; JSON: an array) and thread_ts; returns ts", async () => {
    const { botToken } = slack.installBot();
    const blocks = [{ type: "section", text: { type: "mrkdwn", text: "*hi*" } }];
    const top = await form(
      "chat.postMessage",
      { channel: "C0PRAXA01", text: "hello", blocks: JSON.stringify(blocks) },
      botToken,
    );
    expect(top.body).toMatchObject({
      ok: true,
      channel: "C0PRAXA01",
      message: { text: "hello", bot_id: slack.botId, user: slack.botUserId, blocks },
    });
    const ts = String(top.body["ts"]);
    expect(ts).toMatch(/^\d+\.\d{6}$/);
    const reply = await json(
      "chat.postMessage",
      { channel: "C0PRAXA01", text: "in thread", thread_ts: ts, blocks },
      botToken,
    );
    expect(reply.body).toMatchObject({ ok: true, message: { thread_ts: ts } });
    expect(reply.body["ts"]).not.toBe(ts);
    const posted = slack.messages.filter((m) => m.token === botToken);
    expect(posted.map((m) => [m.text, m.threadTs, m.blocks])).toEqual([
      ["hello", ts, blocks],
      ["in thread", ts, blocks],
    ]);
    expect(
      slack.apiCalls
        .filter((c) => c.method === "chat.postMessage")
        .map((c) => c.contentType)
        .slice(-2),
    ).toEqual(["form", "json"]);
  });

  it("chat.postMessage errors as Slack answers them", async () => {
    const { botToken } = slack.installBot();
    expect((await form("chat.postMessage", { channel: "C0UNKNOWN", text: "x" }, botToken)).body.error).toBe(
      "channel_not_found",
    );
    expect((await form("chat.postMessage", { channel: "C0PRAXA01" }, botToken)).body.error).toBe("no_text");
    expect(
      (await form("chat.postMessage", { channel: "C0PRAXA01", blocks: '[{"text":1}]' }, botToken)).body.error,
    ).toBe("invalid_blocks");
    const narrow = slack.installBot(["channels:history"]);
    expect((await form("chat.postMessage", { channel: "C0PRAXA01", text: "x" }, narrow.botToken)).body).toEqual({
      ok: false,
      error: "missing_scope",
      needed: "chat:write",
      provided: "channels:history",
    });
  });

  it("chat.update edits the bot’s own message only; conversations.replies lists a thread oldest first", async () => {
    const { botToken } = slack.installBot();
    const top = await form("chat.postMessage", { channel: "C0PRAXA01", text: "draft" }, botToken);
    const ts = String(top.body["ts"]);
    const human = slack.postAsUser("C0PRAXA01", "U0HUMAN01", "a question", ts);
    const updated = await form("chat.update", { channel: "C0PRAXA01", ts, text: "final" }, botToken);
    expect(updated.body).toMatchObject({ ok: true, ts, text: "final" });
    expect((await form("chat.update", { channel: "C0PRAXA01", ts: human, text: "hijack" }, botToken)).body.error).toBe(
      "cant_update_message",
    );
    expect((await form("chat.update", { channel: "C0PRAXA01", ts: "1.000001", text: "x" }, botToken)).body.error).toBe(
      "message_not_found",
    );

    const replies = await form("conversations.replies", { channel: "C0PRAXA01", ts }, botToken);
    expect(replies.body).toMatchObject({ ok: true, has_more: false });
    const list = replies.body["messages"] as Array<Record<string, unknown>>;
    expect(list.map((m) => [m["ts"], m["text"], m["user"]])).toEqual([
      [ts, "final", slack.botUserId],
      [human, "a question", "U0HUMAN01"],
    ]);
    expect(list[0]).toMatchObject({
      thread_ts: ts,
      reply_count: 1,
      reply_users: ["U0HUMAN01"],
      latest_reply: human,
      edited: { user: slack.botUserId },
    });
    expect((await form("conversations.replies", { channel: "C0PRAXA01", ts: "1.000001" }, botToken)).body.error).toBe(
      "thread_not_found",
    );
    expect((await form("conversations.replies", { channel: "G0PRIVATE1", ts }, botToken)).body).toMatchObject({
      error: "missing_scope",
      needed: "groups:history",
    });
  });

  it("failNext injects one error; ratelimited answers HTTP 429 with Retry-After; unknown methods are 404", async () => {
    const { botToken } = slack.installBot();
    slack.failNext("chat.postMessage", "not_in_channel");
    expect((await form("chat.postMessage", { channel: "C0PRAXA01", text: "x" }, botToken)).body.error).toBe(
      "not_in_channel",
    );
    expect((await form("chat.postMessage", { channel: "C0PRAXA01", text: "x" }, botToken)).body.ok).toBe(true);
    slack.failNext("auth.test", "ratelimited", { retryAfterSeconds: 3 });
    const res = await fetch(`${slack.apiUrl}auth.test`, {
      method: "POST",
      headers: { authorization: `Bearer ${botToken}` },
    });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("3");
    expect((await form("no.such.method", {}, botToken)).status).toBe(404);
    const before = slack.calls["auth.test"] ?? 0;
    await form("auth.test", {}, botToken);
    expect(slack.calls["auth.test"]).toBe(before + 1);
    expect(slack.apiCalls.every((c) => !("token" in c.args) && !("client_secret" in c.args))).toBe(true);
  });
});
