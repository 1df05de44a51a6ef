import { describe, expect, it } from "@jest/globals";
import { manifestHash, parseSkillManifest, ValidationError, type SkillManifest } from "./index.js";

const prReviewManifest: SkillManifest = {
  slug: "pr-review",
  name: "PR review",
  triggers: ["github.pull_request.opened", "github.pull_request.synchronize"],
  tools: ["github.read.diff", "github.comment.pr"],
  memory: null,
  subAgents: { allowed: [], maxDepth: 0 },
  model: { id: "claude-sonnet-4-5" },
  maxIterations: 8,
  acceptance: { threshold: 0.7, window: 50, minSamples: 20 },
  notify: ["slack"],
};

describe("Skill manifest", () => {
  it("accepts a valid manifest and hashes it independently of key order", () => {
    const m = parseSkillManifest(prReviewManifest);
    const reordered = parseSkillManifest(
      JSON.parse(JSON.stringify({ ...prReviewManifest, tools: prReviewManifest.tools, slug: "pr-review" })),
    );
    expect(manifestHash(m)).toMatch(/^[0-9a-f]{64}$/);
    expect(manifestHash(reordered)).toBe(manifestHash(m));
    expect(manifestHash({ ...m, maxIterations: 9 })).not.toBe(manifestHash(m));
  });

  it("refuses unknown keys, bad tool names, memory tools without a namespace, and minSamples > window", () => {
    const bad = [
      { ...prReviewManifest, extra: true },
      { ...prReviewManifest, tools: ["Post To Slack"] },
      { ...prReviewManifest, tools: ["memory.read"] },
      { ...prReviewManifest, acceptance: { threshold: 0.5, window: 10, minSamples: 20 } },
      { ...prReviewManifest, triggers: [] },
      { ...prReviewManifest, tools: ["github.read.diff", "github.read.diff"] },
    ];
    for (const m of bad) expect(() => parseSkillManifest(m)).toThrow(ValidationError);
  });

  it("takes approval terms only for the Skill's own tools", () => {
    const approval = { tools: ["github.comment.pr"], expiresAfterMinutes: 60, roles: ["owner", "admin"] };
    expect(parseSkillManifest({ ...prReviewManifest, approval }).approval?.tools).toEqual(["github.comment.pr"]);
    let paths: unknown = null;
    try {
      parseSkillManifest({ ...prReviewManifest, approval: { ...approval, tools: ["slack.post_message"] } });
    } catch (err) {
      paths = (err as ValidationError).details?.["paths"];
    }
    expect(paths).toEqual(["approval.tools.0"]);
    expect(() => parseSkillManifest({ ...prReviewManifest, approval: { ...approval, roles: [] } })).toThrow(
      ValidationError,
    );
  });
});
