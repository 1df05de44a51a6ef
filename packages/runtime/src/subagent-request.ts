/**
 * What a model may say when it dispatches a sub-agent, and what becomes of it. The model names the child Skill, may
 * write a free-text `task` for it, and may pass structured `input` — nothing else:
 *  - the child's subject (repository, PR, installation, Slack team, channel, thread) is never the model's: the child
 *    runs on its parent's subject, copied from the parent's run row (in SQL, by `dispatch_subagent_run`). A model that
 *    names a different subject is refused with `SUBAGENT_SUBJECT_FOREIGN`; restating the parent's own is dropped;
 *  - `input` must match the child Skill's declared sub-agent input (a strict schema of enums, numbers and booleans,
 *    stored in plain text on the child's row), else `SUBAGENT_INPUT_INVALID` — before any child exists;
 *  - `task` is model-written text: the worker seals it to the workspace key for the child alone and it is purged when
 *    the child's run ends; it is never stored in plain text.
 */
import { z } from "zod";
import { canonicalJson } from "@praxa/core";
import { SubAgentInputInvalidError, SubAgentNotAllowedError, SubAgentSubjectError } from "./guard-errors.js";

type Json = z.core.util.JSONType;

/** A child Skill's declared sub-agent input: structured fields only (no free text — they are stored in plain text). */
export type SubAgentInputSchema = z.ZodType<Record<string, unknown>>;

/** The dispatch tool's own arguments (the child's schema is applied on top, by `resolveSubAgentRequest`). */
export const SubagentDispatchArgsSchema = z
  .object({
    skill: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
    task: z.string().min(1).max(4_000).optional(),
    input: z.record(z.string(), z.json()).optional(),
  })
  .strict();

/**
 * Names of subject fields a run's input carries (what ingest records for GitHub and Slack events) — a model naming
 * one of these is naming a subject, whether or not the parent has it.
 */
export const RUN_SUBJECT_KEYS: readonly string[] = [
  "repo",
  "owner",
  "repository",
  "prNumber",
  "pullRequest",
  "issueNumber",
  "isPullRequest",
  "commentId",
  "headSha",
  "beforeSha",
  "baseRef",
  "installationId",
  "integrationId",
  "teamId",
  "channel",
  "threadTs",
  "messageTs",
  "userId",
  "authorLogin",
  "authorIsBot",
  "draft",
  "subagent",
];

/** What the executor hands the worker's `dispatchSubagent`: a validated request, with no subject in it. */
export interface SubAgentRequest {
  readonly skill: string;
  /** Validated by the child's schema; never holds a subject field. */
  readonly args: Readonly<Record<string, unknown>>;
  /** Model-written free text for the child: sealed by the worker, never stored in plain text. */
  readonly task: string | null;
}

export interface SubAgentContext {
  /** The dispatching run's own input (its subject, as ingest recorded it). */
  readonly parentInput: Readonly<Record<string, unknown>>;
  /** The declared sub-agent input of each Skill that can be dispatched, by slug. */
  readonly contracts: ReadonlyMap<string, SubAgentInputSchema>;
}

/**
 * Check a dispatch the model asked for. Throws `SubAgentNotAllowedError` (the Skill declares no sub-agent input),
 * `SubAgentSubjectError` (a subject other than the parent's), `SubAgentInputInvalidError` (the child's schema
 * refuses the rest). Error messages and details never carry the model's text.
 */
export function resolveSubAgentRequest(ctx: SubAgentContext, raw: unknown): SubAgentRequest {
  const parsed = SubagentDispatchArgsSchema.safeParse(raw);
  if (!parsed.success)
    throw new SubAgentInputInvalidError("the sub-agent request does not match the dispatch tool’s schema");
  const { skill, task, input = {} } = parsed.data;
  const contract = ctx.contracts.get(skill);
  if (!contract) throw new SubAgentNotAllowedError("that Skill declares no sub-agent input: it cannot be dispatched");
  const rest: Record<string, Json> = {};
  for (const [key, value] of Object.entries(input)) {
    const parentHas = Object.prototype.hasOwnProperty.call(ctx.parentInput, key);
    if (!parentHas && !RUN_SUBJECT_KEYS.includes(key)) {
      rest[key] = value;
      continue;
    }
    // A restatement of the parent's own subject is harmless and dropped (the subject is copied from the parent's row).
    if (parentHas && key !== "subagent" && canonicalJson(ctx.parentInput[key] ?? null) === canonicalJson(value))
      continue;
    throw new SubAgentSubjectError("a sub-agent acts on its parent’s subject; the model named another");
  }
  const checked = contract.safeParse(rest);
  if (!checked.success)
    throw new SubAgentInputInvalidError("the sub-agent input does not match the child Skill’s declared input");
  return { skill, args: checked.data, task: task ?? null };
}
