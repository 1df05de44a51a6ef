/**
 * The route builder: a route declares its params, query and body schemas, its size limit and who may call it (roles,
 * token kind); the handler only ever sees validated, typed input and runs inside the caller's workspace scope. The
 * workspace comes from the authenticated token — never from the URL or the body.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { parseApiToken, hashTokenSecret, ValidationError, type WorkspaceId } from '@praxa/core';
import { authenticateApiToken, withWorkspace, type Database, type MemberRole, type WorkspaceScope } from '@praxa/db';
import { ForbiddenError, RateLimitedError, UnauthenticatedError } from './errors.js';
import { apiRateLimiter } from './rate-limit.js';

export interface Caller {
  readonly workspaceId: WorkspaceId;
  readonly memberId: string;
  readonly role: MemberRole;
  readonly kind: 'human' | 'automation';
  /** The token as presented (id and the SHA-256 of its secret), for definer functions that re-check it. Never logged. */
  readonly token: { readonly tokenId: string; readonly secretSha256: string };
}

export interface RouteContext<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly caller: Caller;
  readonly scope: WorkspaceScope;
  /** Work to run once the scope's transaction has committed (enqueueing what it recorded: the row is the outbox). */
  readonly afterCommit: (fn: () => Promise<void>) => void;
  /** The raw request and reply, for what a schema does not carry: the install routes' cookie (install-binding.ts). */
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  readonly bodyLimit?: number;
  /** Roles allowed to call (default: every member role). */
  readonly roles?: readonly MemberRole[];
  /** Token kind required (e.g. `human` for resume). */
  readonly kind?: 'human';
  readonly status?: number;
  readonly handler: (ctx: RouteContext<z.infer<P>, z.infer<Q>, z.infer<B>>) => Promise<unknown>;
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, what: string): z.infer<T> {
  if (!schema) return undefined as z.infer<T>;
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`invalid ${what}: ${[...new Set(r.error.issues.map((i) => i.path.join('.') || '(root)'))].join(', ')}`);
  return r.data;
}

async function authenticate(database: Database, req: FastifyRequest): Promise<Caller> {
  const token = parseApiToken(req.headers.authorization);
  if (!token) throw new UnauthenticatedError('a valid api token is required');
  const secretSha256 = hashTokenSecret(token.secret);
  const auth = await authenticateApiToken(database, token.workspaceId, token.tokenId, secretSha256);
  if (!auth) throw new UnauthenticatedError('a valid api token is required');
  return { workspaceId: token.workspaceId, memberId: auth.member_id, role: auth.role, kind: auth.kind, token: { tokenId: token.tokenId, secretSha256 } };
}

export function route<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(app: FastifyInstance, database: Database, spec: RouteSpec<P, Q, B>): void {
  app.route({
    method: spec.method,
    url: spec.url,
    ...(spec.bodyLimit !== undefined ? { bodyLimit: spec.bodyLimit } : {}),
    handler: async (req, reply) => {
      try {
        return await handle(req, reply);
      } catch (err) {
        if (err instanceof RateLimitedError) void reply.header('retry-after', String(err.retryAfterSeconds));
        throw err;
      }
    },
  });

  async function handle(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const caller = await authenticate(database, req);
    // The token's own budget, keyed by the id the database just vouched for (per-address limits ran before).
    await apiRateLimiter(app)?.token(req, caller.token.tokenId);
    if (spec.roles && !spec.roles.includes(caller.role)) throw new ForbiddenError('your role may not do this');
    if (spec.kind && caller.kind !== spec.kind) throw new ForbiddenError(`this needs a ${spec.kind} token`);
    const params = parse(spec.params, req.params, 'path parameters');
    const query = parse(spec.query, req.query, 'query');
    const body = parse(spec.body, req.body, 'body');
    const deferred: (() => Promise<void>)[] = [];
    const afterCommit = (fn: () => Promise<void>) => void deferred.push(fn);
    const result = await withWorkspace(database, caller.workspaceId, (scope) => spec.handler({ params, query, body, caller, scope, afterCommit, request: req, reply }));
    // Committed: follow-ups are best effort (each records its own failure; the outbox reconciler covers them).
    for (const fn of deferred) await fn().catch(() => undefined);
    return reply.status(spec.status ?? 200).send(result);
  }
}
