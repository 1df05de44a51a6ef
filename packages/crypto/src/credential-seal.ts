/**
 * Sealing credentials to a workspace key with HPKE (RFC 9180), base mode, suite DHKEM(X25519, HKDF-SHA256) /
 * HKDF-SHA256 / AES-256-GCM, through `@hpke/core` (its X25519 KEM is built in; Node's WebCrypto does the math).
 *
 * - Sealing needs only the recipient's public key: the api seals and holds nothing that opens.
 * - Every seal is a fresh encapsulation (a new ephemeral X25519 key, so a new key and a new 96-bit nonce from the
 *   key schedule, with a 128-bit tag).
 * - AAD = lp("praxa/v1") ‖ lp(workspaceId) ‖ lp(provider) ‖ lp(purpose), lp(x) = u32 big-endian length ‖ UTF-8:
 *   a ciphertext moved to another workspace, provider or purpose does not open.
 * - info = "praxa/v1/credential" ‖ header (type, version, suite ids, key id), binding the header to the key schedule.
 */
import { createPrivateKey, createPublicKey, type webcrypto } from "node:crypto";
import { ValidationError } from "@praxa/core";
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, EncapError, HkdfSha256 } from "@hpke/core";
import { z } from "zod";
import { concatBytes, lengthPrefixedAll, utf8 } from "./bytes.js";
import { CiphertextMalformedError, DecryptFailedError } from "./errors.js";
import { assertKeyId } from "./key-id.js";
import {
  parseSealedCredential,
  sealedCredentialHeader,
  serializeSealedCredential,
  SEALED_VERSION,
} from "./sealed-credential.js";

type CryptoKey = webcrypto.CryptoKey;

const X25519_KEY_BYTES = 32;
export const MAX_CREDENTIAL_BYTES = 65_536;

/** What a credential is bound to. All three are part of the AAD. */
export interface CredentialContext {
  readonly workspaceId: string;
  /** e.g. `anthropic`, `bedrock`, `vertex`, `github`, `slack`. */
  readonly provider: string;
  /** e.g. `api_key`, `installation_token`, `bot_token`, `refresh_token`, `webhook_secret`. */
  readonly purpose: string;
}

/** The public half of a workspace (or ingest fleet) key: plain data, enough to seal. */
export interface CredentialPublicKey {
  readonly keyId: string;
  /** Raw X25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array;
}

const contextSchema = z.strictObject({
  workspaceId: z.string().min(1).max(255),
  provider: z.string().min(1).max(64),
  purpose: z.string().min(1).max(64),
});

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
const INFO_LABEL = utf8("praxa/v1/credential");
/** PKCS#8 DER prefix of an X25519 private key (RFC 8410): the 32 raw bytes follow. */
const X25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/** The AAD a credential is sealed under: lp("praxa/v1") ‖ lp(workspaceId) ‖ lp(provider) ‖ lp(purpose). */
export function credentialAad(context: CredentialContext): Uint8Array {
  const parsed = contextSchema.safeParse(context);
  if (!parsed.success) {
    throw new ValidationError("a credential context needs workspaceId (1-255), provider (1-64) and purpose (1-64)", {
      details: { fields: parsed.error.issues.map((i) => i.path.map(String).join(".")) },
    });
  }
  return lengthPrefixedAll(["praxa/v1", parsed.data.workspaceId, parsed.data.provider, parsed.data.purpose]);
}

/** The imported private keys, kept out of reach of the objects' own properties (so nothing serializes them). */
const privateKeys = new WeakMap<CredentialPrivateKey, CryptoKey>();

/**
 * The private half, imported for opening. Only a worker (or ingest, for its own key) ever holds one, for the
 * duration of a run; it is created from the raw key unwrapped by the tenant key (see workspace-key.ts).
 */
export class CredentialPrivateKey {
  private constructor(readonly keyId: string) {}

  /** Imports a raw 32-byte X25519 private key. The caller zeroes `raw` afterwards. */
  static async fromRaw(keyId: string, raw: Uint8Array): Promise<CredentialPrivateKey> {
    assertKeyId(keyId);
    if (raw.length !== X25519_KEY_BYTES)
      throw new ValidationError(`an X25519 private key is ${X25519_KEY_BYTES} bytes`);
    const key = (await suite.kem.deserializePrivateKey(raw)) as CryptoKey;
    const opener = new CredentialPrivateKey(keyId);
    privateKeys.set(opener, key);
    return opener;
  }
}

/** A new X25519 key pair for sealing: the public half (plain data) and the raw private half (to be wrapped). */
export async function generateCredentialKeyPair(
  keyId: string,
): Promise<{ publicKey: CredentialPublicKey; privateKey: Uint8Array }> {
  assertKeyId(keyId);
  const pair = (await suite.kem.generateKeyPair()) as webcrypto.CryptoKeyPair;
  const raw = new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey));
  const privateKey = new Uint8Array(await suite.kem.serializePrivateKey(pair.privateKey));
  return { publicKey: { keyId, publicKey: raw }, privateKey };
}

/** The public key matching a raw X25519 private key (used to check an unwrapped key against its record). */
export function credentialPublicKeyOf(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== X25519_KEY_BYTES)
    throw new ValidationError(`an X25519 private key is ${X25519_KEY_BYTES} bytes`);
  const pkcs8 = Buffer.concat([X25519_PKCS8_PREFIX, privateKey]);
  try {
    const jwk = createPublicKey(createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" })).export({
      format: "jwk",
    });
    return new Uint8Array(Buffer.from(jwk.x ?? "", "base64url"));
  } finally {
    pkcs8.fill(0);
  }
}

/** Seals `plaintext` (a string is taken as UTF-8) to `publicKey`, bound to `context`. Needs no secret. */
export async function sealCredential(
  publicKey: CredentialPublicKey,
  context: CredentialContext,
  plaintext: Uint8Array | string,
): Promise<Uint8Array> {
  const aad = credentialAad(context);
  const bytes = typeof plaintext === "string" ? utf8(plaintext) : plaintext;
  if (bytes.length < 1 || bytes.length > MAX_CREDENTIAL_BYTES) {
    throw new ValidationError(`a credential is 1-${MAX_CREDENTIAL_BYTES} bytes`, { details: { length: bytes.length } });
  }
  if (publicKey.publicKey.length !== X25519_KEY_BYTES)
    throw new ValidationError(`an X25519 public key is ${X25519_KEY_BYTES} bytes`);
  const header = sealedCredentialHeader(publicKey.keyId);
  let recipientPublicKey: CryptoKey;
  try {
    recipientPublicKey = (await suite.kem.deserializePublicKey(publicKey.publicKey)) as CryptoKey;
  } catch {
    throw new ValidationError("the recipient public key is not a valid X25519 key");
  }
  let sealed: { ct: ArrayBuffer; enc: ArrayBuffer };
  try {
    sealed = await suite.seal({ recipientPublicKey, info: concatBytes(INFO_LABEL, header) }, bytes, aad);
  } catch (err) {
    // A low-order point (all zeros, 1, …) deserializes but makes the shared secret all zeros, which HPKE refuses
    // (RFC 9180 §7.1.4): the same answer as any other public key that is not a usable X25519 key.
    if (err instanceof EncapError) throw new ValidationError("the recipient public key is not a valid X25519 key");
    throw err;
  }
  const { ct, enc } = sealed;
  return serializeSealedCredential({
    version: SEALED_VERSION,
    keyId: publicKey.keyId,
    enc: new Uint8Array(enc),
    ciphertext: new Uint8Array(ct),
  });
}

/**
 * Opens a sealed credential with the private half, under the same context. Throws `CiphertextMalformedError` for
 * bytes that are not a sealed credential, `DecryptFailedError` (`wrong-key`) for one sealed to another key id, and
 * `DecryptFailedError` (`authentication`) for a different context, another key pair, or tampered bytes.
 */
export async function openCredential(
  privateKey: CredentialPrivateKey,
  context: CredentialContext,
  sealed: Uint8Array,
): Promise<Uint8Array> {
  const aad = credentialAad(context);
  const parsed = parseSealedCredential(sealed);
  if (parsed.keyId !== privateKey.keyId)
    throw new DecryptFailedError("wrong-key", { details: { keyId: parsed.keyId, expected: privateKey.keyId } });
  const recipientKey = privateKeys.get(privateKey);
  if (recipientKey === undefined) throw new DecryptFailedError("wrong-key", { details: { keyId: parsed.keyId } });
  try {
    const pt = await suite.open(
      { recipientKey, enc: parsed.enc, info: concatBytes(INFO_LABEL, parsed.header) },
      parsed.ciphertext,
      aad,
    );
    return new Uint8Array(pt);
  } catch (err) {
    if (err instanceof CiphertextMalformedError) throw err;
    throw new DecryptFailedError("authentication", { details: { keyId: privateKey.keyId } });
  }
}
