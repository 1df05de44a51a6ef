/**
 * The runtime's typed refusals. Each is thrown by middleware before anything runs — before the model is called for
 * the trigger check, before a tool runs for the tool check — and the run fails with its `code`. Messages name the
 * rule, never the model's or the user's text.
 */
import { PraxaError } from "@praxa/core";

export class TriggerNotAllowedError extends PraxaError {
  readonly code = "TRIGGER_NOT_ALLOWED";
  readonly httpStatus = 403;
}
export class ToolNotAllowedError extends PraxaError {
  readonly code = "TOOL_NOT_ALLOWED";
  readonly httpStatus = 403;
}
export class MemoryNamespaceError extends PraxaError {
  readonly code = "MEMORY_NAMESPACE";
  readonly httpStatus = 403;
}
export class SubAgentNotAllowedError extends PraxaError {
  readonly code = "SUBAGENT_NOT_ALLOWED";
  readonly httpStatus = 403;
}
/** The model named a subject (repository, PR, channel, thread…) for a sub-agent other than its own run's. */
export class SubAgentSubjectError extends PraxaError {
  readonly code = "SUBAGENT_SUBJECT_FOREIGN";
  readonly httpStatus = 403;
}
/** The model's arguments for a sub-agent do not match the child Skill's declared input (refused before the child exists). */
export class SubAgentInputInvalidError extends PraxaError {
  readonly code = "SUBAGENT_INPUT_INVALID";
  readonly httpStatus = 400;
}
