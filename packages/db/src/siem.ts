/**
 * A worker streams a workspace's audit log to a SIEM the way it delivers a notification: it claims the subscription by
 * id (a lease with a fencing token — the workspace, endpoint and cursor come from the row, never from the job), reads
 * the stored audit records after the cursor, records the batch before sending it, and advances the cursor only on a
 * 2xx — every call presenting the lease (migrations/0032).
 */
import { sql as dsql } from "drizzle-orm";
import { z } from "zod";
import { WorkspaceIdSchema, type SiemSubscriptionId, type WorkspaceId } from "@praxa/core";
import type { Database } from "./client.js";
import type { RunKeyMaterial } from "./keys.js";
import { requireScope, type WorkspaceScope } from "./scope.js";
import { queryRows, queryScopedRows } from "./typed-query.js";

const num = z.union([z.number(), z.string()]).transform(Number);
const date = z.union([z.date(), z.string().transform((s) => new Date(s))]);
const bytes = z.instanceof(Buffer);

export const SIEM_FORMATS = ["jsonl", "splunk-hec", "datadog"] as const;
export type SiemFormat = (typeof SIEM_FORMATS)[number];

const ClaimRow = z.object({
  workspace_id: WorkspaceIdSchema,
  endpoint_url: z.string(),
  format: z.enum(SIEM_FORMATS),
  batch_max_events: z.number().int(),
  batch_max_bytes: z.number().int(),
  key_generation: z.number().int(),
  previous_signing: z.boolean(),
  hmac_enabled: z.boolean(),
  cursor_seq: num,
  inflight_from: num.nullable(),
  inflight_to: num.nullable(),
  inflight_webhook_id: z.string().nullable(),
  lease_token: z.uuid(),
  lease_expires_at: date,
  failures: z.number().int(),
  failing_since: date.nullable(),
  test_requested: z.boolean(),
});

export interface SiemLease {
  readonly subscriptionId: SiemSubscriptionId;
  readonly token: string;
}

/** A claimed subscription: where and how to deliver, from where; nothing secret. */
export interface ClaimedSiemSubscription {
  readonly subscriptionId: SiemSubscriptionId;
  readonly workspaceId: WorkspaceId;
  readonly endpointUrl: string;
  readonly format: SiemFormat;
  readonly batchMaxEvents: number;
  readonly batchMaxBytes: number;
  readonly keyGeneration: number;
  /** A rotation's overlap: the previous generation's keys sign too. */
  readonly previousSigning: boolean;
  readonly hmacEnabled: boolean;
  /** The last seq the endpoint acknowledged. */
  readonly cursorSeq: number;
  /** The batch recorded before a send that was not acknowledged: it is resent as it was, under the same id. */
  readonly inflight: { readonly from: number; readonly to: number; readonly webhookId: string } | null;
  readonly failures: number;
  readonly failingSince: Date | null;
  readonly testRequested: boolean;
  readonly lease: SiemLease;
}

/** Claim a subscription; null if it is not claimable (not active, not due, or held under a live lease). */
export async function claimSiemSubscription(
  database: Database,
  subscriptionId: SiemSubscriptionId,
  holder: string,
  leaseSeconds: number,
): Promise<ClaimedSiemSubscription | null> {
  const [r] = await queryRows(
    database,
    ClaimRow,
    dsql`select * from public.siem_claim(${subscriptionId}, ${holder}, ${leaseSeconds})`,
  );
  if (!r) return null;
  return {
    subscriptionId,
    workspaceId: r.workspace_id,
    endpointUrl: r.endpoint_url,
    format: r.format,
    batchMaxEvents: r.batch_max_events,
    batchMaxBytes: r.batch_max_bytes,
    keyGeneration: r.key_generation,
    previousSigning: r.previous_signing,
    hmacEnabled: r.hmac_enabled,
    cursorSeq: r.cursor_seq,
    inflight:
      r.inflight_from !== null && r.inflight_to !== null && r.inflight_webhook_id !== null
        ? { from: r.inflight_from, to: r.inflight_to, webhookId: r.inflight_webhook_id }
        : null,
    failures: r.failures,
    failingSince: r.failing_since,
    testRequested: r.test_requested,
    lease: { subscriptionId, token: r.lease_token },
  };
}

/** Extend the lease; answers the milliseconds it now runs for. Throws LeaseLostError when lost or no longer active. */
export async function renewSiemLease(scope: WorkspaceScope, lease: SiemLease, leaseSeconds: number): Promise<number> {
  const [r] = await queryScopedRows(
    scope,
    z.object({ ms: num }),
    dsql`select public.siem_renew(${lease.subscriptionId}, ${lease.token}::uuid, ${leaseSeconds}) as ms`,
  );
  return r?.ms ?? 0;
}

const EventRow = z.object({
  seq: num,
  workspace_id: z.string(),
  prev_hash: z.string(),
  hash: z.string(),
  key_id: z.string(),
  signature: z.string(),
  canonical: bytes,
  occurred_at: date,
});
/** One stored audit record, exactly as the chain holds it. */
export type SiemEventRow = z.infer<typeof EventRow>;

/** Under the lease: up to `limit` stored records after `afterSeq` (which may not be before the cursor), in seq order. */
export async function readSiemEvents(
  scope: WorkspaceScope,
  lease: SiemLease,
  afterSeq: number,
  limit: number,
): Promise<SiemEventRow[]> {
  return queryScopedRows(
    scope,
    EventRow,
    dsql`select * from public.siem_read_events(${lease.subscriptionId}, ${lease.token}::uuid, ${afterSeq}, ${limit})`,
  );
}

/** Under the lease: record the batch about to be sent (idempotent for the batch already in flight). */
export async function beginSiemBatch(
  scope: WorkspaceScope,
  lease: SiemLease,
  batch: { readonly from: number; readonly to: number; readonly webhookId: string },
): Promise<void> {
  await requireScope(scope).execute(
    dsql`select public.siem_begin_batch(${lease.subscriptionId}, ${lease.token}::uuid, ${batch.from}, ${batch.to}, ${batch.webhookId})`,
  );
}

/** Under the lease: the endpoint acknowledged the batch in flight (ending at `to`). */
export async function ackSiemBatch(scope: WorkspaceScope, lease: SiemLease, to: number, status: number): Promise<void> {
  await requireScope(scope).execute(
    dsql`select public.siem_ack(${lease.subscriptionId}, ${lease.token}::uuid, ${to}, ${status})`,
  );
}

/** Under the lease: a requested test delivery was attempted; its result is an HTTP status or an error code. */
export async function recordSiemTest(scope: WorkspaceScope, lease: SiemLease, result: string): Promise<void> {
  await requireScope(scope).execute(
    dsql`select public.siem_test_done(${lease.subscriptionId}, ${lease.token}::uuid, ${result})`,
  );
}

export interface SiemFailure {
  readonly code: string;
  readonly status: number | null;
  readonly retryAfterMs: number;
  /** 410 Gone: disable now. */
  readonly disable: boolean;
  /** Disable when failing for this long (the operator's setting). */
  readonly maxFailingSeconds: number;
}

/**
 * Under the lease: record a failed attempt and release the lease; answers whether the subscription was disabled, and
 * the `siem.disabled` notifications recorded for the workspace's channels when it was.
 */
export async function failSiemAttempt(
  scope: WorkspaceScope,
  lease: SiemLease,
  f: SiemFailure,
): Promise<{ disabled: boolean; reason: string | null; notificationIds: string[] }> {
  const [r] = await queryScopedRows(
    scope,
    z
      .object({ disabled: z.boolean(), reason: z.string().nullable(), notification_ids: z.array(z.string()) })
      .transform((x) => ({ disabled: x.disabled, reason: x.reason, notificationIds: x.notification_ids })),
    dsql`select * from public.siem_fail(${lease.subscriptionId}, ${lease.token}::uuid, ${f.code}, ${f.status},
      ${Math.max(0, Math.round(f.retryAfterMs))}, ${f.disable}, ${f.maxFailingSeconds})`,
  );
  return r ?? { disabled: false, reason: null, notificationIds: [] };
}

/** Under the lease: done for now; the lease is released. */
export async function releaseSiemLease(scope: WorkspaceScope, lease: SiemLease): Promise<void> {
  await requireScope(scope).execute(dsql`select public.siem_release(${lease.subscriptionId}, ${lease.token}::uuid)`);
}

const SecretRow = z.object({
  name: z.string(),
  ciphertext: bytes,
  key_id: z.string(),
  provider: z.string(),
  purpose: z.string(),
});
export type SiemSecret = z.infer<typeof SecretRow>;

/** Under the lease: the subscription's sealed secrets (signing keys, whsec_, the format's credential). */
export async function siemSecrets(scope: WorkspaceScope, lease: SiemLease): Promise<SiemSecret[]> {
  return queryScopedRows(
    scope,
    SecretRow,
    dsql`select * from public.siem_secrets(${lease.subscriptionId}, ${lease.token}::uuid)`,
  );
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

/** Under the lease: the workspace's wrapped private keys (newest first) to open those secrets with. */
export async function siemWorkspaceKeys(scope: WorkspaceScope, lease: SiemLease): Promise<RunKeyMaterial[]> {
  return queryScopedRows(
    scope,
    KeyRow,
    dsql`select * from public.siem_workspace_keys(${lease.subscriptionId}, ${lease.token}::uuid)`,
  );
}

/** The monitor's sweep: subscriptions with work due and no live lease, across workspaces. */
export async function listDueSiemSubscriptions(
  database: Database,
  limit: number,
): Promise<{ subscription_id: string; workspace_id: string }[]> {
  return queryRows(
    database,
    z.object({ subscription_id: z.string(), workspace_id: z.string() }),
    dsql`select * from public.monitor_siem_due(${limit})`,
  );
}

/** Retention's floor (issue #22): the lowest seq an active or paused subscription has not acknowledged, or null. */
export async function siemRetentionFloor(database: Database, workspaceId: WorkspaceId): Promise<number | null> {
  const [r] = await queryRows(
    database,
    z.object({ floor: num.nullable() }),
    dsql`select app.siem_retention_floor(${workspaceId}) as floor`,
  );
  return r?.floor ?? null;
}
