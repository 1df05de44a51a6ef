/**
 * A symmetric wrapping key: AES-256-GCM made key-committing, with a use counter that forces rotation.
 *
 * - Two subkeys are derived from the 32-byte key material with HKDF-SHA256 (salt "praxa/v1/wrap"): an encryption
 *   key (info "enc") and a commitment key (info "commit"). The raw material is not kept.
 * - Each wrap draws a fresh random 96-bit IV. Random IVs are safe for at most 2^32 encryptions under one key
 *   (NIST SP 800-38D §8.3); the counter refuses to go past `usageLimit` (default 2^24, at most 2^30), where the
 *   chance of any IV repeating is below 2^-48. At the limit `wrap` throws `KeyRotationRequiredError`; unwrapping is
 *   never limited, so old ciphertexts open after rotation.
 * - Plain GCM is not key-committing: one ciphertext can be made to decrypt under two different keys. Each wrap
 *   stores commitment = HMAC-SHA256(commitment key, "praxa/v1/wrap-commitment" ‖ header ‖ iv ‖ u32 len ‖ aad) and
 *   `unwrap` checks it (constant time) before decrypting, so a ciphertext opens under the one key and context it was
 *   made with, or not at all.
 *
 * The counter lives in memory; whoever stores the key persists `uses` (see docs/crypto.md, "Rotation").
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  timingSafeEqual,
  type KeyObject,
} from "node:crypto";
import { ValidationError } from "@praxa/core";
import { concatBytes, randomBytes, u32, utf8 } from "./bytes.js";
import { CiphertextMalformedError, DecryptFailedError, KeyRotationRequiredError } from "./errors.js";
import { assertKeyId } from "./key-id.js";
import {
  parseWrappedBlob,
  serializeWrappedBlob,
  WRAP_IV_BYTES,
  WRAP_TAG_BYTES,
  WRAP_VERSION,
  wrapHeader,
} from "./wrapped-blob.js";

export const WRAPPING_KEY_BYTES = 32;
export const DEFAULT_WRAP_USAGE_LIMIT = 2 ** 24;
export const MAX_WRAP_USAGE_LIMIT = 2 ** 30;

export interface WrappingKeyOptions {
  readonly id: string;
  /** 32 bytes. Copied into derived subkeys; the caller should zero its copy when done. */
  readonly material: Uint8Array;
  /** Wraps allowed under this key before `KeyRotationRequiredError`. Default 2^24; 1..2^30. */
  readonly usageLimit?: number;
  /** Wraps already made under this key (from storage). Default 0. */
  readonly uses?: number;
}

const SALT = utf8("praxa/v1/wrap");
const COMMITMENT_LABEL = utf8("praxa/v1/wrap-commitment");

function deriveKey(material: Uint8Array, info: string): KeyObject {
  const derived = new Uint8Array(hkdfSync("sha256", material, SALT, utf8(info), 32));
  const key = createSecretKey(derived);
  derived.fill(0);
  return key;
}

export class WrappingKey {
  readonly id: string;
  readonly usageLimit: number;
  private count: number;
  private readonly encryptionKey: KeyObject;
  private readonly commitmentKey: KeyObject;

  constructor(options: WrappingKeyOptions) {
    assertKeyId(options.id);
    if (options.material.length !== WRAPPING_KEY_BYTES)
      throw new ValidationError(`a wrapping key must be ${WRAPPING_KEY_BYTES} bytes`);
    const limit = options.usageLimit ?? DEFAULT_WRAP_USAGE_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_WRAP_USAGE_LIMIT) {
      throw new ValidationError(`usageLimit must be an integer in 1..${MAX_WRAP_USAGE_LIMIT}`);
    }
    const uses = options.uses ?? 0;
    if (!Number.isSafeInteger(uses) || uses < 0) throw new ValidationError("uses must be a non-negative integer");
    this.id = options.id;
    this.usageLimit = limit;
    this.count = uses;
    this.encryptionKey = deriveKey(options.material, "enc");
    this.commitmentKey = deriveKey(options.material, "commit");
  }

  /** Wraps made under this key so far (including those it was constructed with). */
  get uses(): number {
    return this.count;
  }

  /** Wraps left before rotation is required. */
  get remaining(): number {
    return Math.max(0, this.usageLimit - this.count);
  }

  /** Encrypts `plaintext` bound to `aad`; counts one use. Throws `KeyRotationRequiredError` at the limit. */
  wrap(plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    if (this.count >= this.usageLimit) throw new KeyRotationRequiredError(this.id, this.usageLimit);
    this.count += 1;
    const header = wrapHeader(this.id);
    const iv = randomBytes(WRAP_IV_BYTES);
    const commitment = this.commitment(header, iv, aad);
    const cipher = createCipheriv("aes-256-gcm", this.encryptionKey, iv, { authTagLength: WRAP_TAG_BYTES });
    cipher.setAAD(gcmAad(header, aad));
    const ciphertext = concatBytes(cipher.update(plaintext), cipher.final());
    const tag = new Uint8Array(cipher.getAuthTag());
    return serializeWrappedBlob({ version: WRAP_VERSION, keyId: this.id, iv, commitment, ciphertext, tag });
  }

  /**
   * Opens a wrap made by this key under the same `aad`. Throws `CiphertextMalformedError` for bytes that are not a
   * wrap, and `DecryptFailedError` with reason `wrong-key` (another key id), `key-commitment` (not made with this
   * key material and aad) or `authentication` (tampered).
   */
  unwrap(blob: Uint8Array, aad: Uint8Array): Uint8Array {
    const parsed = parseWrappedBlob(blob);
    if (parsed.keyId !== this.id)
      throw new DecryptFailedError("wrong-key", { details: { keyId: parsed.keyId, expected: this.id } });
    const expected = this.commitment(parsed.header, parsed.iv, aad);
    if (!timingSafeEqual(expected, parsed.commitment))
      throw new DecryptFailedError("key-commitment", { details: { keyId: this.id } });
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.encryptionKey, parsed.iv, {
        authTagLength: WRAP_TAG_BYTES,
      });
      decipher.setAAD(gcmAad(parsed.header, aad));
      decipher.setAuthTag(parsed.tag);
      return new Uint8Array(concatBytes(decipher.update(parsed.ciphertext), decipher.final()));
    } catch (cause) {
      if (cause instanceof CiphertextMalformedError) throw cause;
      throw new DecryptFailedError("authentication", { details: { keyId: this.id } });
    }
  }

  private commitment(header: Uint8Array, iv: Uint8Array, aad: Uint8Array): Uint8Array {
    const mac = createHmac("sha256", this.commitmentKey);
    for (const part of [COMMITMENT_LABEL, header, iv, u32(aad.length), aad]) mac.update(part);
    return new Uint8Array(mac.digest());
  }
}

function gcmAad(header: Uint8Array, aad: Uint8Array): Uint8Array {
  return concatBytes(header, u32(aad.length), aad);
}
