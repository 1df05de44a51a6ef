/**
 * AWS KMS errors → Praxa's typed errors. The AWS SDK raises a `KMSServiceException` subclass whose `name` is the
 * KMS error type (`InvalidCiphertextException`, …) or, for transport failures, a plain Node error. KMS messages do
 * not echo plaintext; ours name the operation and the KMS error type only.
 */
import { PermissionDeniedError, UnavailableError, type PraxaError } from "@praxa/core";
import { DecryptFailedError, KeyNotFoundError, KeyProviderError, KeyUnavailableError } from "./errors.js";

const DECRYPT_REFUSED = new Set(["InvalidCiphertextException", "IncorrectKeyException"]);
const NOT_FOUND = new Set(["NotFoundException"]);
const DENIED = new Set([
  "AccessDeniedException",
  "AccessDenied",
  "UnrecognizedClientException",
  "InvalidSignatureException",
]);
const KEY_STATE = new Set(["DisabledException", "KMSInvalidStateException"]);
const TRANSIENT = new Set([
  "KeyUnavailableException",
  "DependencyTimeoutException",
  "KMSInternalException",
  "ThrottlingException",
  "LimitExceededException",
  "ServiceUnavailableException",
  "InternalFailure",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
]);
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ECONNABORTED",
]);

export type KmsOperation = "GenerateDataKey" | "Encrypt" | "Decrypt" | "Sign" | "GetPublicKey" | "DescribeKey";

interface AwsErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly $fault?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

/** The KMS error type of an SDK error (`InvalidCiphertextException`), or the transport error code. */
function awsErrorName(err: unknown): string {
  if (typeof err !== "object" || err === null) return "Unknown";
  const shape = err as AwsErrorShape;
  if (typeof shape.code === "string" && NETWORK_CODES.has(shape.code)) return shape.code;
  return typeof shape.name === "string" ? shape.name : "Unknown";
}

/** Maps an error thrown by the KMS client during `operation` to a typed Praxa error. */
export function mapKmsError(operation: KmsOperation, err: unknown): PraxaError {
  const name = awsErrorName(err);
  const details = { operation, awsError: name };
  const options = { cause: err, details };
  if (DECRYPT_REFUSED.has(name)) return new DecryptFailedError("kms-refused", options);
  if (NOT_FOUND.has(name)) return new KeyNotFoundError(`KMS ${operation}: the key does not exist (${name})`, options);
  if (DENIED.has(name)) return new PermissionDeniedError(`KMS ${operation}: access denied (${name})`, options);
  if (KEY_STATE.has(name))
    return new KeyUnavailableError(`KMS ${operation}: the key may not be used in its current state (${name})`, options);
  const shape = typeof err === "object" && err !== null ? (err as AwsErrorShape) : {};
  const status = typeof shape.$metadata?.httpStatusCode === "number" ? shape.$metadata.httpStatusCode : undefined;
  // No HTTP status and no fault class: the request never got an answer (refused, reset, timed out, DNS).
  const noResponse = status === undefined && shape.$fault === undefined;
  if (
    TRANSIENT.has(name) ||
    NETWORK_CODES.has(name) ||
    noResponse ||
    shape.$fault === "server" ||
    (status !== undefined && status >= 500)
  ) {
    return new UnavailableError(`KMS ${operation}: the key service is unavailable (${name})`, options);
  }
  return new KeyProviderError(`KMS ${operation} failed (${name})`, options);
}
