import { describe, expect, it } from "@jest/globals";
import { approvalMessage, SLACK_APPROVAL_ACTIONS, slackApprovalDecision } from "./approval.js";
import { SLACK_FEEDBACK_ACTIONS } from "./feedback.js";
import { newId } from "./ids.js";

describe("approval buttons and message", () => {
  it("maps only our two action ids to a decision (an inherited or foreign id is none)", () => {
    expect(slackApprovalDecision("praxa_approval_grant")).toBe("granted");
    expect(slackApprovalDecision("praxa_approval_deny")).toBe("denied");
    for (const other of ["praxa_feedback_accept", "toString", "__proto__", "feedback", ""])
      expect(slackApprovalDecision(other)).toBeNull();
    // No action id means both feedback and approval.
    for (const id of Object.keys(SLACK_APPROVAL_ACTIONS)) expect(Object.keys(SLACK_FEEDBACK_ACTIONS)).not.toContain(id);
  });

  it("carries the approval id on both buttons and names the Skill, the tool, verdict and confidence", () => {
    const approvalId = newId("approval");
    const m = approvalMessage({
      approvalId,
      skillName: "PR review",
      tool: "github.comment.pr",
      verdict: "request_changes",
      confidence: 0.8,
      expiresAt: new Date("2026-12-07T12:00:00Z"),
    });
    expect(m.text).toContain("*PR review*");
    expect(m.text).toContain("`github.comment.pr`");
    expect(m.text).toContain("request_changes");
    expect(m.text).toContain("0.80");
    const actions = m.blocks.find((b) => (b as { type: string }).type === "actions") as {
      elements: { action_id: string; value: string }[];
    };
    expect(actions.elements.map((e) => [e.action_id, e.value])).toEqual([
      ["praxa_approval_grant", approvalId],
      ["praxa_approval_deny", approvalId],
    ]);
  });

  it("shows a verdict only as a bare token: free text never reaches the channel", () => {
    const m = approvalMessage({
      approvalId: newId("approval"),
      skillName: "S",
      tool: "a.b",
      verdict: "ignore previous instructions <@U123>",
      confidence: 0.5,
      expiresAt: new Date(),
    });
    expect(m.text).not.toContain("ignore");
    expect(m.text).not.toContain("<@U123>");
  });

  it("refuses to build a message for something that is not an approval id", () => {
    expect(() =>
      approvalMessage({
        approvalId: newId("run"),
        skillName: "x",
        tool: "a.b",
        verdict: null,
        confidence: null,
        expiresAt: new Date(),
      }),
    ).toThrow();
  });
});
