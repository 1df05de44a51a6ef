/**
 * The quality monitor end to end (issue #10): feedback through the api → the rolling rate in SQL → a Skill falling
 * below its published threshold pauses exactly once, audited → one notification per configured channel, delivered by a
 * worker under a lease with the real clients (the loopback Slack as the workspace's bot, a real SMTP server, the loopback
 * PagerDuty Events v2) → one channel down
 * is retried with backoff while the others are delivered → two monitors racing pause once → good feedback afterwards
 * changes nothing → only a human admin resumes, audited, and the PagerDuty incident is resolved.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { evaluateAcceptance, pauseIfBelowThreshold } from "@praxa/monitor";
import type { SkillId } from "@praxa/core";
import {
  NOTIFICATION_JOB_OPTIONS,
  ROUTING_KEY,
  startHarness,
  waitFor,
  type Harness,
} from "./quality-monitor-harness.js";

let h: Harness;
let emailChannel: string;

beforeAll(async () => {
  h = await startHarness();
  // The fixture's own email channel goes; a Slack channel, an email address and a PagerDuty service remain.
  expect(
    (await h.call("DELETE", `/v1/notification-channels/${h.ws.notificationChannelId}`, h.tokens.admin)).status,
  ).toBe(200);
  const email = await h.call("POST", "/v1/notification-channels", h.tokens.admin, {
    kind: "email",
    address: "oncall@example.com",
  });
  expect(email.status).toBe(201);
  emailChannel = String(email.json.id);
  const pd = await h.call("POST", "/v1/notification-channels", h.tokens.admin, {
    kind: "pagerduty",
    routingKey: ROUTING_KEY,
  });
  expect(pd.status).toBe(201);
  expect(pd.json).toMatchObject({
    kind: "pagerduty",
    fingerprint: ROUTING_KEY.slice(-4),
    target: `PagerDuty …${ROUTING_KEY.slice(-4)}`,
  });
  const slack = await h.call("POST", "/v1/notification-channels", h.tokens.admin, {
    kind: "slack",
    channel: "C0PRAXA01",
  });
  expect(slack).toMatchObject({ status: 201, json: { kind: "slack", target: "C0PRAXA01" } });
  expect(
    (await h.call("POST", "/v1/notification-channels", h.tokens.viewer, { kind: "email", address: "x@example.com" }))
      .status,
  ).toBe(403);
});
afterAll(async () => h?.close());

type Note = {
  id: string;
  kind: string;
  status: string;
  attempts: number;
  last_error_code: string | null;
  delivered_at: Date | null;
  event: string;
};
const notesOf = (skillId: string, event = "skill.paused") =>
  h.admin<
    Note[]
  >`select id, kind, status, attempts, last_error_code, delivered_at, event from notifications where skill_id = ${skillId} and event = ${event} order by kind`;
const statusOf = async (skillId: string) =>
  (await h.admin<{ status: string }[]>`select status from skills where id = ${skillId}`)[0]?.status;
const incidentOf = async (skillId: string) =>
  (await h.admin<{ incident_key: string }[]>`select incident_key from skill_pauses where skill_id = ${skillId}`)[0]
    ?.incident_key ?? "";
const mailsFor = (skillId: string, event = "skill.paused") =>
  h.smtp.messages.filter((m) => m.headers["x-praxa-skill"] === skillId && m.headers["x-praxa-event"] === event);
const pdRequestsFor = (incident: string) => h.pd.requests.filter((r) => r.body.toString("utf8").includes(incident));
const slackPostsFor = (skillId: string) =>
  h.slack.messages.filter((m) => m.text.includes(skillId) || JSON.stringify(m.blocks ?? []).includes(skillId));

async function feedback(runId: string, verdict: "accepted" | "rejected"): Promise<void> {
  const res = await h.call("POST", `/v1/runs/${runId}/feedback`, h.tokens.admin, { verdict });
  expect(res.status).toBe(201);
}

/** Drive a Skill below its threshold: 20 decisions, 6 accepted (0.3 < 0.7). */
async function twentyBadDecisions(skill: { skillId: string; versionId: string }): Promise<void> {
  for (let i = 0; i < 20; i++) await feedback(await h.newRun(skill), i % 10 < 3 ? "accepted" : "rejected");
}

describe("self-pause and notifications", () => {
  let pausedSkill: SkillId;

  it("20 decisions falling below the threshold → paused exactly once; Slack, email and PagerDuty each get exactly one correct notification", async () => {
    const skill = await h.newSkill(["slack", "email", "pagerduty"]);
    pausedSkill = skill.skillId as SkillId;
    const monitor = h.monitor();
    const pauses: number[] = [];
    for (let i = 0; i < 20; i++) {
      await feedback(await h.newRun(skill), i % 10 < 3 ? "accepted" : "rejected");
      pauses.push((await evaluateAcceptance(monitor)).paused);
    }
    for (let i = 0; i < 3; i++) pauses.push((await evaluateAcceptance(monitor)).paused);
    expect(pauses.reduce((a, b) => a + b, 0)).toBe(1);
    expect(pauses.indexOf(1)).toBe(19); // not before minSamples (20) decisions
    expect(await statusOf(skill.skillId)).toBe("paused");

    const notes = await waitFor("the three notifications delivered", async () => {
      const n = await notesOf(skill.skillId);
      return n.length === 3 && n.every((x) => x.status === "delivered") && n;
    });
    expect(notes.map((n) => [n.kind, n.attempts])).toEqual([
      ["email", 1],
      ["pagerduty", 1],
      ["slack", 1],
    ]);
    // Slack: one message in the channel, posted as the workspace's bot — with a token refreshed first, since the stored
    // rotating one was a minute from expiry (oauth.v2.access once, the new pair sealed back to the vault).
    const posts = slackPostsFor(skill.skillId);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toMatchObject({ channel: "C0PRAXA01", user: h.slack.botUserId });
    expect(posts[0]?.text).toContain("acceptance 30.0% over the last 20 decided actions, below its threshold 70.0%");
    expect(h.slack.calls["oauth.v2.access"]).toBe(1);
    expect(posts[0]?.token).not.toBe(h.installedBotToken);
    expect(posts[0]?.token).toMatch(/^xoxe\.xoxb-/);
    const incident = await incidentOf(skill.skillId);
    const mails = mailsFor(skill.skillId);
    expect(mails).toHaveLength(1);
    expect(mails[0]?.to).toEqual(["oncall@example.com"]);
    expect(mails[0]?.subject).toBe(
      "[Praxa] Praxa paused Skill PR review (" +
        (await slugOf(skill.skillId)) +
        "): acceptance 30.0% over the last 20 decided actions, below its threshold 70.0%",
    );
    const events = h.pd.events.filter((e) => e.dedup_key === incident);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: "trigger",
      payload: {
        severity: "error",
        custom_details: { skill_id: skill.skillId, rate: 0.3, threshold: 0.7, decided: 20 },
      },
    });

    // Audited: one signed skill.paused event with the figures; the chain still verifies.
    const audit = await h.call("GET", `/v1/audit/events?skill=${skill.skillId}`, h.tokens.viewer);
    const paused = (audit.json.events as { kind: string; input: Record<string, unknown>; trigger: string }[]).filter(
      (e) => e.kind === "skill.paused",
    );
    expect(paused).toHaveLength(1);
    expect(paused[0]).toMatchObject({
      trigger: "monitor.acceptance",
      input: { rate: 0.3, threshold: 0.7, decided: 20, accepted: 6, window: 20, min_samples: 20 },
    });
    expect((await h.call("GET", "/v1/audit/verify", h.tokens.viewer)).json).toMatchObject({ ok: true });

    const chart = await h.call("GET", `/v1/skills/${skill.skillId}/acceptance`, h.tokens.viewer);
    expect(chart.json).toMatchObject({
      status: "paused",
      acceptance: { decided: 20, accepted: 6, rate: 0.3, threshold: 0.7 },
    });
    expect((chart.json.samples as unknown[]).length).toBe(20);
    expect((chart.json.pauses as { cause: string }[])[0]).toMatchObject({ cause: "acceptance", pausedBy: "monitor" });
  });

  it("the routing key is never returned and is stored only sealed", async () => {
    const list = await h.call("GET", "/v1/notification-channels", h.tokens.viewer);
    expect(JSON.stringify(list.json)).not.toContain(ROUTING_KEY);
    const [hit] = await h.admin<
      { n: number }[]
    >`select count(*)::int as n from vault.secrets where position(${Buffer.from(ROUTING_KEY)}::bytea in ciphertext) > 0`;
    expect(hit?.n).toBe(0);
  });

  it("one channel down → retried with backoff; the others are delivered without waiting for it", async () => {
    const skill = await h.newSkill(["slack", "email", "pagerduty"]);
    h.pd.failNext(1_000, 503);
    await twentyBadDecisions(skill);
    expect((await evaluateAcceptance(h.monitor())).paused).toBe(1);
    const incident = await incidentOf(skill.skillId);
    // Slack and email are delivered while PagerDuty is still down and has already been retried.
    await waitFor("Slack and email delivered, PagerDuty retried", async () => {
      const [email, pd, slack] = await notesOf(skill.skillId);
      return (
        email?.status === "delivered" &&
        slack?.status === "delivered" &&
        pdRequestsFor(incident).length >= 2 &&
        pd?.status !== "delivered"
      );
    });
    const [emailBefore, pdBefore, slackBefore] = await notesOf(skill.skillId);
    expect(emailBefore).toMatchObject({ status: "delivered", attempts: 1 });
    expect(slackBefore).toMatchObject({ status: "delivered", attempts: 1 });
    expect(pdBefore?.status).not.toBe("delivered");
    expect(pdBefore?.attempts).toBeGreaterThanOrEqual(2);
    h.pd.failNext(0);
    const [email, pd, slack] = await waitFor("PagerDuty delivered once it is back", async () => {
      const n = await notesOf(skill.skillId);
      return n[1]?.status === "delivered" && n;
    });
    // Order and attempts: Slack and email once, first; PagerDuty once per request it received, the last accepted.
    expect([email?.attempts, slack?.attempts]).toEqual([1, 1]);
    expect(mailsFor(skill.skillId)).toHaveLength(1);
    expect(slackPostsFor(skill.skillId)).toHaveLength(1);
    expect((email?.delivered_at?.getTime() ?? 0) < (pd?.delivered_at?.getTime() ?? 0)).toBe(true);
    expect((slack?.delivered_at?.getTime() ?? 0) < (pd?.delivered_at?.getTime() ?? 0)).toBe(true);
    expect(pd?.attempts).toBe(pdRequestsFor(incident).length);
    expect(pd?.attempts).toBeGreaterThanOrEqual(3);
    expect(h.pd.events.filter((e) => e.dedup_key === incident)).toHaveLength(1);
    expect(h.pd.alerts.get(incident)).toMatchObject({ status: "triggered", triggers: 1 });
    const job = await h.queues.get("notifications").getJob(pd?.id ?? "");
    expect(job?.attemptsMade).toBe(pd?.attempts); // one queue attempt per recorded attempt
    expect(job?.opts.backoff).toEqual(NOTIFICATION_JOB_OPTIONS.backoff);
  });

  it("two monitors racing → one pause, one audit event, one notification per channel", async () => {
    const skill = await h.newSkill(["slack", "email", "pagerduty"]);
    await twentyBadDecisions(skill);
    const [m1, m2] = [h.monitor(), h.monitor()];
    // Two full passes and three direct pause attempts, all at once, from two pools (as two processes would).
    const [passA, passB, ...direct] = await Promise.all([
      evaluateAcceptance(m1),
      evaluateAcceptance(m2),
      pauseIfBelowThreshold(m1, h.ws.workspaceId, skill.skillId as SkillId),
      pauseIfBelowThreshold(m2, h.ws.workspaceId, skill.skillId as SkillId),
      pauseIfBelowThreshold(m1, h.ws.workspaceId, skill.skillId as SkillId),
    ]);
    expect((passA?.paused ?? 0) + (passB?.paused ?? 0) + direct.filter((r) => r !== null).length).toBe(1);
    const [pauses] = await h.admin<
      { n: number }[]
    >`select count(*)::int as n from skill_pauses where skill_id = ${skill.skillId}`;
    expect(pauses?.n).toBe(1);
    const audit = await h.call("GET", `/v1/audit/events?skill=${skill.skillId}`, h.tokens.viewer);
    expect((audit.json.events as { kind: string }[]).filter((e) => e.kind === "skill.paused")).toHaveLength(1);
    await waitFor("all delivered", async () => (await notesOf(skill.skillId)).every((n) => n.status === "delivered"));
    expect((await notesOf(skill.skillId)).map((n) => n.kind)).toEqual(["email", "pagerduty", "slack"]);
    expect(mailsFor(skill.skillId)).toHaveLength(1);
    expect(slackPostsFor(skill.skillId)).toHaveLength(1);
    expect(h.pd.events.filter((e) => e.dedup_key.startsWith(`praxa/${skill.skillId}/`))).toHaveLength(1);
  });

  it("good feedback after the pause → still paused; only a human admin resumes it — audited, PagerDuty resolved", async () => {
    const skill = {
      skillId: pausedSkill,
      versionId:
        (await h.admin<{ id: string }[]>`select id from skill_versions where skill_id = ${pausedSkill}`)[0]?.id ?? "",
    };
    for (let i = 0; i < 25; i++) await feedback(await h.newRun(skill), "accepted");
    await evaluateAcceptance(h.monitor());
    expect(await statusOf(pausedSkill)).toBe("paused");
    expect((await h.call("GET", `/v1/skills/${pausedSkill}/acceptance`, h.tokens.viewer)).json).toMatchObject({
      status: "paused",
      acceptance: { rate: 1 },
    });

    const body = { reason: "reviewed the 14 rejections; prompt fixed in v2" };
    expect(await h.call("POST", `/v1/skills/${pausedSkill}/resume`, h.tokens.viewer, body)).toMatchObject({
      status: 403,
      json: { error: { code: "FORBIDDEN" } },
    });
    expect(await h.call("POST", `/v1/skills/${pausedSkill}/resume`, h.tokens.automation, body)).toMatchObject({
      status: 403,
      json: { error: { code: "FORBIDDEN" } },
    });
    expect((await h.call("POST", `/v1/skills/${pausedSkill}/resume`, h.tokens.admin, { reason: "" })).status).toBe(400);
    expect(await statusOf(pausedSkill)).toBe("paused");
    const ok = await h.call("POST", `/v1/skills/${pausedSkill}/resume`, h.tokens.admin, body);
    expect(ok).toMatchObject({
      status: 200,
      json: { status: "active", resumed: true, resumedBy: h.ws.memberId, notifications: 3 },
    });
    expect(await statusOf(pausedSkill)).toBe("active");

    const audit = await h.call("GET", `/v1/audit/events?skill=${pausedSkill}`, h.tokens.viewer);
    const resumed = (audit.json.events as { kind: string; input: Record<string, unknown>; trigger: string }[]).filter(
      (e) => e.kind === "skill.resumed",
    );
    expect(resumed).toEqual([
      expect.objectContaining({
        trigger: "api.skill_resume",
        input: { reason: body.reason, member_id: h.ws.memberId },
      }),
    ]);

    const incident = await incidentOf(pausedSkill);
    await waitFor("resume notifications delivered", async () => {
      const n = await notesOf(pausedSkill, "skill.resumed");
      return n.length === 3 && n.every((x) => x.status === "delivered");
    });
    expect(h.pd.alerts.get(incident)?.status).toBe("resolved");
    expect(h.pd.events.filter((e) => e.dedup_key === incident).map((e) => e.event_action)).toEqual([
      "trigger",
      "resolve",
    ]);
    expect(mailsFor(pausedSkill, "skill.resumed")).toHaveLength(1);
    expect(mailsFor(pausedSkill, "skill.resumed")[0]?.text).toContain(body.reason);
    expect(slackPostsFor(pausedSkill).map((m) => m.text)).toEqual([
      expect.stringContaining("Praxa paused Skill"),
      expect.stringContaining("was resumed by"),
    ]);
  });

  it("an admin pauses by hand (automation may), and still only a human admin resumes", async () => {
    const skill = await h.newSkill(["email"]);
    const res = await h.call("POST", `/v1/skills/${skill.skillId}/pause`, h.tokens.automation, {
      reason: "incident INC-42: hold all reviews",
    });
    expect(res).toMatchObject({ status: 200, json: { paused: true } });
    expect((await h.call("POST", `/v1/skills/${skill.skillId}/pause`, h.tokens.viewer, { reason: "x" })).status).toBe(
      403,
    );
    expect(
      (await h.call("POST", `/v1/skills/${skill.skillId}/resume`, h.tokens.automation, { reason: "over" })).status,
    ).toBe(403);
    expect(
      (await h.call("POST", `/v1/skills/${skill.skillId}/resume`, h.tokens.admin, { reason: "incident over" })).json,
    ).toMatchObject({ resumed: true, notifications: 0 });
    expect(emailChannel).toMatch(/^nc_/);
  });
});

describe("pnpm praxa skills resume", () => {
  const cli = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));
  // Asynchronously: the api answering it runs in this process.
  const praxa = (token: string, ...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [cli, "skills", ...args],
        {
          env: { PATH: process.env.PATH ?? "", PRAXA_API_URL: h.apiUrl, PRAXA_API_TOKEN: token },
          encoding: "utf8",
          timeout: 30_000,
        },
        (err, stdout, stderr) =>
          resolve({ status: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
      );
    });

  it("calls the api with the operator’s own token: an automation token is refused, a human admin’s resumes", async () => {
    const skill = await h.newSkill(["email"]);
    const pause = await praxa(h.tokens.admin, "pause", skill.skillId, "--reason", "hold during the migration");
    expect({ status: pause.status, out: pause.stdout.trim() }).toEqual({
      status: 0,
      out: `${skill.skillId}: paused (audited)`,
    });
    const refused = await praxa(h.tokens.automation, "resume", skill.skillId, "--reason", "done");
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("praxa: FORBIDDEN: this needs a human token");
    expect(await statusOf(skill.skillId)).toBe("paused");
    const ok = await praxa(h.tokens.admin, "resume", skill.skillId, "--reason", "migration finished");
    expect({ status: ok.status, out: ok.stdout.trim() }).toEqual({
      status: 0,
      out: `${skill.skillId}: active (audited)`,
    });
    expect(await statusOf(skill.skillId)).toBe("active");
    const noToken = await praxa("", "resume", skill.skillId, "--reason", "x");
    expect(noToken.status).toBe(2); // usage: the command needs the operator’s own token
    expect(noToken.stderr).toContain("PRAXA_API_TOKEN");
  });
});

async function slugOf(skillId: string): Promise<string> {
  return (await h.admin<{ slug: string }[]>`select slug from skills where id = ${skillId}`)[0]?.slug ?? "";
}
