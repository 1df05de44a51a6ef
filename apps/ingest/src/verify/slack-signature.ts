/**
 * Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:" + X-Slack-Request-Timestamp + ":" + raw body)>`;
 * a timestamp more than 5 minutes from now (either way) is refused, so a captured request cannot be replayed later.
 * Source: Slack docs, "Verifying requests from Slack".
 */
import { createHmac } from "node:crypto";
import { constantTimeEqual } from "./constant-time.js";

export const SLACK_TOLERANCE_SECONDS = 300;

export function slackSignature(secret: string, timestamp: string, body: Buffer): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:`).update(body).digest("hex")}`;
}

export function verifySlackSignature(
  secret: string,
  body: Buffer,
  timestamp: string | undefined,
  signature: string | undefined,
  nowSeconds: number,
): boolean {
  if (!timestamp || !/^\d{1,12}$/.test(timestamp) || !signature || !/^v0=[0-9a-f]{64}$/.test(signature)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > SLACK_TOLERANCE_SECONDS) return false;
  return constantTimeEqual(Buffer.from(slackSignature(secret, timestamp, body)), Buffer.from(signature));
}
