/**
 * Download tokens of the local backend (S3 has presigned URLs instead). A token is
 * `v1.<base64url(payload)>.<base64url(mac)>` where payload is the JSON `{"w":workspace_id,"k":key,"e":expiry_unix}`
 * and mac = HMAC-SHA256(secret, "praxa-object-link-v1\n" ‖ payload). The api hands the token out in a link
 * (`GET …/downloads/<token>`), and on the way back calls `verifyDownloadToken(token, secret)` — constant-time MAC
 * check, then expiry, then the key is re-validated against the workspace in the token — and streams the object from
 * `backend.forWorkspace({ workspaceId })`. Nothing in the token is secret (it names the key); it cannot be forged or
 * extended without the secret, and it stops working at its expiry. No revocation before expiry: keep links short.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { SignatureInvalidError, WorkspaceIdSchema, type WorkspaceId } from "@praxa/core";
import { z } from "zod";
import { assertObjectKey } from "./keys.js";

const DOMAIN = "praxa-object-link-v1\n";
const PayloadSchema = z
  .object({ w: WorkspaceIdSchema, k: z.string().min(1).max(1024), e: z.number().int().positive() })
  .strict();

export interface DownloadTokenClaims {
  readonly workspaceId: WorkspaceId;
  readonly key: string;
  readonly expiresAt: Date;
}

const mac = (secret: Buffer, payload: string): Buffer =>
  createHmac("sha256", secret)
    .update(DOMAIN + payload, "utf8")
    .digest();

export function signDownloadToken(claims: DownloadTokenClaims, secret: Buffer): string {
  assertObjectKey(claims.workspaceId, claims.key);
  const payload = JSON.stringify({
    w: claims.workspaceId,
    k: claims.key,
    e: Math.floor(claims.expiresAt.getTime() / 1000),
  });
  return `v1.${Buffer.from(payload, "utf8").toString("base64url")}.${mac(secret, payload).toString("base64url")}`;
}

/** Verifies a token; a bad MAC, a malformed token or an expired one is a `SignatureInvalidError`. */
export function verifyDownloadToken(token: string, secret: Buffer, now: Date = new Date()): DownloadTokenClaims {
  const invalid = (why: string): SignatureInvalidError =>
    new SignatureInvalidError("download link is invalid or expired", { details: { reason: why } });
  const parts = typeof token === "string" ? token.split(".") : [];
  if (
    parts.length !== 3 ||
    parts[0] !== "v1" ||
    !/^[A-Za-z0-9_-]+$/.test(parts[1] ?? "") ||
    !/^[A-Za-z0-9_-]{43}$/.test(parts[2] ?? "")
  )
    throw invalid("malformed");
  const payload = Buffer.from(parts[1] ?? "", "base64url").toString("utf8");
  const given = Buffer.from(parts[2] ?? "", "base64url");
  const expected = mac(secret, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid("mac");
  let parsed: z.infer<typeof PayloadSchema>;
  try {
    parsed = PayloadSchema.parse(JSON.parse(payload));
  } catch {
    throw invalid("payload");
  }
  if (parsed.e * 1000 <= now.getTime()) throw invalid("expired");
  const workspaceId = parsed.w as WorkspaceId;
  assertObjectKey(workspaceId, parsed.k);
  return { workspaceId, key: parsed.k, expiresAt: new Date(parsed.e * 1000) };
}
