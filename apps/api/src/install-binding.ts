/**
 * Install links bound to the browser that started them. The provider's callback is a browser redirect without an api
 * token, so a state in a URL would otherwise be enough: an admin of workspace A could send the link to someone else,
 * who — installing the genuine app — would connect their Slack team or GitHub org to A. So:
 *  - the install-start route (an authenticated owner/admin) sets `__Host-praxa_install=<nonce>` in that member's
 *    browser — Secure, HttpOnly, SameSite=Lax (sent on the provider's top-level redirect back, never on a cross-site
 *    sub-request or POST), Path=/, no Domain (the `__Host-` prefix makes browsers enforce the last three), 10 minutes —
 *    and stores only SHA-256 of the nonce with the state (`oauth_states.binding_sha256`);
 *  - the callback consumes the state only if the cookie it carries hashes to that value (compared in constant time);
 *    otherwise `INSTALL_NOT_BOUND` (403), nothing recorded, nothing asked of the provider, and the state is left
 *    unconsumed: a stranger holding a member's link cannot burn it, and it is useless without that member's cookie;
 *  - what the callback records is `pending_confirmation` until the same member, from the same browser (api token +
 *    the same cookie), confirms the installing account (integration-confirm.ts).
 * One install at a time per browser: starting another replaces the cookie, and the earlier link stops working.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { PraxaError } from "@praxa/core";

const INSTALL_COOKIE = "__Host-praxa_install";
/** The cookie's lifetime, in seconds: the state's (oauth-state.ts), and the confirmation window after the callback. */
export const INSTALL_COOKIE_MAX_AGE_S = 600;

/** The callback or the confirmation came from a browser that did not start this install (or its cookie expired). */
export class InstallNotBoundError extends PraxaError {
  readonly code = "INSTALL_NOT_BOUND";
  readonly httpStatus = 403;
}

const NONCE = /^[A-Za-z0-9_-]{43}$/;

/** A fresh nonce: 32 random bytes, base64url. */
export function newInstallNonce(): string {
  return randomBytes(32).toString("base64url");
}

/** What is stored: SHA-256 (hex) of the nonce. */
export function installBindingHash(nonce: string): string {
  return createHash("sha256").update(nonce, "utf8").digest("hex");
}

/** The nonce the request's `__Host-praxa_install` cookie carries, if it is well-formed. */
export function installNonceOf(req: FastifyRequest): string | null {
  const value = req.cookies[INSTALL_COOKIE];
  return value !== undefined && NONCE.test(value) ? value : null;
}

/** Whether the nonce hashes to the stored binding — constant-time over the digests; no nonce or no binding → false. */
export function installBindingMatches(nonce: string | null, storedSha256: string | null): boolean {
  if (nonce === null || storedSha256 === null || !/^[0-9a-f]{64}$/.test(storedSha256)) return false;
  return timingSafeEqual(Buffer.from(installBindingHash(nonce), "hex"), Buffer.from(storedSha256, "hex"));
}

/** Set (or refresh) the install cookie on the answer. */
export function setInstallCookie(reply: FastifyReply, nonce: string): void {
  reply.setCookie(INSTALL_COOKIE, nonce, {
    path: "/",
    secure: true,
    httpOnly: true,
    sameSite: "lax",
    maxAge: INSTALL_COOKIE_MAX_AGE_S,
  });
}

/** Clear the install cookie (the install is confirmed). */
export function clearInstallCookie(reply: FastifyReply): void {
  reply.clearCookie(INSTALL_COOKIE, { path: "/", secure: true, httpOnly: true, sameSite: "lax" });
}
