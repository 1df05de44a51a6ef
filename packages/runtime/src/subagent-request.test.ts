import { describe, expect, it } from "@jest/globals";
import { z } from "zod";
import { SubAgentInputInvalidError, SubAgentNotAllowedError, SubAgentSubjectError } from "./guard-errors.js";
import { resolveSubAgentRequest, type SubAgentContext } from "./subagent-request.js";

const ctx: SubAgentContext = {
  parentInput: { repo: "acme/shop", prNumber: 7, headSha: "a".repeat(40) },
  contracts: new Map([["pr-review", z.object({ focus: z.enum(["security", "tests"]).optional() }).strict()]]),
};

function thrown(raw: unknown): unknown {
  try {
    resolveSubAgentRequest(ctx, raw);
  } catch (err) {
    return err;
  }
  return null;
}

describe("resolveSubAgentRequest", () => {
  it("keeps the task apart from the structured input, and drops a restatement of the parent’s own subject", () => {
    expect(
      resolveSubAgentRequest(ctx, {
        skill: "pr-review",
        task: "look at refunds",
        input: { focus: "security", repo: "acme/shop", prNumber: 7 },
      }),
    ).toEqual({
      skill: "pr-review",
      args: { focus: "security" },
      task: "look at refunds",
    });
    expect(resolveSubAgentRequest(ctx, { skill: "pr-review" })).toEqual({ skill: "pr-review", args: {}, task: null });
  });

  it("refuses a subject other than the parent’s — another repository, PR, or a channel the parent does not have", () => {
    for (const input of [
      { repo: "evil/other" },
      { prNumber: 8 },
      { channel: "C0OTHER01" },
      { installationId: 1 },
      { subagent: {} },
    ]) {
      expect(thrown({ skill: "pr-review", input })).toBeInstanceOf(SubAgentSubjectError);
    }
  });

  it("refuses what the child’s declared input refuses, and a Skill that declares none; errors never echo the model", () => {
    const secret = "model-written words";
    for (const input of [{ focus: "everything" }, { notes: secret }, { focus: 1 }]) {
      const err = thrown({ skill: "pr-review", input });
      expect(err).toBeInstanceOf(SubAgentInputInvalidError);
      expect(JSON.stringify((err as SubAgentInputInvalidError).toJSON())).not.toContain(secret);
    }
    expect(thrown({ skill: "pr-review", task: "", input: {} })).toBeInstanceOf(SubAgentInputInvalidError);
    expect(thrown({ skill: "pr-review", repo: "evil/other" })).toBeInstanceOf(SubAgentInputInvalidError);
    expect(thrown({ skill: "deploy-prod", input: {} })).toBeInstanceOf(SubAgentNotAllowedError);
  });
});
