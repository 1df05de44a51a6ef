/**
 * `KeyProvider`: the root of the key hierarchy, with the same semantics whichever implementation stands behind it —
 * `AwsKmsKeyProvider` (production) or `LocalKeyProvider` (a key file; the embedded default).
 *
 * Semantics both implementations honour (proven by key-provider-semantics.test.ts over both):
 * - every operation takes an `EncryptionContext` naming the tenant (`tenant_id`), checked before any call;
 * - a wrapped blob opens only under exactly the context it was made with — any pair changed, added or removed, a
 *   tampered or truncated blob, or a blob from another key → `DecryptFailedError` (the provider does not say which);
 * - `wrap` takes 1–4096 bytes (KMS `Encrypt`'s limit), `sign` 1–4096 bytes (KMS `Sign`'s RAW limit): beyond
 *   that → `ValidationError`, in both;
 * - data keys are 32 random bytes (AES-256), returned with their wrapped form;
 * - `sign` signs the message itself (no pre-hash by the caller); `publicKey()` describes the key that verifies it,
 *   and `verifySignature` checks a signature against it offline.
 */
import { createPublicKey, verify } from "node:crypto";
import { ValidationError } from "@praxa/core";
import type { EncryptionContext } from "./encryption-context.js";

export const DATA_KEY_BYTES = 32;
export const MAX_WRAP_PLAINTEXT_BYTES = 4096;
export const MAX_SIGN_MESSAGE_BYTES = 4096;

export interface DataKey {
  /** The 32-byte key. Use it, then zero it (`plaintext.fill(0)`); never store it. */
  readonly plaintext: Uint8Array;
  /** The key wrapped under the provider's root key and the context: what gets stored. */
  readonly wrapped: Uint8Array;
}

/** `ed25519` (local; KMS `ECC_NIST_EDWARDS25519` / `ED25519_SHA_512`) or ECDSA P-256 with SHA-256, DER signatures. */
export type SigningAlgorithm = "ed25519" | "ecdsa-p256-sha256";

export interface SigningPublicKey {
  /** The signing key's id (the local key id, or the KMS key ARN). Stored beside each checkpoint signature. */
  readonly keyId: string;
  readonly algorithm: SigningAlgorithm;
  /** SubjectPublicKeyInfo, DER. */
  readonly spki: Uint8Array;
}

export type KeyProviderKind = "local" | "aws-kms";

export interface KeyProvider {
  readonly kind: KeyProviderKind;
  /** A fresh AES-256 data key and its wrapped form, bound to `context`. */
  generateDataKey(context: EncryptionContext): Promise<DataKey>;
  /** Encrypts 1–4096 bytes under the root key, bound to `context`. */
  wrap(plaintext: Uint8Array, context: EncryptionContext): Promise<Uint8Array>;
  /** Opens what `wrap` or `generateDataKey` produced under the same context; anything else → `DecryptFailedError`. */
  unwrap(wrapped: Uint8Array, context: EncryptionContext): Promise<Uint8Array>;
  /** Signs 1–4096 bytes with the provider's signing key (for audit checkpoints). */
  sign(message: Uint8Array): Promise<Uint8Array>;
  /** The public half of the signing key. */
  publicKey(): Promise<SigningPublicKey>;
}

/** Verifies a signature made by `KeyProvider.sign`, offline, from the public key alone. */
export function verifySignature(publicKey: SigningPublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(publicKey.spki), format: "der", type: "spki" });
    const expectedType = publicKey.algorithm === "ed25519" ? "ed25519" : "ec";
    if (key.asymmetricKeyType !== expectedType) return false;
    if (expectedType === "ec" && key.asymmetricKeyDetails?.namedCurve !== "prime256v1") return false;
    return verify(publicKey.algorithm === "ed25519" ? null : "sha256", message, key, signature);
  } catch {
    return false;
  }
}

/** The public key as PEM (`-----BEGIN PUBLIC KEY-----`), e.g. for `praxa audit verify --public-key`. */
export function signingPublicKeyPem(publicKey: SigningPublicKey): string {
  return createPublicKey({ key: Buffer.from(publicKey.spki), format: "der", type: "spki" })
    .export({ format: "pem", type: "spki" })
    .toString();
}

/** The checks both providers make before `wrap` (same limits as KMS `Encrypt`). */
export function assertWrapPlaintext(plaintext: Uint8Array): void {
  if (plaintext.length < 1 || plaintext.length > MAX_WRAP_PLAINTEXT_BYTES) {
    throw new ValidationError(`a key provider wraps 1-${MAX_WRAP_PLAINTEXT_BYTES} bytes`, {
      details: { length: plaintext.length },
    });
  }
}

/** The checks both providers make before `sign` (same limit as KMS `Sign` with a RAW message). */
export function assertSignMessage(message: Uint8Array): void {
  if (message.length < 1 || message.length > MAX_SIGN_MESSAGE_BYTES) {
    throw new ValidationError(`a key provider signs 1-${MAX_SIGN_MESSAGE_BYTES} bytes`, {
      details: { length: message.length },
    });
  }
}
