/**
 * The Skill runtime's executor: guards first (typed errors before any model request), then the tool-use loop with
 * the model — offered only the allowlisted read tools and the forced `record_decision` tool — then the Skill acts on
 * its structured decision through allowlisted effect tools, and one `skill.action` audit event records input →
 * reasoning → alternatives → confidence → output. Every model call and tool call is a durable step: a retried run
 * replays recorded steps instead of calling again. Telemetry carries `{tool_name, ms, code, iter}` and nothing else.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import {
  canonicalJson,
  isPraxaError,
  newId,
  SkillManifestSchema,
  type AuditEventDraft,
  type PraxaError,
  type RunId,
  type SkillId,
  type SkillManifest,
  type WorkspaceId,
} from "@praxa/core";
import {
  ApprovalDeniedError,
  ApprovalPendingError,
  ApprovalUnavailableError,
  type ApprovalHook,
} from "./approval-gate.js";
import { guardMemory, guardSubAgent, runPreCallGuards } from "./guards.js";
import {
  MemoryNamespaceError,
  SubAgentInputInvalidError,
  SubAgentNotAllowedError,
  SubAgentSubjectError,
  ToolNotAllowedError,
  TriggerNotAllowedError,
} from "./guard-errors.js";
import { ModelDecisionInvalidError, ModelIterationLimitError } from "./model/model-errors.js";
import {
  ModelResponseSchema,
  type ModelMessage,
  type ModelProvider,
  type ModelToolResultBlock,
  type ModelToolSpec,
} from "./model/model-provider.js";
import type { RunJournal, RunRecorder } from "./run-journal.js";
import {
  DECISION_TOOL_NAME,
  DECISION_TOOL_WIRE_NAME,
  PreparedRunSchema,
  type BaseDecision,
  type SkillDefinition,
  type SkillRunInput,
} from "./skill-definition.js";
import { narrows } from "./manifest-narrowing.js";
import { resolveSubAgentRequest, type SubAgentContext, type SubAgentInputSchema } from "./subagent-request.js";
import { wireToolName, type AnyTool, type ToolEnvironment, type RunSubject } from "./tools/tool.js";

export interface ExecuteRunInput {
  readonly runId: RunId;
  readonly workspaceId: WorkspaceId;
  readonly skillId: SkillId;
  readonly trigger: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly manifest: SkillManifest;
  readonly manifestHash: string;
  /** 0 for a top-level run; a sub-agent's run is its parent's depth + 1. */
  readonly depth: number;
  readonly skill: SkillDefinition;
  /** The Skills this runtime can run, by slug: a sub-agent request is checked against the child's declared input. */
  readonly subAgentSkills?: ReadonlyMap<string, SkillDefinition>;
  /** For a sub-agent's run: its task (model-written text of the parent), opened for this run only. */
  readonly task?: string | null;
  readonly provider: ModelProvider;
  /** Every tool the runtime has, by registered name. */
  readonly tools: ReadonlyMap<string, AnyTool>;
  readonly env: ToolEnvironment;
  readonly journal: RunJournal;
  readonly recorder: RunRecorder;
  readonly now?: () => number;
  readonly maxTokens?: number;
  /**
   * Replay: stop once the decision is made — no act phase, no audit event — and return the decision with the hashes
   * of the tool results it rested on (`pnpm praxa audit replay`).
   */
  readonly decideOnly?: boolean;
  /**
   * Human approval of the manifest's `approval.tools`: asked inside the gated tool's journaled step. Absent, a gated
   * tool refuses (`APPROVAL_UNAVAILABLE`) rather than act unapproved.
   */
  readonly approvals?: ApprovalHook;
}

export interface RunResult {
  readonly status: "succeeded" | "skipped" | "decided";
  readonly skipReason?: string;
  readonly verdict?: string;
  readonly auditEventId?: string;
  readonly toolsUsed: readonly string[];
  readonly modelCalls: number;
  /** With `decideOnly`: the validated decision, the model that made it and the tool results' hashes by step. */
  readonly decision?: BaseDecision;
  readonly model?: string;
  readonly toolResultHashes?: Readonly<Record<string, string>>;
  /** With `decideOnly`: what the audit event's `input` would record (including what `prepare` derived). */
  readonly auditInput?: Readonly<Record<string, Json>>;
}

const GUARD_ERRORS = [
  TriggerNotAllowedError,
  ToolNotAllowedError,
  MemoryNamespaceError,
  SubAgentNotAllowedError,
  SubAgentSubjectError,
  SubAgentInputInvalidError,
];
/** A guard refusal: already audited (`guard.denied`) and counted by the executor when it reaches the worker. */
export function isGuardDenial(err: unknown): err is PraxaError {
  return GUARD_ERRORS.some((cls) => err instanceof cls);
}

function sha256Json(value: unknown): string {
  return createHash("sha256")
    .update(canonicalJson(value ?? null), "utf8")
    .digest("hex");
}

type Json = z.core.util.JSONType;

export async function executeRun(x: ExecuteRunInput): Promise<RunResult> {
  const now = x.now ?? Date.now;
  const startedAt = now();
  let run: SkillRunInput = {
    runId: x.runId,
    trigger: x.trigger,
    input: x.input,
    manifest: x.manifest,
    ...(x.task ? { task: x.task } : {}),
  };
  const contracts = new Map<string, SubAgentInputSchema>();
  for (const [slug, def] of x.subAgentSkills ?? []) if (def.subAgentInput) contracts.set(slug, def.subAgentInput);
  // The subject a sub-agent inherits is this run's own input, as its row holds it — never the model's arguments.
  const subAgents: SubAgentContext = { parentInput: x.input, contracts };
  let preparedAudit: Record<string, Json> = {};
  const byWire = new Map([...x.tools.values()].map((t) => [wireToolName(t.name), t]));
  const toolsUsed: string[] = [];
  const toolResultHashes: Record<string, string> = {};
  const seen = new Map<string, unknown>();
  let idx = 0;
  let iter = 0;
  let decision: BaseDecision | null = null;
  let modelCalls = 0;

  const auditInput = (): Record<string, Json> => {
    try {
      return { ...x.skill.auditInput(run), ...preparedAudit };
    } catch {
      return {};
    }
  };

  const deny = async (err: PraxaError, toolName: string): Promise<never> => {
    const step = idx++;
    await x.recorder.telemetry({ tool_name: toolName, ms: 0, code: err.code, iter });
    await x.recorder.audit({
      auditEventId: newId("auditEvent"),
      kind: "guard.denied",
      skillId: x.skillId,
      runId: x.runId,
      trigger: x.trigger,
      input: auditInput(),
      reasoning: [err.message],
      alternatives: [],
      confidence: null,
      output: { code: err.code, tool: toolName },
      tools_used: [],
      duration_ms: Math.max(0, Math.round(now() - startedAt)),
      occurred_at: new Date(now()).toISOString(),
      manifest_hash: x.manifestHash,
      step,
    });
    throw err;
  };

  // 1. Guards, in their fixed order, before anything else — before any model request.
  const registered = new Set(x.tools.keys());
  try {
    runPreCallGuards({
      manifest: x.manifest,
      trigger: x.trigger,
      registeredTools: registered,
      ...(x.manifest.memory ? { memoryNamespace: x.manifest.memory.namespace } : {}),
    });
  } catch (err) {
    if (isGuardDenial(err)) await deny(err, "unknown");
    throw err;
  }
  const subject: RunSubject = x.skill.subject(run);
  if (x.skill.prepare) {
    const prepare = x.skill.prepare.bind(x.skill);
    const step = idx++;
    const { value: prepared } = await x.journal.step(
      step,
      { kind: "config.prepare", key: "config:prepare", sealed: true, schema: PreparedRunSchema },
      () => prepare(run, subject, x.env),
    );
    const problems = [...prepared.problems];
    let manifest = x.manifest;
    if (prepared.manifest !== null) {
      const narrowed = SkillManifestSchema.safeParse(prepared.manifest);
      if (narrowed.success && narrows(x.manifest, narrowed.data)) manifest = narrowed.data;
      else
        problems.push({
          code: "REPO_CONFIG_WIDENS_MANIFEST",
          message: "the configuration tried to widen the manifest; the pinned manifest applies",
        });
    }
    run = { ...run, manifest, settings: prepared.settings, problems };
    preparedAudit = prepared.auditInput;
    // A narrower manifest may no longer allow this trigger: the guards run again on what is in force.
    try {
      runPreCallGuards({
        manifest,
        trigger: x.trigger,
        registeredTools: registered,
        ...(manifest.memory ? { memoryNamespace: manifest.memory.namespace } : {}),
      });
    } catch (err) {
      if (isGuardDenial(err)) await deny(err, "unknown");
      throw err;
    }
  }
  const skip = x.skill.skipReason?.(run) ?? null;
  if (skip !== null) return { status: "skipped", skipReason: skip, toolsUsed, modelCalls };

  const gate = async (step: number, toolName: string): Promise<void> => {
    if (!x.approvals)
      throw new ApprovalUnavailableError("this tool needs a human's approval and this runtime cannot ask for one", {
        details: { tool: toolName },
      });
    const found = await x.approvals.decision(step);
    if (found === null || found.status === "pending")
      throw new ApprovalPendingError({
        step,
        tool: toolName,
        verdict: decision?.verdict ?? null,
        confidence: decision?.confidence ?? null,
      });
    await x.approvals.decided(step, toolName, found);
    if (found.status !== "granted") throw new ApprovalDeniedError(found.status, step, toolName);
  };

  const runTool = async (tool: AnyTool, rawInput: unknown): Promise<unknown> => {
    const step = idx++;
    const parsed = tool.input.safeParse(rawInput);
    if (!parsed.success) {
      await x.recorder.telemetry({ tool_name: tool.name, ms: 0, code: "TOOL_INPUT_INVALID", iter });
      return {
        error: "TOOL_INPUT_INVALID",
        paths: [...new Set(parsed.error.issues.map((i) => i.path.map(String).join(".") || "(root)"))],
      };
    }
    const t0 = now();
    try {
      const { value, replayed } = await x.journal.step(
        step,
        {
          kind: `tool.${tool.name}`,
          key: `tool:${tool.name}:${step}`,
          sealed: tool.resultHoldsContent,
          schema: z.unknown(),
          effect: tool.effect,
        },
        async () => {
          // A gated tool acts only on a human's grant. Asked here, inside the step: a recorded step replays without
          // asking, and a resumed run (its journal replayed to this index) finds the decision. The hook's read is
          // lease-checked, so it stands for the lease check before the effect too.
          if (run.manifest.approval?.tools.includes(tool.name)) await gate(step, tool.name);
          if (tool.effect) await x.recorder.assertLease();
          return tool.run(
            {
              runId: x.runId,
              workspaceId: x.workspaceId,
              step,
              marker: `<!-- praxa:${x.runId}:${step} -->`,
              env: x.env,
              subject,
              memoryNamespace: run.manifest.memory?.namespace ?? null,
              subAgents,
            },
            parsed.data as never,
          );
        },
      );
      if (!replayed) await x.recorder.telemetry({ tool_name: tool.name, ms: Math.round(now() - t0), code: null, iter });
      // The inputs the decision rested on (what a replay re-fetches and checks); an effect's result is not one.
      if (!tool.effect) toolResultHashes[String(step)] = sha256Json(value);
      seen.set(tool.name, value);
      if (!toolsUsed.includes(tool.name)) toolsUsed.push(tool.name);
      return value;
    } catch (err) {
      await x.recorder.telemetry({
        tool_name: tool.name,
        ms: Math.round(now() - t0),
        code: isPraxaError(err) ? err.code : "TOOL_FAILED",
        iter,
      });
      throw err;
    }
  };

  /** The guard for one requested tool: registered, allowlisted, offered (for the model), memory and sub-agent rules. */
  const admit = async (tool: AnyTool | undefined, rawInput: unknown, fromModel: boolean): Promise<AnyTool> => {
    if (!tool || !run.manifest.tools.includes(tool.name) || (fromModel && !tool.offeredToModel)) {
      const name = tool?.name ?? "unknown";
      return deny(
        new ToolNotAllowedError("the model asked for a tool outside this Skill’s allowlist", {
          details: { tool: name },
        }),
        name,
      );
    }
    try {
      if (tool.name.startsWith("memory.")) guardMemory(run.manifest, run.manifest.memory?.namespace ?? "");
      if (tool.name === "subagent.dispatch") {
        const target = z.object({ skill: z.string() }).safeParse(rawInput);
        guardSubAgent(run.manifest, target.success ? target.data.skill : "", x.depth);
        // The child's declared input and the parent's subject, checked before the child exists (and again in the tool).
        resolveSubAgentRequest(subAgents, rawInput);
      }
    } catch (err) {
      if (isGuardDenial(err)) return deny(err, tool.name);
      throw err;
    }
    return tool;
  };

  // 2. The tool-use loop: read tools + the forced decision tool.
  const offered: ModelToolSpec[] = run.manifest.tools
    .map((name) => x.tools.get(name))
    .filter((t): t is AnyTool => t !== undefined && t.offeredToModel)
    .map((t) => ({
      name: wireToolName(t.name),
      description: t.description,
      inputSchema: z.toJSONSchema(t.input) as Record<string, unknown>,
    }));
  offered.push({
    name: DECISION_TOOL_WIRE_NAME,
    description: x.skill.decisionDescription,
    inputSchema: z.toJSONSchema(x.skill.decisionSchema) as Record<string, unknown>,
  });
  const messages: ModelMessage[] = [{ role: "user", content: [{ type: "text", text: x.skill.firstMessage(run) }] }];
  let decisionModel = "";
  let invalidDecisions = 0;
  let forceDecision = false;

  while (decision === null) {
    iter += 1;
    if (iter > run.manifest.maxIterations)
      throw new ModelIterationLimitError("the model reached the Skill’s iteration limit without a decision", {
        details: { maxIterations: run.manifest.maxIterations },
      });
    const request = {
      model: run.manifest.model.id,
      system: x.skill.systemPrompt(run),
      messages: [...messages],
      tools: offered,
      toolChoice:
        forceDecision || iter === run.manifest.maxIterations
          ? ({ type: "tool", name: DECISION_TOOL_WIRE_NAME } as const)
          : ({ type: "any" } as const),
      maxTokens: x.maxTokens ?? 4096,
    };
    const step = idx++;
    const t0 = now();
    let response;
    try {
      const r = await x.journal.step(
        step,
        { kind: "model.call", key: `model:${iter}`, sealed: true, schema: ModelResponseSchema },
        async () => ModelResponseSchema.parse(await x.provider.complete(request)),
      );
      response = r.value;
      if (!r.replayed) {
        modelCalls += 1;
        await x.recorder.telemetry({ tool_name: "model", ms: Math.round(now() - t0), code: null, iter });
      }
    } catch (err) {
      await x.recorder.telemetry({
        tool_name: "model",
        ms: Math.round(now() - t0),
        code: isPraxaError(err) ? err.code : "MODEL_FAILED",
        iter,
      });
      throw err;
    }
    messages.push({ role: "assistant", content: response.content });
    const results: ModelToolResultBlock[] = [];
    const uses = response.content.filter((b) => b.type === "tool_use");
    for (const use of uses) {
      if (use.name === DECISION_TOOL_WIRE_NAME) {
        const parsed = x.skill.decisionSchema.safeParse(use.input);
        if (parsed.success) {
          decision = parsed.data;
          decisionModel = response.model;
          break;
        }
        invalidDecisions += 1;
        await x.recorder.telemetry({ tool_name: DECISION_TOOL_NAME, ms: 0, code: "MODEL_DECISION_INVALID", iter });
        if (invalidDecisions > 1) throw new ModelDecisionInvalidError("the model’s decision failed validation twice");
        const paths = [...new Set(parsed.error.issues.map((i) => i.path.map(String).join(".") || "(root)"))];
        results.push({
          type: "tool_result",
          toolUseId: use.id,
          content: JSON.stringify({ error: "decision did not validate", paths }),
          isError: true,
        });
        forceDecision = true;
        continue;
      }
      const tool = await admit(byWire.get(use.name), use.input, true);
      const value = await runTool(tool, use.input);
      results.push({ type: "tool_result", toolUseId: use.id, content: JSON.stringify(value) });
    }
    if (decision !== null) break;
    if (uses.length === 0) forceDecision = true;
    messages.push({
      role: "user",
      content:
        results.length > 0 ? results : [{ type: "text", text: "Record your decision with the record_decision tool." }],
    });
  }

  if (x.decideOnly)
    return {
      status: "decided",
      verdict: decision.verdict,
      decision,
      model: decisionModel,
      toolResultHashes,
      toolsUsed,
      modelCalls,
      auditInput: auditInput(),
    };

  // 3. Act on the decision through allowlisted tools, each a durable step with the lease re-checked before effects.
  const callTool = async (name: string, input: unknown): Promise<unknown> =>
    runTool(await admit(x.tools.get(name), input, false), input);
  const outcome = await x.skill.act(decision, { run, callTool, seen, modelLabel: x.provider.label });

  // 4. One audit event for the action.
  const auditEventId = newId("auditEvent");
  const draft: AuditEventDraft = {
    auditEventId,
    kind: "skill.action",
    skillId: x.skillId,
    runId: x.runId,
    trigger: x.trigger,
    input: auditInput(),
    reasoning: decision.reasoning,
    alternatives: decision.alternatives,
    confidence: decision.confidence,
    output: outcome.output,
    tools_used: toolsUsed,
    duration_ms: Math.max(0, Math.round(now() - startedAt)),
    occurred_at: new Date(now()).toISOString(),
    manifest_hash: x.manifestHash,
    step: idx++,
    model: decisionModel,
    tool_result_hashes: toolResultHashes,
  };
  await x.recorder.audit(draft);
  return { status: "succeeded", verdict: decision.verdict, auditEventId, toolsUsed, modelCalls };
}
