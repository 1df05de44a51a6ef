/**
 * GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`, compared in constant time, over the raw
 * bytes as received (re-serialized JSON would not match). Source: GitHub docs, "Validating webhook deliveries".
 */
import { createHmac } from "node:crypto";
import { constantTimeEqual } from "./constant-time.js";

export function githubSignature(secret: string, body: Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export function verifyGithubSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header || !/^sha256=[0-9a-f]{64}$/.test(header)) return false;
  return constantTimeEqual(Buffer.from(githubSignature(secret, body)), Buffer.from(header));
}
