import { PraxaError } from '@praxa/core';

export class UnauthenticatedError extends PraxaError {
  readonly code = 'UNAUTHENTICATED';
  readonly httpStatus = 401;
}
export class ForbiddenError extends PraxaError {
  readonly code = 'FORBIDDEN';
  readonly httpStatus = 403;
}
