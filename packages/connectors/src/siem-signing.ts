/**
 * Standard Webhooks signing for SIEM streams (standardwebhooks.com, spec/standard-webhooks.md): the signed content is
 * `{webhook-id}.{webhook-timestamp}.{body}` (the body exactly as sent). `webhook-signature` carries space-separated
 * `version,base64` entries:
 *   - `v1a` — Ed25519 (asymmetric): a key pair per subscription; the customer holds only the public key `whpk_…`
 *     (base64 of the raw 32-byte key), so a leaked receiver config cannot forge a batch;
 *   - `v1`  — HMAC-SHA256 keyed by base64-decode(the `whsec_` secret without its prefix), when the customer asked for it.
 * During a rotation's overlap both generations sign: a receiver that still pins the old key, or already the new one,
 * verifies (any one valid signature suffices).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { ValidationError } from "@praxa/core";
import { z } from "zod";
import { standardWebhookContent, standardWebhookV1 } from "./standard-webhooks.js";

const WebhookPublicKeySchema = z.string().regex(/^whpk_[A-Za-z0-9+/]{43}=$/);

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4); the raw key follows. */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export interface SiemSigningKeyPair {
  /** `whpk_` + base64 of the raw 32-byte public key: shown to the customer. */
  readonly publicKey: string;
  /** PKCS #8 DER of the private key: sealed to the workspace key, never shown. */
  readonly privateKeyPkcs8: Buffer;
}

export function generateSiemSigningKey(): SiemSigningKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(ED25519_SPKI_PREFIX.length);
  return {
    publicKey: `whpk_${raw.toString("base64")}`,
    privateKeyPkcs8: privateKey.export({ format: "der", type: "pkcs8" }),
  };
}

/** The Ed25519 public key a `whpk_…` names (what a receiver does with it; also used by tests and the CLI). */
export function webhookPublicKey(whpk: string): KeyObject {
  if (!WebhookPublicKeySchema.safeParse(whpk).success)
    throw new ValidationError("an Ed25519 public key is whpk_ and the base64 of its 32 bytes");
  const raw = Buffer.from(whpk.slice("whpk_".length), "base64");
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

export function siemPrivateKey(pkcs8: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
}

/** The keys a delivery signs with: Ed25519 private keys (current first) and `whsec_` secrets (current first). */
export interface SiemSigners {
  readonly ed25519: readonly KeyObject[];
  readonly hmac: readonly string[];
}

/** The `webhook-signature` header value: `v1a,…` for each Ed25519 key, then `v1,…` for each secret. */
export function signSiemBody(signers: SiemSigners, webhookId: string, timestamp: number, body: Uint8Array): string {
  if (signers.ed25519.length === 0) throw new RangeError("a SIEM delivery is always signed with v1a");
  const content = standardWebhookContent(webhookId, timestamp, body);
  const v1a = signers.ed25519.map((k) => `v1a,${sign(null, content, k).toString("base64")}`);
  const v1 = signers.hmac.map((secret) => standardWebhookV1(secret, webhookId, timestamp, body));
  return [...v1a, ...v1].join(" ");
}
