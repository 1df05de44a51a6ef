/**
 * The console's session cookie (docs/decisions/0006-console-sessions.md). A session is a short-lived `human` api token
 * minted at sign-in (migration 0034); the browser holds it only inside `__Host-praxa-session` — HttpOnly (no script
 * reads it), Secure, SameSite=Strict (never sent on a request another site starts), Path=/, no Domain (the `__Host-`
 * prefix makes browsers enforce the last three). The route builder accepts it wherever it accepts a bearer token
 * (`authenticateSession`), so every route, role check and database re-check sees the same human token of the member.
 *
 * CSRF: a request authenticated by the cookie that changes anything (any method but GET/HEAD) must also carry
 * `x-praxa-csrf` — an HMAC of the session's secret only this origin can read (GET /console/session answers it) — and,
 * when the browser sends one, an `Origin` equal to the api's public origin. SameSite=Strict already keeps the cookie off
 * cross-site requests; the header is the second lock (a sibling subdomain is "same site").
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { parseApiToken, type ParsedApiToken } from "@praxa/core";
import { ForbiddenError } from "./errors.js";

const SESSION_COOKIE = "__Host-praxa-session";
export const SIGN_IN_COOKIE = "__Host-praxa-signin";
const CSRF_HEADER = "x-praxa-csrf";

/** The session token the request's cookie carries (a malformed one is no session). */
export function sessionTokenOf(req: FastifyRequest): ParsedApiToken | null {
  const value = req.cookies?.[SESSION_COOKIE];
  return value ? parseApiToken(value) : null;
}

/** The CSRF token of a session: HMAC-SHA256 keyed by the session's secret (never stored; recomputed per request). */
export function csrfTokenFor(secret: string): string {
  return createHmac("sha256", secret).update("praxa-console-csrf/v1").digest("base64url");
}

const origins = new WeakMap<FastifyInstance, string>();

/** The api's public origin (API_PUBLIC_URL), against which a console mutation's `Origin` is checked. */
export function setConsoleOrigin(app: FastifyInstance, publicUrl: string): void {
  origins.set(app, new URL(publicUrl).origin);
}

export function consoleOrigin(app: FastifyInstance): string | null {
  return origins.get(app) ?? null;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * A cookie-authenticated mutation must carry the session's CSRF token and, if the browser says where it comes from,
 * come from the api's own origin. Throws FORBIDDEN otherwise.
 */
export function checkCsrf(req: FastifyRequest, token: ParsedApiToken, publicOrigin: string | null): void {
  if (SAFE_METHODS.has(req.method)) return;
  const origin = req.headers.origin;
  if (origin !== undefined && publicOrigin !== null && origin !== publicOrigin)
    throw new ForbiddenError("cross-origin request refused");
  const presented = req.headers[CSRF_HEADER];
  const expected = Buffer.from(csrfTokenFor(token.secret));
  const given = Buffer.from(typeof presented === "string" ? presented : "");
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new ForbiddenError("a console request that changes something needs its CSRF token");
}

export function setSessionCookie(reply: FastifyReply, token: string, maxAgeSeconds: number): void {
  reply.setCookie(SESSION_COOKIE, token, {
    path: "/",
    secure: true,
    httpOnly: true,
    sameSite: "strict",
    maxAge: maxAgeSeconds,
  });
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: "/", secure: true, httpOnly: true, sameSite: "strict" });
}
