/**
 * The sealed-credential format, version 1: one HPKE (RFC 9180) base-mode ciphertext with its encapsulated key.
 *
 *   offset  size  field
 *   0       1     type      0x02 (HPKE sealed credential)
 *   1       1     version   0x01
 *   2       2     kem id    0x0020  DHKEM(X25519, HKDF-SHA256)
 *   4       2     kdf id    0x0001  HKDF-SHA256
 *   6       2     aead id   0x0002  AES-256-GCM
 *   8       1     L         recipient (workspace) key id length, 1..255
 *   9       L     key id    ASCII
 *   9+L     32    enc       the ephemeral X25519 public key (fresh per ciphertext)
 *   41+L    n+16  ct        AES-256-GCM ciphertext ‖ 128-bit tag
 *
 * `header` is bytes [0, 9+L); it is bound through HPKE's `info` ("praxa/v1/credential" ‖ header).
 */
import { ByteReader, concatBytes, u16, u8 } from "./bytes.js";
import { CiphertextMalformedError } from "./errors.js";
import { assertKeyId, isKeyId } from "./key-id.js";

export const SEALED_TYPE = 0x02;
export const SEALED_VERSION = 0x01;
const HPKE_KEM_DHKEM_X25519_HKDF_SHA256 = 0x0020;
const HPKE_KDF_HKDF_SHA256 = 0x0001;
const HPKE_AEAD_AES_256_GCM = 0x0002;
const HPKE_ENC_BYTES = 32;
const HPKE_TAG_BYTES = 16;

export interface SealedCredential {
  readonly version: number;
  readonly keyId: string;
  /** The HPKE encapsulated key (ephemeral public key), 32 bytes. */
  readonly enc: Uint8Array;
  /** The AEAD ciphertext including its 16-byte tag. */
  readonly ciphertext: Uint8Array;
}

export function sealedCredentialHeader(keyId: string): Uint8Array {
  assertKeyId(keyId);
  const id = new TextEncoder().encode(keyId);
  return concatBytes(
    u8(SEALED_TYPE),
    u8(SEALED_VERSION),
    u16(HPKE_KEM_DHKEM_X25519_HKDF_SHA256),
    u16(HPKE_KDF_HKDF_SHA256),
    u16(HPKE_AEAD_AES_256_GCM),
    u8(id.length),
    id,
  );
}

export function serializeSealedCredential(sealed: SealedCredential): Uint8Array {
  if (sealed.version !== SEALED_VERSION)
    throw new CiphertextMalformedError(`sealed credential: unsupported version ${sealed.version}`);
  if (sealed.enc.length !== HPKE_ENC_BYTES || sealed.ciphertext.length < HPKE_TAG_BYTES) {
    throw new CiphertextMalformedError("sealed credential: enc or ciphertext has the wrong length");
  }
  return concatBytes(sealedCredentialHeader(sealed.keyId), sealed.enc, sealed.ciphertext);
}

/** Parses a v1 sealed credential or throws `CiphertextMalformedError` naming the field at fault. */
export function parseSealedCredential(bytes: Uint8Array): SealedCredential & { readonly header: Uint8Array } {
  const r = new ByteReader(bytes, "sealed credential");
  const type = r.u8("type");
  if (type !== SEALED_TYPE)
    throw new CiphertextMalformedError("sealed credential: not an HPKE sealed credential (type byte)", {
      details: { field: "type" },
    });
  const version = r.u8("version");
  if (version !== SEALED_VERSION) {
    throw new CiphertextMalformedError(`sealed credential: unsupported version ${version}`, {
      details: { field: "version", version },
    });
  }
  const kem = r.u16("kem");
  const kdf = r.u16("kdf");
  const aead = r.u16("aead");
  if (kem !== HPKE_KEM_DHKEM_X25519_HKDF_SHA256 || kdf !== HPKE_KDF_HKDF_SHA256 || aead !== HPKE_AEAD_AES_256_GCM) {
    throw new CiphertextMalformedError("sealed credential: unsupported HPKE suite", {
      details: { field: "suite", kem, kdf, aead },
    });
  }
  const idLength = r.u8("keyIdLength");
  const keyId = Buffer.from(r.take(idLength, "keyId")).toString("latin1");
  if (!isKeyId(keyId))
    throw new CiphertextMalformedError("sealed credential: key id is not well-formed", { details: { field: "keyId" } });
  const header = r.prefix(r.position);
  const enc = r.take(HPKE_ENC_BYTES, "enc");
  if (r.remaining < HPKE_TAG_BYTES)
    throw new CiphertextMalformedError("sealed credential: truncated at ciphertext", {
      details: { field: "ciphertext" },
    });
  const ciphertext = r.rest();
  return { version, keyId, header, enc, ciphertext };
}

/** The workspace key id a sealed credential was sealed to (to pick the key after a rotation). */
export function sealedCredentialKeyId(bytes: Uint8Array): string {
  return parseSealedCredential(bytes).keyId;
}
