/**
 * `webhook.callback` for a run this worker holds: the Skill's Standard Webhooks secret (`whsec_…`, sealed in the vault
 * under `skill_callback/<skill id>`) is opened under the run's lease, the body is signed (`v1`, HMAC-SHA256 over
 * `id.timestamp.body`), and the request goes through the egress guard — resolved once, refused for loopback, private,
 * link-local, CGNAT, multicast and metadata addresses unless the operator allows a range, sent to the pinned address,
 * no redirects, bounded in time and size. 2xx: delivered. 429 or 503 with a readable `Retry-After` (delay-seconds or an
 * HTTP date): the producer asked for time — a `ThrottledError` (CALLBACK_THROTTLED), so the run is given back with its
 * journal and due after that delay (capped at an hour), not counted as an attempt. 408, 429 and 5xx otherwise: retried
 * with the run's transient backoff. Either way the retry carries the same webhook-id (the receiver deduplicates). Any
 * other answer: the producer refused it (permanent).
 */
import { parseRetryAfter, standardWebhookV1 } from "@praxa/connectors";
import { PraxaError, ThrottledError } from "@praxa/core";
import { withWorkspace, type Database, type RunLease } from "@praxa/db";
import { egressRequest, type EgressOptions, type EgressPolicy } from "@praxa/egress";
import type { KeyProvider } from "@praxa/crypto";
import { openCredentialForRun } from "./credentials.js";

const callbackSecretName = (skillId: string): string => `skill_callback/${skillId}`;

/** The longest a producer's `Retry-After` delays a run (a longer one is cut to this; the run is asked again then). */
const CALLBACK_MAX_RETRY_AFTER_MS = 3_600_000;

/** The producer answered the callback with a refusal (4xx other than 408/429). */
class CallbackRejectedError extends PraxaError {
  readonly code = "CALLBACK_REJECTED";
  readonly httpStatus = 502;
}
/** The producer did not take the callback (5xx, 408): retried with the run. */
class CallbackUnavailableError extends PraxaError {
  readonly code = "CALLBACK_UNAVAILABLE";
  readonly httpStatus = 502;
  override readonly retryable = true;
}
/** The Skill names a callback URL but has no signing secret yet (`POST /v1/skills/:id/callback-secret`). */
class CallbackSecretMissingError extends PraxaError {
  readonly code = "CALLBACK_SECRET_MISSING";
  readonly httpStatus = 409;
}

export interface CallbackDeps {
  readonly database: Database;
  readonly provider: KeyProvider;
  readonly egress: EgressPolicy;
  readonly egressOptions?: EgressOptions;
  readonly now?: () => number;
}

export async function sendSkillCallback(
  deps: CallbackDeps,
  workspaceId: string,
  lease: RunLease,
  skillId: string,
  request: { url: string; webhookId: string; body: string },
): Promise<{ status: number }> {
  const secret = await withWorkspace(deps.database, workspaceId as never, async (s) => {
    try {
      return Buffer.from(await openCredentialForRun(deps.provider, s, lease, callbackSecretName(skillId))).toString(
        "utf8",
      );
    } catch (err) {
      if (err instanceof PraxaError && err.code === "NOT_FOUND")
        throw new CallbackSecretMissingError("this Skill has no callback secret: create one first", { cause: err });
      throw err;
    }
  });
  const ts = Math.floor((deps.now ?? Date.now)() / 1000);
  const body = Buffer.from(request.body, "utf8"); // the bytes signed are the bytes sent
  const res = await egressRequest(
    {
      url: request.url,
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "Praxa-Callback/1",
        "webhook-id": request.webhookId,
        "webhook-timestamp": String(ts),
        "webhook-signature": standardWebhookV1(secret, request.webhookId, ts, body),
      },
      body,
    },
    deps.egress,
    deps.egressOptions,
  );
  if (res.status >= 200 && res.status < 300) return { status: res.status };
  if (res.status === 429 || res.status === 503) {
    const retryAfterMs = parseRetryAfter(res.headers["retry-after"], (deps.now ?? Date.now)());
    if (retryAfterMs !== null)
      throw new ThrottledError(`the producer asked to retry the callback later (${res.status})`, {
        resource: "callback",
        retryAfterMs: Math.min(retryAfterMs, CALLBACK_MAX_RETRY_AFTER_MS),
        code: "CALLBACK_THROTTLED",
        details: { status: res.status },
      });
  }
  if (res.status === 408 || res.status === 429 || res.status >= 500)
    throw new CallbackUnavailableError(`the producer answered ${res.status}`, { details: { status: res.status } });
  throw new CallbackRejectedError(`the producer refused the callback (${res.status})`, {
    details: { status: res.status },
  });
}
