/**
 * A loopback PagerDuty Events API v2 (`POST /v2/enqueue`), as PagerDuty's developer docs describe it ("Send an Alert
 * Event", "Response Codes & Retry Logic"): a JSON body with a 32-character `routing_key`, `event_action` trigger |
 * acknowledge | resolve, an optional `dedup_key` (≤ 255 characters) and, for a trigger, a `payload` with `summary`
 * (≤ 1024), `source` and `severity` (critical | error | warning | info).
 *  - accepted → `202 {"status":"success","message":"Event processed","dedup_key":…}`;
 *  - a bad routing key or payload → `400 {"status":"invalid event","message":"Event object is invalid","errors":[…]}`;
 *  - `failNext(n, status)` answers the next n requests with an outage (5xx/429, which the docs say to retry).
 * The server keeps alerts by dedup_key (open until resolved) so tests can see what an on-call engineer would.
 * Limits: no rate limiting of its own, no change events, no images/links validation.
 */
import { randomUUID } from "node:crypto";
import { sendJson, startLoopbackServer, type LoopbackServer } from "./loopback-server.js";

export interface PagerDutyEvent {
  readonly routing_key: string;
  readonly event_action: "trigger" | "acknowledge" | "resolve";
  readonly dedup_key: string;
  readonly payload?: {
    readonly summary: string;
    readonly source: string;
    readonly severity: string;
    readonly custom_details?: unknown;
  };
}

export interface PagerDutyAlert {
  readonly dedupKey: string;
  readonly routingKey: string;
  readonly summary: string;
  status: "triggered" | "acknowledged" | "resolved";
  triggers: number;
}

export interface PagerDutyServer extends LoopbackServer {
  readonly enqueueUrl: string;
  /** Accepted events, in arrival order. */
  readonly events: readonly PagerDutyEvent[];
  /** Alerts by dedup_key. */
  readonly alerts: ReadonlyMap<string, PagerDutyAlert>;
  /** Answer the next `n` enqueue requests with `status` (default 503), as during an outage. */
  failNext(n: number, status?: number): void;
}

const SEVERITIES = new Set(["critical", "error", "warning", "info"]);
const ACTIONS = new Set(["trigger", "acknowledge", "resolve"]);

function validate(body: unknown): { event?: PagerDutyEvent; errors: string[] } {
  const errors: string[] = [];
  if (typeof body !== "object" || body === null || Array.isArray(body)) return { errors: ["Event object is invalid"] };
  const b = body as Record<string, unknown>;
  if (typeof b.routing_key !== "string" || b.routing_key.length !== 32)
    errors.push("Length of 'routing_key' is incorrect (should be 32 characters)");
  if (typeof b.event_action !== "string" || !ACTIONS.has(b.event_action))
    errors.push("'event_action' is missing or blank");
  if (b.dedup_key !== undefined && (typeof b.dedup_key !== "string" || b.dedup_key.length > 255))
    errors.push("'dedup_key' must be a string of at most 255 characters");
  if (b.event_action !== "trigger" && typeof b.dedup_key !== "string")
    errors.push("'dedup_key' is required for acknowledge and resolve");
  if (b.event_action === "trigger") {
    const p = b.payload as Record<string, unknown> | undefined;
    if (typeof p !== "object" || p === null) errors.push("'payload' is missing");
    else {
      if (typeof p.summary !== "string" || p.summary.length === 0 || p.summary.length > 1024)
        errors.push("'payload.summary' is missing or longer than 1024 characters");
      if (typeof p.source !== "string" || p.source.length === 0) errors.push("'payload.source' is missing or blank");
      if (typeof p.severity !== "string" || !SEVERITIES.has(p.severity))
        errors.push("'payload.severity' is invalid (expected critical, error, warning or info)");
    }
  }
  if (errors.length > 0) return { errors };
  return {
    event: {
      ...(b as unknown as PagerDutyEvent),
      dedup_key: typeof b.dedup_key === "string" ? b.dedup_key : randomUUID(),
    },
    errors,
  };
}

export async function startPagerDutyServer(): Promise<PagerDutyServer> {
  const events: PagerDutyEvent[] = [];
  const alerts = new Map<string, PagerDutyAlert>();
  const outage = { remaining: 0, status: 503 };
  const server = await startLoopbackServer((req, res) => {
    if (req.method !== "POST" || req.path.split("?")[0] !== "/v2/enqueue")
      return sendJson(res, 404, { status: "not found", message: "Not Found" });
    if (outage.remaining > 0) {
      outage.remaining -= 1;
      return sendJson(res, outage.status, {
        status: "error",
        message: outage.status === 429 ? "Too many requests" : "Internal Server Error",
      });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(req.body.toString("utf8"));
    } catch {
      return sendJson(res, 400, {
        status: "invalid event",
        message: "Event object is invalid",
        errors: ["Malformed JSON"],
      });
    }
    const { event, errors } = validate(parsed);
    if (!event) return sendJson(res, 400, { status: "invalid event", message: "Event object is invalid", errors });
    events.push(event);
    const existing = alerts.get(event.dedup_key);
    if (event.event_action === "trigger") {
      if (existing && existing.status !== "resolved") existing.triggers += 1;
      else
        alerts.set(event.dedup_key, {
          dedupKey: event.dedup_key,
          routingKey: event.routing_key,
          summary: event.payload?.summary ?? "",
          status: "triggered",
          triggers: 1,
        });
    } else if (existing && existing.routingKey === event.routing_key && existing.status !== "resolved") {
      // Follow-up events apply only through the routing key of the original trigger; otherwise they are dropped.
      existing.status = event.event_action === "resolve" ? "resolved" : "acknowledged";
    }
    return sendJson(res, 202, { status: "success", message: "Event processed", dedup_key: event.dedup_key });
  });
  return Object.assign(server, {
    enqueueUrl: `${server.url}/v2/enqueue`,
    events,
    alerts,
    failNext(n: number, status = 503) {
      outage.remaining = n;
      outage.status = status;
    },
  });
}
