/**
 * What the egress guard answers instead of a response. Messages name the address class or the limit, never the URL's
 * path or query (a customer's endpoint may carry a token there) and never a header value.
 */
import { PraxaError } from "@praxa/core";

/** The destination is refused by policy: a scheme, credentials in the URL, or an address in a refused class. */
export class EgressRefusedError extends PraxaError {
  readonly code = "EGRESS_REFUSED";
  readonly httpStatus = 422;
}

/** The destination did not answer (connect, TLS or the whole exchange) within the bound. Worth retrying later. */
export class EgressTimeoutError extends PraxaError {
  readonly code = "EGRESS_TIMEOUT";
  readonly httpStatus = 504;
  override readonly retryable = true;
}

/** The connection failed (refused, reset, TLS). Worth retrying later. */
export class EgressUnavailableError extends PraxaError {
  readonly code = "EGRESS_UNAVAILABLE";
  readonly httpStatus = 502;
  override readonly retryable = true;
}

/** The response (or the request we were asked to send) is larger than the bound. */
export class EgressTooLargeError extends PraxaError {
  readonly code = "EGRESS_TOO_LARGE";
  readonly httpStatus = 502;
}
