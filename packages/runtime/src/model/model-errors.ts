/**
 * Model errors by intent: what the executor should do, never what the model said. Messages are fixed strings; a
 * provider's own error body (which may echo the prompt) is never copied into them.
 */
import { PraxaError, type ErrorDetails } from "@praxa/core";

/**
 * 429 from the provider (Anthropic `rate_limit_error`, Bedrock `ThrottlingException`, Vertex `RESOURCE_EXHAUSTED`):
 * the workspace's own quota. `withModelRetries` never sleeps on it: it becomes a `ThrottledError` (core) at once, and
 * the worker gives the run back, delayed by `retryAfterMs` (from `retry-after-ms` / `retry-after`, or a default).
 */
export class ModelRateLimitedError extends PraxaError {
  readonly code = "MODEL_RATE_LIMITED";
  readonly httpStatus = 503;
  override readonly retryable = true;
  constructor(
    message: string,
    readonly retryAfterMs: number | null,
    /** Status and the provider's error type (a fixed vocabulary) — never its message. */
    details: ErrorDetails = {},
  ) {
    super(message, { details: { ...details, ...(retryAfterMs === null ? {} : { retryAfterMs }) } });
  }
}

/**
 * 5xx or a network failure: retried in-process with backoff (brief, and not the tenant's quota); persistent → the run
 * fails with this code. `overloaded` marks Anthropic's 529 / `overloaded_error` (also relayed by Vertex, and as an
 * `error` event in the middle of a stream): `withModelRetries` treats that like a rate limit — a `ThrottledError`
 * (`MODEL_OVERLOADED`) at once, no sleep in the job.
 */
export class ModelUnavailableError extends PraxaError {
  readonly code = "MODEL_UNAVAILABLE";
  readonly httpStatus = 503;
  override readonly retryable = true;
  readonly retryAfterMs: number | null;
  readonly overloaded: boolean;
  constructor(
    message: string,
    options: {
      status?: number | undefined;
      retryAfterMs?: number | null;
      overloaded?: boolean;
      cause?: unknown;
      details?: ErrorDetails;
    } = {},
  ) {
    super(message, {
      details: { ...options.details, ...(options.status === undefined ? {} : { status: options.status }) },
      cause: options.cause,
    });
    this.retryAfterMs = options.retryAfterMs ?? null;
    this.overloaded = options.overloaded ?? false;
  }
}

/** Any other 4xx (bad request, auth, permission): not retryable. */
export class ModelRequestError extends PraxaError {
  readonly code = "MODEL_REQUEST_REJECTED";
  readonly httpStatus = 502;
}

/** The model's structured answer failed validation twice (the forced `record_decision` tool's input). */
export class ModelDecisionInvalidError extends PraxaError {
  readonly code = "MODEL_DECISION_INVALID";
  readonly httpStatus = 502;
}

/** The tool-use loop reached the manifest's `maxIterations` without a decision. */
export class ModelIterationLimitError extends PraxaError {
  readonly code = "MODEL_ITERATION_LIMIT";
  readonly httpStatus = 502;
}

/**
 * The workspace's model credential (opened for this run) is not a shape Praxa can use: wrong provider fields, a
 * service account that is not one, a region that is not a region. Names the fields, never their values.
 */
export class ModelCredentialInvalidError extends PraxaError {
  readonly code = "MODEL_CREDENTIAL_INVALID";
  readonly httpStatus = 422;
}

/**
 * The Skill needs a language model — it declares no offline rules — and the workspace has no model key (or the
 * manifest forces the offline model). Not retryable: add a key (BYOK) or offline rules, then redrive.
 */
export class ModelRequiredError extends PraxaError {
  readonly code = "MODEL_REQUIRED";
  readonly httpStatus = 409;
}
