/**
 * Standard Webhooks (standardwebhooks.com): signed content `{webhook-id}.{webhook-timestamp}.{raw body}`, HMAC-SHA256
 * keyed by base64-decode(secret without `whsec_`), header `webhook-signature` = space-separated `v1,<base64>` entries
 * (several during a secret rotation; any one valid suffices), timestamp within 5 minutes either way.
 * Source: spec/standard-webhooks.md and the reference libraries' tests.
 */
import { createHmac } from "node:crypto";
import { constantTimeEqual } from "./constant-time.js";

export const STANDARD_WEBHOOKS_TOLERANCE_SECONDS = 300;

function secretKey(secret: string): Buffer | null {
  const raw = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) return null;
  const key = Buffer.from(raw, "base64");
  return key.length >= 16 ? key : null;
}

export function standardWebhookSignature(secret: string, id: string, timestamp: string, body: Buffer): string {
  const key = secretKey(secret);
  if (!key) throw new Error("invalid webhook secret");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest("base64")}`;
}

export interface StandardWebhookHeaders {
  readonly id: string | undefined;
  readonly timestamp: string | undefined;
  readonly signature: string | undefined;
}

function offeredSignatures(signature: string): Buffer[] {
  return signature
    .split(" ")
    .map((s) => s.trim())
    .filter((s) => s.startsWith("v1,"))
    .map((s) => Buffer.from(s));
}

/**
 * The checks that need no secret: the three headers present and well-formed, the timestamp inside the tolerance
 * window, at least one `v1` signature offered. Ingest runs these before the rate limiter and before any database read.
 */
export function standardWebhookHeadersPlausible(headers: StandardWebhookHeaders, nowSeconds: number): boolean {
  const { id, timestamp, signature } = headers;
  if (!id || id.length > 256 || !timestamp || !/^\d{1,12}$/.test(timestamp) || !signature || signature.length > 4096)
    return false;
  const ts = Number(timestamp);
  // Upstream refuses a timestamp exactly at the tolerance edge in the past and beyond it in the future.
  if (nowSeconds - ts >= STANDARD_WEBHOOKS_TOLERANCE_SECONDS || ts - nowSeconds > STANDARD_WEBHOOKS_TOLERANCE_SECONDS)
    return false;
  return offeredSignatures(signature).length > 0;
}

/** True if any `v1` signature in the header matches any of `secrets` (current and, during rotation, previous). */
export function verifyStandardWebhook(
  secrets: readonly string[],
  headers: StandardWebhookHeaders,
  body: Buffer,
  nowSeconds: number,
): boolean {
  const { id, timestamp, signature } = headers;
  if (!standardWebhookHeadersPlausible(headers, nowSeconds) || !id || !timestamp || !signature) return false;
  const offered = offeredSignatures(signature);
  for (const secret of secrets) {
    if (!secretKey(secret)) continue;
    const expected = Buffer.from(standardWebhookSignature(secret, id, timestamp, body));
    if (offered.some((o) => constantTimeEqual(o, expected))) return true;
  }
  return false;
}
