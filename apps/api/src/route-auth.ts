/**
 * Who calls an api route, and in which workspace its handler runs — the promise-keeping part of the route builder
 * (route-builder.ts), kept in a file of its own so the mutation gate mutates exactly it (scripts/mutation/modules.json,
 * module `route-auth`; docs/security.md row 2).
 *
 * `admit` runs before validation (fastify's `preValidation`, so an unauthenticated caller learns nothing about the
 * schema): the api token's authentication — or the console's session cookie with its CSRF check — then the per-token
 * rate budget, the route's roles and its token kind. `inCallersScope` runs the handler in the workspace scope of the
 * caller `admit` vouched for: the workspace comes from the authenticated token, never from the URL or the body.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { hashTokenSecret, parseApiToken, type WorkspaceId } from "@praxa/core";
import { authenticateApiToken, withWorkspace, type Database, type MemberRole, type WorkspaceScope } from "@praxa/db";
import { checkCsrf, consoleOrigin, sessionTokenOf } from "./console-session.js";
import { ForbiddenError, UnauthenticatedError } from "./errors.js";
import { apiRateLimiter } from "./rate-limit.js";

export interface Caller {
  readonly workspaceId: WorkspaceId;
  readonly memberId: string;
  readonly role: MemberRole;
  readonly kind: "human" | "automation";
  /** The token as presented (id and the SHA-256 of its secret), for definer functions that re-check it. Never logged. */
  readonly token: { readonly tokenId: string; readonly secretSha256: string };
}

/** What a route asks of its caller beyond a valid token. */
export interface CallerRequirements {
  /** Roles allowed to call (absent: every member role). */
  readonly roles?: readonly MemberRole[];
  /** Token kind required — `human` (e.g. for resume): a person's token, as a console session is; absent: either kind. */
  readonly kind?: "human";
}

/**
 * The caller: an api token in `Authorization`, or — with no such header — the console's session cookie, which holds a
 * short-lived human token (console-session.ts). A cookie-authenticated request that changes anything must also pass
 * the CSRF check. Either way the database vouches for the token (api_authenticate).
 */
async function authenticate(app: FastifyInstance, database: Database, req: FastifyRequest): Promise<Caller> {
  const header = req.headers.authorization;
  const fromCookie = header === undefined ? sessionTokenOf(req) : null;
  const token = header !== undefined ? parseApiToken(header) : fromCookie;
  if (!token) throw new UnauthenticatedError("a valid api token is required");
  const secretSha256 = hashTokenSecret(token.secret);
  const auth = await authenticateApiToken(database, token.workspaceId, token.tokenId, secretSha256);
  if (!auth) throw new UnauthenticatedError("a valid api token is required");
  if (fromCookie) checkCsrf(req, fromCookie, consoleOrigin(app));
  return {
    workspaceId: token.workspaceId,
    memberId: auth.member_id,
    role: auth.role,
    kind: auth.kind,
    token: { tokenId: token.tokenId, secretSha256 },
  };
}

/** The caller `admit` vouched for, per request (a WeakMap: it goes with the request). */
const callers = new WeakMap<FastifyRequest, Caller>();

/**
 * Let the request's caller in, or throw (401 UNAUTHENTICATED, 403 FORBIDDEN, 429 RATE_LIMITED): who calls, within
 * which budget, with which role and token kind. Runs in `preValidation`.
 */
export async function admit(
  app: FastifyInstance,
  database: Database,
  req: FastifyRequest,
  need: CallerRequirements,
): Promise<void> {
  const caller = await authenticate(app, database, req);
  // The token's own budget, keyed by the id the database just vouched for (per-address limits ran before).
  await apiRateLimiter(app)?.token(req, caller.token.tokenId);
  if (need.roles && !need.roles.includes(caller.role)) throw new ForbiddenError("your role may not do this");
  if (need.kind && caller.kind !== need.kind) throw new ForbiddenError(`this needs a ${need.kind} token`);
  callers.set(req, caller);
}

/**
 * Run `fn` in the workspace scope of the caller `admit` let in: the workspace is the token's, and row-level security
 * holds every statement to it (a foreign id reads as missing). A request `admit` did not see is 401 — it cannot
 * happen through the route builder, whose handler runs only after `preValidation`; the check keeps it so if a hook is
 * ever reordered.
 */
export async function inCallersScope<T>(
  database: Database,
  req: FastifyRequest,
  fn: (scope: WorkspaceScope, caller: Caller) => Promise<T>,
): Promise<T> {
  const caller = callers.get(req);
  if (!caller) throw new UnauthenticatedError("a valid api token is required");
  return withWorkspace(database, caller.workspaceId, (scope) => fn(scope, caller));
}
