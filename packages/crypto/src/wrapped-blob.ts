/**
 * The committed AES-256-GCM wrap format, version 1 (every symmetric wrap Praxa makes: the tenant key wrapping a
 * workspace private key, the local provider wrapping data keys).
 *
 *   offset  size  field
 *   0       1     type        0x01 (committed AES-256-GCM wrap)
 *   1       1     version     0x01
 *   2       1     L           key id length, 1..255
 *   3       L     key id      ASCII, [A-Za-z0-9_.:/-]
 *   3+L     12    iv          random per wrap
 *   15+L    32    commitment  HMAC-SHA256(commitment key, "praxa/v1/wrap-commitment" ‖ header ‖ iv ‖ u32 len ‖ aad)
 *   47+L    n     ciphertext  AES-256-GCM(encryption key, iv, plaintext, gcm aad = header ‖ u32 len ‖ aad)
 *   47+L+n  16    tag
 *
 * `header` is bytes [0, 3+L). Minimum length 48 + L (an empty plaintext).
 */
import { ByteReader, concatBytes, u8 } from "./bytes.js";
import { CiphertextMalformedError } from "./errors.js";
import { assertKeyId, isKeyId } from "./key-id.js";

export const WRAP_TYPE = 0x01;
export const WRAP_VERSION = 0x01;
export const WRAP_IV_BYTES = 12;
export const WRAP_COMMITMENT_BYTES = 32;
export const WRAP_TAG_BYTES = 16;

export interface WrappedBlob {
  readonly version: number;
  readonly keyId: string;
  readonly iv: Uint8Array;
  readonly commitment: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly tag: Uint8Array;
}

/** The authenticated header of a v1 wrap: type, version, key id. */
export function wrapHeader(keyId: string): Uint8Array {
  assertKeyId(keyId);
  const id = new TextEncoder().encode(keyId);
  return concatBytes(u8(WRAP_TYPE), u8(WRAP_VERSION), u8(id.length), id);
}

export function serializeWrappedBlob(blob: WrappedBlob): Uint8Array {
  if (blob.version !== WRAP_VERSION) throw new CiphertextMalformedError(`wrap: unsupported version ${blob.version}`);
  if (
    blob.iv.length !== WRAP_IV_BYTES ||
    blob.commitment.length !== WRAP_COMMITMENT_BYTES ||
    blob.tag.length !== WRAP_TAG_BYTES
  ) {
    throw new CiphertextMalformedError("wrap: iv, commitment or tag has the wrong length");
  }
  return concatBytes(wrapHeader(blob.keyId), blob.iv, blob.commitment, blob.ciphertext, blob.tag);
}

/** Parses a v1 wrap or throws `CiphertextMalformedError` naming the field at fault. */
export function parseWrappedBlob(bytes: Uint8Array): WrappedBlob & { readonly header: Uint8Array } {
  const r = new ByteReader(bytes, "wrap");
  const type = r.u8("type");
  if (type !== WRAP_TYPE)
    throw new CiphertextMalformedError("wrap: not a committed AES-GCM wrap (type byte)", {
      details: { field: "type" },
    });
  const version = r.u8("version");
  if (version !== WRAP_VERSION) {
    throw new CiphertextMalformedError(`wrap: unsupported version ${version}`, {
      details: { field: "version", version },
    });
  }
  const idLength = r.u8("keyIdLength");
  const keyId = Buffer.from(r.take(idLength, "keyId")).toString("latin1");
  if (!isKeyId(keyId))
    throw new CiphertextMalformedError("wrap: key id is not well-formed", { details: { field: "keyId" } });
  const header = r.prefix(r.position);
  const iv = r.take(WRAP_IV_BYTES, "iv");
  const commitment = r.take(WRAP_COMMITMENT_BYTES, "commitment");
  if (r.remaining < WRAP_TAG_BYTES)
    throw new CiphertextMalformedError("wrap: truncated at tag", { details: { field: "tag" } });
  const ciphertext = r.take(r.remaining - WRAP_TAG_BYTES, "ciphertext");
  const tag = r.take(WRAP_TAG_BYTES, "tag");
  return { version, keyId, header, iv, commitment, ciphertext, tag };
}

/** The key id a wrap names, without opening it (to pick the key after a rotation). */
export function wrappedBlobKeyId(bytes: Uint8Array): string {
  return parseWrappedBlob(bytes).keyId;
}
