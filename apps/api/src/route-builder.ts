/**
 * The route builder, in fastify's zod type-provider world (fastify-type-provider-zod): a route declares its params,
 * query, body and every response — success and each error status with the codes it can answer — as zod schemas.
 * Fastify validates the input with them (validatorCompiler: the handler sees typed, validated input only) and
 * serializes every answer through the declared schema of its status (serializerCompiler: an undeclared field is
 * dropped by a stripping schema and refused by a strict one — the routes declare strict answers, so drift between a
 * handler and its contract is a logged 500 `RESPONSE_SCHEMA_MISMATCH`, never a leak). The same schemas are the OpenAPI document (openapi.ts).
 *
 * What the builder adds to a route, ahead of validation (`preValidation`, so an unauthenticated caller learns nothing
 * about the schema): the api token's authentication, the per-token rate limit, the roles and the token kind
 * (`human`-only routes). The handler runs inside the caller's workspace scope — the workspace comes from the
 * authenticated token, never from the URL or the body — and a foreign id is answered 404 like a missing one; work
 * registered with `afterCommit` runs once the scope's transaction has committed. The checks and the scope are
 * route-auth.ts's (a file of its own, which the mutation gate holds to the promise).
 * Routes without a token (`auth: 'none'`: /healthz, the OpenAPI document, the install callbacks) declare so.
 */
import type { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Database, WorkspaceScope } from "@praxa/db";
import { RateLimitedError } from "./errors.js";
import { admit, inCallersScope, type Caller, type CallerRequirements } from "./route-auth.js";

/** Every error code the api answers, with its HTTP status (the classes that carry them: core, connectors, errors.ts). */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  BAD_REQUEST: 400,
  INVALID_ID: 400,
  REDACTION_POLICY_INVALID: 400,
  OAUTH_DENIED: 400,
  OAUTH_STATE_INVALID: 400,
  INSTALLATION_UNVERIFIED: 400,
  USER_CREDENTIAL_REFUSED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  PERMISSION_DENIED: 403,
  INSTALL_NOT_BOUND: 403,
  NOT_FOUND: 404,
  GITHUB_INSTALLATION_NOT_FOUND: 404,
  CONFLICT: 409,
  WORKSPACE_KEY_MISSING: 409,
  INGEST_KEY_MISSING: 409,
  INTEGRATION_CLAIMED: 409,
  INSTALLATION_SUSPENDED: 409,
  SLACK_INTEGRATION_MISSING: 409,
  RUN_FINISHED: 409,
  RUN_NOT_FAILED: 409,
  RUN_ALREADY_RETRIED: 409,
  GUARD_DENIAL_NEEDS_NEW_VERSION: 409,
  SKILL_PAUSED: 409,
  REPLAY_NOT_POSSIBLE: 409,
  PAYLOAD_TOO_LARGE: 413,
  EGRESS_REFUSED: 422,
  SIEM_ENDPOINT_UNVERIFIED: 422,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SLACK_OAUTH_FAILED: 502,
  OAUTH_ANSWER_INVALID: 502,
  GITHUB_REQUEST_REJECTED: 502,
  UNAVAILABLE: 503,
  INTEGRATION_NOT_CONFIGURED: 404,
  AUDIT_VERIFY_UNAVAILABLE: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

/** The error envelope `{"error":{"code","message"}}`, its code one of `codes`. */
export function errorEnvelope(
  codes: readonly [ErrorCode, ...ErrorCode[]],
): z.ZodType<{ error: { code: ErrorCode; message: string } }> {
  return z
    .object({ error: z.object({ code: z.enum(codes), message: z.string() }).strict() })
    .strict()
    .meta({ description: `Error: ${codes.join(", ")}` });
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

interface SpecBase<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType> {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly url: string;
  /** OpenAPI: the resource's tag, a one-line summary, an operation id (the generated client's name for it). */
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  readonly operationId: string;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  readonly bodyLimit?: number;
  /** The success answer's schema (status `status`, 200 by default). */
  readonly response: R;
  readonly status?: 200 | 201 | 202;
  /** Other success statuses this route answers (e.g. a callback's 202), with their schema. */
  readonly otherResponses?: Readonly<Record<number, z.ZodType>>;
  /** The error codes this route answers beyond what the builder adds (auth, rate limit, validation, roles, 404). */
  readonly errors?: readonly ErrorCode[];
  /** A success answer that is not JSON (a stream): its media type; `response` then describes one item of it. */
  readonly content?: { readonly type: string; readonly description: string };
  /** Examples for the OpenAPI document (request body, success answer). */
  readonly examples?: { readonly body?: unknown; readonly response?: unknown };
}

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType>
  extends SpecBase<P, Q, B, R>, CallerRequirements {
  /** The handler's answer: the schema's output, with Dates where strings are declared (sent as ISO-8601). */
  readonly handler: (
    ctx: RouteContext<z.output<P>, z.output<Q>, z.output<B>>,
  ) => Promise<Wire<z.output<R>> | StreamAnswer>;
}

export interface PublicRouteSpec<
  P extends z.ZodType,
  Q extends z.ZodType,
  B extends z.ZodType,
  R extends z.ZodType,
> extends SpecBase<P, Q, B, R> {
  readonly handler: (ctx: {
    readonly params: z.output<P>;
    readonly query: z.output<Q>;
    readonly body: z.output<B>;
    readonly request: FastifyRequest;
    readonly reply: FastifyReply;
  }) => Promise<Wire<z.output<R>> | FastifyReply>;
}

/** What a handler may return for a declared answer: Dates stand in for strings (JSON turns them into ISO-8601). */
export type Wire<T> = T extends string
  ? T | Date
  : T extends readonly (infer E)[]
    ? readonly Wire<E>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

/** A streamed answer (not serialized through a schema: `content` in the spec documents it). */
export class StreamAnswer {
  constructor(
    readonly contentType: string,
    readonly body: Readable,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {}
}

const NoQuery = z.object({}).strict();

/** Dates → ISO strings, everything else as JSON would carry it (then the declared schema checks and strips it). */
function toWire(value: unknown): unknown {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as unknown);
}

function responses(
  spec: SpecBase<z.ZodType, z.ZodType, z.ZodType, z.ZodType>,
  extra: readonly ErrorCode[],
): Record<number, unknown> {
  const byStatus = new Map<number, Set<ErrorCode>>();
  const add = (code: ErrorCode) => {
    const status = ERROR_STATUS[code];
    byStatus.set(status, (byStatus.get(status) ?? new Set()).add(code));
  };
  add("VALIDATION_FAILED");
  add("RATE_LIMITED");
  add("INTERNAL");
  if (spec.body) {
    add("BAD_REQUEST");
    add("PAYLOAD_TOO_LARGE");
    add("UNSUPPORTED_MEDIA_TYPE");
  }
  for (const c of [...extra, ...(spec.errors ?? [])]) add(c);
  const success = spec.content
    ? { description: spec.content.description, content: { [spec.content.type]: { schema: spec.response } } }
    : spec.response;
  const out: Record<number, unknown> = { [spec.status ?? 200]: success, ...(spec.otherResponses ?? {}) };
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b))
    out[status] = errorEnvelope([...codes].sort() as [ErrorCode, ...ErrorCode[]]);
  return out;
}

function schemaOf(
  spec: SpecBase<z.ZodType, z.ZodType, z.ZodType, z.ZodType>,
  secured: boolean,
  extra: readonly ErrorCode[],
) {
  return {
    tags: [spec.tag],
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    operationId: spec.operationId,
    ...(secured ? { security: [{ bearerAuth: [] }] } : { security: [] }),
    ...(spec.params ? { params: spec.params } : {}),
    querystring: spec.query ?? NoQuery,
    ...(spec.body ? { body: spec.body } : {}),
    response: responses(spec, extra),
  };
}

function withRetryAfter(reply: FastifyReply, err: unknown): never {
  if (err instanceof RateLimitedError) void reply.header("retry-after", String(err.retryAfterSeconds));
  throw err;
}

/** A `/v1` route behind an api token, run in the caller's workspace scope. */
export function route<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType>(
  app: FastifyInstance,
  database: Database,
  spec: RouteSpec<P, Q, B, R>,
): void {
  const extra: ErrorCode[] = ["UNAUTHENTICATED"];
  if (spec.roles || spec.kind) extra.push("FORBIDDEN");
  if (spec.params) extra.push("NOT_FOUND", "INVALID_ID");
  app.withTypeProvider<ZodTypeProvider>().route({
    method: spec.method,
    url: spec.url,
    ...(spec.bodyLimit !== undefined ? { bodyLimit: spec.bodyLimit } : {}),
    schema: schemaOf(spec, true, extra),
    ...(spec.examples ? { config: { examples: spec.examples, status: spec.status ?? 200 } } : {}),
    // Before validation: who calls, within which budget, with which role and token kind.
    preValidation: async (req, reply) => {
      await admit(app, database, req, spec).catch((err: unknown) => withRetryAfter(reply, err));
    },
    handler: async (req, reply) => {
      const deferred: (() => Promise<void>)[] = [];
      const afterCommit = (fn: () => Promise<void>) => void deferred.push(fn);
      const result = await inCallersScope(database, req, (scope, caller) =>
        spec.handler({
          params: req.params as z.output<P>,
          query: req.query as z.output<Q>,
          body: req.body as z.output<B>,
          caller,
          afterCommit,
          request: req,
          reply,
          scope,
        }),
      ).catch((err: unknown) => withRetryAfter(reply, err));
      // Committed: follow-ups are best effort (each records its own failure; the outbox reconciler covers them).
      for (const fn of deferred) await fn().catch(() => undefined);
      if (reply.sent) return reply;
      if (result instanceof StreamAnswer)
        return reply
          .status(spec.status ?? 200)
          .headers(result.headers)
          .type(result.contentType)
          .send(result.body);
      return reply.status(spec.status ?? 200).send(toWire(result) as never);
    },
  });
}

/** A route without an api token (health, the document, the install callbacks: a browser redirect carries none). */
export function publicRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType>(
  app: FastifyInstance,
  spec: PublicRouteSpec<P, Q, B, R>,
): void {
  app.withTypeProvider<ZodTypeProvider>().route({
    method: spec.method,
    url: spec.url,
    ...(spec.bodyLimit !== undefined ? { bodyLimit: spec.bodyLimit } : {}),
    schema: schemaOf(spec, false, []),
    ...(spec.examples ? { config: { examples: spec.examples, status: spec.status ?? 200 } } : {}),
    handler: async (req, reply) => {
      const result = await spec
        .handler({
          params: req.params as z.output<P>,
          query: req.query as z.output<Q>,
          body: req.body as z.output<B>,
          request: req,
          reply,
        })
        .catch((err: unknown) => withRetryAfter(reply, err));
      if (reply.sent || result === reply) return reply;
      return reply.status(spec.status ?? 200).send(toWire(result) as never);
    },
  });
}
