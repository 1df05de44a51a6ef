import { PraxaError } from "@praxa/core";

export class UnauthenticatedError extends PraxaError {
  readonly code = "UNAUTHENTICATED";
  readonly httpStatus = 401;
}
export class ForbiddenError extends PraxaError {
  readonly code = "FORBIDDEN";
  readonly httpStatus = 403;
}

export class WorkspaceKeyMissingError extends PraxaError {
  readonly code = "WORKSPACE_KEY_MISSING";
  readonly httpStatus = 409;
}

export class IngestKeyMissingError extends PraxaError {
  readonly code = "INGEST_KEY_MISSING";
  readonly httpStatus = 409;
}

/** The operator has not configured this provider's App (client id/secret, App id/key/slug): 404, from core. */
export { IntegrationNotConfiguredError } from "@praxa/core";

/** The person installing declined, or the provider answered the callback with an error. */
export class OAuthDeniedError extends PraxaError {
  readonly code = "OAUTH_DENIED";
  readonly httpStatus = 400;
}

/** This Slack team or GitHub installation is already connected to another Praxa workspace. */
export class IntegrationClaimedError extends PraxaError {
  readonly code = "INTEGRATION_CLAIMED";
  readonly httpStatus = 409;
}

/** The installation id on the callback was not made through this install link (created before it was issued). */
export class InstallationUnverifiedError extends PraxaError {
  readonly code = "INSTALLATION_UNVERIFIED";
  readonly httpStatus = 400;
}

export class InstallationSuspendedError extends PraxaError {
  readonly code = "INSTALLATION_SUSPENDED";
  readonly httpStatus = 409;
}

/** Over a rate limit or a concurrency cap: 429, with `Retry-After` (seconds) set from `retryAfterSeconds`. */
export class RateLimitedError extends PraxaError {
  readonly code = "RATE_LIMITED";
  readonly httpStatus = 429;
  override readonly retryable = true;
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

/** A verification could not be admitted because the store that caps them (Redis) did not answer: refused, not run. */
export class AuditVerifyUnavailableError extends PraxaError {
  readonly code = "AUDIT_VERIFY_UNAVAILABLE";
  readonly httpStatus = 503;
  override readonly retryable = true;
}

/** Cancelling a run that has already finished (succeeded, failed, skipped or cancelled): nothing is changed. */
export class RunFinishedError extends PraxaError {
  readonly code = "RUN_FINISHED";
  readonly httpStatus = 409;
}

/** Only a failed run is redriven. */
export class RunNotFailedError extends PraxaError {
  readonly code = "RUN_NOT_FAILED";
  readonly httpStatus = 409;
}

/** The run was redriven before: retry its newest retry instead (one redrive per failed run). */
export class RunAlreadyRetriedError extends PraxaError {
  readonly code = "RUN_ALREADY_RETRIED";
  readonly httpStatus = 409;
}

/**
 * A guard refused the run, and no newer version of its Skill takes its trigger: the same version would refuse it
 * again. Publishing a new Skill version is the way to redrive it.
 */
export class GuardDenialNeedsNewVersionError extends PraxaError {
  readonly code = "GUARD_DENIAL_NEEDS_NEW_VERSION";
  readonly httpStatus = 409;
}
