/**
 * Runs of the workspace's Skills:
 *  - `GET /v1/runs` — newest first, filtered by status, Skill, trigger and a creation-time range [from, to); keyset
 *    pagination on (created_at, id) through an opaque cursor (`next`), never an offset: a page costs its own rows
 *    whatever its depth (index agent_runs_workspace_created_idx).
 *  - `GET /v1/runs/:id` — one run. A failed run (a dead letter) shows its error code, its attempts and its failure
 *    class; a redrive names the run it retries (`retryOf`). Cancel and redrive: run-control.ts.
 *  - `GET /v1/runs/:id/events` — its telemetry rows (tool name, milliseconds, error code, iteration; nothing else is
 *    ever stored there).
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { RunIdSchema, SkillIdSchema, ValidationError, WorkspaceScopeError } from "@praxa/core";
import { and, asc, eq, gt, gte, lt, schema, sql, type Database } from "@praxa/db";
import { route } from "../route-builder.js";
import { exampleRun } from "../examples.js";
import { Id, JsonObject, Timestamp } from "../schemas.js";

const RUN_STATUSES = [
  "queued",
  "running",
  "waiting_approval",
  "succeeded",
  "failed",
  "skipped",
  "cancelled",
  "denied",
] as const;
const FAILURE_CLASSES = ["guard", "permanent", "exhausted", "throttled", "integration_gone", "cancelled"] as const;

const Run = z
  .object({
    id: Id("run"),
    skillId: Id("skill"),
    skillVersionId: Id("skillVersion"),
    trigger: z.string(),
    source: z.enum(["github", "slack", "trigger", "subagent", "api"]),
    status: z.enum(RUN_STATUSES),
    skipReason: z.string().nullable(),
    errorCode: z.string().nullable(),
    attempt: z.number().int(),
    failureClass: z.enum(FAILURE_CLASSES).nullable().meta({
      description:
        "What ended a failed (or cancelled) run: `guard` (a guard refused it: a redrive needs a new Skill version), `permanent`, `exhausted` (retries used up), `throttled`, `integration_gone`, `cancelled`",
    }),
    retryOf: Id("run").nullable().meta({ description: "The failed run this run redrives (POST /v1/runs/{id}/retry)" }),
    cancelRequestedAt: Timestamp.nullable().meta({
      description: "When a cancel was asked for; a running run stops at its next step boundary",
    }),
    input: JsonObject,
    createdAt: Timestamp,
    startedAt: Timestamp.nullable(),
    finishedAt: Timestamp.nullable(),
  })
  .strict();

const r = schema.agentRuns;
const runFields = {
  id: r.id,
  skillId: r.skillId,
  skillVersionId: r.skillVersionId,
  trigger: r.trigger,
  source: r.source,
  status: r.status,
  skipReason: r.skipReason,
  errorCode: r.errorCode,
  attempt: r.attempt,
  failureClass: r.failureClass,
  retryOf: r.retryOf,
  cancelRequestedAt: r.cancelRequestedAt,
  input: r.input,
  createdAt: r.createdAt,
  startedAt: r.startedAt,
  finishedAt: r.finishedAt,
};

/** The cursor: base64url of `{"t": created_at to the microsecond, "i": run id}` — opaque to callers. */
const CursorBody = z
  .object({ t: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/), i: RunIdSchema })
  .strict();
function encodeCursor(t: string, i: string): string {
  return Buffer.from(JSON.stringify({ t, i }), "utf8").toString("base64url");
}
function decodeCursor(cursor: string): z.output<typeof CursorBody> {
  try {
    return CursorBody.parse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
  } catch {
    throw new ValidationError("invalid query: cursor");
  }
}

export function registerRunRoutes(app: FastifyInstance, db: Database): void {
  route(app, db, {
    method: "GET",
    url: "/v1/runs",
    tag: "runs",
    summary: "List runs, newest first",
    description:
      "Filters combine with AND. `from` is inclusive, `to` exclusive (creation time). Pass `next` back as `cursor` for the following page; `next` is null on the last page.",
    operationId: "listRuns",
    examples: { response: { runs: [exampleRun], next: null } },
    query: z
      .object({
        status: z.enum(RUN_STATUSES).optional(),
        skill: SkillIdSchema.optional(),
        trigger: z.string().min(1).max(200).optional(),
        from: z.iso.datetime().optional(),
        to: z.iso.datetime().optional(),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        cursor: z.string().min(1).max(512).optional(),
      })
      .strict(),
    response: z
      .object({
        runs: z.array(Run),
        next: z.string().nullable().meta({ description: "Opaque cursor of the next page, or null" }),
      })
      .strict(),
    handler: async ({ scope, query }) => {
      const after = query.cursor ? decodeCursor(query.cursor) : null;
      const rows = await scope.db
        .select({
          ...runFields,
          cursorTime: sql<string>`to_char(${r.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
        })
        .from(r)
        .where(
          and(
            query.status ? eq(r.status, query.status) : undefined,
            query.skill ? eq(r.skillId, query.skill) : undefined,
            query.trigger ? eq(r.trigger, query.trigger) : undefined,
            query.from ? gte(r.createdAt, new Date(query.from)) : undefined,
            query.to ? lt(r.createdAt, new Date(query.to)) : undefined,
            after ? sql`(${r.createdAt}, ${r.id}) < (${after.t}::timestamptz, ${after.i})` : undefined,
          ),
        )
        .orderBy(sql`${r.createdAt} desc, ${r.id} desc`)
        .limit(query.limit + 1);
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      return {
        runs: page.map(({ cursorTime: _c, ...run }) => run),
        next: rows.length > query.limit && last ? encodeCursor(last.cursorTime, last.id) : null,
      };
    },
  });

  route(app, db, {
    method: "GET",
    url: "/v1/runs/:id",
    tag: "runs",
    summary: "One run",
    operationId: "getRun",
    examples: { response: { run: exampleRun } },
    params: z.object({ id: RunIdSchema }).strict(),
    response: z.object({ run: Run }).strict(),
    handler: async ({ scope, params }) => {
      const [run] = await scope.db.select(runFields).from(r).where(eq(r.id, params.id));
      if (!run) throw new WorkspaceScopeError("no such run in this workspace");
      return { run };
    },
  });

  const RunEvent = z
    .object({
      id: z.number().int(),
      meta: z
        .object({
          tool_name: z.string().optional(),
          ms: z.number().optional(),
          code: z.string().nullable().optional(),
          iter: z.number().optional(),
        })
        .strict(),
      createdAt: Timestamp,
    })
    .strict();

  route(app, db, {
    method: "GET",
    url: "/v1/runs/:id/events",
    tag: "runs",
    summary: "A run's telemetry rows",
    description: "In the order they were recorded; `after` (the last id seen) pages through them.",
    operationId: "listRunEvents",
    params: z.object({ id: RunIdSchema }).strict(),
    query: z
      .object({
        after: z.coerce.number().int().min(0).default(0),
        limit: z.coerce.number().int().min(1).max(1000).default(500),
      })
      .strict(),
    response: z.object({ runId: Id("run"), events: z.array(RunEvent), next: z.number().int().nullable() }).strict(),
    handler: async ({ scope, params, query }) => {
      const [run] = await scope.db.select({ id: r.id }).from(r).where(eq(r.id, params.id));
      if (!run) throw new WorkspaceScopeError("no such run in this workspace");
      const e = schema.agentRunEvents;
      const events = await scope.db
        .select({ id: e.id, meta: e.meta, createdAt: e.createdAt })
        .from(e)
        .where(and(eq(e.runId, params.id), gt(e.id, query.after)))
        .orderBy(asc(e.id))
        .limit(query.limit);
      return { runId: params.id, events, next: events.length === query.limit ? (events.at(-1)?.id ?? null) : null };
    },
  });
}
