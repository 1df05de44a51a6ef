/**
 * Key ids: opaque ASCII names carried in every ciphertext header so the right key is found after rotation.
 * Praxa mints `<prefix>_<20 base64url chars>` (120 random bits); KMS key ARNs also fit the shape.
 */
import { randomBytes } from "node:crypto";
import { ValidationError } from "@praxa/core";

const KEY_ID = /^[A-Za-z0-9_.:/-]{1,255}$/;

/** Prefixes of the key ids Praxa mints: local master key, local signing key, tenant data key, workspace key. */
export type KeyIdPrefix = "lmk" | "lsk" | "tdk" | "wsk";

export function newKeyId(prefix: KeyIdPrefix): string {
  return `${prefix}_${randomBytes(15).toString("base64url")}`;
}

export function isKeyId(value: unknown): value is string {
  return typeof value === "string" && KEY_ID.test(value);
}

/** Throws when `value` cannot be written into a ciphertext header (1–255 ASCII characters of `[A-Za-z0-9_.:/-]`). */
export function assertKeyId(value: string): void {
  if (!isKeyId(value)) throw new ValidationError("a key id must be 1-255 characters of [A-Za-z0-9_.:/-]");
}
