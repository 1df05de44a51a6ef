/**
 * Errors by intent. Every error Praxa raises is a `PraxaError` with a stable `code`, the HTTP status it maps to
 * where it crosses HTTP, and a message that is safe to show to a user: never a secret, a prompt or user content.
 * Context that helps an operator goes in `details` (ids, codes, key names — never values) and `cause`.
 */
export type ErrorDetails = Readonly<Record<string, string | number | boolean | readonly string[]>>;

export interface PraxaErrorOptions {
  readonly cause?: unknown;
  readonly details?: ErrorDetails;
}

export abstract class PraxaError extends Error {
  /** Stable, documented, machine-readable. Never changes once published. */
  abstract readonly code: string;
  /** The HTTP status this error maps to where it crosses an HTTP edge. */
  abstract readonly httpStatus: number;
  /** Whether the executor may retry the operation that raised it. */
  readonly retryable: boolean = false;
  readonly details: ErrorDetails | undefined;

  constructor(message: string, options: PraxaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options.details;
  }

  /** The shape an HTTP edge returns: `{"error":{"code","message"}}`. */
  toJSON(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export function isPraxaError(value: unknown): value is PraxaError {
  return value instanceof PraxaError;
}

/** A setting is missing or invalid at boot. Lists every bad key and why; never a value. */
export class ConfigError extends PraxaError {
  readonly code = "CONFIG_INVALID";
  readonly httpStatus = 500;
  readonly issues: readonly { readonly key: string; readonly problem: string }[];
  constructor(issues: readonly { readonly key: string; readonly problem: string }[], options: PraxaErrorOptions = {}) {
    super(
      `invalid configuration (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  - ${i.key}: ${i.problem}`).join("\n"),
      options,
    );
    this.issues = issues;
  }
}

/** An input failed validation at a boundary (HTTP body, job data, DB JSON, model output). */
export class ValidationError extends PraxaError {
  readonly code = "VALIDATION_FAILED";
  readonly httpStatus = 400;
}

/** A string that should be a TypeID of a given kind is not one. */
export class InvalidIdError extends PraxaError {
  readonly code = "INVALID_ID";
  readonly httpStatus = 400;
}

/** A tenant boundary was about to be crossed: no scope, a foreign row, or Postgres's row-level security refusal. */
export class WorkspaceScopeError extends PraxaError {
  readonly code = "WORKSPACE_SCOPE";
  /** Internal: at an HTTP edge a foreign id is answered 404, never with this error's details. */
  readonly httpStatus = 404;
}

/** The database refused an operation for lack of a privilege (not row-level security). */
export class PermissionDeniedError extends PraxaError {
  readonly code = "PERMISSION_DENIED";
  readonly httpStatus = 403;
}

export class NotFoundError extends PraxaError {
  readonly code = "NOT_FOUND";
  readonly httpStatus = 404;
}

/** A write collided with an existing row under a unique rule (a duplicate delivery, a retried append). */
export class ConflictError extends PraxaError {
  readonly code = "CONFLICT";
  readonly httpStatus = 409;
}

/** A worker presented a lease (fencing token) that is no longer the current holder's or has expired. */
export class LeaseLostError extends PraxaError {
  readonly code = "LEASE_LOST";
  readonly httpStatus = 409;
}

/**
 * The Skill is paused (its rolling acceptance rate fell below its threshold, or an admin paused it): a queued run
 * reaching a worker is refused before any model call. Not retryable — only a human resume changes it.
 */
export class SkillPausedError extends PraxaError {
  readonly code = "SKILL_PAUSED";
  readonly httpStatus = 409;
}

/** A signature on an inbound request is missing, wrong or stale. */
export class SignatureInvalidError extends PraxaError {
  readonly code = "SIGNATURE_INVALID";
  readonly httpStatus = 401;
}

/** A dependency (database, Redis, an outside service) could not be reached; safe to retry. */
export class UnavailableError extends PraxaError {
  readonly code = "UNAVAILABLE";
  readonly httpStatus = 503;
  override readonly retryable = true;
}

/** A programming or invariant error: something that must never happen did. */
export class InternalError extends PraxaError {
  readonly code = "INTERNAL";
  readonly httpStatus = 500;
}

/**
 * The operator has not configured this integration on this Praxa (its signing secret, App or OAuth client is unset):
 * its routes answer 404, named once at boot. Integrations are optional; a run that needs a missing one fails with it.
 */
export class IntegrationNotConfiguredError extends PraxaError {
  readonly code = "INTEGRATION_NOT_CONFIGURED";
  readonly httpStatus = 404;
}

/**
 * An outside service refused for rate: a model provider's 429 / 529 on the workspace's own key, GitHub's primary or
 * secondary rate limit on an installation, or a Skill's producer answering its callback 429 / 503 with a
 * `Retry-After`. Retryable, but not in the job: the worker gives the run back at once (its journal kept), delays it
 * by `retryAfterMs` and — for the model key and the integrations — gates the same `resource` for the workspace's other
 * runs until then (docs/operations.md, "Caps, fairness, cancel and redrive"). Other workspaces are not slowed.
 */
export class ThrottledError extends PraxaError {
  readonly code: string;
  readonly httpStatus = 429;
  override readonly retryable = true;
  /** How long to wait before the resource is asked again (the server's `retry-after`, or a computed backoff). */
  readonly retryAfterMs: number;
  /** What is throttled: the workspace's model key, the run's GitHub installation / Slack team, or its producer. */
  readonly resource: "model" | "github" | "slack" | "callback";
  constructor(
    message: string,
    options: {
      readonly resource: "model" | "github" | "slack" | "callback";
      readonly retryAfterMs: number;
      /** A stable code for the run's record if throttling outlasts its budget (default `THROTTLED`). */
      readonly code?: string;
      readonly cause?: unknown;
      readonly details?: ErrorDetails;
    },
  ) {
    super(message, {
      details: { ...options.details, resource: options.resource, retryAfterMs: options.retryAfterMs },
      cause: options.cause,
    });
    this.code = options.code ?? "THROTTLED";
    this.resource = options.resource;
    this.retryAfterMs = Math.max(0, Math.round(options.retryAfterMs));
  }
}

/**
 * The integration a run acts through is gone for good: GitHub answers 404 to its installation token (the App was
 * uninstalled, or the installation never existed), Slack says the token was revoked or the account is inactive.
 * Permanent: the integration is marked revoked, its waiting runs fail once with this code, and the workspace is told.
 */
export class IntegrationGoneError extends PraxaError {
  readonly code = "INTEGRATION_GONE";
  readonly httpStatus = 410;
  readonly resource: "github" | "slack";
  constructor(message: string, options: { readonly resource: "github" | "slack" } & PraxaErrorOptions) {
    super(message, options);
    this.resource = options.resource;
  }
}

/** A human cancelled the run: its lease check answers "cancelled" at the next step boundary, and no effect follows. */
export class RunCancelledError extends PraxaError {
  readonly code = "RUN_CANCELLED";
  readonly httpStatus = 409;
}
