/**
 * PagerDuty Events API v2 (`POST https://events.pagerduty.com/v2/enqueue`): a `trigger` when a Skill pauses and a
 * `resolve` when it is resumed, both under the pause's stable `dedup_key`, so retries never open a second incident and
 * the resolve closes the right one. Per PagerDuty's retry guidance: 202 delivered; 400 refused for good; 429, 5xx and
 * network errors are worth retrying. The routing key is the channel's secret; it is never logged or returned.
 */
import { UnavailableError } from "@praxa/core";
import { NotificationRejectedError } from "./notify-errors.js";
import { noticeSummary, type Notice } from "./notify-message.js";

export const PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";

export interface PagerDutyTarget {
  readonly eventsUrl: string;
  readonly routingKey: string;
  readonly timeoutMs?: number;
}

export function pagerDutyEvent(notice: Notice, routingKey: string, dedupKey: string): Record<string, unknown> {
  if (notice.event === "siem.disabled")
    return {
      routing_key: routingKey,
      event_action: "trigger",
      dedup_key: dedupKey,
      payload: {
        summary: noticeSummary(notice).slice(0, 1024),
        source: `praxa/${notice.workspaceId}`,
        severity: "error",
        component: "siem-stream",
        class: notice.reason,
        timestamp: notice.disabledAt.toISOString(),
        custom_details: { subscription_id: notice.subscription.id, endpoint_host: notice.subscription.endpointHost },
      },
    };
  if (notice.event === "skill.resumed")
    return { routing_key: routingKey, event_action: "resolve", dedup_key: dedupKey };
  return {
    routing_key: routingKey,
    event_action: "trigger",
    dedup_key: dedupKey,
    payload: {
      summary: noticeSummary(notice).slice(0, 1024),
      source: `praxa/${notice.workspaceId}`,
      severity: "error",
      component: notice.skill.slug,
      class: notice.cause === "acceptance" ? "acceptance below threshold" : "paused by an admin",
      timestamp: notice.pausedAt.toISOString(),
      custom_details: {
        skill_id: notice.skill.id,
        rate: notice.rate,
        threshold: notice.threshold,
        decided: notice.decided,
        reason: notice.reason,
      },
    },
  };
}

export async function sendPagerDutyEvent(
  target: PagerDutyTarget,
  notice: Notice,
  dedupKey: string,
): Promise<{ dedupKey: string }> {
  let res: Response;
  try {
    res = await fetch(target.eventsUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(pagerDutyEvent(notice, target.routingKey, dedupKey)),
      signal: AbortSignal.timeout(target.timeoutMs ?? 10_000),
    });
  } catch (err) {
    throw new UnavailableError("PagerDuty could not be reached", { cause: err });
  }
  const body = (await res.json().catch(() => ({}))) as { dedup_key?: unknown };
  if (res.status === 202) return { dedupKey: typeof body.dedup_key === "string" ? body.dedup_key : dedupKey };
  if (res.status === 429 || res.status >= 500)
    throw new UnavailableError(`PagerDuty answered HTTP ${res.status}`, { details: { status: res.status } });
  throw new NotificationRejectedError(`PagerDuty refused the event (HTTP ${res.status})`, {
    details: { status: res.status },
  });
}
