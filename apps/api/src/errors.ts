import { PraxaError } from '@praxa/core';

export class UnauthenticatedError extends PraxaError {
  readonly code = 'UNAUTHENTICATED';
  readonly httpStatus = 401;
}
export class ForbiddenError extends PraxaError {
  readonly code = 'FORBIDDEN';
  readonly httpStatus = 403;
}

export class WorkspaceKeyMissingError extends PraxaError {
  readonly code = 'WORKSPACE_KEY_MISSING';
  readonly httpStatus = 409;
}

export class IngestKeyMissingError extends PraxaError {
  readonly code = 'INGEST_KEY_MISSING';
  readonly httpStatus = 409;
}
