/**
 * The `siem` job: one delivery pass of a workspace's audit stream to a customer's SIEM. The job carries only the
 * subscription id. Like a notification: the worker claims the subscription (a lease with a fencing token in Postgres —
 * one delivery stream per subscription at a time, whatever the number of processes), opens its sealed secrets under
 * that lease (the Ed25519 signing key, an optional whsec_, the Splunk token or Datadog key), then, batch after batch:
 *   1. renews the lease and bounds the request by what the lease has left, so a request never outlives its lease;
 *   2. resends the batch in flight if there is one (same range, same webhook-id), else reads the stored records after
 *      the cursor (≤ batch_max_events, ≤ batch_max_bytes) and records the batch BEFORE sending it;
 *   3. signs (Standard Webhooks, v1a first; v1 when the customer asked for it) with a fresh timestamp and sends it
 *      through the egress guard;
 *   4. on a 2xx advances the cursor; on 410 disables the subscription; on anything else records the failure with the
 *      endpoint's Retry-After (429/503) or an exponential backoff with full jitter, and stops — the monitor's sweep
 *      enqueues the next pass once it is due. Failing for longer than the configured time disables the subscription.
 *      Disabling records a `siem.disabled` notification per channel of the workspace (the notification outbox).
 * Delivery is at least once: a worker killed after sending and before the acknowledgement leaves the batch in flight;
 * the next holder resends exactly it, under the same webhook-id, so the receiver can drop the duplicate.
 */
import {
  buildSiemBatch,
  sendSiemRequest,
  siemBackoffMs,
  siemControlBody,
  siemPrivateKey,
  type SiemOutcome,
  type SiemSigners,
  type SiemStoredEvent,
} from "@praxa/connectors";
import { isPraxaError, LeaseLostError, newId, type SiemSubscriptionId } from "@praxa/core";
import type { KeyProvider } from "@praxa/crypto";
import {
  ackSiemBatch,
  beginSiemBatch,
  claimSiemSubscription,
  failSiemAttempt,
  readSiemEvents,
  recordSiemTest,
  releaseSiemLease,
  renewSiemLease,
  siemSecrets,
  siemWorkspaceKeys,
  withWorkspace,
  type ClaimedSiemSubscription,
  type AuditWriter,
  type Database,
  type SiemLease,
  type WorkspaceScope,
} from "@praxa/db";
import type { EgressOptions, EgressPolicy } from "@praxa/egress";
import type { Logger } from "@praxa/observability";
import { parseJobData, type Job } from "@praxa/queue";
import { openSealedRecord } from "./credentials.js";

export interface SiemDeliverySettings {
  readonly egress: EgressPolicy;
  readonly egressOptions?: EgressOptions;
  /** The subscription's lease (renewed before every send). Must exceed the egress timeout. */
  readonly leaseSeconds: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** A subscription failing for longer than this is disabled and the workspace is told. */
  readonly maxFailingSeconds: number;
  /** Batches one pass sends before it lets another subscription have the worker. */
  readonly maxBatchesPerPass: number;
}

export const DEFAULT_SIEM_DELIVERY: Omit<SiemDeliverySettings, "egress"> = {
  leaseSeconds: 30,
  retryBaseMs: 1_000,
  retryMaxMs: 10 * 60_000,
  maxFailingSeconds: 24 * 3600,
  maxBatchesPerPass: 50,
};

export interface SiemDeliveryDeps {
  readonly database: Database;
  readonly provider: KeyProvider;
  /** This worker, for the lease (`host:pid`). */
  readonly holder: string;
  readonly log: Logger;
  readonly siem: SiemDeliverySettings;
  /**
   * Called when a subscription is disabled (410, or failing too long), with the `siem.disabled` notifications recorded
   * for the workspace's channels in the same transaction: main enqueues them (the outbox reconciler would anyway).
   */
  readonly onDisabled?: (s: {
    subscriptionId: string;
    workspaceId: string;
    reason: string;
    notificationIds: readonly string[];
  }) => Promise<void>;
  /** Where the disabling is recorded in the workspace's own audit log (`siem.disabled`; the stream carries it on resume). */
  readonly auditWriter?: Pick<AuditWriter, "append">;
  readonly now?: () => number;
}

export type SiemDeliveryResult =
  | { readonly outcome: "not_claimable" }
  | { readonly outcome: "caught_up" | "budget_spent"; readonly batches: number; readonly events: number }
  | { readonly outcome: "retry_later"; readonly code: string; readonly batches: number; readonly events: number }
  | { readonly outcome: "disabled"; readonly reason: string; readonly batches: number; readonly events: number }
  | { readonly outcome: "lease_lost"; readonly batches: number; readonly events: number };

/** The request may use what the lease has left, less this margin for recording the answer. */
const LEASE_MARGIN_MS = 1_000;

interface OpenedSecrets {
  readonly signers: SiemSigners;
  readonly credential: string | null;
}

/** Open the subscription's secrets under the lease; the plaintext lives only for this pass. */
async function openSecrets(deps: SiemDeliveryDeps, s: ClaimedSiemSubscription): Promise<OpenedSecrets> {
  return withWorkspace(deps.database, s.workspaceId, async (scope) => {
    const rows = await siemSecrets(scope, s.lease);
    const opened = new Map<string, Uint8Array>();
    for (const row of rows)
      opened.set(row.name, await openSealedRecord(deps.provider, scope, row, () => siemWorkspaceKeys(scope, s.lease)));
    const name = (kind: string, gen?: number) =>
      `siem/${s.subscriptionId}/${kind}${gen === undefined ? "" : `/${gen}`}`;
    const gens = s.previousSigning ? [s.keyGeneration, s.keyGeneration - 1] : [s.keyGeneration];
    const ed25519 = gens.flatMap((g) => {
      const k = opened.get(name("ed25519", g));
      return k ? [siemPrivateKey(k)] : [];
    });
    const hmac = s.hmacEnabled
      ? gens.flatMap((g) => {
          const k = opened.get(name("hmac", g));
          return k ? [Buffer.from(k).toString("utf8")] : [];
        })
      : [];
    const cred = opened.get(name("credential"));
    return { signers: { ed25519, hmac }, credential: cred ? Buffer.from(cred).toString("utf8") : null };
  });
}

function webhookIdFor(subscriptionId: string, from: number, to: number): string {
  return `msg_${subscriptionId}_${from}_${to}`;
}

/** Claim the subscription and deliver until caught up, a failure, or the pass's budget. */
export async function runSiemDelivery(
  deps: SiemDeliveryDeps,
  subscriptionId: SiemSubscriptionId,
): Promise<SiemDeliveryResult> {
  const cfg = deps.siem;
  const now = deps.now ?? Date.now;
  const s = await claimSiemSubscription(deps.database, subscriptionId, deps.holder, cfg.leaseSeconds);
  if (!s) return { outcome: "not_claimable" };
  const ctx = { subscriptionId, workspaceId: s.workspaceId, format: s.format };
  const lease: SiemLease = s.lease;
  const inScope = <T>(fn: (scope: WorkspaceScope) => Promise<T>): Promise<T> =>
    withWorkspace(deps.database, s.workspaceId, fn);
  let batches = 0;
  let events = 0;
  let cursor = s.cursorSeq;
  let inflight = s.inflight;
  let failures = s.failures;
  try {
    const secrets = await openSecrets(deps, s);
    if (secrets.signers.ed25519.length === 0) throw new LeaseLostError("the subscription's signing key is gone");

    const send = async (webhookId: string, body: Buffer): Promise<SiemOutcome> => {
      const remainingMs = await inScope((scope) => renewSiemLease(scope, lease, cfg.leaseSeconds));
      return sendSiemRequest(
        {
          url: s.endpointUrl,
          format: s.format,
          credential: secrets.credential,
          webhookId,
          timestamp: Math.floor(now() / 1000),
          body,
          signers: secrets.signers,
        },
        cfg.egress,
        { ...cfg.egressOptions, timeoutMs: Math.max(100, remainingMs - LEASE_MARGIN_MS), now },
      );
    };

    if (s.testRequested) {
      const body = siemControlBody(
        s.format,
        { type: "praxa.siem.test", subscription_id: subscriptionId, sent_at: new Date(now()).toISOString() },
        new Date(now()),
      );
      const out = await send(`msg_${subscriptionId}_test_${now()}`, body);
      const result =
        out.kind === "retry" ? (out.status === null ? out.code : `HTTP_${out.status}`) : `HTTP_${out.status}`;
      await inScope((scope) => recordSiemTest(scope, lease, result));
    }

    while (batches < cfg.maxBatchesPerPass) {
      const planned = await inScope(async (scope) => {
        if (inflight) {
          const rows = await readSiemEvents(scope, lease, cursor, Math.min(1000, inflight.to - cursor));
          const within: SiemStoredEvent[] = rows.filter((r) => r.seq <= (inflight?.to ?? 0));
          const batch = buildSiemBatch(s.format, within, within.length, Number.MAX_SAFE_INTEGER);
          return { webhookId: inflight.webhookId, to: inflight.to, body: batch?.body ?? null, count: within.length };
        }
        const rows = await readSiemEvents(scope, lease, cursor, s.batchMaxEvents);
        const batch = buildSiemBatch(s.format, rows, s.batchMaxEvents, s.batchMaxBytes);
        if (!batch) return null;
        const webhookId = webhookIdFor(subscriptionId, batch.from, batch.to);
        await beginSiemBatch(scope, lease, { from: batch.from, to: batch.to, webhookId });
        inflight = { from: batch.from, to: batch.to, webhookId };
        return { webhookId, to: batch.to, body: batch.body, count: batch.count };
      });
      if (!planned) {
        await inScope((scope) => releaseSiemLease(scope, lease));
        return { outcome: "caught_up", batches, events };
      }
      // A batch in flight whose events retention removed since: nothing left to send, it is acknowledged as it is.
      const outcome: SiemOutcome = planned.body
        ? await send(planned.webhookId, planned.body)
        : { kind: "acknowledged", status: 204, responseBody: Buffer.alloc(0) };
      if (outcome.kind === "acknowledged") {
        await inScope((scope) => ackSiemBatch(scope, lease, planned.to, outcome.status));
        cursor = planned.to;
        inflight = null;
        failures = 0;
        batches++;
        events += planned.count;
        continue;
      }
      const code = outcome.kind === "gone" ? "ENDPOINT_GONE" : outcome.code;
      const retryAfterMs =
        outcome.kind === "retry" && outcome.retryAfterMs !== null
          ? outcome.retryAfterMs
          : siemBackoffMs(failures, cfg.retryBaseMs, cfg.retryMaxMs);
      const failed = await inScope((scope) =>
        failSiemAttempt(scope, lease, {
          code,
          status: outcome.status,
          retryAfterMs,
          disable: outcome.kind === "gone",
          maxFailingSeconds: cfg.maxFailingSeconds,
        }),
      );
      deps.log.warn(
        { ...ctx, code, status: outcome.status, retryAfterMs, disabled: failed.disabled },
        failed.disabled ? "SIEM subscription disabled" : "SIEM delivery failed; will retry",
      );
      if (failed.disabled) {
        const reason = failed.reason ?? code;
        await deps.auditWriter?.append(s.workspaceId, [
          {
            auditEventId: newId("auditEvent"),
            kind: "siem.disabled",
            skillId: null,
            runId: null,
            trigger: "siem.delivery",
            input: { subscription_id: subscriptionId, last_error_code: code, last_status: outcome.status },
            reasoning: [],
            alternatives: [],
            confidence: null,
            output: { status: "disabled", reason, cursor_seq: cursor },
            tools_used: [],
            duration_ms: 0,
            occurred_at: new Date(now()).toISOString(),
          },
        ]);
        await deps.onDisabled?.({
          subscriptionId,
          workspaceId: s.workspaceId,
          reason,
          notificationIds: failed.notificationIds,
        });
        return { outcome: "disabled", reason, batches, events };
      }
      return { outcome: "retry_later", code, batches, events };
    }
    await inScope((scope) => releaseSiemLease(scope, lease));
    return { outcome: "budget_spent", batches, events };
  } catch (err) {
    if (err instanceof LeaseLostError) {
      // Paused, disabled or deleted by the api meanwhile, or the lease was taken over: stop; nothing more is sent.
      await inScope((scope) => releaseSiemLease(scope, lease)).catch(() => undefined);
      deps.log.info({ ...ctx, code: "SIEM_LEASE_LOST", batches }, "SIEM delivery stopped: lease lost or not active");
      return { outcome: "lease_lost", batches, events };
    }
    // Anything else (the database, a secret that will not open): recorded as a failed attempt so it backs off.
    const code = isPraxaError(err) ? err.code : "INTERNAL";
    await inScope((scope) =>
      failSiemAttempt(scope, lease, {
        code,
        status: null,
        retryAfterMs: siemBackoffMs(failures, cfg.retryBaseMs, cfg.retryMaxMs),
        disable: false,
        maxFailingSeconds: cfg.maxFailingSeconds,
      }),
    ).catch(() => undefined);
    deps.log.warn({ ...ctx, code, err }, "SIEM delivery pass failed");
    throw err;
  }
}

/** The BullMQ processor for the `siem` queue (what apps/worker main.ts wires). */
export function createSiemDeliveryProcessor(deps: SiemDeliveryDeps): (job: Job) => Promise<SiemDeliveryResult> {
  return async (job) => {
    const { subscriptionId } = parseJobData("siem", job.data);
    return runSiemDelivery(deps, subscriptionId as SiemSubscriptionId);
  };
}
