/**
 * The typed errors of `@praxa/crypto`. Every one is a `PraxaError` with a stable code. Messages and details name
 * key ids, formats, lengths and reasons — never key material, plaintext, ciphertext bytes or an encryption context's
 * values (contexts name tenants, which is not secret, but a caller could put anything there).
 */
import { PraxaError, type PraxaErrorOptions } from "@praxa/core";

/** Why a decryption was refused. Stable strings, safe to log. */
export type DecryptFailureReason =
  /** The key-commitment value does not match: the ciphertext was not made with this key (and this context). */
  | "key-commitment"
  /** The AEAD tag did not verify: tampered bytes, or a different context (AAD) than the one sealed with. */
  | "authentication"
  /** The ciphertext names a key other than the one offered, or a key this provider does not hold. */
  | "wrong-key"
  /** The bytes are not a ciphertext of a known format (raised by providers, which report every failure alike). */
  | "malformed"
  /** The key service refused the ciphertext (KMS `InvalidCiphertextException` / `IncorrectKeyException`). */
  | "kms-refused";

/** A ciphertext could not be opened. Deliberately uninformative beyond `reason`. */
export class DecryptFailedError extends PraxaError {
  readonly code = "DECRYPT_FAILED";
  readonly httpStatus = 500;
  readonly reason: DecryptFailureReason;
  constructor(reason: DecryptFailureReason, options: PraxaErrorOptions = {}) {
    super(`decryption failed (${reason})`, { ...options, details: { ...options.details, reason } });
    this.reason = reason;
  }
}

/** Bytes that should be a Praxa ciphertext are not: wrong length, unknown type or version, bad field. */
export class CiphertextMalformedError extends PraxaError {
  readonly code = "CIPHERTEXT_MALFORMED";
  readonly httpStatus = 500;
}

/** A key reached its use limit: rotate it (new key for new ciphertexts; old ciphertexts still open). */
export class KeyRotationRequiredError extends PraxaError {
  readonly code = "KEY_ROTATION_REQUIRED";
  readonly httpStatus = 500;
  constructor(keyId: string, limit: number, options: PraxaErrorOptions = {}) {
    super(`key ${keyId} reached its use limit (${limit}); rotate it`, {
      ...options,
      details: { ...options.details, keyId, limit },
    });
  }
}

/** A key id names no key this code holds (or the key service does not know it). */
export class KeyNotFoundError extends PraxaError {
  readonly code = "KEY_NOT_FOUND";
  readonly httpStatus = 500;
}

/** A workspace key's private half was destroyed: every credential sealed to it is unrecoverable, by design. */
export class KeyShreddedError extends PraxaError {
  readonly code = "KEY_SHREDDED";
  readonly httpStatus = 410;
}

/** The key exists but may not be used now (disabled, pending deletion, wrong state). Not retryable by itself. */
export class KeyUnavailableError extends PraxaError {
  readonly code = "KEY_UNAVAILABLE";
  readonly httpStatus = 503;
}

/** An encryption context is missing `tenant_id`, or has a key or value outside the allowed shape. */
export class EncryptionContextError extends PraxaError {
  readonly code = "ENCRYPTION_CONTEXT_INVALID";
  readonly httpStatus = 500;
}

/** The local key file is readable by others (or not a regular file owned by this user): refused, never used. */
export class KeyFileInsecureError extends PraxaError {
  readonly code = "KEY_FILE_INSECURE";
  readonly httpStatus = 500;
}

/** The local key file exists but is not a valid key file (its contents are never echoed). */
export class KeyFileInvalidError extends PraxaError {
  readonly code = "KEY_FILE_INVALID";
  readonly httpStatus = 500;
}

/** The key service failed in a way no other error describes (invalid key usage, validation, an unknown fault). */
export class KeyProviderError extends PraxaError {
  readonly code = "KEY_PROVIDER_FAILED";
  readonly httpStatus = 500;
}

/** The local key file is missing where it must exist (production never creates one). A boot error. */
export class KeyFileMissingError extends PraxaError {
  readonly code = "KEY_FILE_MISSING";
  readonly httpStatus = 500;
}
