/**
 * The api: the workspace's control plane. Every `/v1` route authenticates an api token and runs in that token's
 * workspace scope; a foreign id is answered 404, exactly like a missing one. Errors are `{"error":{"code","message"}}`.
 */
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isPraxaError, parseRedactionPolicy, RedactionPolicySchema, RunIdSchema, SkillIdSchema, WorkspaceScopeError } from '@praxa/core';
import { and, desc, eq, gt, gte, lt, schema, sql, type Database } from '@praxa/db';
import type { Logger } from '@praxa/observability';
import { registerFeedbackRoutes } from './feedback.js';
import { registerGithubInstallRoutes } from './github-install.js';
import type { InstallConfig } from './install-config.js';
import { registerIntegrationConfirmRoutes } from './integration-confirm.js';
import { registerIntegrationRoutes } from './integrations.js';
import { registerLlmKeyRoutes } from './llm-keys.js';
import { registerNotificationChannelRoutes } from './notification-channels.js';
import { registerSkillStatusRoutes, type SkillStatusDeps } from './skill-status.js';
import { registerSlackInstallRoutes } from './slack-install.js';
import { registerTokenRoutes } from './tokens.js';
import { registerTriggerSecretRoutes } from './trigger-secrets.js';
import { changeRedactionPolicy } from './redaction-policy.js';
import { route } from './route-builder.js';
import { registerAuditVerifyRoute } from './audit-verify.js';
import { localVerifyGate, type VerifyGate } from './audit-verify-gate.js';
import { registerRateLimits, type ApiRateLimitDeps } from './rate-limit.js';

export interface ApiDeps extends SkillStatusDeps {
  readonly database: Database;
  readonly log: Logger;
  /** Bot-user installs (Slack OAuth, GitHub App); absent → those routes answer INTEGRATION_NOT_CONFIGURED. */
  readonly install?: InstallConfig;
  /** Events per page for GET /v1/audit/verify (default 20,000). */
  readonly auditVerifyPageSize?: number;
  /**
   * Rate limits and the audit-verify gate, in Redis so they hold across api processes (rate-limit.ts,
   * audit-verify-gate.ts). Absent (tests, tools): no rate limits, and verifications capped in process memory.
   */
  readonly limits?: Omit<ApiRateLimitDeps, 'log'> & { readonly verifyGate: VerifyGate; readonly trustProxy?: boolean };
}

export async function buildApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 256 * 1024, trustProxy: deps.limits?.trustProxy ?? false });
  const db = deps.database;
  const pageSize = deps.auditVerifyPageSize;
  // Before any route: the per-address limit runs in onRequest, ahead of every token lookup.
  if (deps.limits) await registerRateLimits(app, { ...deps.limits, log: deps.log });

  app.setErrorHandler((error: unknown, req, reply) => {
    if (error instanceof WorkspaceScopeError) return reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'not found' } });
    if (isPraxaError(error)) {
      if (error.httpStatus >= 500) deps.log.error({ route: req.routeOptions.url, code: error.code, err: error }, 'request failed');
      return reply.status(error.httpStatus).send(error.toJSON());
    }
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return reply.status(status).send({ error: { code: status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST', message: 'the request was not understood' } });
    }
    deps.log.error({ route: req.routeOptions.url, code: 'INTERNAL', err: error }, 'unexpected error');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal error' } });
  });
  app.setNotFoundHandler((_req, reply) => reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'no such route' } }));
  app.addHook('onResponse', async (req, reply) => {
    deps.log.info({ route: req.routeOptions.url ?? 'unmatched', status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  app.get('/healthz', async () => ({ ok: true }));

  route(app, db, {
    method: 'GET',
    url: '/v1/skills',
    handler: async ({ scope }) => {
      const rows = await scope.db
        .select({ id: schema.skills.id, slug: schema.skills.slug, name: schema.skills.name, status: schema.skills.status, pausedReason: schema.skills.pausedReason, pausedAt: schema.skills.pausedAt })
        .from(schema.skills)
        .orderBy(schema.skills.slug);
      return { skills: rows };
    },
  });

  const runFields = {
    id: schema.agentRuns.id,
    skillId: schema.agentRuns.skillId,
    skillVersionId: schema.agentRuns.skillVersionId,
    trigger: schema.agentRuns.trigger,
    status: schema.agentRuns.status,
    skipReason: schema.agentRuns.skipReason,
    errorCode: schema.agentRuns.errorCode,
    attempt: schema.agentRuns.attempt,
    input: schema.agentRuns.input,
    createdAt: schema.agentRuns.createdAt,
    startedAt: schema.agentRuns.startedAt,
    finishedAt: schema.agentRuns.finishedAt,
  };

  route(app, db, {
    method: 'GET',
    url: '/v1/runs',
    query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50), before: RunIdSchema.optional() }).strict(),
    handler: async ({ scope, query }) => {
      // Keyset pagination: TypeIDs sort by creation time.
      const rows = await scope.db
        .select(runFields)
        .from(schema.agentRuns)
        .where(query.before ? lt(schema.agentRuns.id, query.before) : undefined)
        .orderBy(desc(schema.agentRuns.id))
        .limit(query.limit);
      return { runs: rows, next: rows.length === query.limit ? rows.at(-1)?.id ?? null : null };
    },
  });

  route(app, db, {
    method: 'GET',
    url: '/v1/runs/:id',
    params: z.object({ id: RunIdSchema }),
    handler: async ({ scope, params }) => {
      const [run] = await scope.db.select(runFields).from(schema.agentRuns).where(and(eq(schema.agentRuns.id, params.id)));
      if (!run) throw new WorkspaceScopeError('no such run in this workspace');
      return { run };
    },
  });

  registerTokenRoutes(app, db, deps.auditSigner);
  registerLlmKeyRoutes(app, db, deps.auditSigner);
  registerTriggerSecretRoutes(app, db, deps.auditSigner);
  registerIntegrationRoutes(app, db);
  // Install links are bound to the browser that started them by a cookie (install-binding.ts); nothing else reads one.
  await app.register(fastifyCookie);
  registerSlackInstallRoutes(app, db, deps.install, deps.auditSigner);
  registerGithubInstallRoutes(app, db, deps.install, deps.auditSigner);
  registerIntegrationConfirmRoutes(app, db, deps.auditSigner);
  registerFeedbackRoutes(app, db);
  registerNotificationChannelRoutes(app, db, deps.auditSigner);
  registerSkillStatusRoutes(app, db, deps);

  // ── audit ──
  route(app, db, {
    method: 'GET',
    url: '/v1/audit/events',
    query: z
      .object({
        skill: SkillIdSchema.optional(),
        run: RunIdSchema.optional(),
        trigger: z.string().regex(/^[a-z0-9_]+(\.[a-z0-9_]+)+$/).optional(),
        from: z.iso.datetime().optional(),
        to: z.iso.datetime().optional(),
        after: z.coerce.number().int().min(0).default(0),
        limit: z.coerce.number().int().min(1).max(500).default(100),
      })
      .strict(),
    handler: async ({ scope, query }) => {
      const e = schema.auditEvents;
      const occurred = query.from || query.to ? and(query.from ? gte(e.occurredAt, new Date(query.from)) : undefined, query.to ? lt(e.occurredAt, new Date(query.to)) : undefined) : undefined;
      // Pages are in seq order, but Postgres cannot know that seq and occurred_at rise together: for a time range it
      // would walk the chain from the cursor past everything before the range. The range's least and greatest seq,
      // read from the time index alone (OFFSET 0 keeps them from being planned as a walk of the chain too), bound the
      // walk to the range — each page costs the range, never the chain (plans in docs/operations.md).
      const seqOfRange = occurred ? sql`(select ${e.seq} as seq from ${e} where ${occurred} offset 0) r` : undefined;
      const rows = await scope.db
        .select({ seq: e.seq, hash: e.hash, prevHash: e.prevHash, keyId: e.keyId, signature: e.signature, canonical: e.canonical })
        .from(e)
        .where(
          and(
            gt(e.seq, query.after),
            query.skill ? eq(e.skillId, query.skill) : undefined,
            query.run ? eq(e.runId, query.run) : undefined,
            query.trigger ? eq(e.trigger, query.trigger) : undefined,
            occurred,
            seqOfRange ? sql`${e.seq} between (select min(r.seq) from ${seqOfRange}) and (select max(r.seq) from ${seqOfRange})` : undefined,
          ),
        )
        .orderBy(e.seq)
        .limit(query.limit);
      return {
        // Each event as it was hashed: the record parsed from its stored canonical bytes, plus the chain seal.
        events: rows.map((r) => ({ ...(JSON.parse(r.canonical.toString('utf8')) as Record<string, unknown>), hash: r.hash, signature: r.signature })),
        next: rows.length === query.limit ? rows.at(-1)?.seq ?? null : null,
      };
    },
  });

  route(app, db, {
    method: 'GET',
    url: '/v1/audit/redaction-policy',
    handler: async ({ scope, caller }) => {
      const [ws] = await scope.db.select({ policy: schema.workspaces.auditRedaction }).from(schema.workspaces).where(eq(schema.workspaces.id, caller.workspaceId));
      return { policy: parseRedactionPolicy(ws?.policy ?? {}) };
    },
  });

  route(app, db, {
    method: 'PUT',
    url: '/v1/audit/redaction-policy',
    roles: ['owner', 'admin'],
    body: RedactionPolicySchema,
    handler: async ({ scope, caller, body }) => ({ policy: body, ...(await changeRedactionPolicy(scope, caller, body, deps.auditSigner)) }),
  });

  registerAuditVerifyRoute(app, db, { log: deps.log, gate: deps.limits?.verifyGate ?? localVerifyGate(), ...(pageSize === undefined ? {} : { pageSize }) });

  return app;
}
