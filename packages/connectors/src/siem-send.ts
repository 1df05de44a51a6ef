/**
 * One SIEM request through the egress guard, and what the answer means for the stream: a 2xx acknowledges the batch;
 * 410 Gone disables the subscription; 429 and 503 are retried after their `Retry-After` (seconds or an HTTP date);
 * any other answer, a 3xx (redirects are never followed), a timeout or a refused connection is retried with
 * exponential backoff and full jitter.
 */
import { randomInt } from "node:crypto";
import { isPraxaError } from "@praxa/core";
import { egressRequest, type EgressOptions, type EgressPolicy } from "@praxa/egress";
import { signSiemBody, type SiemSigners } from "./siem-signing.js";
import { siemWire, type SiemFormat } from "./siem-format.js";

export interface SiemRequest {
  readonly url: string;
  readonly format: SiemFormat;
  /** The Splunk token or Datadog key (null for jsonl). */
  readonly credential: string | null;
  readonly webhookId: string;
  /** Unix seconds: fresh for every attempt (receivers refuse stale timestamps), the id stays. */
  readonly timestamp: number;
  /** The uncompressed body. */
  readonly body: Buffer;
  readonly signers: SiemSigners;
}

export type SiemOutcome =
  | { readonly kind: "acknowledged"; readonly status: number; readonly responseBody: Buffer }
  | { readonly kind: "gone"; readonly status: 410 }
  | {
      readonly kind: "retry";
      readonly code: string;
      readonly status: number | null;
      /** The endpoint's own `Retry-After`, in milliseconds (429 / 503 only). */
      readonly retryAfterMs: number | null;
    };

export const SIEM_USER_AGENT = "Praxa-SIEM/1";

/** `Retry-After`: delay-seconds or an HTTP date; null when absent or unreadable. Capped at one day. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === "") return null;
  const t = v.trim();
  let ms: number;
  if (/^\d{1,10}$/.test(t)) ms = Number(t) * 1000;
  else {
    const at = Date.parse(t);
    if (Number.isNaN(at)) return null;
    ms = Math.max(0, at - nowMs);
  }
  return Math.min(ms, 86_400_000);
}

/** Exponential backoff with full jitter: a random delay in [base, min(max, base·2^failures)]. */
export function siemBackoffMs(failures: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(failures, 0), 30));
  return ceiling <= baseMs ? baseMs : baseMs + randomInt(0, Math.floor(ceiling - baseMs) + 1);
}

export async function sendSiemRequest(
  req: SiemRequest,
  policy: EgressPolicy,
  options: EgressOptions & { readonly timeoutMs?: number; readonly now?: () => number } = {},
): Promise<SiemOutcome> {
  const wire = siemWire(req.format, req.body, req.credential);
  const headers = {
    ...wire.headers,
    "user-agent": SIEM_USER_AGENT,
    "webhook-id": req.webhookId,
    "webhook-timestamp": String(req.timestamp),
    // Signed over the body as sent (for datadog, the gzip bytes).
    "webhook-signature": signSiemBody(req.signers, req.webhookId, req.timestamp, wire.body),
  };
  const bounded =
    options.timeoutMs === undefined ? policy : { ...policy, timeoutMs: Math.min(policy.timeoutMs, options.timeoutMs) };
  let res;
  try {
    res = await egressRequest({ url: req.url, method: "POST", headers, body: wire.body }, bounded, options);
  } catch (err) {
    if (isPraxaError(err)) return { kind: "retry", code: err.code, status: null, retryAfterMs: null };
    throw err;
  }
  if (res.status >= 200 && res.status < 300)
    return { kind: "acknowledged", status: res.status, responseBody: res.body };
  if (res.status === 410) return { kind: "gone", status: 410 };
  const retryAfterMs =
    res.status === 429 || res.status === 503
      ? parseRetryAfter(res.headers["retry-after"], (options.now ?? Date.now)())
      : null;
  const code =
    res.status === 429
      ? "ENDPOINT_THROTTLED"
      : res.status >= 300 && res.status < 400
        ? "ENDPOINT_REDIRECTED"
        : res.status >= 500
          ? "ENDPOINT_UNAVAILABLE"
          : "ENDPOINT_REFUSED";
  return { kind: "retry", code, status: res.status, retryAfterMs };
}
