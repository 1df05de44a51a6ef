/**
 * The `notification` job: deliver one notification (a Skill paused or resumed) to one channel. The job carries only
 * the notification id. Like a run: the worker claims it (a lease with a fencing token; workspace, channel and message
 * come from the rows), reads the channel's sealed secret and opens it under that lease (a PagerDuty routing key, the
 * Slack bot token; email needs none), delivers, and records the outcome under the lease. Each channel is its own job,
 * so one channel down never holds the others back; a retryable failure goes back to pending and BullMQ retries it with
 * backoff; a refusal (bad routing key, unknown channel, SMTP 5xx) or the last attempt marks it failed.
 * Delivery is at least once: a lease lost mid-delivery can repeat a message (PagerDuty dedups on the pause's key).
 */
import { isPraxaError, PraxaError, type NotificationId } from "@praxa/core";
import {
  decodeSlackBotTokenRecord,
  encodeSlackBotTokenRecord,
  NotificationRejectedError,
  postSlackNotice,
  refreshSlackBotToken,
  sendNoticeEmail,
  sendPagerDutyEvent,
  SLACK_BOT_TOKEN_PURPOSE,
  type Notice,
  type SlackAppConfig,
  type SmtpRelay,
} from "@praxa/connectors";
import { sealCredential, type KeyProvider } from "@praxa/crypto";
import {
  claimNotification,
  finishNotification,
  notificationSecret,
  notificationWorkspaceKeys,
  vaultPutSecret,
  withWorkspace,
  workspacePublicKey,
  type ClaimedNotification,
  type Database,
  type NotificationLease,
  type NotificationSecret,
  type WorkspaceScope,
} from "@praxa/db";
import { recordNotification, type Logger } from "@praxa/observability";
import { parseJobData, UnrecoverableError, type Job } from "@praxa/queue";
import { openSealedRecord } from "./credentials.js";

export interface NotificationChannelsConfig {
  /** The platform's SMTP relay; without one, email channels fail (refused, not retried). */
  readonly smtp: SmtpRelay | null;
  readonly pagerDutyEventsUrl: string;
  readonly slack: {
    /** `https://slack.com` (SLACK_BASE_URL) or the sandbox; the Web API is under `/api/`. */
    readonly baseUrl: string;
    /** The Slack app's OAuth client, to refresh a rotating bot token near its expiry; null: no refresh. */
    readonly app: SlackAppConfig | null;
  };
  /** The clock, for token expiry (default Date.now). */
  readonly now?: () => number;
}

/** A rotating bot token this close to its expiry is refreshed first (as a run does). */
export const SLACK_NOTIFY_REFRESH_MARGIN_MS = 5 * 60_000;

export interface NotificationJobDeps {
  readonly database: Database;
  readonly provider: KeyProvider;
  /** This worker, for the lease (`host:pid`). */
  readonly holder: string;
  readonly channels: NotificationChannelsConfig;
  readonly log: Logger;
  readonly leaseSeconds?: number;
}

export type NotificationJobResult =
  | { readonly outcome: "delivered"; readonly kind: ClaimedNotification["kind"]; readonly attempt: number }
  | { readonly outcome: "not_claimable" };

class ChannelUnconfiguredError extends PraxaError {
  readonly code = "CHANNEL_UNCONFIGURED";
  readonly httpStatus = 500;
}

function noticeOf(n: ClaimedNotification): Notice {
  if (n.event === "siem.disabled")
    return {
      event: n.event,
      workspaceId: n.workspaceId,
      subscription: { id: n.siem.subscriptionId, endpointHost: n.siem.endpointHost, format: n.siem.format },
      reason: n.siem.reason,
      disabledAt: n.siem.disabledAt,
    };
  return { event: n.event, workspaceId: n.workspaceId, skill: n.skill, ...n.pause };
}

/** PagerDuty's dedup key: a pause's incident key; for a disabled stream, one incident per disabling. */
function dedupKeyOf(n: ClaimedNotification): string {
  return n.event === "siem.disabled"
    ? `praxa/siem/${n.siem.subscriptionId}/${n.siem.disabledAt.getTime()}`
    : n.pause.incidentKey;
}

async function deliver(deps: NotificationJobDeps, n: ClaimedNotification, secret: string | null): Promise<void> {
  const notice = noticeOf(n);
  if (n.kind === "email") {
    if (!deps.channels.smtp) throw new ChannelUnconfiguredError("no SMTP relay is configured (PRAXA_SMTP_URL)");
    await sendNoticeEmail(deps.channels.smtp, n.target, notice);
    return;
  }
  if (!secret) throw new NotificationRejectedError(`the ${n.kind} channel has no credential in the vault`);
  if (n.kind === "pagerduty")
    await sendPagerDutyEvent(
      { eventsUrl: deps.channels.pagerDutyEventsUrl, routingKey: secret },
      notice,
      dedupKeyOf(n),
    );
  else
    await postSlackNotice(
      { apiUrl: `${deps.channels.slack.baseUrl.replace(/\/+$/, "")}/api/`, botToken: secret, channel: n.target },
      notice,
    );
}

/**
 * Open the channel's secret under the lease, in one transaction that holds its vault row locked. A Slack record is the
 * bot token (with rotation, and its refresh token): near its expiry it is refreshed and the new pair stored before the
 * lock is released, exactly as a run's refresh does — the two serialize on the row.
 */
async function openChannelSecret(
  deps: NotificationJobDeps,
  scope: WorkspaceScope,
  n: ClaimedNotification,
): Promise<string | null> {
  const record: NotificationSecret | null = await notificationSecret(scope, n.lease);
  if (!record) return null;
  const lease: NotificationLease = n.lease;
  const plaintext = Buffer.from(
    await openSealedRecord(deps.provider, scope, record, () => notificationWorkspaceKeys(scope, lease)),
  ).toString("utf8");
  if (n.kind !== "slack") return plaintext;
  const bot = decodeSlackBotTokenRecord(plaintext);
  const now = (deps.channels.now ?? Date.now)();
  const fresh = record.expires_at === null || record.expires_at.getTime() - now > SLACK_NOTIFY_REFRESH_MARGIN_MS;
  if (fresh || bot.refreshToken === null || !deps.channels.slack.app) return bot.botToken;
  const pub = await workspacePublicKey(scope);
  if (!pub) return bot.botToken;
  const refreshed = await refreshSlackBotToken(deps.channels.slack.app, bot.refreshToken, now);
  const sealed = await sealCredential(
    { keyId: pub.keyId, publicKey: pub.publicKey },
    { workspaceId: scope.workspaceId, provider: "slack", purpose: SLACK_BOT_TOKEN_PURPOSE },
    encodeSlackBotTokenRecord({ botToken: refreshed.botToken, refreshToken: refreshed.refreshToken }),
  );
  await vaultPutSecret(scope, {
    name: record.name,
    provider: "slack",
    purpose: SLACK_BOT_TOKEN_PURPOSE,
    ciphertext: Buffer.from(sealed),
    keyId: pub.keyId,
    expiresAt: refreshed.expiresAt,
  });
  return refreshed.botToken;
}

/** Retry only what says it may be retried, and what we do not know (a database blip, a bug surfaced as a throw). */
function retryable(err: unknown): boolean {
  return isPraxaError(err) ? err.retryable : true;
}

/**
 * Claim and deliver one notification. `final` says this is the queue's last attempt (then a retryable failure is
 * recorded as failed). Throws on failure so the queue retries; a non-retryable failure is a PraxaError with
 * `retryable: false` (the processor below turns it into BullMQ's UnrecoverableError).
 */
export async function runNotificationJob(
  deps: NotificationJobDeps,
  notificationId: NotificationId,
  attempt: { readonly final: boolean },
): Promise<NotificationJobResult> {
  const n = await claimNotification(deps.database, notificationId, deps.holder, deps.leaseSeconds ?? 60);
  if (!n) return { outcome: "not_claimable" };
  const ctx = { notificationId, workspaceId: n.workspaceId, kind: n.kind, event: n.event, attempt: n.attempt };
  try {
    const secret =
      n.kind === "email"
        ? null
        : await withWorkspace(deps.database, n.workspaceId, (scope) => openChannelSecret(deps, scope, n));
    await deliver(deps, n, secret);
  } catch (err) {
    const again = retryable(err) && !attempt.final;
    const code = isPraxaError(err) ? err.code : "INTERNAL";
    try {
      await withWorkspace(deps.database, n.workspaceId, (scope) =>
        finishNotification(scope, n.lease, again ? "retry" : "failed", code),
      );
    } catch (finishErr) {
      deps.log.warn(
        { ...ctx, code: "NOTIFICATION_FINISH_FAILED", err: finishErr },
        "could not record the attempt; the lease will expire",
      );
    }
    recordNotification({ channel: n.kind, outcome: again ? "retry" : "failed" });
    deps.log.warn(
      { ...ctx, code, retry: again },
      again ? "notification attempt failed; will retry" : "notification failed",
    );
    if (!again && retryable(err))
      throw new NotificationRejectedError("the last attempt failed", { cause: err, details: { code } });
    throw err;
  }
  await withWorkspace(deps.database, n.workspaceId, (scope) => finishNotification(scope, n.lease, "delivered"));
  recordNotification({ channel: n.kind, outcome: "sent" });
  deps.log.info({ ...ctx, code: "NOTIFICATION_DELIVERED" }, "notification delivered");
  return { outcome: "delivered", kind: n.kind, attempt: n.attempt };
}

/**
 * The BullMQ processor for the `notifications` queue (what apps/worker main.ts wires). The job's data is parsed
 * against the catalog; a failure that must not be retried becomes UnrecoverableError here, in the queue adapter.
 */
export function createNotificationProcessor(deps: NotificationJobDeps): (job: Job) => Promise<NotificationJobResult> {
  return async (job) => {
    const { notificationId } = parseJobData("notification", job.data);
    const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    try {
      return await runNotificationJob(deps, notificationId as NotificationId, { final });
    } catch (err) {
      if (isPraxaError(err) && !err.retryable) throw new UnrecoverableError(err.code);
      throw err;
    }
  };
}
