/**
 * A worker delivers a notification the way it runs a run: it claims it by id (a lease with a fencing token — the
 * workspace, channel and message come from the rows, never from the job), reads the channel's sealed secret and the
 * key material to open it under that lease, and records the outcome under it (migrations/0014).
 */
import { sql as dsql } from "drizzle-orm";
import { z } from "zod";
import { SkillIdSchema, WorkspaceIdSchema, type NotificationId, type WorkspaceId } from "@praxa/core";
import type { Database } from "./client.js";
import { requireScope, type WorkspaceScope } from "./scope.js";
import { queryRows, queryScopedRows } from "./typed-query.js";

const num = z.union([z.number(), z.string()]).transform(Number);
const date = z.union([z.date(), z.string().transform((s) => new Date(s))]);
const bytes = z.instanceof(Buffer);

const ClaimRow = z.object({
  workspace_id: WorkspaceIdSchema,
  channel_id: z.string(),
  kind: z.enum(["slack", "email", "pagerduty"]),
  target: z.string(),
  event: z.enum(["skill.paused", "skill.resumed", "siem.disabled"]),
  attempts: z.number().int(),
  lease_token: z.uuid(),
  lease_expires_at: date,
  skill_id: SkillIdSchema.nullable(),
  skill_slug: z.string().nullable(),
  skill_name: z.string().nullable(),
  cause: z.enum(["acceptance", "manual"]).nullable(),
  reason: z.string().nullable(),
  rate: num.nullable(),
  threshold: num.nullable(),
  decided: z.number().int().nullable(),
  incident_key: z.string().nullable(),
  paused_at: date.nullable(),
  resumed_by: z.string().nullable(),
  resume_reason: z.string().nullable(),
  siem_subscription_id: z.string().nullable(),
  siem_reason: z.string().nullable(),
  siem_endpoint_url: z.string().nullable(),
  siem_format: z.string().nullable(),
  created_at: date,
});

export interface NotificationLease {
  readonly notificationId: NotificationId;
  readonly token: string;
  readonly expiresAt: Date;
}

/** What a claimed notification says and where it goes; nothing secret. */
export type ClaimedNotification = ClaimedNotificationBase &
  (
    | {
        readonly event: "skill.paused" | "skill.resumed";
        readonly skill: { readonly id: string; readonly slug: string; readonly name: string };
        readonly pause: {
          readonly cause: "acceptance" | "manual";
          readonly reason: string;
          readonly rate: number | null;
          readonly threshold: number | null;
          readonly decided: number | null;
          /** PagerDuty's dedup_key: the same for this pause's trigger, its retries and its resolve. */
          readonly incidentKey: string;
          readonly pausedAt: Date;
          readonly resumedBy: string | null;
          readonly resumeReason: string | null;
        };
      }
    | {
        /** A SIEM stream the worker disabled (migrations/0032). */
        readonly event: "siem.disabled";
        readonly siem: {
          readonly subscriptionId: string;
          readonly reason: string;
          /** The endpoint's host only (a path or query may carry a token). */
          readonly endpointHost: string;
          readonly format: string;
          readonly disabledAt: Date;
        };
      }
  );

interface ClaimedNotificationBase {
  readonly notificationId: NotificationId;
  readonly workspaceId: WorkspaceId;
  readonly channelId: string;
  readonly kind: "slack" | "email" | "pagerduty";
  /** Slack channel id or email address (a PagerDuty channel's routing key is its secret). */
  readonly target: string;
  readonly attempt: number;
  readonly lease: NotificationLease;
}

function hostOf(url: string | null): string {
  try {
    return url ? new URL(url).host : "";
  } catch {
    return "";
  }
}

/** Claim a notification; null if it is not claimable (delivered, failed, or held under a live lease). */
export async function claimNotification(
  database: Database,
  notificationId: NotificationId,
  holder: string,
  leaseSeconds = 60,
): Promise<ClaimedNotification | null> {
  const [r] = await queryRows(
    database,
    ClaimRow,
    dsql`select * from public.notification_claim(${notificationId}, ${holder}, ${leaseSeconds})`,
  );
  if (!r) return null;
  const base: ClaimedNotificationBase = {
    notificationId,
    workspaceId: r.workspace_id,
    channelId: r.channel_id,
    kind: r.kind,
    target: r.target,
    attempt: r.attempts,
    lease: { notificationId, token: r.lease_token, expiresAt: r.lease_expires_at },
  };
  if (r.event === "siem.disabled") {
    if (!r.siem_subscription_id || !r.siem_reason)
      throw new RangeError("a siem.disabled notification names its stream");
    return {
      ...base,
      event: r.event,
      siem: {
        subscriptionId: r.siem_subscription_id,
        reason: r.siem_reason,
        endpointHost: hostOf(r.siem_endpoint_url),
        format: r.siem_format ?? "",
        disabledAt: r.created_at,
      },
    };
  }
  if (!r.skill_id || !r.skill_slug || !r.skill_name || !r.cause || r.reason === null || !r.incident_key || !r.paused_at)
    throw new RangeError("a Skill's notification names its Skill and pause");
  return {
    ...base,
    event: r.event,
    skill: { id: r.skill_id, slug: r.skill_slug, name: r.skill_name },
    pause: {
      cause: r.cause,
      reason: r.reason,
      rate: r.rate,
      threshold: r.threshold,
      decided: r.decided,
      incidentKey: r.incident_key,
      pausedAt: r.paused_at,
      resumedBy: r.resumed_by,
      resumeReason: r.resume_reason,
    },
  };
}

const SecretRow = z.object({
  name: z.string(),
  ciphertext: bytes,
  key_id: z.string(),
  provider: z.string(),
  purpose: z.string(),
  expires_at: date.nullable(),
});
export type NotificationSecret = z.infer<typeof SecretRow>;

/** Under the lease: the channel's sealed secret (PagerDuty routing key, Slack bot token); null when it needs none. */
export async function notificationSecret(
  scope: WorkspaceScope,
  lease: NotificationLease,
): Promise<NotificationSecret | null> {
  const rows = await queryScopedRows(
    scope,
    SecretRow,
    dsql`select * from public.notification_secret(${lease.notificationId}, ${lease.token}::uuid)`,
  );
  return rows[0] ?? null;
}

const KeyRow = z.object({
  key_id: z.string(),
  status: z.enum(["active", "retired"]),
  public_key: bytes,
  wrapped_private_key: bytes,
  tenant_id: z.string(),
  tenant_key_id: z.string(),
  tenant_wrapped_key: bytes,
  kms_key_ref: z.string(),
});
export type NotificationKeyMaterial = z.infer<typeof KeyRow>;

/** Under the lease: the workspace's wrapped private keys (newest first) to open the secret with. */
export async function notificationWorkspaceKeys(
  scope: WorkspaceScope,
  lease: NotificationLease,
): Promise<NotificationKeyMaterial[]> {
  return queryScopedRows(
    scope,
    KeyRow,
    dsql`select * from public.notification_workspace_keys(${lease.notificationId}, ${lease.token}::uuid)`,
  );
}

/** Record the attempt's outcome and release the lease: delivered, retry (pending again) or failed (given up). */
export async function finishNotification(
  scope: WorkspaceScope,
  lease: NotificationLease,
  outcome: "delivered" | "retry" | "failed",
  errorCode: string | null = null,
): Promise<void> {
  await requireScope(scope).execute(
    dsql`select public.notification_finish(${lease.notificationId}, ${lease.token}::uuid, ${outcome}, ${errorCode})`,
  );
}
