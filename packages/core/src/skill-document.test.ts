import { describe, expect, it } from "@jest/globals";
import { readFileSync, writeFileSync } from "node:fs";
import {
  compileSkillDocument,
  evaluateCondition,
  manifestHash,
  projectPayload,
  renderTemplate,
  skillDocumentJsonSchema,
  skillDocumentOf,
  SkillDocumentError,
  type InputSchema,
} from "./index.js";

const doc = {
  slug: "deploy-triage",
  name: "Deploy triage",
  triggers: ["trigger.deploy.failed"],
  input: {
    type: "object",
    required: ["service"],
    properties: {
      service: { type: "string", maxLength: 20, audit: true },
      environment: { type: "string", enum: ["production", "preview"] },
      attempt: { type: "integer", minimum: 1 },
      commit: { type: "object", properties: { sha: { type: "string" } } },
      tags: { type: "array", items: { type: "string" }, maxItems: 3 },
    },
  },
  instructions: "Triage failed deploys.",
  tools: ["slack.post_message", "webhook.callback"],
  decision: {
    verdicts: [
      { name: "notify", description: "tell" },
      { name: "ignore", description: "nothing" },
    ],
  },
  actions: {
    notify: [{ slack: { channel: "C0DEPLOYS1", text: "{{input.service}}: {{decision.summary}}" } }, { callback: {} }],
    ignore: [],
  },
  callback: { url: "https://ci.example.com/hook" },
  acceptance: { threshold: 0.7, window: 50, minSamples: 10 },
  offline: {
    rules: [{ when: { field: "environment", equals: "preview" }, verdict: "ignore", confidence: 0.9, reasoning: "r" }],
    otherwise: { verdict: "notify", confidence: 0.7, reasoning: "r" },
  },
};

const issuesOf = (value: unknown): { path: string; message: string }[] => {
  try {
    compileSkillDocument(value);
  } catch (err) {
    if (err instanceof SkillDocumentError) return [...err.issues];
    throw err;
  }
  return [];
};

describe("declarative Skill documents", () => {
  it("compile to a manifest whose hash covers every word, and back", () => {
    const m = compileSkillDocument(doc);
    expect(m.declarative?.verdicts.map((v) => v.name)).toEqual(["notify", "ignore"]);
    expect(m.memory).toBeNull();
    const edited = compileSkillDocument({ ...doc, instructions: "Triage failed deploys!" });
    expect(manifestHash(edited)).not.toBe(manifestHash(m));
    expect(compileSkillDocument(skillDocumentOf(m))).toEqual(m);
  });

  it("point every error at the field the customer wrote, never echoing values", () => {
    const secret = "s3cr3t-value";
    expect(issuesOf({ ...doc, tools: ["slack.post_message"] })).toEqual([
      { path: "actions.notify.1", message: "this action needs the tool webhook.callback in tools" },
    ]);
    expect(issuesOf({ ...doc, callback: undefined }).map((i) => i.path)).toEqual(["actions.notify.1"]);
    expect(issuesOf({ ...doc, actions: { ...doc.actions, page: [] } }).map((i) => `${i.path}: ${i.message}`)).toEqual([
      'actions.page: "page" is not one of the verdicts',
    ]);
    expect(
      issuesOf({
        ...doc,
        actions: { ...doc.actions, notify: [{ slack: { channel: "C0DEPLOYS1", text: `{{input.${"nope"}}}` } }] },
      })[0]?.path,
    ).toBe("actions.notify.0.slack.text");
    expect(issuesOf({ ...doc, triggers: ["cron.daily"] })[0]?.path).toBe("triggers.0");
    expect(issuesOf({ ...doc, decision: { verdicts: [{ name: "Bad Name", description: secret }] } })[0]?.path).toBe(
      "decision.verdicts.0.name",
    );
    const off = issuesOf({
      ...doc,
      offline: { ...doc.offline, rules: [{ ...doc.offline.rules[0], when: { field: "branch", equals: "x" } }] },
    });
    expect(off).toEqual([{ path: "offline.rules.0.when", message: '"branch" is not a declared input field' }]);
    expect(
      issuesOf({ ...doc, input: { type: "object", properties: { webhook_id: { type: "string" } } } })[0]?.path,
    ).toBe("input.properties.webhook_id");
    expect(issuesOf({ ...doc, extra: secret })[0]?.path).toBe("(root)");
    const all = issuesOf({ ...doc, offline: { ...doc.offline, otherwise: { verdict: secret, confidence: 2 } } });
    expect(JSON.stringify(all)).not.toContain(secret);
  });

  it("refuse costly or invalid patterns in rules", () => {
    const rule = (matches: string) => ({
      ...doc,
      offline: { ...doc.offline, rules: [{ ...doc.offline.rules[0], when: { field: "service", matches } }] },
    });
    expect(issuesOf(rule("^api-[a-z]+$"))).toEqual([]);
    expect(issuesOf(rule("(a+)+$")).length).toBeGreaterThan(0);
    expect(issuesOf(rule("(x)\\1")).length).toBeGreaterThan(0);
    expect(issuesOf(rule("[")).length).toBeGreaterThan(0);
  });
});

describe("payload projection", () => {
  const schema = compileSkillDocument(doc).declarative?.input as InputSchema;
  it("keeps the named fields and drops every other, at every depth", () => {
    const { value, problems } = projectPayload(schema, {
      service: "api",
      environment: "preview",
      token: "ghp_dropped",
      commit: { sha: "abc", author_email: "dropped@example.com" },
      tags: ["a", "b"],
      attempt: 2,
    });
    expect(problems).toEqual([]);
    expect(value).toEqual({
      service: "api",
      environment: "preview",
      commit: { sha: "abc" },
      tags: ["a", "b"],
      attempt: 2,
    });
  });
  it("refuses a kept field of the wrong shape, naming the path only", () => {
    const { problems } = projectPayload(schema, {
      environment: "prod-eu",
      attempt: 1.5,
      service: "x".repeat(21),
      tags: ["a", "b", "c", "d"],
      commit: { sha: 7 },
    });
    expect(problems.map((p) => p.path).sort()).toEqual(["attempt", "commit.sha", "environment", "service", "tags"]);
    expect(projectPayload(schema, {}).problems).toEqual([{ path: "service", message: "required" }]);
    expect(projectPayload(schema, "not an object").problems[0]?.path).toBe("(root)");
  });
});

describe("offline rule conditions and templates", () => {
  const input = { service: "api", environment: "production", attempt: 3, commit: { sha: "abc" } };
  it("evaluate over the input", () => {
    expect(evaluateCondition({ field: "environment", equals: "production" }, input)).toBe(true);
    expect(
      evaluateCondition(
        {
          all: [
            { field: "attempt", gte: 2 },
            { field: "attempt", lt: 3 },
          ],
        },
        input,
      ),
    ).toBe(false);
    expect(evaluateCondition({ any: [{ field: "service", in: ["web", "api"] }] }, input)).toBe(true);
    expect(evaluateCondition({ not: { field: "commit.sha", matches: "^ab" } }, input)).toBe(false);
    expect(evaluateCondition({ field: "missing", exists: false }, input)).toBe(true);
    expect(evaluateCondition({ field: "missing", equals: "x" }, input)).toBe(false);
    expect(evaluateCondition({ field: "service", gt: 1 }, input)).toBe(false);
  });
  it("fill templates with escaped values", () => {
    const text = renderTemplate(
      "{{input.service}} <{{decision.verdict}}> {{decision.confidence}} {{input.nope}}",
      {
        input: { service: "<!channel> & co" },
        decision: { verdict: "notify", summary: "", confidence: 0.5 },
        skill: { name: "S" },
        run: { id: "rn_1" },
      },
      (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"),
    );
    expect(text).toBe("&lt;!channel&gt; &amp; co <notify> 0.50 ");
  });
});

describe("the published JSON Schema", () => {
  it("docs/skills/skill.schema.json is the schema of the documents the api takes", () => {
    const file = new URL("../../../docs/skills/skill.schema.json", import.meta.url);
    const generated = `${JSON.stringify(skillDocumentJsonSchema(), null, 2)}\n`;
    if (process.env.PRAXA_WRITE_SKILL_SCHEMA === "1") writeFileSync(file, generated);
    expect(readFileSync(file, "utf8")).toBe(generated);
  });
});
