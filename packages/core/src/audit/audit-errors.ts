/**
 * Errors of the audit log's pure parts. Messages name what was wrong and where (a JSON pointer, a field path, a kind),
 * never a value: audit records carry customer content.
 */
import { PraxaError } from "../errors.js";

/** A value handed to the canonical JSON encoder is not JSON (undefined, a function, NaN, a bigint, a Date…). */
export class NonJsonValueError extends PraxaError {
  readonly code = "NON_JSON_VALUE";
  readonly httpStatus = 400;
}

/** A Merkle tree operation got arguments it cannot work with (an index outside the tree, a hash of the wrong size). */
export class MerkleInputError extends PraxaError {
  readonly code = "MERKLE_INPUT_INVALID";
  readonly httpStatus = 400;
}

/** An audit record (or checkpoint body) does not match its schema; `details.paths` names the bad fields. */
export class AuditEventInvalidError extends PraxaError {
  readonly code = "AUDIT_EVENT_INVALID";
  readonly httpStatus = 400;
}

/** A hash or signature is not in the expected encoding (64 lower-case hex characters; base64 of 64 bytes). */
export class AuditEncodingError extends PraxaError {
  readonly code = "AUDIT_ENCODING_INVALID";
  readonly httpStatus = 400;
}

/** A key handed to the audit signer or verifier is not an Ed25519 key of the right kind. */
export class AuditKeyError extends PraxaError {
  readonly code = "AUDIT_KEY_INVALID";
  readonly httpStatus = 500;
}

/** A redaction policy does not match its schema. */
export class RedactionPolicyInvalidError extends PraxaError {
  readonly code = "REDACTION_POLICY_INVALID";
  readonly httpStatus = 400;
}
