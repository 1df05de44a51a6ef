/**
 * Replay a recorded decision (the console's "Replay" button; docs/audit.md "Replay"):
 *  - `POST /v1/audit/events/:id/replay` — records a replay request for a `skill.action` event of the caller's
 *    workspace, audited as who asked (`admin.audit_replay.requested`: member, token, the event), in one transaction;
 *    after the commit a `replay` job carrying only the request id. The api opens nothing: a worker claims the request
 *    under a lease of its own, re-reads the inputs as the bot (the one secret it may open is the bot token of the
 *    replayed run's Slack team) and stores the report. Owners, admins and members, with a human or an automation
 *    token; viewers may not make the bot read again (403).
 *  - `GET /v1/audit/replays/:id` — the request's status and, once done, its report: per input and per tool step
 *    matches / CHANGED (both hashes) / unavailable (named), and the decision's comparison. Ids, hashes, field names
 *    and codes only, never an input's value — so every member role, viewers included, may read it, as they read the
 *    audit log.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import {
  AuditEventIdSchema,
  AuditReplayIdSchema,
  newId,
  ReplayNotPossibleError,
  ReplayReportSchema,
  WorkspaceScopeError,
} from "@praxa/core";
import { readReplay, requestReplay, sql, type AuditSigner, type Database } from "@praxa/db";
import { appendAdminEvents, requireAuditSigner } from "../admin-audit.js";
import { route } from "../route-builder.js";
import { Id } from "../schemas.js";

export interface AuditReplayDeps {
  readonly auditSigner?: AuditSigner | undefined;
  /**
   * Enqueues the `replay` job of a committed request (job id = request id). Absent or failing: the request stays
   * queued and the answer says so (`queued`); asking again records a new request.
   */
  readonly enqueueReplay?: ((replayId: string) => Promise<void>) | undefined;
}

const REQUEST_ROLES = ["owner", "admin", "member"] as const;

const ReplayAnswer = z
  .object({
    id: Id("auditReplay"),
    eventId: Id("auditEvent"),
    status: z.enum(["queued", "running", "done", "failed"]).meta({
      description: "`queued` until a worker claims it; `done` with a report; `failed` with an error code",
    }),
    outcome: z.enum(["reproduced", "changed", "unavailable", "differs"]).nullable(),
    errorCode: z.string().nullable(),
    requestedBy: z.string().nullable().meta({ description: "the member who asked (null: the operator CLI)" }),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
    report: ReplayReportSchema.nullable(),
  })
  .strict();

const EXAMPLE_REPORT = {
  format: "praxa-replay/v1",
  eventId: "ae_01jdz3m0r8f6q2v1a7b9c4d5e6",
  runId: "rn_01jdz3m0r8f6q2v1a7b9c4d5e7",
  skillId: "sk_01jdz3m0r8f6q2v1a7b9c4d5e8",
  skillSlug: "slack-answer",
  ok: false,
  outcome: "changed",
  manifest: {
    name: "manifest",
    source: "manifest",
    status: "matches",
    recordedHash: "9f".repeat(32),
    currentHash: "9f".repeat(32),
    note: "manifest 9f9f9f9f9f9f…: matches its recorded hash",
  },
  inputs: [
    {
      name: "channel",
      source: "run_row",
      status: "matches",
      recordedHash: "1a".repeat(32),
      currentHash: "1a".repeat(32),
      note: "input field `channel`: the run row matches the record",
    },
  ],
  steps: [
    {
      step: "1",
      tool: "slack.read.thread",
      status: "changed",
      recordedHash: "2b".repeat(32),
      currentHash: "3c".repeat(32),
      note: "step 1 (slack.read.thread): tool result CHANGED — recorded 2b2b2b2b2b2b…, now 3c3c3c3c3c3c…",
    },
  ],
  decision: {
    status: "different",
    recordedModel: "offline-rules/1",
    recorded: { verdict: "answer", confidence: 0.95 },
    replayed: { verdict: "escalate_human", confidence: 0.85 },
    note: "decision on the offline model: escalate_human (confidence 0.85) — DIFFERENT from the recorded offline decision",
  },
  lines: ["manifest 9f9f9f9f9f9f…: matches its recorded hash"],
};

export function registerAuditReplayRoutes(app: FastifyInstance, db: Database, deps: AuditReplayDeps): void {
  route(app, db, {
    method: "POST",
    url: "/v1/audit/events/:id/replay",
    tag: "audit",
    summary: "Replay a recorded decision (a worker re-reads its inputs as the bot)",
    description:
      "Records a replay request for a `skill.action` event and queues it; answers 202 with the request. A worker re-fetches each input the decision rested on as the bot, checks it against the hash recorded at decision time, re-makes the decision on the offline model and stores a report (`GET /v1/audit/replays/{id}`). Nothing is posted. Owners, admins and members; viewers 403. Audited: one `admin.audit_replay.requested` event (actor, event). A non-decision event is a 409 `REPLAY_NOT_POSSIBLE`.",
    operationId: "replayAuditEvent",
    errors: ["REPLAY_NOT_POSSIBLE", "UNAVAILABLE"],
    roles: REQUEST_ROLES,
    status: 202,
    bodyLimit: 1024,
    params: z.object({ id: AuditEventIdSchema }).strict(),
    examples: {
      response: {
        replay: {
          id: "rp_01jdz3m0r8f6q2v1a7b9c4d5e9",
          eventId: "ae_01jdz3m0r8f6q2v1a7b9c4d5e6",
          status: "queued",
          outcome: null,
          errorCode: null,
          requestedBy: "mb_01jdz3m0r8f6q2v1a7b9c4d5ea",
          createdAt: "2026-12-07T10:00:00.000Z",
          finishedAt: null,
          report: null,
        },
      },
    },
    response: z.object({ replay: ReplayAnswer }).strict(),
    handler: async ({ scope, caller, params, afterCommit }) => {
      const signer = requireAuditSigner(deps.auditSigner);
      const rows = await scope.execute(
        sql`select kind, run_id from public.audit_events where id = ${params.id} limit 1`,
      );
      const ev = rows[0] as { kind?: unknown; run_id?: unknown } | undefined;
      if (!ev) throw new WorkspaceScopeError("no such audit event in this workspace");
      if (ev.kind !== "skill.action" || typeof ev.run_id !== "string")
        throw new ReplayNotPossibleError("only skill.action events are decisions that can be replayed");
      const replayId = newId("auditReplay");
      await requestReplay(scope, {
        replayId,
        eventId: params.id,
        memberId: caller.memberId,
        tokenId: caller.token.tokenId,
      });
      await appendAdminEvents(scope, signer, caller, [
        {
          kind: "admin.audit_replay.requested",
          targetId: params.id,
          details: { replay_id: replayId, run_id: ev.run_id },
          output: { status: "queued" },
        },
      ]);
      const enqueue = deps.enqueueReplay;
      if (enqueue) afterCommit(() => enqueue(replayId));
      const row = await readReplay(scope, replayId);
      if (!row) throw new WorkspaceScopeError("the replay request was not recorded");
      return { replay: answer(row) };
    },
  });

  route(app, db, {
    method: "GET",
    url: "/v1/audit/replays/:id",
    tag: "audit",
    summary: "A replay request and, once done, its report",
    description:
      "Status of a replay request; once `done`, its report: the manifest, each input and each tool step as `matches`, `changed` (recorded and current hash) or `unavailable` (named — a deleted message or thread, a purged payload field), and the decision re-made on the offline model compared with the recorded one. Holds ids, hashes, field names and codes, never an input's value. Every member role.",
    operationId: "getAuditReplay",
    params: z.object({ id: AuditReplayIdSchema }).strict(),
    examples: {
      response: {
        replay: {
          id: "rp_01jdz3m0r8f6q2v1a7b9c4d5e9",
          eventId: "ae_01jdz3m0r8f6q2v1a7b9c4d5e6",
          status: "done",
          outcome: "changed",
          errorCode: null,
          requestedBy: "mb_01jdz3m0r8f6q2v1a7b9c4d5ea",
          createdAt: "2026-12-07T10:00:00.000Z",
          finishedAt: "2026-12-07T10:00:02.000Z",
          report: EXAMPLE_REPORT,
        },
      },
    },
    response: z.object({ replay: ReplayAnswer }).strict(),
    handler: async ({ scope, params }) => {
      const row = await readReplay(scope, params.id);
      if (!row) throw new WorkspaceScopeError("no such replay in this workspace");
      return { replay: answer(row) };
    },
  });
}

function answer(row: NonNullable<Awaited<ReturnType<typeof readReplay>>>) {
  const report = row.report === null ? null : ReplayReportSchema.parse(row.report);
  return {
    id: row.id,
    eventId: row.event_id,
    status: row.status,
    outcome: row.outcome,
    errorCode: row.error_code,
    requestedBy: row.requested_by_member,
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at === null ? null : row.finished_at.toISOString(),
    report,
  };
}
