/**
 * What a worker reads and writes while it executes a run it holds, beyond claim/record/finish/defer (runs.ts; the
 * run's context comes with its claim, `claimRunWithContext`): its recorded steps, purging sealed step content at the
 * end, sub-agent dispatch and its sealed task, telemetry rows and memory facts. Every write that needs the lease goes
 * through a definer function that checks it (migrations/0015).
 */
import { sql as dsql } from "drizzle-orm";
import { z } from "zod";
import { InternalError, RunIdSchema, TelemetryMetaSchema, type RunId, type TelemetryMeta } from "@praxa/core";
import { requireScope, type WorkspaceScope } from "./scope.js";
import { queryScopedRows } from "./typed-query.js";
import type { RunLease } from "./runs.js";

const RecordedStepRow = z.object({
  idx: z.number().int(),
  idempotency_key: z.string(),
  status: z.enum(["started", "completed", "failed"]),
  result: z.unknown(),
  result_sealed: z.instanceof(Buffer).nullable(),
});
export type RecordedStep = z.infer<typeof RecordedStepRow>;

/** Every step the run has recorded so far (read once when a run is claimed: a retry replays from these). */
export async function readRunSteps(scope: WorkspaceScope, runId: RunId): Promise<RecordedStep[]> {
  return queryScopedRows(
    scope,
    RecordedStepRow,
    dsql`select idx, idempotency_key, status, result, result_sealed from public.run_steps where run_id = ${runId} order by idx`,
  );
}

const INSERT_EVENTS_SQL = `insert into public.agent_run_events (workspace_id, run_id, meta)
  select $1::text, $2::text, t.m from jsonb_array_elements($3::text::jsonb) with ordinality as t(m, n) order by t.n`;

/** Telemetry rows in one statement (the executor's rows of a run, flushed together); a prepared statement. */
export async function insertRunEvents(
  scope: WorkspaceScope,
  runId: RunId,
  metas: readonly TelemetryMeta[],
): Promise<void> {
  if (metas.length === 0) return;
  const parsed = metas.map((m) => TelemetryMetaSchema.parse(m));
  const s = requireScope(scope);
  await s.executePrepared(INSERT_EVENTS_SQL, [s.workspaceId, runId, JSON.stringify(parsed)]);
}

/** One step write of `recordRunSteps` (as `recordRunStep` takes it). */
export interface StepWriteInput {
  readonly idx: number;
  readonly kind: string;
  readonly idempotencyKey: string;
  readonly status: "started" | "completed" | "failed";
  readonly result?: unknown;
  readonly resultSealed?: Buffer;
}

const RECORD_STEP_SQL =
  "select idx, replayed from public.record_run_step($1::text, $2::uuid, $3::integer, $4::text, $5::text, $6::text, $7::text::jsonb, $8::bytea)";
const StepWritten = z.object({ idx: z.number().int(), replayed: z.boolean() });

/**
 * Several steps recorded under the lease in the scope's transaction, in order, each through `record_run_step` (the
 * lease checked for every one): prepared statements handed to the connection together (pipelined), so the batch costs
 * one round trip. Returns, per step, whether it had been completed before (then it was not rewritten).
 */
export async function recordRunSteps(
  scope: WorkspaceScope,
  lease: RunLease,
  steps: readonly StepWriteInput[],
): Promise<{ idx: number; replayed: boolean }[]> {
  const s = requireScope(scope);
  return Promise.all(
    steps.map(async (st) => {
      const rows = await s.executePrepared(RECORD_STEP_SQL, [
        lease.runId,
        lease.token,
        st.idx,
        st.kind,
        st.idempotencyKey,
        st.status,
        st.result === undefined ? null : JSON.stringify(st.result),
        st.resultSealed ?? null,
      ]);
      const row = rows[0];
      if (!row) throw new InternalError("record_run_step returned no row");
      return StepWritten.parse(row);
    }),
  );
}

const PURGE_SQL = "select public.purge_run_step_content($1::text, $2::uuid) as n";
const FINISH_SQL = "select public.finish_run($1::text, $2::uuid, $3::text, $4::text, $5::text)";

/**
 * The end of a run in its scope's transaction, as prepared statements handed together: its sealed step content purged
 * (unless `purge` is false), then `finish_run` (lease-checked) with its status, error code and failure class.
 */
export async function purgeAndFinishRun(
  scope: WorkspaceScope,
  lease: RunLease,
  end: {
    readonly status: "succeeded" | "failed" | "skipped" | "cancelled" | "denied";
    readonly errorCode: string | null;
    readonly failureClass: string | null;
    readonly purge: boolean;
  },
): Promise<void> {
  const s = requireScope(scope);
  await Promise.all([
    end.purge ? s.executePrepared(PURGE_SQL, [lease.runId, lease.token]) : null,
    s.executePrepared(FINISH_SQL, [lease.runId, lease.token, end.status, end.errorCode, end.failureClass]),
  ]);
}

/** Drop every sealed step result of the run (model and user content); returns how many steps held some. */
export async function purgeRunStepContent(scope: WorkspaceScope, lease: RunLease): Promise<number> {
  const rows = await queryScopedRows(
    scope,
    z.object({ n: z.number().int() }),
    dsql`select public.purge_run_step_content(${lease.runId}, ${lease.token}::uuid) as n`,
  );
  return rows[0]?.n ?? 0;
}

export interface SubagentDispatch {
  readonly childRunId: RunId;
  readonly targetSlug: string;
  /** The parent's step index: the dispatch is idempotent per (parent run, step). */
  readonly step: number;
  /**
   * Structured arguments, validated against the child Skill's declared input: a flat object of numbers, booleans and
   * tokens (the database refuses anything else). Stored in plain text as the child's `input.subagent`.
   */
  readonly args: Readonly<Record<string, string | number | boolean>>;
  /** The model-written task, already sealed to the workspace key for the child (never plain text), or null. */
  readonly taskSealed: Uint8Array | null;
  readonly maxDepth: number;
}

/**
 * Create (once) a child run of a Skill of the same workspace, on the parent's subject: the definer function copies
 * the subject from the parent's row (migrations/0025) — nothing here names one. Returns the child's id and whether
 * it was created now.
 */
export async function dispatchSubagentRun(
  scope: WorkspaceScope,
  lease: RunLease,
  d: SubagentDispatch,
): Promise<{ runId: RunId; created: boolean }> {
  const sealed = d.taskSealed === null ? null : Buffer.from(d.taskSealed);
  const rows = await queryScopedRows(
    scope,
    z.object({ run_id: RunIdSchema, created: z.boolean() }),
    dsql`select * from public.dispatch_subagent_run(${lease.runId}, ${lease.token}::uuid, ${d.childRunId}, ${d.targetSlug}, ${d.step},
      ${JSON.stringify(d.args)}::jsonb, ${sealed}::bytea, ${d.maxDepth})`,
  );
  const row = rows[0];
  if (!row) throw new InternalError("dispatch_subagent_run returned no row");
  return { runId: row.run_id, created: row.created };
}

/** A sub-agent run's sealed task, read under the run's own lease (null when its parent gave none, or once purged). */
export async function readSubagentTask(scope: WorkspaceScope, lease: RunLease): Promise<Buffer | null> {
  const rows = await queryScopedRows(
    scope,
    z.object({ sealed: z.instanceof(Buffer).nullable() }),
    dsql`select public.read_subagent_task(${lease.runId}, ${lease.token}::uuid) as sealed`,
  );
  return rows[0]?.sealed ?? null;
}

/** A producer's payload for the declarative run this worker holds (sealed; projected at ingest); null when none. */
export async function readRunPayload(scope: WorkspaceScope, lease: RunLease): Promise<Buffer | null> {
  const rows = await queryScopedRows(
    scope,
    z.object({ sealed: z.instanceof(Buffer).nullable() }),
    dsql`select public.read_run_payload(${lease.runId}, ${lease.token}::uuid) as sealed`,
  );
  return rows[0]?.sealed ?? null;
}

const RunEventRow = z.object({ meta: TelemetryMetaSchema });
export async function readRunEvents(scope: WorkspaceScope, runId: RunId): Promise<TelemetryMeta[]> {
  const rows = await queryScopedRows(
    scope,
    RunEventRow,
    dsql`select meta from public.agent_run_events where run_id = ${runId} order by id`,
  );
  return rows.map((r) => r.meta);
}

// ── memory facts: namespace-scoped rows of the scope's workspace ──

const FactRow = z.object({ key: z.string(), value: z.unknown() });

export async function readMemoryFacts(
  scope: WorkspaceScope,
  namespace: string,
  keys: readonly string[] | null,
  limit = 50,
): Promise<{ key: string; value: unknown }[]> {
  const s = requireScope(scope);
  const keyList = keys === null ? null : JSON.stringify(keys);
  return queryScopedRows(
    scope,
    FactRow,
    dsql`select key, value from public.memory_facts where workspace_id = ${s.workspaceId} and namespace = ${namespace}
      and (${keyList}::jsonb is null or key in (select jsonb_array_elements_text(${keyList}::jsonb))) order by updated_at desc limit ${Math.min(Math.max(limit, 1), 200)}`,
  );
}

export async function writeMemoryFact(
  scope: WorkspaceScope,
  namespace: string,
  key: string,
  value: unknown,
  id: string,
): Promise<void> {
  const s = requireScope(scope);
  await s.execute(dsql`insert into public.memory_facts (workspace_id, id, namespace, key, value) values (${s.workspaceId}, ${id}, ${namespace}, ${key}, ${JSON.stringify(value)}::jsonb)
    on conflict (workspace_id, namespace, key) do update set value = excluded.value, updated_at = now()`);
}
