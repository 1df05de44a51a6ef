/**
 * What a notification channel's answer means for the executor: `NotificationRejectedError` — the destination refused
 * the message for good (a bad PagerDuty routing key, a Slack channel the bot is not in, an SMTP 5xx): do not retry;
 * `UnavailableError` (core) — an outage, a timeout, a rate limit: retry with backoff.
 */
import { PraxaError } from "@praxa/core";

export class NotificationRejectedError extends PraxaError {
  readonly code = "NOTIFICATION_REJECTED";
  readonly httpStatus = 502;
}
