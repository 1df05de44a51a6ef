/**
 * Ownership of a SIEM endpoint, checked at creation: Praxa sends a signed challenge and the endpoint must prove it
 * meant to receive this stream.
 *   jsonl       the body is one `praxa.siem.verification` line with a random `challenge`; the endpoint answers 2xx
 *               with a JSON body `{"challenge": "<the same value>"}` (what a receiver that verified the signature
 *               echoes; an arbitrary URL that answers 200 to anything does not pass).
 *   splunk-hec  the challenge is sent as a HEC event with the token; HEC answers 2xx `{"code":0,…}` only for a valid
 *               token, which is the customer's own proof of the Splunk instance.
 *   datadog     the challenge is sent as one log with the API key; the intake answers 202 only for a valid key.
 * A destination the egress guard refuses fails first, with EGRESS_REFUSED, before any connection.
 */
import { randomBytes } from "node:crypto";
import { PraxaError } from "@praxa/core";
import type { EgressOptions, EgressPolicy } from "@praxa/egress";
import { EgressRefusedError } from "@praxa/egress";
import { siemControlBody, type SiemFormat } from "./siem-format.js";
import { sendSiemRequest } from "./siem-send.js";
import type { SiemSigners } from "./siem-signing.js";

/** The endpoint did not prove it is the customer's (no echo, a refusal, unreachable). */
export class SiemEndpointUnverifiedError extends PraxaError {
  readonly code = "SIEM_ENDPOINT_UNVERIFIED";
  readonly httpStatus = 422;
}

export interface SiemEndpointCheck {
  readonly subscriptionId: string;
  readonly url: string;
  readonly format: SiemFormat;
  readonly credential: string | null;
  readonly signers: SiemSigners;
}

function echoed(body: Buffer, challenge: string): boolean {
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    return typeof parsed === "object" && parsed !== null && (parsed as { challenge?: unknown }).challenge === challenge;
  } catch {
    return false;
  }
}

function hecAccepted(body: Buffer): boolean {
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    return typeof parsed === "object" && parsed !== null && (parsed as { code?: unknown }).code === 0;
  } catch {
    return false;
  }
}

export async function verifySiemEndpoint(
  check: SiemEndpointCheck,
  policy: EgressPolicy,
  options: EgressOptions & { readonly now?: () => number } = {},
): Promise<void> {
  const now = (options.now ?? Date.now)();
  const challenge = randomBytes(24).toString("base64url");
  const body = siemControlBody(
    check.format,
    { type: "praxa.siem.verification", subscription_id: check.subscriptionId, challenge },
    new Date(now),
  );
  const outcome = await sendSiemRequest(
    {
      url: check.url,
      format: check.format,
      credential: check.credential,
      webhookId: `msg_${check.subscriptionId}_verify`,
      timestamp: Math.floor(now / 1000),
      body,
      signers: check.signers,
    },
    policy,
    options,
  );
  if (outcome.kind === "retry" && outcome.code === "EGRESS_REFUSED")
    throw new EgressRefusedError("the endpoint resolves to a refused address");
  if (outcome.kind !== "acknowledged")
    throw new SiemEndpointUnverifiedError(
      outcome.kind === "gone"
        ? "the endpoint answered 410 to the verification challenge"
        : `the endpoint did not accept the verification challenge (${outcome.status ?? outcome.code})`,
      { details: { status: outcome.status ?? 0 } },
    );
  const ok =
    check.format === "jsonl"
      ? echoed(outcome.responseBody, challenge)
      : check.format === "splunk-hec"
        ? hecAccepted(outcome.responseBody)
        : true;
  if (!ok)
    throw new SiemEndpointUnverifiedError(
      check.format === "jsonl"
        ? 'the endpoint did not echo the challenge: answer 2xx with {"challenge": "<the challenge>"}'
        : 'the endpoint did not confirm the event (HEC answers {"code":0} for an accepted event)',
    );
}
