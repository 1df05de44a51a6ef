import { PraxaError } from "@praxa/core";

export class MalformedBodyError extends PraxaError {
  readonly code = "MALFORMED_BODY";
  readonly httpStatus = 400;
}
export class MissingHeaderError extends PraxaError {
  readonly code = "MISSING_HEADER";
  readonly httpStatus = 400;
}
export class PayloadTooLargeError extends PraxaError {
  readonly code = "PAYLOAD_TOO_LARGE";
  readonly httpStatus = 413;
}
export class RateLimitedError extends PraxaError {
  readonly code = "RATE_LIMITED";
  readonly httpStatus = 429;
  override readonly retryable = true;
}
