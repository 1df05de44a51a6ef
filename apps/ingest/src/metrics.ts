/**
 * Ingest's metric: one count per answered request — `praxa_ingest_requests_total{route, outcome, code}`. The route is
 * Fastify's route pattern (`/triggers/:skillId`), never the URL; the code is the error code a refusal answered with
 * (`SIGNATURE_INVALID`, `RATE_LIMITED`…), `OK` when accepted. Health routes are not counted.
 */
import { recordIngestRequest } from "@praxa/observability";

const UNCOUNTED = new Set(["/healthz", "/readyz"]);

export function recordIngestAnswer(route: string | undefined, status: number, refusedCode: string | undefined): void {
  if (route !== undefined && UNCOUNTED.has(route)) return;
  const accepted = status < 400;
  recordIngestRequest({
    route: route ?? "unmatched",
    outcome: accepted ? "accepted" : "refused",
    code: accepted
      ? "OK"
      : (refusedCode ?? (status === 404 ? "NOT_FOUND" : status >= 500 ? "INTERNAL" : "BAD_REQUEST")),
  });
}
