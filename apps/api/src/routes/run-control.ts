/**
 * Cancel and redrive (issue #19), on the run row as the source of truth:
 *  - `POST /v1/runs/:id/cancel` — a queued run is cancelled at once (its BullMQ job removed, best effort: a job left
 *    behind finds the run cancelled when a worker claims it); a running run is marked, and its worker stops at the next
 *    step boundary, where the lease check answers "cancelled", and finishes it `cancelled` — no effect follows. A
 *    finished run is a 409 `RUN_FINISHED` naming its status.
 *  - `POST /v1/runs/cancel` — the same for every queued or running run matching a filter (at least one filter: an
 *    empty one is refused, so nobody cancels everything by accident), at most `limit` per call.
 *  - `POST /v1/runs/:id/retry` — a failed run (a dead letter) is redriven as a new run with the same minimal input,
 *    trigger, source and integration, on the Skill's newest version that takes its trigger, `retryOf` the old run. The
 *    new run is queued undispatched: the workers' dispatcher picks it up. A guard denial cannot be redriven on the
 *    same version (409 `GUARD_DENIAL_NEEDS_NEW_VERSION`), nor a paused Skill's run (409 `SKILL_PAUSED`).
 *  - `POST /v1/runs/retry` — the same for failed runs matching a filter that were not redriven before.
 * The database decides under row locks (`cancel_runs`, `retry_runs`, migrations/0027), in the caller's workspace
 * scope. Each run newly cancelled or cancelling appends one signed `run.cancelled` event, each redrive one `run.retried`
 * event on the new run — in the transaction of the change, so both commit or neither does; without an audit signer
 * these routes answer 503. Viewers may not cancel or redrive.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import {
  InternalError,
  newId,
  RunIdSchema,
  SkillIdSchema,
  SkillPausedError,
  ValidationError,
  WorkspaceScopeError,
  type AuditEventDraft,
  type RunId,
} from "@praxa/core";
import {
  and,
  appendAuditEvents,
  cancelRuns,
  eq,
  gte,
  inArray,
  isNull,
  lt,
  retryRuns,
  schema,
  sql,
  type AuditSigner,
  type CancelledRun,
  type Database,
  type RetriedRun,
  type WorkspaceScope,
} from "@praxa/db";
import { runJobId } from "@praxa/queue";
import { requireAuditSigner } from "../admin-audit.js";
import {
  GuardDenialNeedsNewVersionError,
  RunAlreadyRetriedError,
  RunFinishedError,
  RunNotFailedError,
} from "../errors.js";
import type { Caller } from "../route-auth.js";
import { route } from "../route-builder.js";
import { Id } from "../schemas.js";

export interface RunControlDeps {
  /** Signs `run.cancelled` / `run.retried`; without it cancel and retry answer 503. */
  readonly auditSigner?: AuditSigner | undefined;
  /**
   * Removes the BullMQ jobs (by job id) of runs cancelled while queued, after the commit. Best effort: a job that is
   * active or already gone is left, and a worker's claim finds its run cancelled. Absent: jobs are left the same way.
   */
  readonly removeRunJobs?: ((jobIds: readonly string[]) => Promise<void>) | undefined;
}

/** The roles that may cancel and redrive: every member but viewers. */
const CONTROL_ROLES = ["owner", "admin", "member"] as const;
/** Events appended per call to the audit chain (a bulk cancel may audit up to 10 000 runs in its transaction). */
const AUDIT_BATCH = 500;

const Reason = z.string().trim().min(1).max(500);
const ErrorCodeFilter = z.string().regex(/^[A-Z][A-Z0-9_]{1,63}$/, "an error code such as TOOL_NOT_ALLOWED");
const Params = z.object({ id: RunIdSchema }).strict();
const r = schema.agentRuns;

type JsonObject = AuditEventDraft["input"];

interface RunEventSubject {
  readonly runId: RunId;
  readonly skillId: string;
  readonly trigger: string;
  readonly manifestHash: string;
}

/** A run event (`run.cancelled`, `run.retried`): it names the Skill, the run, step 0 and the manifest hash. */
function runEvent(
  kind: "run.cancelled" | "run.retried",
  subject: RunEventSubject,
  input: JsonObject,
  output: JsonObject,
  reasoning: string[],
): AuditEventDraft {
  return {
    auditEventId: newId("auditEvent"),
    kind,
    skillId: SkillIdSchema.parse(subject.skillId),
    runId: subject.runId,
    trigger: subject.trigger,
    input,
    reasoning,
    alternatives: [],
    confidence: null,
    output,
    tools_used: [],
    duration_ms: 0,
    occurred_at: new Date().toISOString(),
    manifest_hash: subject.manifestHash,
    step: 0,
  };
}

async function appendInBatches(
  scope: WorkspaceScope,
  signer: AuditSigner,
  drafts: readonly AuditEventDraft[],
): Promise<void> {
  for (let i = 0; i < drafts.length; i += AUDIT_BATCH)
    await appendAuditEvents(scope, drafts.slice(i, i + AUDIT_BATCH), signer);
}

const actorOf = (caller: Caller): JsonObject => ({
  actor_member_id: caller.memberId,
  actor_token_id: caller.token.tokenId,
});

/**
 * Cancel `ids` in the caller's scope: audit each run newly cancelled or cancelling, and remove the jobs of the runs
 * cancelled while queued once the transaction has committed.
 */
async function cancel(
  deps: RunControlDeps,
  ctx: { scope: WorkspaceScope; caller: Caller; afterCommit: (fn: () => Promise<void>) => void },
  ids: readonly RunId[],
  reason: string | null,
  bulk: boolean,
): Promise<CancelledRun[]> {
  const signer = requireAuditSigner(deps.auditSigner);
  if (ids.length === 0) return [];
  const rows = await cancelRuns(ctx.scope, ids);
  const changed = rows.filter((row) => row.outcome === "cancelled" || row.outcome === "cancelling");
  await appendInBatches(
    ctx.scope,
    signer,
    changed.map((row) =>
      runEvent(
        "run.cancelled",
        { runId: row.run_id, skillId: row.skill_id, trigger: row.trigger, manifestHash: row.manifest_hash },
        { ...actorOf(ctx.caller), reason, bulk },
        { outcome: row.outcome, prior_status: row.prior_status },
        reason === null ? [] : [reason],
      ),
    ),
  );
  const jobIds = rows.filter((row) => row.outcome === "cancelled").map((row) => runJobId(row.run_id, row.dispatch_seq));
  const remove = deps.removeRunJobs;
  if (remove && jobIds.length > 0) ctx.afterCommit(() => remove(jobIds));
  return rows;
}

/** Redrive `pairs` in the caller's scope; audit each new run (`run.retried`, on the new run). */
async function retry(
  deps: RunControlDeps,
  ctx: { scope: WorkspaceScope; caller: Caller },
  pairs: readonly { runId: RunId; newRunId: RunId }[],
  bulk: boolean,
): Promise<RetriedRun[]> {
  const signer = requireAuditSigner(deps.auditSigner);
  if (pairs.length === 0) return [];
  const rows = await retryRuns(ctx.scope, pairs);
  const drafts: AuditEventDraft[] = [];
  for (const row of rows) {
    if (row.outcome !== "retried") continue;
    if (row.new_run_id === null || row.manifest_hash === null)
      throw new InternalError("retry_runs answered a redrive without its new run");
    drafts.push(
      runEvent(
        "run.retried",
        { runId: row.new_run_id, skillId: row.skill_id, trigger: row.trigger, manifestHash: row.manifest_hash },
        { ...actorOf(ctx.caller), retry_of: row.run_id, bulk },
        { status: "queued" },
        [],
      ),
    );
  }
  await appendInBatches(ctx.scope, signer, drafts);
  return rows;
}

/** At least one filter, or a 400 naming them: an empty filter would match every run of the workspace. */
function requireFilter(filter: Record<string, unknown>, names: readonly string[], verb: string): void {
  if (names.every((n) => filter[n] === undefined))
    throw new ValidationError(
      `give at least one filter (${names.join(", ")}): an empty filter would ${verb} every run of the workspace`,
    );
}

const timeFilters = (from: string | undefined, to: string | undefined) => [
  from ? gte(r.createdAt, new Date(from)) : undefined,
  to ? lt(r.createdAt, new Date(to)) : undefined,
];

export function registerRunControlRoutes(app: FastifyInstance, db: Database, deps: RunControlDeps): void {
  route(app, db, {
    method: "POST",
    url: "/v1/runs/:id/cancel",
    tag: "runs",
    summary: "Cancel a run (queued: at once; running: at its next step boundary)",
    description:
      'A queued run is cancelled and its job removed. A running run answers `cancelling`: its worker stops at the next step boundary, performs no further effect, and finishes it `cancelled`. A finished run is a 409 `RUN_FINISHED` naming its status. The body is `{}` or `{"reason": "…"}`. Audited: one `run.cancelled` event (actor, reason).',
    operationId: "cancelRun",
    errors: ["RUN_FINISHED", "UNAVAILABLE"],
    roles: CONTROL_ROLES,
    bodyLimit: 2048,
    params: Params,
    body: z.object({ reason: Reason.optional() }).strict(),
    examples: {
      body: { reason: "reviewing the wrong branch" },
      response: { run: { id: "rn_01jdz3m0r8f6q2v1a7b9c4d5e6", outcome: "cancelling" } },
    },
    response: z
      .object({
        run: z
          .object({
            id: Id("run"),
            outcome: z.enum(["cancelled", "cancelling"]).meta({
              description:
                "`cancelled`: it was queued and is finished; `cancelling`: it stops at its next step boundary",
            }),
          })
          .strict(),
      })
      .strict(),
    handler: async ({ scope, caller, params, body, afterCommit }) => {
      const [row] = await cancel(deps, { scope, caller, afterCommit }, [params.id], body.reason ?? null, false);
      if (!row) throw new WorkspaceScopeError("no such run in this workspace");
      if (row.outcome === "finished")
        throw new RunFinishedError(
          `run ${params.id} has already finished (${row.prior_status}): only a queued or running run can be cancelled`,
        );
      return {
        run: { id: params.id, outcome: row.outcome === "cancelled" ? ("cancelled" as const) : ("cancelling" as const) },
      };
    },
  });

  route(app, db, {
    method: "POST",
    url: "/v1/runs/cancel",
    tag: "runs",
    summary: "Cancel the queued and running runs matching a filter",
    description:
      "At least one filter (skillId, status, trigger, from, to) is required: an empty filter is a 400. `from` is inclusive, `to` exclusive (creation time). Runs already being cancelled are not matched again. At most `limit` runs per call, oldest first; `more` says whether more matched — call again. Answers how many were cancelled at once (queued, or parked on an approval), how many will stop at their next step (running), and how many matched (a run that finished meanwhile is left as it is). Audited: one `run.cancelled` event per run.",
    operationId: "cancelRuns",
    errors: ["UNAVAILABLE"],
    roles: CONTROL_ROLES,
    bodyLimit: 4096,
    body: z
      .object({
        skillId: SkillIdSchema.optional(),
        status: z
          .array(z.enum(["queued", "running", "waiting_approval"]))
          .min(1)
          .max(3)
          .optional()
          .meta({
            description:
              "Which runs: queued, running, waiting_approval (parked on a human's approval), any of them (default: all three)",
          }),
        trigger: z.string().min(1).max(200).optional(),
        from: z.iso.datetime().optional(),
        to: z.iso.datetime().optional(),
        limit: z.number().int().min(1).max(10_000).default(1000),
        reason: Reason.optional(),
      })
      .strict(),
    examples: {
      body: {
        skillId: "sk_01jdz3kz2w9x8v7t6s5r4q3p2n",
        status: ["queued"],
        reason: "a producer loop flooded the queue",
      },
      response: { cancelled: 412, cancelling: 0, matched: 412, more: false },
    },
    response: z
      .object({
        cancelled: z.number().int().meta({ description: "Queued runs cancelled at once" }),
        cancelling: z.number().int().meta({ description: "Running runs that stop at their next step boundary" }),
        matched: z.number().int().meta({ description: "Runs the filter matched in this call" }),
        more: z.boolean().meta({ description: "More runs match beyond `limit`: call again" }),
      })
      .strict(),
    handler: async ({ scope, caller, body, afterCommit }) => {
      requireFilter(body, ["skillId", "status", "trigger", "from", "to"], "cancel");
      requireAuditSigner(deps.auditSigner);
      const found = await scope.db
        .select({ id: r.id })
        .from(r)
        .where(
          and(
            inArray(r.status, body.status ?? ["queued", "running", "waiting_approval"]),
            isNull(r.cancelRequestedAt),
            body.skillId ? eq(r.skillId, body.skillId) : undefined,
            body.trigger ? eq(r.trigger, body.trigger) : undefined,
            ...timeFilters(body.from, body.to),
          ),
        )
        .orderBy(r.createdAt, r.id)
        .limit(body.limit + 1);
      const ids = found.slice(0, body.limit).map((f) => RunIdSchema.parse(f.id));
      const rows = await cancel(deps, { scope, caller, afterCommit }, ids, body.reason ?? null, true);
      return {
        cancelled: rows.filter((row) => row.outcome === "cancelled").length,
        cancelling: rows.filter((row) => row.outcome === "cancelling").length,
        matched: ids.length,
        more: found.length > body.limit,
      };
    },
  });

  route(app, db, {
    method: "POST",
    url: "/v1/runs/:id/retry",
    tag: "runs",
    summary: "Redrive a failed run as a new run",
    description:
      "Creates a new run with the failed run's input, trigger and source, on the Skill's newest version that takes the trigger, `retryOf` the failed run; it is queued and picked up by the fleet's dispatcher. Only a failed run (409 `RUN_NOT_FAILED`), once (409 `RUN_ALREADY_RETRIED`: retry the newer run instead). A run a guard refused needs a new Skill version first (409 `GUARD_DENIAL_NEEDS_NEW_VERSION`); a paused Skill's run waits for its resume (409 `SKILL_PAUSED`). Audited: one `run.retried` event on the new run.",
    operationId: "retryRun",
    errors: ["RUN_NOT_FAILED", "RUN_ALREADY_RETRIED", "GUARD_DENIAL_NEEDS_NEW_VERSION", "SKILL_PAUSED", "UNAVAILABLE"],
    roles: CONTROL_ROLES,
    status: 201,
    params: Params,
    examples: {
      response: { run: { id: "rn_01jdz4a7c2x9v8b7n6m5k4j3h2", retryOf: "rn_01jdz3m0r8f6q2v1a7b9c4d5e6" } },
    },
    response: z.object({ run: z.object({ id: Id("run"), retryOf: Id("run") }).strict() }).strict(),
    handler: async ({ scope, caller, params }) => {
      requireAuditSigner(deps.auditSigner);
      const [old] = await scope.db
        .select({ status: r.status, failureClass: r.failureClass, errorCode: r.errorCode, trigger: r.trigger })
        .from(r)
        .where(eq(r.id, params.id));
      if (!old) throw new WorkspaceScopeError("no such run in this workspace");
      if (old.status !== "failed")
        throw new RunNotFailedError(`run ${params.id} is ${old.status}: only a failed run can be retried`);
      const [newer] = await scope.db.select({ id: r.id }).from(r).where(eq(r.retryOf, params.id)).limit(1);
      if (newer)
        throw new RunAlreadyRetriedError(
          `run ${params.id} was retried already as ${newer.id}: retry that run instead if it failed too`,
        );
      const newRunId = newId("run");
      const [row] = await retry(deps, { scope, caller }, [{ runId: params.id, newRunId }], false);
      switch (row?.outcome) {
        case "retried":
          return { run: { id: newRunId, retryOf: params.id } };
        case "needs_new_version":
          throw new GuardDenialNeedsNewVersionError(
            old.failureClass === "guard"
              ? `a guard refused run ${params.id} (${old.errorCode ?? "a guard denial"}) and its Skill has no newer version that takes ${old.trigger}: the same version would refuse it again. Publish a new Skill version first, then retry`
              : `no version of the run's Skill takes ${old.trigger} any more: publish a Skill version that does, then retry`,
          );
        case "skill_paused":
          throw new SkillPausedError(
            "the run's Skill is paused: resume it (a human owner or admin) before retrying its runs",
          );
        case "not_failed":
          throw new RunNotFailedError(`run ${params.id} is no longer failed: only a failed run can be retried`);
        case "already_retried":
          throw new RunAlreadyRetriedError(
            `run ${params.id} was retried already (at the same moment): retry its newer run instead if it failed too`,
          );
        default:
          throw new WorkspaceScopeError("no such run in this workspace");
      }
    },
  });

  route(app, db, {
    method: "POST",
    url: "/v1/runs/retry",
    tag: "runs",
    summary: "Redrive the failed runs matching a filter",
    description:
      "Failed runs not redriven before, matching the filter (at least one of skillId, errorCode, trigger, from, to: an empty filter is a 400), oldest first, at most `limit` per call. Each becomes a new run as with POST /v1/runs/{id}/retry. Runs a guard refused on their Skill's newest version (`needs_new_version`) and runs of a paused Skill (`skill_paused`) are refused and stay failed: they match again until a new version is published or the Skill resumed. `more` says whether more runs matched beyond `limit`. Audited: one `run.retried` event per new run.",
    operationId: "retryRuns",
    errors: ["UNAVAILABLE"],
    roles: CONTROL_ROLES,
    bodyLimit: 4096,
    body: z
      .object({
        skillId: SkillIdSchema.optional(),
        errorCode: ErrorCodeFilter.optional(),
        trigger: z.string().min(1).max(200).optional(),
        from: z.iso.datetime().optional(),
        to: z.iso.datetime().optional(),
        limit: z.number().int().min(1).max(1000).default(100),
      })
      .strict(),
    examples: {
      body: { errorCode: "UNAVAILABLE", from: "2026-12-07T00:00:00.000Z" },
      response: { retried: 37, refused: { needs_new_version: 2, skill_paused: 0 }, matched: 39, more: false },
    },
    response: z
      .object({
        retried: z.number().int().meta({ description: "New runs created (each `retryOf` its failed run)" }),
        refused: z
          .object({
            needs_new_version: z.number().int().meta({
              description: "A guard refused them and their Skill has no newer version that takes their trigger",
            }),
            skill_paused: z.number().int().meta({ description: "Their Skill is paused" }),
          })
          .strict(),
        matched: z.number().int().meta({ description: "Failed runs the filter matched in this call" }),
        more: z.boolean().meta({ description: "More runs match beyond `limit`" }),
      })
      .strict(),
    handler: async ({ scope, caller, body }) => {
      requireFilter(body, ["skillId", "errorCode", "trigger", "from", "to"], "redrive");
      requireAuditSigner(deps.auditSigner);
      const found = await scope.db
        .select({ id: r.id })
        .from(r)
        .where(
          and(
            eq(r.status, "failed"),
            body.skillId ? eq(r.skillId, body.skillId) : undefined,
            body.errorCode ? eq(r.errorCode, body.errorCode) : undefined,
            body.trigger ? eq(r.trigger, body.trigger) : undefined,
            ...timeFilters(body.from, body.to),
            // Not redriven before: a failed run is redriven once (its redrive, if it fails too, is the next to retry).
            sql`not exists (select 1 from agent_runs x where x.workspace_id = ${r.workspaceId} and x.retry_of = ${r.id})`,
          ),
        )
        .orderBy(r.createdAt, r.id)
        .limit(body.limit + 1);
      const pairs = found.slice(0, body.limit).map((f) => ({ runId: RunIdSchema.parse(f.id), newRunId: newId("run") }));
      const rows = await retry(deps, { scope, caller }, pairs, true);
      const count = (outcome: RetriedRun["outcome"]) => rows.filter((row) => row.outcome === outcome).length;
      return {
        retried: count("retried"),
        refused: { needs_new_version: count("needs_new_version"), skill_paused: count("skill_paused") },
        matched: pairs.length,
        more: found.length > body.limit,
      };
    },
  });
}
