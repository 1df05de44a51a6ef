import { describe, expect, it } from "@jest/globals";
import {
  isGithubMember,
  newId,
  parseFeedbackCommand,
  SkillPausedError,
  slackFeedbackButtons,
  slackFeedbackVerdict,
} from "./index.js";

describe("feedback rules", () => {
  it("reads /praxa accept and /praxa reject on the first non-empty line only", () => {
    expect(parseFeedbackCommand("/praxa accept")).toBe("accepted");
    expect(parseFeedbackCommand("\n\n  /praxa reject  the diff misses the migration")).toBe("rejected");
    expect(parseFeedbackCommand("/PRAXA Accept\nthanks")).toBe("accepted");
    expect(parseFeedbackCommand("looks good\n/praxa accept")).toBeNull();
    expect(parseFeedbackCommand("/praxa accepted")).toBeNull();
    expect(parseFeedbackCommand("/praxaaccept")).toBeNull();
    expect(parseFeedbackCommand("please /praxa reject")).toBeNull();
    expect(parseFeedbackCommand("")).toBeNull();
  });

  it("maps only our two Slack buttons; each carries the run id", () => {
    const runId = newId("run");
    const [yes, no] = slackFeedbackButtons(runId);
    expect(slackFeedbackVerdict(yes?.action_id ?? "")).toBe("accepted");
    expect(slackFeedbackVerdict(no?.action_id ?? "")).toBe("rejected");
    expect(yes?.value).toBe(runId);
    expect(slackFeedbackVerdict("feedback")).toBeNull();
    expect(slackFeedbackVerdict("toString")).toBeNull();
  });

  it("GitHub members are OWNER, MEMBER and COLLABORATOR", () => {
    expect(["OWNER", "MEMBER", "COLLABORATOR"].every(isGithubMember)).toBe(true);
    expect(["CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "NONE", "owner"].some(isGithubMember)).toBe(false);
  });

  it("SkillPausedError says what the executor should do: refuse, not retry", () => {
    const err = new SkillPausedError("the skill is paused");
    expect(err.code).toBe("SKILL_PAUSED");
    expect(err.retryable).toBe(false);
    expect(err.httpStatus).toBe(409);
  });
});
