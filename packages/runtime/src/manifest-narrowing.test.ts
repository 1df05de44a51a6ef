import { describe, expect, it } from "@jest/globals";
import { parseSkillManifest } from "@praxa/core";
import { narrows } from "./manifest-narrowing.js";

const pinned = parseSkillManifest({
  slug: "deploy-triage",
  name: "Deploy triage",
  triggers: ["trigger.deploy.failed"],
  tools: ["slack.post_message", "webhook.callback"],
  memory: null,
  subAgents: { allowed: [], maxDepth: 0 },
  model: { id: "offline" },
  maxIterations: 4,
  acceptance: { threshold: 0.7, window: 20, minSamples: 10 },
  notify: [],
  approval: { tools: ["webhook.callback"], expiresAfterMinutes: 60, roles: ["owner"] },
});

describe("manifest narrowing and approval", () => {
  it("keeps every approval-gated tool gated, under the same terms", () => {
    const { approval: _dropped, ...withoutApproval } = pinned;
    expect(narrows(pinned, pinned)).toBe(true);
    // Dropping the approval while keeping the tool widens what the Skill may do on its own.
    expect(narrows(pinned, parseSkillManifest(withoutApproval))).toBe(false);
    // Dropping the gated tool altogether narrows.
    expect(narrows(pinned, parseSkillManifest({ ...withoutApproval, tools: ["slack.post_message"] }))).toBe(true);
    // Gating one more tool narrows; loosening the terms (a longer expiry, more roles) does not.
    const more = { ...pinned.approval!, tools: ["webhook.callback", "slack.post_message"] };
    expect(narrows(pinned, parseSkillManifest({ ...pinned, approval: more }))).toBe(true);
    const longer = { ...pinned.approval!, expiresAfterMinutes: 600 };
    expect(narrows(pinned, parseSkillManifest({ ...pinned, approval: longer }))).toBe(false);
    const wider = { ...pinned.approval!, roles: ["owner", "member"] };
    expect(narrows(pinned, parseSkillManifest({ ...pinned, approval: wider }))).toBe(false);
  });
});
