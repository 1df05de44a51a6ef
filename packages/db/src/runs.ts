/**
 * Typed calls to the run pipeline's SECURITY DEFINER functions (migrations/0003). Rows are parsed with zod: the
 * database is a boundary too.
 */
import { sql as dsql } from "drizzle-orm";
import { z } from "zod";
import {
  InternalError,
  NotFoundError,
  RunIdSchema,
  WorkspaceIdSchema,
  type RunId,
  type WorkspaceId,
} from "@praxa/core";
import type { Database } from "./client.js";
import { requireScope, type WorkspaceScope } from "./scope.js";
import { mapDatabaseError } from "./pg-errors.js";
import { queryRows, queryScopedRows } from "./typed-query.js";

const date = z.union([z.date(), z.string().transform((s) => new Date(s))]);

// ── ingest ──────────────────────────────────────────────────────────────────────────────────────────────────────

const InstallationRow = z.object({
  workspace_id: WorkspaceIdSchema,
  integration_id: z.string(),
  status: z.enum(["active", "suspended", "revoked", "pending_confirmation"]),
  bot_identity: z.record(z.string(), z.unknown()),
});
export type ResolvedInstallation = z.infer<typeof InstallationRow>;

export async function resolveInstallation(
  database: Database,
  source: "github" | "slack",
  externalId: string,
): Promise<ResolvedInstallation | null> {
  const rows = await queryRows(
    database,
    InstallationRow,
    dsql`select * from public.ingest_resolve_installation(${source}, ${externalId})`,
  );
  return rows[0] ?? null;
}

const SubscribedRow = z.object({
  skill_id: z.string(),
  skill_version_id: z.string(),
  status: z.enum(["active", "paused"]),
});
export type SubscribedSkill = z.infer<typeof SubscribedRow>;

export async function subscribedSkills(
  database: Database,
  workspaceId: WorkspaceId,
  trigger: string,
): Promise<SubscribedSkill[]> {
  return queryRows(
    database,
    SubscribedRow,
    dsql`select * from public.ingest_subscribed_skills(${workspaceId}, ${trigger})`,
  );
}

export interface CreateRunsInput {
  readonly source: "github" | "slack" | "trigger";
  readonly deliveryId: string;
  readonly bodySha256: string;
  readonly workspaceId: WorkspaceId | null;
  readonly trigger: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly runs: readonly { readonly runId: RunId; readonly skillId: string }[];
  readonly notBefore?: Date;
  /** The integration the verified webhook resolved to (GitHub installation, Slack team), recorded on each run. */
  readonly integrationId?: string | null;
  /** The W3C `traceparent` of the ingest request, recorded on each new run (the worker continues the trace). */
  readonly traceparent?: string | null;
}

const CreateRunsRow = z.object({
  run_ids: z.array(RunIdSchema),
  statuses: z.array(
    z.enum(["queued", "running", "waiting_approval", "succeeded", "failed", "skipped", "cancelled", "denied"]),
  ),
  duplicate: z.boolean(),
  /** Per run: the dispatch whose job ingest should add now (≥ 1), or 0 when the run is the dispatcher's. */
  dispatch_seqs: z.array(z.number().int().min(0)),
});
export type CreatedRuns = z.infer<typeof CreateRunsRow>;

/**
 * Record a delivery and its runs atomically. A delivery seen before — GitHub and Slack: same delivery id or body
 * digest; signed producers: same (Skill, webhook-id) only — returns `duplicate` with its runs, and only when they are
 * the caller's workspace's: never another workspace's run ids.
 */
export async function createRunsForDelivery(database: Database, input: CreateRunsInput): Promise<CreatedRuns> {
  const runs = JSON.stringify(input.runs.map((r) => ({ run_id: r.runId, skill_id: r.skillId })));
  const rows = await queryRows(
    database,
    CreateRunsRow,
    dsql`select * from public.ingest_create_runs(${input.source}, ${input.deliveryId}, ${input.bodySha256}, ${input.workspaceId},
      ${input.trigger}, ${JSON.stringify(input.input)}::jsonb, ${runs}::jsonb, ${input.notBefore ? input.notBefore.toISOString() : null}::timestamptz,
      ${input.integrationId ?? null}::text, ${input.traceparent ?? null}::text)`,
  );
  const row = rows[0];
  if (!row) throw new InternalError("ingest_create_runs returned no row");
  return row;
}

/** A W3C traceparent (version 00): the only trace context a run row stores. */
export const TraceparentSchema = z.string().regex(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);

/**
 * One verified delivery for `ingest_accept_delivery` (migrations/0028): GitHub and Slack name their installation
 * (`externalId`), signed producers their verified workspace and Skill; `ignored` records a delivery that starts nothing.
 */
export type AcceptDeliveryInput = {
  readonly deliveryId: string;
  readonly bodySha256: string;
  readonly trigger: string;
  readonly input: Readonly<Record<string, unknown>>;
  /** Fresh run ids, one per subscribed Skill at most (fewer: the answer is `need_ids`). */
  readonly runIds: readonly RunId[];
  readonly traceparent?: string | null;
} & (
  | {
      readonly source: "github" | "slack";
      readonly externalId: string;
      /** The event's actor: an event of the installation's own bot starts nothing. */
      readonly actorLogin: string | null;
      readonly ignored?: undefined;
    }
  | {
      readonly source: "trigger";
      readonly workspaceId: WorkspaceId;
      readonly skillId: string;
      readonly ignored?: undefined;
      /** A declarative Skill's payload: the version ingest projected it for, and the projection sealed for the run. */
      readonly payload?: { readonly skillVersionId: string; readonly sealed: Uint8Array } | undefined;
    }
  | { readonly source: "github" | "slack" | "trigger"; readonly ignored: string }
);

const AcceptDeliveryRow = z.object({
  /** `accepted`, `need_ids`, or why nothing started (`unknown_installation`, `own_app`, `no_subscribed_skill`, …). */
  outcome: z.string().regex(/^[a-z_]{1,40}$/),
  workspace_id: WorkspaceIdSchema.nullable(),
  run_ids: z.array(RunIdSchema),
  statuses: z.array(
    z.enum(["queued", "running", "waiting_approval", "succeeded", "failed", "skipped", "cancelled", "denied"]),
  ),
  duplicate: z.boolean(),
  dispatch_seqs: z.array(z.number().int().min(0)),
  needed: z.number().int().min(0),
});
export type AcceptedDelivery = z.infer<typeof AcceptDeliveryRow>;

function acceptArgs(input: AcceptDeliveryInput): Record<string, unknown> {
  return {
    source: input.source,
    delivery_id: input.deliveryId,
    body_sha256: input.bodySha256,
    trigger: input.trigger,
    input: input.input,
    external_id: input.ignored === undefined && input.source !== "trigger" ? input.externalId : null,
    actor_login: input.ignored === undefined && input.source !== "trigger" ? input.actorLogin : null,
    workspace_id: input.ignored === undefined && input.source === "trigger" ? input.workspaceId : null,
    skill_id: input.ignored === undefined && input.source === "trigger" ? input.skillId : null,
    ignored: input.ignored ?? null,
    run_ids: input.runIds,
    traceparent:
      input.traceparent === undefined || input.traceparent === null ? null : TraceparentSchema.parse(input.traceparent),
    skill_version_id:
      input.ignored === undefined && input.source === "trigger" ? (input.payload?.skillVersionId ?? null) : null,
    payload_sealed:
      input.ignored === undefined && input.source === "trigger" && input.payload
        ? Buffer.from(input.payload.sealed).toString("base64")
        : null,
  };
}

/**
 * Many deliveries in one statement — one round trip and one commit (group commit: ingest's concurrent requests). Each
 * is placed by `ingest_accept_delivery` in order, seeing the ones before it. If one fails, the statement fails whole
 * and nothing of it is stored: the caller places them again one by one. Answers in input order.
 */
export async function acceptDeliveries(
  database: Database,
  inputs: readonly AcceptDeliveryInput[],
): Promise<AcceptedDelivery[]> {
  if (inputs.length === 0) return [];
  const batch = JSON.stringify(inputs.map(acceptArgs));
  // One row, the batch's answers aggregated in input order, sent only once every call has run: a statement that
  // streamed rows and then failed would leave postgres.js's row counter set for the connection's next query (a sparse
  // result; porsager/postgres#1119), and the writer's next query is that batch's deliveries placed one by one.
  const rows = await queryRows(
    database,
    z.object({ placed: z.array(AcceptDeliveryRow) }),
    dsql`select coalesce(jsonb_agg(to_jsonb(a) order by b.n), '[]'::jsonb) as placed
           from jsonb_array_elements(${batch}::jsonb) with ordinality b(d, n)
           cross join lateral public.ingest_accept_delivery(
             b.d ->> 'source', b.d ->> 'delivery_id', b.d ->> 'body_sha256', b.d ->> 'trigger', b.d -> 'input',
             b.d ->> 'external_id', b.d ->> 'actor_login', b.d ->> 'workspace_id', b.d ->> 'skill_id', b.d ->> 'ignored',
             array(select jsonb_array_elements_text(b.d -> 'run_ids')), b.d ->> 'traceparent',
             b.d ->> 'skill_version_id', pg_catalog.decode(b.d ->> 'payload_sealed', 'base64')) a`,
  );
  const placed = rows[0]?.placed ?? [];
  if (placed.length !== inputs.length)
    throw new InternalError("ingest_accept_delivery answered a different number of rows");
  return placed;
}

// ── worker ──────────────────────────────────────────────────────────────────────────────────────────────────────

const ClaimRow = z.object({
  outcome: z.enum(["claimed", "not_claimable", "not_yet", "gated", "capped"]),
  workspace_id: WorkspaceIdSchema.nullable(),
  skill_id: z.string().nullable(),
  skill_version_id: z.string().nullable(),
  trigger: z.string().nullable(),
  attempt: z.number().int().nullable(),
  lease_token: z.uuid().nullable(),
  lease_expires_at: date.nullable(),
  deferrals: z.number().int().nullable(),
});

export interface RunLease {
  readonly runId: RunId;
  readonly token: string;
  readonly expiresAt: Date;
}

export interface ClaimedRun {
  readonly runId: RunId;
  readonly workspaceId: WorkspaceId;
  readonly skillId: string;
  readonly skillVersionId: string;
  readonly trigger: string;
  readonly attempt: number;
  /** How many times a throttled resource gave the run back (those claims do not count as attempts). */
  readonly deferrals: number;
  readonly lease: RunLease;
}

/**
 * What a claim found (migrations/0027): the run is ours; or it is finished / held (`not_claimable`); or it was handed
 * back to the dispatcher because it is not due yet, a resource it needs is throttled (`gated`, with the time the gate
 * opens), or its workspace already runs its cap (`capped`).
 */
export type ClaimOutcome =
  | { readonly outcome: "claimed"; readonly run: ClaimedRun }
  | { readonly outcome: "not_claimable" }
  | { readonly outcome: "not_yet" | "gated"; readonly workspaceId: WorkspaceId; readonly until: Date }
  | { readonly outcome: "capped"; readonly workspaceId: WorkspaceId };

/**
 * Claim a run by id: the workspace, Skill version and trigger come from the run row. The workspace's cap is checked
 * in Postgres under a per-workspace lock, however many workers claim at once.
 */
export async function claimRunOutcome(
  database: Database,
  runId: RunId,
  workerId: string,
  leaseSeconds = 30,
): Promise<ClaimOutcome> {
  const rows = await queryRows(
    database,
    ClaimRow,
    dsql`select * from public.claim_run(${runId}, ${workerId}, ${leaseSeconds})`,
  );
  const r = rows[0];
  if (!r) throw new InternalError("claim_run returned no row");
  return claimOutcomeOf(runId, r);
}

function claimOutcomeOf(runId: RunId, r: z.infer<typeof ClaimRow>): ClaimOutcome {
  switch (r.outcome) {
    case "claimed": {
      if (r.workspace_id === null || r.skill_id === null || r.skill_version_id === null || r.trigger === null)
        throw new InternalError("claim_run returned an incomplete claim");
      if (r.attempt === null || r.lease_token === null || r.lease_expires_at === null)
        throw new InternalError("claim_run returned a claim without its lease");
      return {
        outcome: "claimed",
        run: {
          runId,
          workspaceId: r.workspace_id,
          skillId: r.skill_id,
          skillVersionId: r.skill_version_id,
          trigger: r.trigger,
          attempt: r.attempt,
          deferrals: r.deferrals ?? 0,
          lease: { runId, token: r.lease_token, expiresAt: r.lease_expires_at },
        },
      };
    }
    case "not_claimable":
      return { outcome: "not_claimable" };
    case "capped":
      if (r.workspace_id === null) throw new InternalError("claim_run returned a cap without its workspace");
      return { outcome: "capped", workspaceId: r.workspace_id };
    default:
      if (r.workspace_id === null || r.lease_expires_at === null)
        throw new InternalError("claim_run returned a hand-back without its time");
      return { outcome: r.outcome, workspaceId: r.workspace_id, until: r.lease_expires_at };
  }
}

const ClaimContextRow = ClaimRow.extend({
  input: z.record(z.string(), z.unknown()).nullable(),
  source: z.string().nullable(),
  parent_run_id: z.string().nullable(),
  integration_id: z.string().nullable(),
  skill_status: z.enum(["active", "paused"]).nullable(),
  skill_slug: z.string().nullable(),
  manifest: z.unknown(),
  manifest_hash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
  depth: z.number().int().min(0).nullable(),
  public_key_id: z.string().nullable(),
  public_key: z.instanceof(Buffer).nullable(),
  steps: z
    .array(
      z.object({
        idx: z.number().int(),
        idempotency_key: z.string(),
        status: z.enum(["started", "completed", "failed"]),
        result: z.unknown(),
        result_sealed: z.string().nullable(),
      }),
    )
    .nullable(),
  github_installations: z.array(z.string()).nullable(),
  llm_credentials: z.array(z.object({ provider: z.string(), vault_name: z.string() })).nullable(),
  traceparent: z.string().nullable(),
  wait_ms: z.number().nullable(),
});

/** What a run needs to start, read in the claim's own transaction (migrations/0029). */
export interface ClaimedRunContext {
  readonly input: Record<string, unknown>;
  readonly source: string;
  readonly parentRunId: string | null;
  readonly integrationId: string | null;
  readonly skillStatus: "active" | "paused";
  readonly skillSlug: string;
  /** The pinned version's manifest as stored (unparsed), and its recorded hash. */
  readonly manifest: unknown;
  readonly manifestHash: string;
  /** Ancestors of the run (0 for a top-level run; at most 6 are counted). */
  readonly depth: number;
  /** The workspace's active public key (null: the workspace has no key). */
  readonly publicKey: { readonly keyId: string; readonly publicKey: Buffer } | null;
  /** The run's recorded steps (a first attempt has none); sealed results still sealed. */
  readonly steps: readonly RecordedStepRecord[];
  /** External ids of the active GitHub installations the run may act through (its own; else the workspace's, ≤ 2). */
  readonly githubInstallations: readonly string[];
  /** The workspace's model credentials, newest first (provider and vault name: opening one needs the lease). */
  readonly llmCredentials: readonly { readonly provider: string; readonly vaultName: string }[];
  /** The W3C traceparent ingest stored on the run (null for runs made without one): the run's span continues it. */
  readonly traceparent: string | null;
  /** started_at − created_at in ms: how long the run waited before its first claim (the wait histogram). */
  readonly waitMs: number | null;
}

/** A recorded step of a run (as readRunSteps returns it). */
export interface RecordedStepRecord {
  readonly idx: number;
  readonly idempotency_key: string;
  readonly status: "started" | "completed" | "failed";
  readonly result: unknown;
  readonly result_sealed: Buffer | null;
}

export type ClaimContextOutcome =
  | { readonly outcome: "claimed"; readonly run: ClaimedRun; readonly context: ClaimedRunContext }
  | Exclude<ClaimOutcome, { readonly outcome: "claimed" }>;

const CLAIM_CONTEXT_SQL = "select * from public.claim_run_context($1, $2, $3)";

/**
 * `claimRunOutcome` and the run's context in one call and one transaction (claim_run_context: every outcome of
 * claim_run, unchanged). One round trip: a prepared statement of the pool's connection.
 */
export async function claimRunWithContext(
  database: Database,
  runId: RunId,
  workerId: string,
  leaseSeconds = 30,
): Promise<ClaimContextOutcome> {
  let raw: unknown;
  try {
    raw = [...(await database.sql.unsafe(CLAIM_CONTEXT_SQL, [runId, workerId, leaseSeconds], { prepare: true }))];
  } catch (err) {
    throw mapDatabaseError(err);
  }
  const r = z.array(ClaimContextRow).parse(raw)[0];
  if (!r) throw new InternalError("claim_run_context returned no row");
  const claim = claimOutcomeOf(runId, r);
  if (claim.outcome !== "claimed") return claim;
  if (
    r.input === null ||
    r.source === null ||
    r.skill_status === null ||
    r.skill_slug === null ||
    r.manifest_hash === null ||
    r.depth === null ||
    r.steps === null ||
    r.github_installations === null ||
    r.llm_credentials === null
  )
    throw new NotFoundError("run context not found");
  return {
    outcome: "claimed",
    run: claim.run,
    context: {
      input: r.input,
      source: r.source,
      parentRunId: r.parent_run_id,
      integrationId: r.integration_id,
      skillStatus: r.skill_status,
      skillSlug: r.skill_slug,
      manifest: r.manifest,
      manifestHash: r.manifest_hash,
      depth: r.depth,
      publicKey:
        r.public_key_id === null || r.public_key === null ? null : { keyId: r.public_key_id, publicKey: r.public_key },
      steps: r.steps.map((st) => ({
        ...st,
        result_sealed: st.result_sealed === null ? null : Buffer.from(st.result_sealed, "base64"),
      })),
      githubInstallations: r.github_installations,
      llmCredentials: r.llm_credentials.map((l) => ({ provider: l.provider, vaultName: l.vault_name })),
      traceparent: r.traceparent,
      waitMs: r.wait_ms,
    },
  };
}

/** `claimRunOutcome`, for callers that only care whether the run is theirs now (null otherwise). */
export async function claimRun(
  database: Database,
  runId: RunId,
  workerId: string,
  leaseSeconds = 30,
): Promise<ClaimedRun | null> {
  const c = await claimRunOutcome(database, runId, workerId, leaseSeconds);
  return c.outcome === "claimed" ? c.run : null;
}

export async function renewRunLease(scope: WorkspaceScope, lease: RunLease, leaseSeconds = 60): Promise<RunLease> {
  const rows = await queryScopedRows(
    scope,
    z.object({ expires: date }),
    dsql`select public.renew_run_lease(${lease.runId}, ${lease.token}::uuid, ${leaseSeconds}) as expires`,
  );
  return { ...lease, expiresAt: rows[0]?.expires ?? lease.expiresAt };
}

/** Just before an external effect: throws LeaseLostError unless the lease is still ours. */
export async function assertRunLease(scope: WorkspaceScope, lease: RunLease): Promise<void> {
  await requireScope(scope).execute(dsql`select public.assert_run_lease(${lease.runId}, ${lease.token}::uuid)`);
}

export interface StepWrite {
  readonly idx: number;
  readonly kind: string;
  readonly idempotencyKey: string;
  readonly status: "started" | "completed" | "failed";
  readonly result?: unknown;
  readonly resultSealed?: Buffer;
}

const StepRow = z.object({
  idx: z.number().int(),
  kind: z.string(),
  status: z.enum(["started", "completed", "failed"]),
  result: z.unknown(),
  result_sealed: z.instanceof(Buffer).nullable(),
  replayed: z.boolean(),
});
export type StepRecord = z.infer<typeof StepRow>;

/** Record a step under the lease. A step already completed comes back with `replayed: true` and is not rewritten. */
export async function recordRunStep(scope: WorkspaceScope, lease: RunLease, step: StepWrite): Promise<StepRecord> {
  const result = step.result === undefined ? null : JSON.stringify(step.result);
  const rows = await queryScopedRows(
    scope,
    StepRow,
    dsql`select * from public.record_run_step(${lease.runId}, ${lease.token}::uuid, ${step.idx}, ${step.kind},
      ${step.idempotencyKey}, ${step.status}, ${result}::jsonb, ${step.resultSealed ?? null}::bytea)`,
  );
  const row = rows[0];
  if (!row) throw new InternalError("record_run_step returned no row");
  return row;
}

/** What kind of failure ended a run: a redrive of a `guard` failure needs a new Skill version. */
export type FailureClass = "guard" | "permanent" | "exhausted" | "throttled" | "integration_gone";

export async function finishRun(
  scope: WorkspaceScope,
  lease: RunLease,
  status: "succeeded" | "failed" | "skipped" | "cancelled",
  errorCode: string | null = null,
  failureClass: FailureClass | null = null,
): Promise<void> {
  await requireScope(scope).execute(
    dsql`select public.finish_run(${lease.runId}, ${lease.token}::uuid, ${status}, ${errorCode}, ${failureClass})`,
  );
}

// ── fleet control (migrations/0027) ────────────────────────────────────────────────────────────────────────────

const DispatchedRow = z.object({
  run_id: RunIdSchema,
  workspace_id: WorkspaceIdSchema,
  dispatch_seq: z.number().int(),
  /** The workspace's runs in flight counting this one: the job's queue priority (lower first). */
  priority: z.number().int().min(1),
});
export type DispatchedRun = z.infer<typeof DispatchedRow>;

/**
 * One dispatch pass (any worker may call it; one pass runs at a time fleet-wide, a concurrent caller waits for it): hands
 * back runs whose lease expired, then marks up to `limit` undispatched runs dispatched in fair order across
 * workspaces, within each workspace's free capacity and the fleet's look-ahead. The caller adds their jobs.
 */
export async function dispatchRuns(database: Database, limit: number): Promise<DispatchedRun[]> {
  return queryRows(database, DispatchedRow, dsql`select * from public.dispatch_runs(${limit})`);
}

/**
 * Give a held run back to the dispatcher, due after `delayMs`; its steps are kept. With `throttle` (a rate limit, not
 * a failure) the claim does not count as an attempt, and with its `resource` the workspace's model key or the run's
 * integration is closed for the same time (the workspace's other runs wait too; nobody else's do). Returns when the
 * run is due.
 */
export async function deferRun(
  scope: WorkspaceScope,
  lease: RunLease,
  delayMs: number,
  throttle: { readonly resource: "model" | "integration" | null; readonly code: string } | null = null,
): Promise<Date> {
  const rows = await queryScopedRows(
    scope,
    z.object({ due: date }),
    dsql`select public.defer_run(${lease.runId}, ${lease.token}::uuid, ${Math.max(0, Math.round(delayMs))}::integer,
      ${throttle?.resource ?? null}::text, ${throttle?.code ?? null}::text) as due`,
  );
  const row = rows[0];
  if (!row) throw new InternalError("defer_run returned no row");
  return row.due;
}

/** The run's integration is gone for good: mark it revoked and fail its other queued runs once. Returns how many. */
export async function markIntegrationGone(scope: WorkspaceScope, lease: RunLease): Promise<number> {
  const rows = await queryScopedRows(
    scope,
    z.object({ n: z.number().int() }),
    dsql`select public.mark_integration_gone(${lease.runId}, ${lease.token}::uuid) as n`,
  );
  return rows[0]?.n ?? 0;
}

const CancelRow = z.object({
  run_id: RunIdSchema,
  outcome: z.enum(["cancelled", "cancelling", "already_cancelling", "finished"]),
  prior_status: z.enum([
    "queued",
    "running",
    "waiting_approval",
    "succeeded",
    "failed",
    "skipped",
    "cancelled",
    "denied",
  ]),
  skill_id: z.string(),
  trigger: z.string(),
  manifest_hash: z.string(),
  dispatch_seq: z.number().int(),
});
export type CancelledRun = z.infer<typeof CancelRow>;

/** Cancel runs of the scope's workspace by id (at most 10 000): queued → cancelled now; running → stops at its next step. */
export async function cancelRuns(scope: WorkspaceScope, runIds: readonly RunId[]): Promise<CancelledRun[]> {
  return queryScopedRows(scope, CancelRow, dsql`select * from public.cancel_runs(${dsql.param([...runIds])}::text[])`);
}

const RetryRow = z.object({
  run_id: RunIdSchema,
  outcome: z.enum(["retried", "not_failed", "already_retried", "needs_new_version", "skill_paused"]),
  new_run_id: RunIdSchema.nullable(),
  skill_id: z.string(),
  trigger: z.string(),
  manifest_hash: z.string().nullable(),
});
export type RetriedRun = z.infer<typeof RetryRow>;

/** Redrive failed runs of the scope's workspace: each pair names a failed run and its new run's id (at most 1 000). */
export async function retryRuns(
  scope: WorkspaceScope,
  pairs: readonly { readonly runId: RunId; readonly newRunId: RunId }[],
): Promise<RetriedRun[]> {
  const json = JSON.stringify(pairs.map((p) => ({ run_id: p.runId, new_run_id: p.newRunId })));
  return queryScopedRows(scope, RetryRow, dsql`select * from public.retry_runs(${json}::jsonb)`);
}

const DepthRow = z.object({
  undispatched: z.coerce.number(),
  dispatched: z.coerce.number(),
  running: z.coerce.number(),
  gated_workspaces: z.coerce.number(),
});
export type FleetQueueDepth = z.infer<typeof DepthRow>;

/** Fleet-wide counts for the monitor's gauges; no workspace id. */
export async function fleetQueueDepth(database: Database): Promise<FleetQueueDepth> {
  const rows = await queryRows(database, DepthRow, dsql`select * from public.fleet_queue_depth()`);
  const row = rows[0];
  if (!row) throw new InternalError("fleet_queue_depth returned no row");
  return row;
}

/** Operator (owner connection): the fleet's default per-workspace cap and look-ahead; null leaves one as it is. */
export async function setFleetSettings(
  database: Database,
  settings: { readonly defaultWorkspaceConcurrency?: number | null; readonly dispatchAhead?: number | null },
): Promise<void> {
  await queryRows(
    database,
    z.unknown(),
    dsql`select public.admin_set_fleet_settings(${settings.defaultWorkspaceConcurrency ?? null}::integer, ${settings.dispatchAhead ?? null}::integer)`,
  );
}

/** Operator (owner connection): a workspace's own cap (0 holds every run), or null for the fleet default. */
export async function setWorkspaceCap(database: Database, workspaceId: WorkspaceId, cap: number | null): Promise<void> {
  // Through queryRows: an unknown workspace is a NotFoundError (PXN01), a cap out of range a ValidationError.
  await queryRows(database, z.unknown(), dsql`select public.admin_set_workspace_cap(${workspaceId}, ${cap}::integer)`);
}

// ── reconciler (monitor) ────────────────────────────────────────────────────────────────────────────────────────

const StaleRow = z.object({
  run_id: RunIdSchema,
  workspace_id: WorkspaceIdSchema,
  status: z.enum(["queued", "running"]),
  not_before: date.nullable(),
  created_at: date,
  dispatch_seq: z.number().int(),
});
export type StaleRun = z.infer<typeof StaleRow>;

export async function listStaleRuns(
  database: Database,
  queuedGraceSeconds: number,
  limit: number,
): Promise<StaleRun[]> {
  return queryRows(database, StaleRow, dsql`select * from public.list_stale_runs(${queuedGraceSeconds}, ${limit})`);
}

/** A dispatched run whose job ended without the run ending goes back to the dispatcher (only for that dispatch). */
export async function undispatchRun(database: Database, runId: RunId, dispatchSeq: number): Promise<boolean> {
  const rows = await queryRows(
    database,
    z.object({ undispatched: z.boolean() }),
    dsql`select public.undispatch_run(${runId}, ${dispatchSeq}) as undispatched`,
  );
  return rows[0]?.undispatched ?? false;
}

export async function handBackRun(database: Database, runId: RunId): Promise<boolean> {
  const rows = await queryRows(
    database,
    z.object({ handed_back: z.boolean() }),
    dsql`select public.hand_back_run(${runId}) as handed_back`,
  );
  return rows[0]?.handed_back ?? false;
}
