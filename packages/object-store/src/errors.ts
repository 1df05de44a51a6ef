import { PraxaError } from "@praxa/core";

/** A put exceeded its size bound; nothing was stored (a partial temp file is removed). */
export class ObjectTooLargeError extends PraxaError {
  readonly code = "OBJECT_TOO_LARGE";
  readonly httpStatus = 413;
}
