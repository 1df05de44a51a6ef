/**
 * The quality monitor keeps a workspace's own Skill exactly as it keeps pr-review: a declarative Skill published
 * through the api, its acceptance threshold published with it, falls below it on 20 decisions → paused exactly once,
 * audited, each of its notification channels told once (Slack as the workspace's bot, email over SMTP) → an
 * automation token cannot resume it; a human admin can.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { evaluateAcceptance } from "@praxa/monitor";
import { readSkillYaml } from "@praxa/skills";
import { startHarness, waitFor, type Harness } from "./quality-monitor-harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  const slack = await h.call("POST", "/v1/notification-channels", h.tokens.admin, {
    kind: "slack",
    channel: "C0PRAXA01",
  });
  expect(slack.status).toBe(201);
});
afterAll(async () => h?.close());

function document(): Record<string, unknown> {
  const doc = readSkillYaml(
    readFileSync(new URL("../../examples/skills/deploy-triage.yaml", import.meta.url), "utf8"),
  ) as Record<string, unknown>;
  doc["slug"] = "deploy-triage-quality";
  doc["acceptance"] = { threshold: 0.7, window: 20, minSamples: 20 };
  doc["notify"] = ["slack", "email"];
  doc["tools"] = ["slack.post_message"];
  doc["actions"] = {
    notify: [{ slack: { channel: "C0PRAXA01", text: "{{decision.summary}}" } }],
    ignore: [],
    escalate: [],
  };
  delete doc["approval"];
  delete doc["callback"];
  return doc;
}

describe("a declarative Skill under the quality monitor", () => {
  it("falls below its published threshold → paused once, audited, every channel told once; only a human admin resumes", async () => {
    const created = await h.call("POST", "/v1/skills", h.tokens.admin, { document: document() });
    expect(created.status).toBe(201);
    const skill = {
      skillId: (created.json["skill"] as { id: string }).id,
      versionId: (created.json["version"] as { id: string }).id,
    };
    const monitor = h.monitor();
    const pauses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const runId = await h.newRun(skill);
      const res = await h.call("POST", `/v1/runs/${runId}/feedback`, h.tokens.admin, {
        verdict: i % 10 < 3 ? "accepted" : "rejected",
      });
      expect(res.status).toBe(201);
      pauses.push((await evaluateAcceptance(monitor)).paused);
    }
    pauses.push((await evaluateAcceptance(monitor)).paused);
    expect(pauses.reduce((a, b) => a + b, 0)).toBe(1);
    expect(pauses.indexOf(1)).toBe(19);
    const [row] = await h.admin<{ status: string; paused_reason: string }[]>`
      select status, paused_reason from skills where id = ${skill.skillId}`;
    expect(row?.status).toBe("paused");
    const [audit] = await h.admin<{ canonical: Buffer }[]>`
      select canonical from audit_events where skill_id = ${skill.skillId} and kind = 'skill.paused'`;
    expect(JSON.parse(audit!.canonical.toString())).toMatchObject({ kind: "skill.paused", skillId: skill.skillId });
    const notes = await waitFor("both notifications delivered", async () => {
      const n = await h.admin<{ kind: string; status: string }[]>`
        select kind, status from notifications where skill_id = ${skill.skillId} and event = 'skill.paused' order by kind`;
      return n.length === 2 && n.every((x) => x.status === "delivered") && n;
    });
    expect(notes.map((n) => n.kind)).toEqual(["email", "slack"]);
    expect(h.slack.messages.filter((m) => m.text.includes("Deploy triage"))).toHaveLength(1);
    expect(h.smtp.messages.filter((m) => m.headers["x-praxa-skill"] === skill.skillId)).toHaveLength(1);

    // An automation token cannot resume it; a human admin can, with a reason.
    const byBot = await h.call("POST", `/v1/skills/${skill.skillId}/resume`, h.tokens.automation, { reason: "ok" });
    expect(byBot.status).toBe(403);
    const resumed = await h.call("POST", `/v1/skills/${skill.skillId}/resume`, h.tokens.admin, {
      reason: "rules tightened in version 2",
    });
    expect(resumed).toMatchObject({ status: 200, json: { resumed: true } });
  });
});
