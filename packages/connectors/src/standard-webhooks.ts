/**
 * Standard Webhooks signing (standardwebhooks.com, spec/standard-webhooks.md) for every request Praxa sends signed:
 * Skill callbacks (apps/worker/src/skill-callback.ts), SIEM batches (siem-signing.ts) and the demo's producer
 * (apps/cli/src/commands/demo-skill.ts). The signed content is `{webhook-id}.{webhook-timestamp}.{body}` with the body
 * exactly as sent; `v1` is HMAC-SHA256 keyed by base64-decode(the secret without its `whsec_` prefix). Verifying what
 * producers send us is ingest's own module (apps/ingest/src/verify/standard-webhooks.ts), kept apart on purpose: it is
 * the promise "only signed events are believed" and is mutation-tested on its own.
 */
import { createHmac, randomBytes } from "node:crypto";
import { ValidationError } from "@praxa/core";
import { z } from "zod";

/** A secret we issue or accept to sign with: `whsec_` and the base64 of at least 16 bytes (we issue 32). */
const WebhookSecretSchema = z.string().regex(/^whsec_[A-Za-z0-9+/]{22,}={0,2}$/);

/** A new `whsec_` secret: 32 random bytes, base64. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** `{webhook-id}.{webhook-timestamp}.{body}`, the body's bytes untouched (send them, sign them: never re-encode). */
export function standardWebhookContent(webhookId: string, timestamp: number | string, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${webhookId}.${timestamp}.`), body]);
}

/**
 * The `v1,<base64>` signature entry of one message under one secret (`timestamp`: the `webhook-timestamp` header's
 * seconds). Throws `ValidationError` for a secret that is not a `whsec_` one — never quoting it: nothing is sent
 * signed with a key its receiver could not hold.
 */
export function standardWebhookV1(
  secret: string,
  webhookId: string,
  timestamp: number | string,
  body: Uint8Array,
): string {
  if (!WebhookSecretSchema.safeParse(secret).success)
    throw new ValidationError("a Standard Webhooks secret is whsec_ and the base64 of at least 16 bytes");
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  return `v1,${createHmac("sha256", key)
    .update(standardWebhookContent(webhookId, timestamp, body))
    .digest("base64")}`;
}
