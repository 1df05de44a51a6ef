/**
 * Skills:
 *  - `GET /v1/skills` — the workspace's Skills and their status.
 *  - `GET /v1/skills/:id` — one Skill with its versions, each with its manifest and the manifest's hash.
 * A Skill's status from the control plane:
 *  - `POST /v1/skills/:id/resume` — only a human: a `human` token of an owner or admin, with a reason. The route refuses
 *    anything else (403), and so does the database, which re-checks the token from its hash in `api_resume_skill` and
 *    lets no other path move a Skill from paused to active. Audited (`skill.resumed`: who and why) in the same
 *    transaction; each channel told of the pause is told of the resume (PagerDuty: `resolve`).
 *  - `POST /v1/skills/:id/pause` — an admin (human or automation) pauses by hand, with a reason; audited.
 *  - `GET /v1/skills/:id/acceptance` — the rolling rate, its samples (for charts) and the pause history.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import {
  newId,
  SkillIdSchema,
  UnavailableError,
  WorkspaceScopeError,
  type AuditEventDraft,
  type NotificationId,
  type SkillId,
} from "@praxa/core";
import {
  appendAuditEvents,
  asc,
  desc,
  eq,
  pauseSkillByAdmin,
  resumeSkillByAdmin,
  schema,
  type AuditSigner,
  type Database,
  type WorkspaceScope,
} from "@praxa/db";
import { route } from "../route-builder.js";
import { Id, JsonObject, Timestamp } from "../schemas.js";

const Skill = z
  .object({
    id: Id("skill"),
    slug: z.string(),
    name: z.string(),
    status: z.enum(["active", "paused"]),
    pausedReason: z.string().nullable(),
    pausedAt: Timestamp.nullable(),
  })
  .strict();
const SkillVersion = z
  .object({
    id: Id("skillVersion"),
    version: z.number().int(),
    manifestHash: z.string(),
    manifest: JsonObject,
    createdAt: Timestamp,
  })
  .strict();

export interface SkillStatusDeps {
  /** Signs the pause/resume audit events and every administrative change's `admin.*` event; without it those routes answer 503. */
  readonly auditSigner?: AuditSigner | undefined;
  /** Enqueues the resume notifications after the commit (else the monitor's outbox reconciler does, shortly). */
  readonly enqueueNotifications?: ((ids: readonly NotificationId[]) => Promise<void>) | undefined;
}

const Reason = z.object({ reason: z.string().trim().min(1).max(500) }).strict();

function statusEvent(
  kind: "skill.paused" | "skill.resumed",
  skillId: SkillId,
  memberId: string,
  reason: string,
  output: Record<string, string | number | null>,
): AuditEventDraft {
  return {
    auditEventId: newId("auditEvent"),
    kind,
    skillId,
    runId: null,
    trigger: kind === "skill.resumed" ? "api.skill_resume" : "api.skill_pause",
    input: { reason, member_id: memberId },
    reasoning: [reason],
    alternatives: [],
    confidence: null,
    output,
    tools_used: [],
    duration_ms: 0,
    occurred_at: new Date().toISOString(),
  };
}

async function append(deps: SkillStatusDeps, scope: WorkspaceScope, draft: AuditEventDraft): Promise<void> {
  if (!deps.auditSigner) throw new UnavailableError("audit signing is not configured on this api");
  await appendAuditEvents(scope, [draft], deps.auditSigner);
}

const Params = z.object({ id: SkillIdSchema }).strict();
const sk = schema.skills;
const skillFields = {
  id: sk.id,
  slug: sk.slug,
  name: sk.name,
  status: sk.status,
  pausedReason: sk.pausedReason,
  pausedAt: sk.pausedAt,
};

export function registerSkillRoutes(app: FastifyInstance, db: Database, deps: SkillStatusDeps): void {
  route(app, db, {
    method: "GET",
    url: "/v1/skills",
    tag: "skills",
    summary: "List Skills",
    operationId: "listSkills",
    response: z.object({ skills: z.array(Skill) }).strict(),
    handler: async ({ scope }) => ({ skills: await scope.db.select(skillFields).from(sk).orderBy(sk.slug) }),
  });

  route(app, db, {
    method: "GET",
    url: "/v1/skills/:id",
    tag: "skills",
    summary: "One Skill with its versions and manifests",
    operationId: "getSkill",
    params: Params,
    response: z
      .object({
        skill: Skill.extend({ createdAt: Timestamp, updatedAt: Timestamp }).strict(),
        versions: z.array(SkillVersion),
      })
      .strict(),
    handler: async ({ scope, params }) => {
      const [skill] = await scope.db
        .select({ ...skillFields, createdAt: sk.createdAt, updatedAt: sk.updatedAt })
        .from(sk)
        .where(eq(sk.id, params.id));
      if (!skill) throw new WorkspaceScopeError("no such skill in this workspace");
      const v = schema.skillVersions;
      const versions = await scope.db
        .select({
          id: v.id,
          version: v.version,
          manifestHash: v.manifestHash,
          manifest: v.manifest,
          createdAt: v.createdAt,
        })
        .from(v)
        .where(eq(v.skillId, params.id))
        .orderBy(asc(v.version));
      return { skill, versions };
    },
  });

  route(app, db, {
    method: "POST",
    url: "/v1/skills/:id/resume",
    tag: "skills",
    summary: "Resume a paused Skill (a human owner or admin, with a reason)",
    operationId: "resumeSkill",
    errors: ["UNAVAILABLE", "PERMISSION_DENIED", "CONFLICT"],
    response: z
      .object({
        skillId: Id("skill"),
        status: z.literal("active"),
        resumed: z.boolean(),
        resumedBy: Id("member"),
        notifications: z.number().int(),
      })
      .strict(),
    roles: ["owner", "admin"],
    kind: "human",
    bodyLimit: 2048,
    params: Params,
    body: Reason,
    examples: { body: { reason: "false positives fixed in v3; reviewed the last 20 runs" } },
    handler: async ({ scope, caller, params, body, afterCommit }) => {
      if (!deps.auditSigner) throw new UnavailableError("audit signing is not configured on this api");
      const r = await resumeSkillByAdmin(scope, params.id, caller.token, body.reason);
      if (r.resumed) {
        await append(
          deps,
          scope,
          statusEvent("skill.resumed", params.id, r.member_id, body.reason, {
            status: "active",
            pause_id: r.pause_id,
            notifications: r.notification_ids.length,
          }),
        );
        const enqueue = deps.enqueueNotifications;
        if (enqueue && r.notification_ids.length > 0) afterCommit(() => enqueue(r.notification_ids));
      }
      return {
        skillId: params.id,
        status: "active" as const,
        resumed: r.resumed,
        resumedBy: r.member_id,
        notifications: r.notification_ids.length,
      };
    },
  });

  route(app, db, {
    method: "POST",
    url: "/v1/skills/:id/pause",
    tag: "skills",
    summary: "Pause a Skill by hand (an owner or admin, with a reason)",
    operationId: "pauseSkill",
    errors: ["UNAVAILABLE", "PERMISSION_DENIED", "CONFLICT"],
    response: z
      .object({ skillId: Id("skill"), status: z.literal("paused"), paused: z.boolean(), pausedBy: Id("member") })
      .strict(),
    roles: ["owner", "admin"],
    bodyLimit: 2048,
    params: Params,
    body: Reason,
    examples: { body: { reason: "posting duplicate review comments" } },
    handler: async ({ scope, caller, params, body }) => {
      if (!deps.auditSigner) throw new UnavailableError("audit signing is not configured on this api");
      const r = await pauseSkillByAdmin(scope, params.id, caller.token, body.reason);
      if (r.paused)
        await append(
          deps,
          scope,
          statusEvent("skill.paused", params.id, r.member_id, body.reason, { status: "paused", pause_id: r.pause_id }),
        );
      return { skillId: params.id, status: "paused" as const, paused: r.paused, pausedBy: r.member_id };
    },
  });

  route(app, db, {
    method: "GET",
    url: "/v1/skills/:id/acceptance",
    tag: "skills",
    summary: "A Skill's acceptance rate, its samples and its pause history",
    operationId: "getSkillAcceptance",
    params: Params,
    response: z
      .object({
        skillId: Id("skill"),
        status: z.enum(["active", "paused"]),
        pausedReason: z.string().nullable(),
        acceptance: z
          .object({
            decided: z.number().int(),
            accepted: z.number().int(),
            rate: z.number().nullable(),
            threshold: z.number().nullable(),
            window: z.number().int().nullable(),
            minSamples: z.number().int().nullable(),
            evaluatedAt: Timestamp.nullable(),
          })
          .strict()
          .nullable(),
        samples: z.array(
          z
            .object({
              decided: z.number().int(),
              accepted: z.number().int(),
              rate: z.number(),
              threshold: z.number().nullable(),
              sampledAt: Timestamp,
            })
            .strict(),
        ),
        pauses: z.array(
          z
            .object({
              cause: z.enum(["acceptance", "manual"]),
              reason: z.string(),
              rate: z.number().nullable(),
              threshold: z.number().nullable(),
              pausedBy: z.string(),
              pausedAt: Timestamp,
              resumedBy: z.string().nullable(),
              resumedAt: Timestamp.nullable(),
              resumeReason: z.string().nullable(),
            })
            .strict(),
        ),
      })
      .strict(),
    query: z.object({ samples: z.coerce.number().int().min(1).max(1000).default(200) }).strict(),
    handler: async ({ scope, params, query }) => {
      const [skill] = await scope.db
        .select({ status: schema.skills.status, pausedReason: schema.skills.pausedReason })
        .from(schema.skills)
        .where(eq(schema.skills.id, params.id));
      if (!skill) throw new WorkspaceScopeError("no such skill in this workspace");
      const a = schema.skillAcceptance;
      const [current] = await scope.db
        .select({
          decided: a.decided,
          accepted: a.accepted,
          rate: a.rate,
          threshold: a.threshold,
          window: a.windowSize,
          minSamples: a.minSamples,
          evaluatedAt: a.evaluatedAt,
        })
        .from(a)
        .where(eq(a.skillId, params.id));
      const sm = schema.skillAcceptanceSamples;
      const samples = await scope.db
        .select({
          decided: sm.decided,
          accepted: sm.accepted,
          rate: sm.rate,
          threshold: sm.threshold,
          sampledAt: sm.sampledAt,
        })
        .from(sm)
        .where(eq(sm.skillId, params.id))
        .orderBy(desc(sm.id))
        .limit(query.samples);
      const p = schema.skillPauses;
      const pauses = await scope.db
        .select({
          cause: p.cause,
          reason: p.reason,
          rate: p.rate,
          threshold: p.threshold,
          pausedBy: p.pausedBy,
          pausedAt: p.pausedAt,
          resumedBy: p.resumedBy,
          resumedAt: p.resumedAt,
          resumeReason: p.resumeReason,
        })
        .from(p)
        .where(eq(p.skillId, params.id))
        .orderBy(desc(p.id))
        .limit(50);
      return { skillId: params.id, ...skill, acceptance: current ?? null, samples: samples.reverse(), pauses };
    },
  });
}
