/**
 * The executor's approval gate, with an in-memory journal (the RunJournal contract: a completed step replays, an
 * effect is marked started first) and the offline model: a gated effect asks the hook inside its step; no decision →
 * the run stops with ApprovalPendingError and the tool never ran; the resumed run replays the model call from its
 * journal, reaches the same step and acts once on a grant; a denial or an expiry never acts; a completed step replays
 * without asking again; without a hook a gated tool refuses.
 */
import { describe, expect, it } from "@jest/globals";
import { z } from "zod";
import {
  newId,
  type AuditEventDraft,
  type RunId,
  type SkillId,
  type SkillManifest,
  type WorkspaceId,
} from "@praxa/core";
import {
  ApprovalDeniedError,
  ApprovalPendingError,
  ApprovalUnavailableError,
  type ApprovalDecisionRecord,
  type ApprovalHook,
} from "./approval-gate.js";
import { createOfflineProvider } from "./model/offline-provider.js";
import type { ModelProvider } from "./model/model-provider.js";
import { executeRun, type ExecuteRunInput } from "./run-executor.js";
import type { RunJournal, RunRecorder, StepOptions } from "./run-journal.js";
import { BaseDecisionSchema, DECISION_TOOL_WIRE_NAME, type SkillDefinition } from "./skill-definition.js";
import type { AnyTool, ToolEnvironment } from "./tools/tool.js";

const GATED = "test.effect.post";

const manifest = (gated: boolean): SkillManifest => ({
  slug: "gate-test",
  name: "Gate test",
  triggers: ["test.event.happened"],
  tools: [GATED],
  memory: null,
  subAgents: { allowed: [], maxDepth: 0 },
  model: { id: "offline-rules/1", provider: "offline" },
  maxIterations: 2,
  acceptance: { threshold: 0.5, window: 10, minSamples: 5 },
  notify: [],
  ...(gated ? { approval: { tools: [GATED], expiresAfterMinutes: 60, roles: ["admin" as const] } } : {}),
});

const skill: SkillDefinition = {
  slug: "gate-test",
  decisionSchema: BaseDecisionSchema,
  decisionDescription: "decide",
  subject: () => ({}),
  systemPrompt: () => "system",
  firstMessage: () => "first",
  auditInput: () => ({}),
  offline: () => ({
    content: [
      {
        type: "tool_use",
        id: "tu_1",
        name: DECISION_TOOL_WIRE_NAME,
        input: { verdict: "post", reasoning: ["r"], alternatives: [{ action: "post", score: 1 }], confidence: 0.75 },
      },
    ],
    stopReason: "tool_use",
  }),
  async act(decision, ctx) {
    await ctx.callTool(GATED, {});
    return { output: { verdict: decision.verdict } };
  },
};

/** The RunJournal contract over a Map that outlives one execution (as run_steps outlives a claim). */
function memoryJournal(): RunJournal & { rows: Map<number, { key: string; status: string; value?: unknown }> } {
  const rows = new Map<number, { key: string; status: string; value?: unknown }>();
  return {
    rows,
    async step<T>(idx: number, o: StepOptions<T>, exec: () => Promise<T>) {
      const prior = rows.get(idx);
      if (prior && prior.key !== o.key) throw new Error(`step ${idx} replayed with another key`);
      if (prior?.status === "completed") return { value: o.schema.parse(prior.value), replayed: true };
      if (o.effect) rows.set(idx, { key: o.key, status: "started" });
      const value = await exec();
      rows.set(idx, { key: o.key, status: "completed", value: JSON.parse(JSON.stringify(value ?? null)) as unknown });
      return { value, replayed: false };
    },
  };
}

function recorder(): RunRecorder & { audits: AuditEventDraft[]; codes: (string | null)[] } {
  const audits: AuditEventDraft[] = [];
  const codes: (string | null)[] = [];
  return {
    audits,
    codes,
    telemetry: (m) => {
      codes.push(m.code ?? null);
      return Promise.resolve();
    },
    audit: (d) => {
      audits.push(d);
      return Promise.resolve();
    },
    assertLease: () => Promise.resolve(),
  };
}

/** A hook over a decision the test sets, recording what the executor asked and reported. */
function hook(): ApprovalHook & {
  set(d: ApprovalDecisionRecord | null): void;
  asked: number[];
  reported: { step: number; tool: string; status: string }[];
} {
  let current: ApprovalDecisionRecord | null = null;
  const asked: number[] = [];
  const reported: { step: number; tool: string; status: string }[] = [];
  return {
    asked,
    reported,
    set: (d) => {
      current = d;
    },
    decision: (step) => {
      asked.push(step);
      return Promise.resolve(current);
    },
    decided: (step, tool, d) => {
      reported.push({ step, tool, status: d.status });
      return Promise.resolve();
    },
  };
}

const unusedEnv: ToolEnvironment = {
  github: () => Promise.reject(new Error("no GitHub here")),
  slack: () => Promise.reject(new Error("no Slack here")),
  slackTeam: () => Promise.reject(new Error("no Slack here")),
  callback: () => Promise.reject(new Error("no callback here")),
  memory: {
    read: () => Promise.reject(new Error("no memory here")),
    write: () => Promise.reject(new Error("no memory here")),
  },
  dispatchSubagent: () => Promise.reject(new Error("no sub-agents here")),
};

function harness(gated = true) {
  let effects = 0;
  let modelCalls = 0;
  const tool: AnyTool = {
    name: GATED,
    description: "an effect",
    input: z.object({}).strict() as never,
    effect: true,
    offeredToModel: false,
    resultHoldsContent: false,
    run: () => {
      effects += 1;
      return Promise.resolve({ posted: effects });
    },
  };
  const offline = createOfflineProvider(skill.offline);
  const provider: ModelProvider = {
    ...offline,
    complete: (r) => {
      modelCalls += 1;
      return offline.complete(r);
    },
  };
  const journal = memoryJournal();
  const m = manifest(gated);
  const base = {
    runId: newId("run") as RunId,
    workspaceId: newId("workspace") as WorkspaceId,
    skillId: newId("skill") as SkillId,
    trigger: "test.event.happened",
    input: {},
    manifest: m,
    manifestHash: "0".repeat(64),
    depth: 0,
    skill,
    provider,
    tools: new Map([[GATED, tool]]),
    env: unusedEnv,
    journal,
  };
  return {
    journal,
    effects: () => effects,
    modelCalls: () => modelCalls,
    run: (extra: Partial<ExecuteRunInput> & { recorder: RunRecorder }) => executeRun({ ...base, ...extra }),
  };
}

const decision = (status: ApprovalDecisionRecord["status"]): ApprovalDecisionRecord => ({
  approvalId: newId("approval"),
  status,
  decidedByMember: status === "expired" || status === "pending" ? null : newId("member"),
  decidedVia: status === "expired" ? "expiry" : status === "pending" ? null : "api",
});

describe("the approval gate", () => {
  it("no decision yet → ApprovalPendingError (step, tool, verdict, confidence) and the tool never ran", async () => {
    const h = harness();
    const a = hook();
    const err = await h.run({ recorder: recorder(), approvals: a }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApprovalPendingError);
    const pending = (err as ApprovalPendingError).pending;
    expect(pending).toEqual({ step: 1, tool: GATED, verdict: "post", confidence: 0.75 });
    expect((err as ApprovalPendingError).code).toBe("APPROVAL_PENDING");
    expect(h.effects()).toBe(0);
    expect(a.asked).toEqual([1]);
    // The model call is in the journal; the gated step is marked started, not completed.
    expect(h.journal.rows.get(0)?.status).toBe("completed");
    expect(h.journal.rows.get(1)?.status).toBe("started");
    // A pending approval asked again is still pending.
    a.set(decision("pending"));
    await expect(h.run({ recorder: recorder(), approvals: a })).rejects.toBeInstanceOf(ApprovalPendingError);
    expect(h.effects()).toBe(0);
  });

  it("resumed after a grant: the model call replays from the journal, the tool acts once, and a replay never asks again", async () => {
    const h = harness();
    const a = hook();
    await expect(h.run({ recorder: recorder(), approvals: a })).rejects.toBeInstanceOf(ApprovalPendingError);
    expect(h.modelCalls()).toBe(1);
    a.set(decision("granted"));
    const rec = recorder();
    const result = await h.run({ recorder: rec, approvals: a });
    expect(result.status).toBe("succeeded");
    expect(h.effects()).toBe(1);
    expect(h.modelCalls()).toBe(1); // replayed, not asked again
    expect(a.asked).toEqual([1, 1]);
    expect(a.reported).toEqual([{ step: 1, tool: GATED, status: "granted" }]);
    expect(rec.audits.map((e) => e.kind)).toEqual(["skill.action"]);
    // The same run replayed once more (a crash after the effect): the recorded step replays, nothing is asked.
    const again = await h.run({ recorder: recorder(), approvals: a });
    expect(again.status).toBe("succeeded");
    expect(h.effects()).toBe(1);
    expect(a.asked).toEqual([1, 1]);
  });

  it.each([
    ["denied", "APPROVAL_DENIED"],
    ["expired", "APPROVAL_EXPIRED"],
  ] as const)("%s → ApprovalDeniedError %s and the tool never acts", async (status, code) => {
    const h = harness();
    const a = hook();
    await expect(h.run({ recorder: recorder(), approvals: a })).rejects.toBeInstanceOf(ApprovalPendingError);
    a.set(decision(status));
    const err = await h.run({ recorder: recorder(), approvals: a }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApprovalDeniedError);
    expect((err as ApprovalDeniedError).code).toBe(code);
    expect(h.effects()).toBe(0);
    expect(a.reported).toEqual([{ step: 1, tool: GATED, status }]);
  });

  it("a gated tool without an approval hook refuses (APPROVAL_UNAVAILABLE) and never acts", async () => {
    const h = harness();
    const err = await h.run({ recorder: recorder() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApprovalUnavailableError);
    expect((err as ApprovalUnavailableError).code).toBe("APPROVAL_UNAVAILABLE");
    expect(h.effects()).toBe(0);
  });

  it("a tool the manifest does not gate acts without asking", async () => {
    const h = harness(false);
    const a = hook();
    expect((await h.run({ recorder: recorder(), approvals: a })).status).toBe("succeeded");
    expect(h.effects()).toBe(1);
    expect(a.asked).toEqual([]);
  });
});
