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
});
