/**
 * Model errors by intent: what the executor should do, never what the model said. Messages are fixed strings; a
 * provider's own error body (which may echo the prompt) is never copied into them.
 */
import { PraxaError } from '@praxa/core';

/** 429 from the provider: retry after `retryAfterMs` (from `retry-after` / `retry-after-ms`), within the budget. */
export class ModelRateLimitedError extends PraxaError {
  readonly code = 'MODEL_RATE_LIMITED';
  readonly httpStatus = 503;
  override readonly retryable = true;
  constructor(
    message: string,
    readonly retryAfterMs: number | null,
  ) {
    super(message, retryAfterMs === null ? {} : { details: { retryAfterMs } });
  }
}

/** 5xx, overloaded (529) or a network failure: retry with backoff; persistent → the run fails with this code. */
export class ModelUnavailableError extends PraxaError {
  readonly code = 'MODEL_UNAVAILABLE';
  readonly httpStatus = 503;
  override readonly retryable = true;
  readonly retryAfterMs: number | null;
  constructor(message: string, options: { status?: number | undefined; retryAfterMs?: number | null; cause?: unknown } = {}) {
    super(message, { ...(options.status === undefined ? {} : { details: { status: options.status } }), cause: options.cause });
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}

/** Any other 4xx (bad request, auth, permission): not retryable. */
export class ModelRequestError extends PraxaError {
  readonly code = 'MODEL_REQUEST_REJECTED';
  readonly httpStatus = 502;
}

/** The model's structured answer failed validation twice (the forced `record_decision` tool's input). */
export class ModelDecisionInvalidError extends PraxaError {
  readonly code = 'MODEL_DECISION_INVALID';
  readonly httpStatus = 502;
}

/** The tool-use loop reached the manifest's `maxIterations` without a decision. */
export class ModelIterationLimitError extends PraxaError {
  readonly code = 'MODEL_ITERATION_LIMIT';
  readonly httpStatus = 502;
}
