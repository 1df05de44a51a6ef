/**
 * The replay core on its own: a slack-answer decision is recorded by the real executor (offline model, in-memory
 * Slack and memory), then replayed from its record — reproduced; the thread changed → its step CHANGED with both
 * hashes; the thread gone → named unavailable, the decision not re-made. And the record shapes a workspace's policy and
 * a producer-payload Skill leave: fields hashed or dropped (checked against the run row by digest, named when the row
 * no longer holds them), and `payload_sha256` with the payload purged at run end — rebuilt from the kept fields when
 * they are all there, each purged field named otherwise.
 */
import { describe, expect, it } from "@jest/globals";
import {
  applyRedaction,
  manifestHash,
  newId,
  parseRedactionPolicy,
  ReplayInputUnavailableError,
  type AuditEventBody,
  type AuditEventDraft,
  type JsonValue,
  type WorkspaceId,
} from "@praxa/core";
import {
  BUILTIN_TOOLS,
  createOfflineProvider,
  executeRun,
  type SlackThreadEntry,
  type ToolEnvironment,
} from "@praxa/runtime";
import { SLACK_ANSWER_MANIFEST, slackAnswerSkill } from "../slack-answer/slack-answer-skill.js";
import { replayDecision } from "./replay-decision.js";
import { rebuildRunInput, sha256OfJson } from "./replay-inputs.js";

const WS = newId("workspace") as WorkspaceId;
const FACTS = [{ key: "vpn-setup", value: { text: "Install the WireGuard profile from the IT portal." } }];
const INPUT = { teamId: "T0PRAXA01", channel: "C0PRAXA01", threadTs: "1700000000.000100" };

function env(thread: () => SlackThreadEntry[]): ToolEnvironment {
  const refuse = () => Promise.reject(new Error("not in this test"));
  return {
    github: refuse,
    slack: async () => ({
      readThread: async () => thread(),
      postMessage: async () => ({ ts: "1700000001.000100", channel: INPUT.channel, reused: false }),
    }),
    slackTeam: refuse,
    callback: refuse,
    memory: { read: async () => FACTS, write: refuse },
    dispatchSubagent: refuse,
  };
}

const question = (text: string): SlackThreadEntry[] => [{ ts: INPUT.threadTs, user: "U0HUMAN01", isBot: false, text }];

/** Run slack-answer for real and keep its audit event as the record a replay reads. */
async function recorded(): Promise<{ record: AuditEventBody; runId: string; skillId: string }> {
  const runId = newId("run");
  const skillId = newId("skill");
  let draft: AuditEventDraft | undefined;
  await executeRun({
    runId,
    workspaceId: WS,
    skillId,
    trigger: "slack.app_mention",
    input: INPUT,
    manifest: SLACK_ANSWER_MANIFEST,
    manifestHash: manifestHash(SLACK_ANSWER_MANIFEST),
    depth: 0,
    skill: slackAnswerSkill as never,
    provider: createOfflineProvider(slackAnswerSkill.offline),
    tools: new Map(BUILTIN_TOOLS.map((t) => [t.name, t])),
    env: env(() => question("how do I set up the VPN?")),
    journal: { step: async (_i, _o, exec) => ({ value: await exec(), replayed: false }) },
    recorder: {
      telemetry: async () => {},
      audit: async (d) => {
        draft = d;
      },
      assertLease: async () => {},
    },
  });
  const record = { ...draft!, workspace_id: WS, seq: 2, prev_hash: "0".repeat(64), key_id: "k" } as AuditEventBody;
  return { record, runId, skillId };
}

const replayOf = (record: AuditEventBody, runInput: Record<string, unknown>, e: ToolEnvironment) =>
  replayDecision({
    eventId: record.auditEventId,
    workspaceId: WS,
    record,
    skillSlug: "slack-answer",
    storedManifest: SLACK_ANSWER_MANIFEST,
    run: { trigger: "slack.app_mention", input: runInput },
    env: e,
  });

describe("replayDecision (slack-answer)", () => {
  it("reproduces the recorded decision from inputs that match their hashes", async () => {
    const { record } = await recorded();
    const r = await replayOf(
      record,
      INPUT,
      env(() => question("how do I set up the VPN?")),
    );
    expect(r).toMatchObject({ ok: true, outcome: "reproduced", decision: { status: "identical" } });
    expect(r.steps.map((s) => [s.tool, s.status])).toEqual([
      ["slack.read.thread", "matches"],
      ["memory.read", "matches"],
    ]);
  });

  it("names the thread's step CHANGED (both hashes) when the thread changed", async () => {
    const { record } = await recorded();
    const r = await replayOf(
      record,
      INPUT,
      env(() => question("what is the expense policy?")),
    );
    expect(r.outcome).toBe("changed");
    const s = r.steps.find((x) => x.tool === "slack.read.thread")!;
    expect(s.status).toBe("changed");
    expect(s.recordedHash).toBe(record.tool_result_hashes?.[s.step]);
    expect(s.currentHash).not.toBe(s.recordedHash);
  });

  it("names an input that can no longer be had, and does not re-make the decision", async () => {
    const { record } = await recorded();
    const gone = env(() => {
      throw new ReplayInputUnavailableError("the thread C0PRAXA01/1700000000.000100 no longer exists");
    });
    const r = await replayOf(record, INPUT, gone);
    expect(r).toMatchObject({
      ok: false,
      outcome: "unavailable",
      decision: { status: "not_replayed", replayed: null },
    });
    expect(r.lines.join("\n")).toContain("the thread C0PRAXA01/1700000000.000100 no longer exists");
    expect(r.steps.find((x) => x.tool === "slack.read.thread")?.status).toBe("unavailable");
  });

  it("checks fields the policy hashed or dropped against the run row by digest; names them when the row lacks them", async () => {
    const { record } = await recorded();
    const policy = parseRedactionPolicy({ input: { fields: { channel: "hash", threadTs: "drop" } } });
    const redacted = { ...record, input: applyRedaction(policy, record).input } as AuditEventBody;
    const ok = await replayOf(
      redacted,
      INPUT,
      env(() => question("how do I set up the VPN?")),
    );
    expect(ok.outcome).toBe("reproduced");
    expect(ok.inputs.find((i) => i.name === "channel")).toMatchObject({ status: "matches", source: "run_row" });
    const changed = await replayOf(
      redacted,
      { ...INPUT, channel: "C0ELSEWHERE" },
      env(() => question("how do I set up the VPN?")),
    );
    expect(changed.inputs.find((i) => i.name === "channel")?.status).toBe("changed");
    expect(changed.outcome).toBe("changed");
  });

  it("a payload-shaped record (payload_sha256, payload purged at run end) replays from the kept fields", async () => {
    const { record } = await recorded();
    const payload = { ...INPUT };
    const shaped = { ...record, input: { ...payload, payload_sha256: sha256OfJson(payload) } } as AuditEventBody;
    // The run row no longer holds the payload: only the record's kept fields.
    const r = await replayOf(
      shaped,
      {},
      env(() => question("how do I set up the VPN?")),
    );
    expect(r).toMatchObject({ ok: true, outcome: "reproduced" });
    expect(r.inputs.find((i) => i.name === "payload")).toMatchObject({ status: "matches" });
  });

  it("a payload field the record did not keep is named — purged at run end, with its recorded hash", async () => {
    const { record } = await recorded();
    const payload = { ...INPUT };
    const policy = parseRedactionPolicy({ input: { fields: { channel: "hash" } } });
    const kept = applyRedaction(policy, { input: payload, output: {} }).input;
    const shaped = { ...record, input: { ...kept, payload_sha256: sha256OfJson(payload) } } as AuditEventBody;
    const r = await replayOf(
      shaped,
      {},
      env(() => question("how do I set up the VPN?")),
    );
    expect(r).toMatchObject({ ok: false, outcome: "unavailable", decision: { status: "not_replayed" } });
    const channel = r.inputs.find((i) => i.name === "channel")!;
    expect(channel).toMatchObject({ status: "unavailable", source: "payload" });
    expect(channel.note).toContain("payload field `channel`: purged at run end");
    expect(channel.note).toContain((kept["channel"] as { $sha256: string }).$sha256.slice(0, 12));
  });
});

describe("rebuildRunInput", () => {
  it("names each declared payload field the record did not keep at all", () => {
    const payload = { title: "Disk full", severity: 3 };
    const r = rebuildRunInput({ title: "Disk full", payload_sha256: sha256OfJson(payload) }, {}, ["title", "severity"]);
    expect(r.input).toBeNull();
    expect(r.checks.find((c) => c.name === "severity")).toMatchObject({ status: "unavailable", source: "payload" });
  });

  it("kept values that do not rebuild payload_sha256 are not replayed (a field was purged, or a value altered)", () => {
    const r = rebuildRunInput(
      { title: "Disk full", payload_sha256: sha256OfJson({ title: "Disk full", severity: 3 }) },
      {},
      undefined,
    );
    expect(r.input).toBeNull();
    expect(r.checks.find((c) => c.name === "payload")).toMatchObject({ status: "unavailable" });
  });

  it("all kept and matching: the payload is the input", () => {
    const payload: Record<string, JsonValue> = { title: "Disk full", severity: 3 };
    const r = rebuildRunInput({ ...payload, payload_sha256: sha256OfJson(payload) }, { source: "producer" }, [
      "title",
      "severity",
    ]);
    // At the top level (as a built-in reads its input) and under `payload` (as a declarative Skill reads it).
    expect(r.input).toEqual({ source: "producer", title: "Disk full", severity: 3, payload });
  });
});
