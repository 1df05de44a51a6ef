/**
 * What a built-in Skill gives the runtime: how to frame the run for the model, the schema of its structured decision
 * (the forced `record_decision` tool), its offline rules, what of the run's input the audit event keeps, and how it
 * acts on a decision — through allowlisted tools only.
 */
import { z } from "zod";
import { AlternativeSchema, type SkillManifest } from "@praxa/core";
import type { ModelRequest, ModelResponse } from "./model/model-provider.js";
import type { SubAgentInputSchema } from "./subagent-request.js";
import type { RunSubject, ToolEnvironment } from "./tools/tool.js";

/** Every decision carries these; a Skill extends the schema with its own fields (review comments, an answer…). */
export const BaseDecisionSchema = z.object({
  verdict: z.string().min(1).max(64),
  reasoning: z.array(z.string().min(1).max(2_000)).min(1).max(20),
  alternatives: z.array(AlternativeSchema).min(1).max(10),
  confidence: z.number().min(0).max(1),
});
export type BaseDecision = z.infer<typeof BaseDecisionSchema>;

export interface SkillRunInput {
  readonly runId: string;
  readonly trigger: string;
  /** The run row's input (the webhook's normalized fields), as ingest stored it. */
  readonly input: Readonly<Record<string, unknown>>;
  /** The manifest in force: the pinned version's, possibly narrowed by the Skill's `prepare` (never widened). */
  readonly manifest: SkillManifest;
  /** What `prepare` found (e.g. a repository's `.praxa.yaml` settings); empty without one. */
  readonly settings?: Readonly<Record<string, z.core.util.JSONType>>;
  /** Problems `prepare` found and the Skill reports (the run proceeds). */
  readonly problems?: readonly RunProblem[];
  /**
   * A sub-agent's task: the dispatching Skill's model-written text, opened by the worker for this run alone (it is
   * sealed at rest and purged when the run ends). Data for the model, never for the audit event or a log.
   */
  readonly task?: string | undefined;
}

export const RunProblemSchema = z.object({
  code: z.string().regex(/^[A-Z][A-Z0-9_]{1,63}$/),
  message: z.string().max(500),
});
export type RunProblem = z.infer<typeof RunProblemSchema>;

/** What a Skill's `prepare` step returns (recorded as a durable step, so a retry sees the same configuration). */
export const PreparedRunSchema = z.object({
  /** A narrowed manifest, or null to keep the pinned one. The executor refuses any widening. */
  manifest: z.unknown().nullable(),
  settings: z.record(z.string(), z.json()),
  /** Added to the audit event's `input` (e.g. the configuration snapshot's hash). */
  auditInput: z.record(z.string(), z.json()),
  problems: z.array(RunProblemSchema),
});
export type PreparedRun = z.infer<typeof PreparedRunSchema>;

/** The act phase calls tools through the same guarded, journaled path as the model's calls. */
export type CallTool = (name: string, input: unknown) => Promise<unknown>;

export interface ActContext {
  readonly run: SkillRunInput;
  readonly callTool: CallTool;
  /** The latest result of each tool the model called, by registered name (e.g. the diff it reviewed). */
  readonly seen: ReadonlyMap<string, unknown>;
  /** The provider's label, printed with every output (`offline (deterministic rules — not a language model)`, `anthropic`…). */
  readonly modelLabel: string;
}

export interface SkillOutcome {
  /** The audit event's `output` (a JSON object; the workspace's redaction policy applies to it). */
  readonly output: Record<string, z.core.util.JSONType>;
}

/** The offline model's rules for this Skill: a pure function of the conversation so far. */
export type OfflineRules = (request: ModelRequest) => Pick<ModelResponse, "content" | "stopReason">;

export interface SkillDefinition<D extends BaseDecision = BaseDecision> {
  readonly slug: string;
  readonly decisionSchema: z.ZodType<D>;
  readonly decisionDescription: string;
  /**
   * GitHub permissions (`name:read|write`) the Skill's own code needs beyond its manifest's tools' — pr-review reads
   * `.praxa.yaml` in `prepare`. A run's installation token is narrowed to these plus its tools'.
   */
  readonly githubPermissions?: readonly string[];
  /** The run's subject (PR, Slack thread) from the run row's input; throws a typed error on a malformed input. */
  subject(run: SkillRunInput): RunSubject;
  /**
   * Before the model: read configuration as the bot (a repository's `.praxa.yaml`, say). It may only narrow the
   * manifest; the executor checks, refuses a widening (the run proceeds under the pinned manifest) and re-runs the guards.
   */
  prepare?(run: SkillRunInput, subject: RunSubject, env: ToolEnvironment): Promise<PreparedRun>;
  /** A run this Skill declines to work on (a draft PR, a bot's PR…): the run ends `skipped` with this reason code. */
  skipReason?(run: SkillRunInput): string | null;
  systemPrompt(run: SkillRunInput): string;
  firstMessage(run: SkillRunInput): string;
  /** What the audit event's `input` records (ids and digests — the redaction policy applies on top). */
  auditInput(run: SkillRunInput): Record<string, z.core.util.JSONType>;
  readonly offline: OfflineRules;
  /**
   * False for a Skill with no offline rules (a declarative Skill that declares none): with no model key its runs fail
   * with `MODEL_REQUIRED` instead of pretending. Default true.
   */
  readonly offlineAvailable?: boolean;
  /**
   * The structured input this Skill accepts when another Skill dispatches it (strict: enums, numbers, booleans — no
   * free text, since it is stored in plain text on the child's run row under `input.subagent`). Without it, the Skill
   * cannot be dispatched as a sub-agent.
   */
  readonly subAgentInput?: SubAgentInputSchema;
  act(decision: D, ctx: ActContext): Promise<SkillOutcome>;
  /**
   * For a Skill whose run input is a producer's payload (sealed, purged when the run ends): the payload's top-level
   * fields. A replay rebuilds the payload from what the audit event kept and names each of these it was not given.
   */
  readonly payloadFields?: readonly string[];
}

/** The decision tool's wire name (the Messages API allows no dots); registered as `decision.record` in telemetry. */
export const DECISION_TOOL_WIRE_NAME = "record_decision";
export const DECISION_TOOL_NAME = "decision.record";
