import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { SkillDocumentError } from "@praxa/core";
import { compileSkillYaml, declarativeFields, declarativeSkill, offlineDecision, readSkillYaml } from "../index.js";

const example = readFileSync(new URL("../../../../examples/skills/deploy-triage.yaml", import.meta.url), "utf8");

describe("the example Skill and its offline rules", () => {
  const manifest = compileSkillYaml(example);
  const spec = manifest.declarative!;
  it("compiles, with its approval terms and the channels its actions name", () => {
    expect(manifest.approval?.tools).toEqual(["webhook.callback"]);
    const skill = declarativeSkill(manifest);
    const subject = skill.subject({ runId: "rn_x", trigger: "trigger.deploy.failed", input: {}, manifest });
    expect(subject.slackChannels).toEqual(["C0DEPLOYS1"]);
    expect(subject.callbackUrl).toBe("https://ci.example.com/praxa/escalations");
    expect(subject.pullRequest).toBeUndefined();
  });
  it("decides by the first rule that holds, scoring every verdict", () => {
    expect(offlineDecision(spec, { environment: "preview" })?.verdict).toBe("ignore");
    const prod = offlineDecision(spec, { environment: "production", attempt: 2, failed_step: "migrate" });
    expect(prod).toMatchObject({
      verdict: "escalate",
      confidence: 0.85,
      summary: "production deploy failed 2 times at migrate",
    });
    expect(prod?.alternatives.map((a) => a.action).sort()).toEqual(["escalate", "ignore", "notify"]);
    expect(offlineDecision(spec, { environment: "production", attempt: 1, failed_step: "x" })?.verdict).toBe("notify");
  });
  it("sees the producer's payload when there is one, else the event's fields", () => {
    expect(declarativeFields({ input: { type: "t", payload: { a: 1 } } })).toEqual({ a: 1 });
    expect(declarativeFields({ input: { repo: "o/r", prNumber: 1 } })).toEqual({ repo: "o/r", prNumber: 1 });
  });
  it("records the audited fields and the digest of what it saw, never the rest", () => {
    const skill = declarativeSkill(manifest);
    const input = {
      type: "deploy.failed",
      webhookId: "msg_1",
      payload: { service: "api", error_summary: "secret words" },
    };
    const audit = skill.auditInput({ runId: "rn_x", trigger: "trigger.deploy.failed", input, manifest });
    expect(Object.keys(audit).sort()).toEqual(["event_type", "payload_sha256", "service", "webhook_id"]);
    expect(JSON.stringify(audit)).not.toContain("secret words");
  });
});

describe("YAML documents", () => {
  it("name the line and column of a syntax error, and a key written twice", () => {
    let issues: readonly { path: string }[] = [];
    try {
      readSkillYaml("slug: a\nname: [unclosed\n");
    } catch (err) {
      issues = (err as SkillDocumentError).issues;
    }
    expect(issues[0]?.path).toMatch(/^line \d+, column \d+$/);
    expect(() => readSkillYaml("slug: a\nslug: b\n")).toThrow(SkillDocumentError);
  });
});
