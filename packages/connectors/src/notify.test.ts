/**
 * The notification channels, driven by their real clients (fetch for PagerDuty Events v2, nodemailer) against the
 * loopback PagerDuty and a real SMTP server: what arrives, and how each kind of failure is classified.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  NotificationRejectedError,
  postSlackNotice,
  sendNoticeEmail,
  sendPagerDutyEvent,
  UserCredentialRefusedError,
  type PauseNotice,
} from "./index.js";
import {
  startPagerDutyServer,
  startSlackServer,
  startSmtpServer,
  type LoopbackSmtpServer,
  type PagerDutyServer,
  type SlackServer,
} from "@praxa/testkit";

const ROUTING_KEY = "R0123456789abcdef0123456789abcde".slice(0, 32);
const notice: PauseNotice = {
  event: "skill.paused",
  workspaceId: "ws_01jztestworkspace000000000",
  skill: { id: "sk_01jztestskill00000000000000", slug: "pr-review", name: "PR review" },
  cause: "acceptance",
  reason: "acceptance rate 0.35 over the last 20 decided actions is below the published threshold 0.7",
  rate: 0.35,
  threshold: 0.7,
  decided: 20,
  pausedAt: new Date("2026-05-26T14:18:09.182Z"),
  resumedBy: null,
  resumeReason: null,
};

let pd: PagerDutyServer;
let smtp: LoopbackSmtpServer;
let slack: SlackServer;
beforeAll(async () => {
  pd = await startPagerDutyServer();
  smtp = await startSmtpServer();
  slack = await startSlackServer({ channels: ["C0PRAXA01"] });
});
afterAll(async () => {
  await pd?.close();
  await smtp?.close();
  await slack?.close();
});

describe("PagerDuty Events API v2", () => {
  it("trigger under the pause’s dedup_key; a retry of it opens no second alert; resolve closes it", async () => {
    const target = { eventsUrl: pd.enqueueUrl, routingKey: ROUTING_KEY };
    expect(await sendPagerDutyEvent(target, notice, "praxa/sk_x/1")).toEqual({ dedupKey: "praxa/sk_x/1" });
    await sendPagerDutyEvent(target, notice, "praxa/sk_x/1");
    expect(pd.alerts.get("praxa/sk_x/1")).toMatchObject({
      status: "triggered",
      triggers: 2,
      summary:
        "Praxa paused Skill PR review (pr-review): acceptance 35.0% over the last 20 decided actions, below its threshold 70.0%",
    });
    const trigger = pd.events[0];
    expect(trigger?.payload).toMatchObject({
      severity: "error",
      source: `praxa/${notice.workspaceId}`,
      custom_details: { skill_id: notice.skill.id, rate: 0.35, threshold: 0.7 },
    });
    await sendPagerDutyEvent(
      target,
      { ...notice, event: "skill.resumed", resumedBy: "mb_x", resumeReason: "fixed" },
      "praxa/sk_x/1",
    );
    expect(pd.alerts.get("praxa/sk_x/1")?.status).toBe("resolved");
    expect(pd.events.at(-1)).toEqual({ routing_key: ROUTING_KEY, event_action: "resolve", dedup_key: "praxa/sk_x/1" });
  });

  it("a bad routing key is refused for good; an outage or a rate limit is retryable", async () => {
    await expect(
      sendPagerDutyEvent({ eventsUrl: pd.enqueueUrl, routingKey: "short" }, notice, "k"),
    ).rejects.toBeInstanceOf(NotificationRejectedError);
    pd.failNext(1, 503);
    await expect(
      sendPagerDutyEvent({ eventsUrl: pd.enqueueUrl, routingKey: ROUTING_KEY }, notice, "k2"),
    ).rejects.toMatchObject({ code: "UNAVAILABLE", retryable: true });
    pd.failNext(1, 429);
    await expect(
      sendPagerDutyEvent({ eventsUrl: pd.enqueueUrl, routingKey: ROUTING_KEY }, notice, "k2"),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await expect(
      sendPagerDutyEvent({ eventsUrl: "http://127.0.0.1:1/v2/enqueue", routingKey: ROUTING_KEY }, notice, "k2"),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(pd.alerts.has("k2")).toBe(false);
  });
});

describe("email over SMTP", () => {
  it("arrives at the channel’s address with the facts and what to do", async () => {
    await sendNoticeEmail({ url: smtp.url, from: "Praxa <praxa@example.com>" }, "oncall@example.com", notice);
    const mail = smtp.messages.at(-1);
    expect(mail?.to).toEqual(["oncall@example.com"]);
    expect(mail?.from).toBe("praxa@example.com");
    expect(mail?.subject).toBe(
      "[Praxa] Praxa paused Skill PR review (pr-review): acceptance 35.0% over the last 20 decided actions, below its threshold 70.0%",
    );
    expect(mail?.headers["x-praxa-skill"]).toBe(notice.skill.id);
    expect(mail?.text).toContain(`pnpm praxa skills resume ${notice.skill.id}`);
  });

  it("a temporary SMTP failure (421) is retryable; a refused mailbox (550) is not", async () => {
    smtp.failNext(1);
    await expect(
      sendNoticeEmail({ url: smtp.url, from: "praxa@example.com" }, "oncall@example.com", notice),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
    smtp.rejectRecipient("gone@example.com");
    await expect(
      sendNoticeEmail({ url: smtp.url, from: "praxa@example.com" }, "gone@example.com", notice),
    ).rejects.toBeInstanceOf(NotificationRejectedError);
  });
});

describe("Slack chat.postMessage as the bot", () => {
  it("posts the notice in the channel as the bot; a user token is refused before any call", async () => {
    const bot = slack.installBot(["chat:write"]);
    const { ts } = await postSlackNotice(
      { apiUrl: slack.apiUrl, botToken: bot.botToken, channel: "C0PRAXA01" },
      notice,
    );
    const msg = slack.messages.find((m) => m.ts === ts);
    expect(msg).toMatchObject({ channel: "C0PRAXA01", user: slack.botUserId, token: bot.botToken });
    expect(msg?.text).toBe(
      "Praxa paused Skill PR review (pr-review): acceptance 35.0% over the last 20 decided actions, below its threshold 70.0%",
    );
    expect(JSON.stringify(msg?.blocks)).toContain(`pnpm praxa skills resume ${notice.skill.id}`);
    const before = slack.apiCalls.length;
    await expect(
      postSlackNotice({ apiUrl: slack.apiUrl, botToken: "xoxp-1234567890-user-token", channel: "C0PRAXA01" }, notice),
    ).rejects.toBeInstanceOf(UserCredentialRefusedError);
    expect(slack.apiCalls.length).toBe(before);
  });

  it("an unknown channel is refused for good; a rate limit or an unreachable Slack is retryable", async () => {
    const bot = slack.installBot(["chat:write"]);
    await expect(
      postSlackNotice({ apiUrl: slack.apiUrl, botToken: bot.botToken, channel: "C0NOTMINE" }, notice),
    ).rejects.toMatchObject({ code: "NOTIFICATION_REJECTED" });
    slack.failNext("chat.postMessage", "ratelimited", { retryAfterSeconds: 1 });
    await expect(
      postSlackNotice({ apiUrl: slack.apiUrl, botToken: bot.botToken, channel: "C0PRAXA01" }, notice),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
    slack.failNext("chat.postMessage", "internal_error");
    await expect(
      postSlackNotice({ apiUrl: slack.apiUrl, botToken: bot.botToken, channel: "C0PRAXA01" }, notice),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await expect(
      postSlackNotice({ apiUrl: "http://127.0.0.1:1/api/", botToken: bot.botToken, channel: "C0PRAXA01" }, notice),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});
