/**
 * The console (apps/web) from the api's own origin, and its sign-in (docs/console.md, docs/decisions/0006).
 *
 * Pages: the built static files (`apps/web/dist`) through @fastify/static — hashed assets cached for a year, the page
 * itself never — under a strict Content-Security-Policy: scripts, styles, images, fonts and requests from this origin
 * only, no inline script, no frame, no plugin, no `<base>`, forms posting only here. The console's routes (`/runs`,
 * `/skills/…`) answer the same index.html; the app routes in the browser.
 *
 * Sign-in: OpenID Connect, authorization code with PKCE (`openid-client`), handled here:
 *   GET  /auth/login?workspace=ws_…[&returnTo=/runs] → the IdP. The state (which names the workspace), the PKCE
 *        verifier and the nonce stay server-side (console_sign_ins, by the state's hash); the browser gets only the
 *        state, bound to it by `__Host-praxa-signin` (SameSite=Lax: it must come back on the IdP's redirect).
 *   GET  /auth/callback → the code exchanged with the verifier; the ID token's nonce, issuer and audience checked by
 *        openid-client; its subject (or, the first time, its verified email) mapped to a member of the workspace
 *        (api_console_sign_in); a session token minted; `__Host-praxa-session` set; back to the page.
 *   GET  /auth/link?token=… → a single-use sign-in link from `praxa console login` (404 in production).
 *   GET  /console/session → who is signed in, with the CSRF token mutations must carry (console-session.ts).
 *   POST /auth/logout → the session's token revoked, the cookie cleared.
 * A failed sign-in lands on `/signin?error=<CODE>`; the log names the code, never the email or subject.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import type { ServerResponse } from "node:http";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import * as oidc from "openid-client";
import { z } from "zod";
import { isId, mintApiTokenMaterial, PraxaError, type WorkspaceId } from "@praxa/core";
import {
  authenticateApiToken,
  beginConsoleSignIn,
  consoleLinkSignIn,
  consoleSignIn,
  consoleSignOut,
  runsFingerprint,
  takeConsoleSignIn,
  withWorkspace,
  type ConsoleSession,
  type Database,
} from "@praxa/db";
import { hashTokenSecret } from "@praxa/core";
import type { Logger } from "@praxa/observability";
import {
  checkCsrf,
  clearSessionCookie,
  csrfTokenFor,
  sessionTokenOf,
  setConsoleOrigin,
  setSessionCookie,
  SIGN_IN_COOKIE,
} from "./console-session.js";
import { UnauthenticatedError } from "./errors.js";

interface ConsoleOidcConfig {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret?: string | undefined;
}

export interface ConsoleDeps {
  /** Where browsers reach the api (API_PUBLIC_URL): the redirect URI and the origin mutations must come from. */
  readonly publicUrl: string;
  /** The built console (apps/web/dist); absent or missing: no pages (the api still answers /v1). */
  readonly staticRoot?: string | undefined;
  /** The IdP; absent: /auth/login answers 404 (sign-in links still work outside production). */
  readonly oidc?: ConsoleOidcConfig | undefined;
  /** Production refuses sign-in links and an http:// issuer. */
  readonly production: boolean;
  /** A session's lifetime (default 8 hours, at most 12: the database refuses longer). */
  readonly sessionSeconds?: number;
  /** How often the live view checks the workspace's runs (default 2 s). */
  readonly livePollMs?: number;
}

/** The Content-Security-Policy of every console page: this origin only, no inline script. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** The console's page routes (the browser-side router's paths); each answers index.html. */
const PAGES = ["/", "/signin", "/runs", "/runs/*", "/skills", "/skills/*", "/audit", "/settings", "/settings/*"];

const SIGN_IN_TTL_S = 600;
const STATE = /^(ws_[0-9a-z]{26})\.([A-Za-z0-9_-]{43})$/;

class ConsoleSignInError extends PraxaError {
  readonly httpStatus = 400;
  constructor(
    readonly code: "SIGN_IN_EXPIRED" | "SIGN_IN_REFUSED" | "SIGN_IN_FAILED" | "SIGN_IN_NOT_CONFIGURED",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function securityHeaders(reply: FastifyReply): void {
  void reply.headers({
    "content-security-policy": CONSOLE_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
  });
}

/** A same-origin path to return to after sign-in (never `//host` or a scheme). */
function safeReturnTo(value: string | undefined): string {
  return value && /^\/(?![/\\])[A-Za-z0-9/_\-.?=&%]*$/.test(value) && value.length <= 512 ? value : "/";
}

export async function registerConsole(
  app: FastifyInstance,
  database: Database,
  deps: ConsoleDeps,
  log: Logger,
): Promise<void> {
  setConsoleOrigin(app, deps.publicUrl);
  const sessionSeconds = Math.min(deps.sessionSeconds ?? 8 * 3600, 12 * 3600);
  const redirectUri = new URL("/auth/callback", deps.publicUrl).toString();
  let discovered: Promise<oidc.Configuration> | null = null;
  const configuration = (c: ConsoleOidcConfig): Promise<oidc.Configuration> => {
    const insecure = new URL(c.issuer).protocol === "http:";
    if (insecure && deps.production)
      return Promise.reject(new ConsoleSignInError("SIGN_IN_NOT_CONFIGURED", "the IdP must be https in production"));
    discovered ??= oidc
      .discovery(
        new URL(c.issuer),
        c.clientId,
        undefined,
        c.clientSecret ? oidc.ClientSecretBasic(c.clientSecret) : oidc.None(),
        insecure ? { execute: [oidc.allowInsecureRequests] } : undefined,
      )
      .catch((err: unknown) => {
        discovered = null;
        throw new ConsoleSignInError("SIGN_IN_FAILED", "the identity provider could not be reached", { cause: err });
      });
    return discovered;
  };

  const startSession = (reply: FastifyReply, token: string, session: ConsoleSession, workspaceId: string) => {
    setSessionCookie(reply, token, Math.max(1, Math.floor((session.expiresAt.getTime() - Date.now()) / 1000)));
    log.info({ code: "CONSOLE_SIGNED_IN", workspaceId, memberId: session.memberId }, "console sign-in");
  };
  const sessionToken = () => ({ expiresAt: new Date(Date.now() + sessionSeconds * 1000) });

  const failed = (reply: FastifyReply, err: unknown) => {
    const code = err instanceof ConsoleSignInError ? err.code : "SIGN_IN_FAILED";
    log.warn({ code, err: err instanceof ConsoleSignInError ? undefined : err }, "console sign-in failed");
    securityHeaders(reply);
    return reply.redirect(`/signin?error=${code}`, 303);
  };

  // ── sign-in ──
  app.get("/auth/login", { schema: { hide: true } }, async (req, reply) => {
    const q = z
      .object({ workspace: z.string().max(64).optional(), returnTo: z.string().max(512).optional() })
      .safeParse(req.query);
    try {
      if (!deps.oidc) throw new ConsoleSignInError("SIGN_IN_NOT_CONFIGURED", "single sign-on is not configured");
      const workspaceId = q.success ? q.data.workspace : undefined;
      if (!workspaceId || !isId("workspace", workspaceId))
        throw new ConsoleSignInError("SIGN_IN_REFUSED", "name the workspace to sign in to");
      const config = await configuration(deps.oidc);
      const state = `${workspaceId}.${randomBytes(32).toString("base64url")}`;
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const nonce = oidc.randomNonce();
      await withWorkspace(database, workspaceId as WorkspaceId, (scope) =>
        beginConsoleSignIn(scope, {
          state,
          codeVerifier,
          nonce,
          returnTo: safeReturnTo(q.success ? q.data.returnTo : undefined),
          ttlSeconds: SIGN_IN_TTL_S,
        }),
      ).catch((err: unknown) => {
        // An unknown workspace fails its foreign key: the same refusal as any other.
        throw new ConsoleSignInError("SIGN_IN_REFUSED", "sign-in refused", { cause: err });
      });
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: "openid email",
        state,
        nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: "S256",
      });
      void reply.setCookie(SIGN_IN_COOKIE, state, {
        path: "/",
        secure: true,
        httpOnly: true,
        sameSite: "lax",
        maxAge: SIGN_IN_TTL_S,
      });
      return reply.redirect(url.toString(), 303);
    } catch (err) {
      return failed(reply, err);
    }
  });

  app.get("/auth/callback", { schema: { hide: true } }, async (req, reply) => {
    try {
      if (!deps.oidc) throw new ConsoleSignInError("SIGN_IN_NOT_CONFIGURED", "single sign-on is not configured");
      const q = z
        .object({ state: z.string().max(200) })
        .passthrough()
        .safeParse(req.query);
      const state = q.success ? q.data.state : "";
      const m = STATE.exec(state);
      // The state must be the one this browser started (login CSRF): its cookie names it.
      if (!m || req.cookies[SIGN_IN_COOKIE] !== state)
        throw new ConsoleSignInError("SIGN_IN_EXPIRED", "this sign-in was not started here, or has expired");
      void reply.clearCookie(SIGN_IN_COOKIE, { path: "/", secure: true, httpOnly: true, sameSite: "lax" });
      const workspaceId = m[1] as WorkspaceId;
      const pending = await withWorkspace(database, workspaceId, (scope) => takeConsoleSignIn(scope, state));
      if (!pending) throw new ConsoleSignInError("SIGN_IN_EXPIRED", "this sign-in has expired");
      const config = await configuration(deps.oidc);
      const currentUrl = new URL(req.url, deps.publicUrl);
      const tokens = await oidc
        .authorizationCodeGrant(config, currentUrl, {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        })
        .catch((err: unknown) => {
          throw new ConsoleSignInError("SIGN_IN_FAILED", "the identity provider's answer was refused", { cause: err });
        });
      const claims = tokens.claims();
      if (!claims) throw new ConsoleSignInError("SIGN_IN_FAILED", "no ID token");
      const material = mintApiTokenMaterial(workspaceId);
      const session = await withWorkspace(database, workspaceId, (scope) =>
        consoleSignIn(
          scope,
          {
            issuer: claims.iss,
            subject: claims.sub,
            email: typeof claims.email === "string" ? claims.email : null,
            emailVerified: claims.email_verified === true,
          },
          { tokenId: material.tokenId, secretSha256: material.secretSha256, ...sessionToken() },
        ),
      ).catch((err: unknown) => {
        throw new ConsoleSignInError("SIGN_IN_REFUSED", "no member of this workspace has this identity", {
          cause: err,
        });
      });
      startSession(reply, material.token, session, workspaceId);
      return reply.redirect(safeReturnTo(pending.returnTo), 303);
    } catch (err) {
      return failed(reply, err);
    }
  });

  app.get("/auth/link", { schema: { hide: true } }, async (req, reply) => {
    try {
      if (deps.production) throw new ConsoleSignInError("SIGN_IN_REFUSED", "sign-in links are off in production");
      const q = z
        .object({ token: z.string().regex(/^(ws_[0-9a-z]{26})\.(sl_[0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/) })
        .safeParse(req.query);
      if (!q.success) throw new ConsoleSignInError("SIGN_IN_EXPIRED", "this sign-in link is not valid");
      const [workspaceId, linkId, secret] = q.data.token.split(".") as [WorkspaceId, string, string];
      const material = mintApiTokenMaterial(workspaceId);
      const session = await withWorkspace(database, workspaceId, (scope) =>
        consoleLinkSignIn(
          scope,
          { linkId, secret },
          { tokenId: material.tokenId, secretSha256: material.secretSha256, ...sessionToken() },
        ),
      ).catch((err: unknown) => {
        throw new ConsoleSignInError("SIGN_IN_EXPIRED", "this sign-in link was used or has expired", { cause: err });
      });
      startSession(reply, material.token, session, workspaceId);
      return reply.redirect("/", 303);
    } catch (err) {
      return failed(reply, err);
    }
  });

  const sessionOf = async (req: FastifyRequest) => {
    const token = sessionTokenOf(req);
    if (!token) throw new UnauthenticatedError("not signed in");
    const auth = await authenticateApiToken(database, token.workspaceId, token.tokenId, hashTokenSecret(token.secret));
    if (!auth || auth.kind !== "human") throw new UnauthenticatedError("not signed in");
    return { token, auth };
  };

  app.get("/console/session", { schema: { hide: true } }, async (req, reply) => {
    const { token, auth } = await sessionOf(req);
    void reply.header("cache-control", "no-store");
    return {
      workspaceId: token.workspaceId,
      memberId: auth.member_id,
      role: auth.role,
      expiresAt: auth.expires_at,
      csrfToken: csrfTokenFor(token.secret),
      signInConfigured: deps.oidc !== undefined,
    };
  });

  app.post("/auth/logout", { schema: { hide: true } }, async (req, reply) => {
    const { token } = await sessionOf(req);
    checkCsrf(req, token, new URL(deps.publicUrl).origin);
    await withWorkspace(database, token.workspaceId, (scope) =>
      consoleSignOut(scope, { tokenId: token.tokenId, secretSha256: hashTokenSecret(token.secret) }),
    );
    clearSessionCookie(reply);
    return reply.status(204).send();
  });

  // Live updates for the runs pages (server-sent events): every `LIVE_POLL_MS` the workspace's latest runs are
  // fingerprinted in its scope; a change sends `event: runs` and the page refetches through /v1/runs. The session is
  // re-checked on every tick: a revoked or expired one ends the stream.
  const streams = new Set<ServerResponse>();
  app.addHook("onClose", async () => {
    for (const res of streams) res.destroy();
  });
  app.get("/console/events", { schema: { hide: true } }, async (req, reply) => {
    const { token } = await sessionOf(req);
    const sha = hashTokenSecret(token.secret);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
      connection: "keep-alive",
    });
    let last = "";
    let busy = false;
    let closed = false;
    const tick = async () => {
      if (busy || closed) return;
      busy = true;
      try {
        const auth = await authenticateApiToken(database, token.workspaceId, token.tokenId, sha);
        if (!auth) {
          res.end("event: signed-out\ndata: {}\n\n");
          closed = true;
          return;
        }
        const f = await withWorkspace(database, token.workspaceId, (scope) => runsFingerprint(scope));
        if (f !== last) {
          res.write(`event: runs\ndata: ${JSON.stringify({ fingerprint: f })}\n\n`);
          last = f;
        } else res.write(": keep-alive\n\n");
      } catch (err) {
        log.warn({ code: "CONSOLE_EVENTS_FAILED", err }, "console live updates failed");
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void tick(), deps.livePollMs ?? 2_000);
    // A stream never keeps the process alive, and ends with the server.
    timer.unref();
    streams.add(res);
    void tick();
    const stop = () => {
      closed = true;
      clearInterval(timer);
      streams.delete(res);
    };
    req.raw.on("close", stop);
    res.on("close", stop);
  });

  // ── pages ──
  const root = deps.staticRoot;
  if (!root || !existsSync(`${root}/index.html`)) {
    log.info({ code: "CONSOLE_NOT_BUILT" }, "the console is not built (pnpm build): its pages are not served");
    return;
  }
  await app.register(async (scoped) => {
    await scoped.register(fastifyStatic, {
      root,
      prefix: "/",
      wildcard: false,
      index: false,
      cacheControl: false,
      // Hashed file names: an asset never changes under its name.
      setHeaders: (res, path) => {
        res.setHeader(
          "cache-control",
          path.includes("/assets/") ? "public, max-age=31536000, immutable" : "no-cache, must-revalidate",
        );
        res.setHeader("x-content-type-options", "nosniff");
        res.setHeader("content-security-policy", CONSOLE_CSP);
      },
    });
    const page = (_req: FastifyRequest, reply: FastifyReply) => {
      securityHeaders(reply);
      void reply.header("cache-control", "no-store");
      return reply.sendFile("index.html");
    };
    for (const url of PAGES) scoped.get(url, { schema: { hide: true } }, page);
  });
}
