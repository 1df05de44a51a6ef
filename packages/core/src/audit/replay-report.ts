/**
 * The report of a replayed decision (`praxa audit replay`, `POST /v1/audit/events/:id/replay`): what the audit event
 * kept and what could be had again, each input checked against the hash recorded at decision time, and the decision
 * re-made on the offline model compared with the recorded one. Ids, hashes, field names, tool names and codes only —
 * never an input's value (the report is stored, and shown to every member who may read the audit log).
 *
 * Per input and per tool step a status:
 *  - `matches`     — what was had again hashes to what was recorded;
 *  - `changed`     — it hashes to something else (both hashes given);
 *  - `unavailable` — it can no longer be had (a deleted message or thread, a producer payload purged at run end, a
 *                    field the audit policy dropped and the run row does not hold): named, never guessed;
 *  - `not_reached` / `not_called` (steps only) — the replay stopped before it, or made a different call.
 */
import { z } from "zod";
import { PraxaError } from "../errors.js";

export const REPLAY_STATUSES = ["matches", "changed", "unavailable"] as const;
export const ReplayCheckStatusSchema = z.enum(REPLAY_STATUSES);

const Hash = z
  .string()
  .regex(/^[0-9a-f]{64}$/)
  .nullable();
const Note = z.string().max(500);

export const ReplayInputCheckSchema = z
  .object({
    /** The input's name: a field of the record's `input` (`channel`), or `payload`, `manifest`, `run input`. */
    name: z.string().min(1).max(200),
    /** Where the value used in the replay came from. */
    source: z.enum(["record", "run_row", "payload", "derived", "manifest", "refetch"]),
    status: ReplayCheckStatusSchema,
    recordedHash: Hash,
    currentHash: Hash,
    note: Note,
  })
  .strict();
export type ReplayInputCheck = z.infer<typeof ReplayInputCheckSchema>;

export const ReplayStepCheckSchema = z
  .object({
    step: z.string().regex(/^(0|[1-9][0-9]{0,8})$/),
    /** The tool the replay called at this step (null when it did not reach it). */
    tool: z.string().max(100).nullable(),
    status: z.enum([...REPLAY_STATUSES, "not_reached", "not_called"]),
    recordedHash: Hash,
    currentHash: Hash,
    note: Note,
  })
  .strict();
export type ReplayStepCheck = z.infer<typeof ReplayStepCheckSchema>;

const DecisionSummary = z
  .object({ verdict: z.string().max(64), confidence: z.number().min(0).max(1).nullable() })
  .strict();

export const ReplayDecisionCheckSchema = z
  .object({
    /**
     * `identical`: the offline model re-made the recorded decision exactly; `different`: it did not (for an offline
     * decision, a failure); `model_differs`: the recorded decision was made by another model (only offline decisions
     * reproduce exactly); `not_replayed`: an input was unavailable, so the decision was not re-made (never guessed).
     */
    status: z.enum(["identical", "different", "model_differs", "not_replayed"]),
    recordedModel: z.string().max(200).nullable(),
    recorded: DecisionSummary,
    replayed: DecisionSummary.nullable(),
    note: Note,
  })
  .strict();
export type ReplayDecisionCheck = z.infer<typeof ReplayDecisionCheckSchema>;

export const ReplayReportSchema = z
  .object({
    format: z.literal("praxa-replay/v1"),
    eventId: z.string().max(64),
    runId: z.string().max(64),
    skillId: z.string().max(64),
    skillSlug: z.string().max(100),
    /** The decision reproduces from inputs that all match their recorded hashes. */
    ok: z.boolean(),
    /**
     * `reproduced`: ok; `changed`: an input or the manifest changed since; `unavailable`: an input can no longer be
     * had (named) — and nothing changed that could be checked; `differs`: inputs match but the decision does not.
     */
    outcome: z.enum(["reproduced", "changed", "unavailable", "differs"]),
    manifest: ReplayInputCheckSchema,
    inputs: z.array(ReplayInputCheckSchema).max(200),
    steps: z.array(ReplayStepCheckSchema).max(500),
    decision: ReplayDecisionCheckSchema,
    /** The report as lines a person reads (what the CLI prints). */
    lines: z.array(z.string().max(600)).max(1000),
  })
  .strict();
export type ReplayReport = z.infer<typeof ReplayReportSchema>;

/**
 * An input of the decision can no longer be had: the message, thread or payload it came from is gone. The message
 * names what (ids, field names, hashes — never content); a replay reports it as `unavailable` instead of guessing.
 */
export class ReplayInputUnavailableError extends PraxaError {
  readonly code = "REPLAY_INPUT_UNAVAILABLE";
  readonly httpStatus = 409;
}

/** The event cannot be replayed at all (not a decision of a run, its run or Skill version gone). */
export class ReplayNotPossibleError extends PraxaError {
  readonly code = "REPLAY_NOT_POSSIBLE";
  readonly httpStatus = 409;
}
