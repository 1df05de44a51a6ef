/**
 * The console's sign-in and session (console.ts, console-session.ts, migration 0034) against a real OpenID Provider on
 * loopback (oidc-provider, packages/testkit), the real database and real HTTP — redirects followed by hand with a
 * cookie jar per origin, as a browser would:
 *  - a member's verified email signs in (code + PKCE); the session is an HttpOnly, Secure, SameSite=Strict `__Host-`
 *    cookie and nothing else; the IdP subject is then bound (a later email change at the IdP keeps the member);
 *  - the session works on every route like a human token of that member: lists runs, pauses and resumes a Skill
 *    (the database's human-token re-check passes); a viewer's session may not;
 *  - a mutation without the CSRF token, or from another origin, is refused and changes nothing;
 *  - an identity with no member, a callback this browser did not start, and a replayed callback are refused;
 *  - a sign-in link works once, then never; not at all in production; sign-out revokes the session's token;
 *  - the pages are served with the strict CSP.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import type { FastifyInstance } from "fastify";
import { mintApiTokenMaterial, newId, type WorkspaceId } from "@praxa/core";
import {
  createConsoleSignInLink,
  createDatabase,
  createTestDatabase,
  registerAuditKey,
  seedWorkspaceFixture,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createLogger } from "@praxa/observability";
import { startOidcServer, type OidcServer } from "@praxa/testkit";
import { CONSOLE_CSP } from "./console.js";
import { buildApiServer } from "./server.js";

let tdb: TestDatabase;
let admin: postgres.Sql;
let db: Database;
let owner: Database;
let idp: OidcServer;
let base: string;
let prodBase: string;
let A: WorkspaceFixture;
let B: WorkspaceFixture;
const servers: FastifyInstance[] = [];
let staticRoot: string;
const log = createLogger({ name: "console-test", level: "silent" });

/** A browser's cookie jar, per origin (enough for these hosts: every cookie is host-only, Path=/). */
class Browser {
  readonly jar = new Map<string, Map<string, string>>();
  readonly setCookies: string[] = [];
  cookie(origin: string): string {
    return [...(this.jar.get(origin) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  get(origin: string, name: string): string | undefined {
    return this.jar.get(origin)?.get(name);
  }
  store(origin: string, res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      this.setCookies.push(line);
      const [pair, ...attrs] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const jar = this.jar.get(origin) ?? new Map<string, string>();
      const expired = attrs.some((a) => /max-age=0\b/i.test(a.trim()) || /expires=Thu, 01 Jan 1970/i.test(a.trim()));
      if (expired || value === "") jar.delete(name);
      else jar.set(name, value);
      this.jar.set(origin, jar);
    }
  }
  /** GET `url`, following redirects across origins; returns the last answer and where it ended. */
  async navigate(url: string): Promise<{ res: Response; url: string; hops: string[] }> {
    const hops: string[] = [];
    let current = url;
    for (let i = 0; i < 20; i++) {
      const origin = new URL(current).origin;
      const res = await fetch(current, { redirect: "manual", headers: { cookie: this.cookie(origin) } });
      this.store(origin, res);
      hops.push(current);
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        current = new URL(location, current).toString();
        continue;
      }
      return { res, url: current, hops };
    }
    throw new Error("too many redirects");
  }
  async api(path: string, init: { method?: string; body?: unknown; csrf?: string; origin?: string } = {}) {
    const headers: Record<string, string> = { cookie: this.cookie(base) };
    if (init.body !== undefined) headers["content-type"] = "application/json";
    if (init.csrf) headers["x-praxa-csrf"] = init.csrf;
    if (init.origin) headers.origin = init.origin;
    const res = await fetch(base + path, {
      method: init.method ?? "GET",
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : null) as Record<string, unknown> | null };
  }
}

async function signIn(workspaceId: string, account: { sub: string; email: string; emailVerified?: boolean }) {
  idp.signInAs(account);
  const browser = new Browser();
  const end = await browser.navigate(`${base}/auth/login?workspace=${workspaceId}&returnTo=/runs`);
  return { browser, end };
}

async function addMember(f: WorkspaceFixture, role: "viewer" | "member" | "admin", email: string): Promise<string> {
  const id = newId("member");
  await admin`insert into workspace_members (workspace_id, id, email, role) values (${f.workspaceId}, ${id}, ${email}, ${role})`;
  return id;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  db = createDatabase(tdb.roleUrl("praxa_api"), { max: 4 });
  owner = createDatabase(tdb.adminUrl, { max: 1 });
  idp = await startOidcServer();
  staticRoot = mkdtempSync(join(tmpdir(), "praxa-console-static-"));
  mkdirSync(join(staticRoot, "assets"));
  writeFileSync(
    join(staticRoot, "index.html"),
    '<!doctype html><script type="module" src="/assets/app-1.js"></script>',
  );
  writeFileSync(join(staticRoot, "assets/app-1.js"), "export {};");
  const signing = generateKeyPairSync("ed25519");
  const keyId = `aek_console_${randomUUID()}`;
  await registerAuditKey(db, {
    keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: signing.publicKey.export({ format: "der", type: "spki" }),
  });
  // The api's public URL must be known before it listens: take a port, free it, listen on it.
  const probe = await buildApiServer({ database: db, log });
  const probeUrl = await probe.listen({ port: 0, host: "127.0.0.1" });
  await probe.close();
  const publicUrl = probeUrl;
  idp.setRedirectUri(`${publicUrl}/auth/callback`);
  const build = (production: boolean) =>
    buildApiServer({
      database: db,
      log,
      auditSigner: { keyId, privateKey: signing.privateKey },
      console: {
        publicUrl,
        staticRoot,
        production,
        livePollMs: 200,
        oidc: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret },
      },
    });
  const app = await build(false);
  servers.push(app);
  base = await app.listen({ port: new URL(publicUrl).port ? Number(new URL(publicUrl).port) : 0, host: "127.0.0.1" });
  const prod = await build(true);
  servers.push(prod);
  prodBase = await prod.listen({ port: 0, host: "127.0.0.1" });
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await idp?.close();
  await owner?.close();
  await db?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
  if (staticRoot) rmSync(staticRoot, { recursive: true, force: true });
});

describe("OIDC sign-in (code + PKCE against oidc-provider)", () => {
  it("a member's verified email signs in: back on the page with only a __Host- HttpOnly Secure SameSite=Strict cookie", async () => {
    const sub = `sub-${randomUUID()}`;
    const { browser, end } = await signIn(A.workspaceId, { sub, email: "Admin-A@example.com" });
    expect(end.url).toBe(`${base}/runs`);
    expect(end.hops.some((h) => h.startsWith(idp.issuer))).toBe(true);
    const login = end.hops[0]!;
    expect(login).toContain("/auth/login");
    // The authorization request carried a PKCE challenge (S256) and a nonce.
    const authorize = new URL(end.hops.find((h) => h.startsWith(`${idp.issuer}/auth`))!);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get("nonce")).toBeTruthy();
    const session = browser.setCookies.find((c) => c.startsWith("__Host-praxa-session="))!;
    expect(session).toMatch(/; HttpOnly/i);
    expect(session).toMatch(/; Secure/i);
    expect(session).toMatch(/; SameSite=Strict/i);
    expect(session).toMatch(/; Path=\//i);
    expect(session).not.toMatch(/; Domain=/i);
    // Only the session cookie is left on the api's origin (the sign-in cookie was cleared).
    expect([...(browser.jar.get(base)?.keys() ?? [])]).toEqual(["__Host-praxa-session"]);

    const me = await browser.api("/console/session");
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ workspaceId: A.workspaceId, memberId: A.memberId, role: "admin" });
    const runs = await browser.api("/v1/runs");
    expect(runs.status).toBe(200);
    expect((runs.json!.runs as { id: string }[]).map((r) => r.id)).toContain(A.runId);

    // The subject is bound now: a changed email at the IdP still signs in as the same member.
    const again = await signIn(A.workspaceId, { sub, email: "someone-else@example.com" });
    expect(again.end.url).toBe(`${base}/runs`);
    expect((await again.browser.api("/console/session")).json).toMatchObject({ memberId: A.memberId });
    const bound =
      await admin`select member_id from member_identities where workspace_id = ${A.workspaceId} and subject = ${sub}`;
    expect(bound.map((r) => r.member_id)).toEqual([A.memberId]);
  });

  it("a session is a human token of the member: pause and resume work with the CSRF token; a viewer's session may not", async () => {
    const { browser } = await signIn(A.workspaceId, { sub: `sub-${randomUUID()}`, email: "admin-a@example.com" });
    // The fixture's admin is bound to the earlier subject already: this second subject finds no unbound member.
    expect(await browser.api("/console/session")).toMatchObject({ status: 401 });

    const email = `owner-${randomUUID()}@example.com`;
    await addMember(A, "admin", email);
    const s = await signIn(A.workspaceId, { sub: `sub-${randomUUID()}`, email });
    const me = await s.browser.api("/console/session");
    const csrf = me.json!.csrfToken as string;
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const pause = await s.browser.api(`/v1/skills/${A.skillId}/pause`, {
      method: "POST",
      body: { reason: "console test" },
      csrf,
      origin: base,
    });
    expect(pause.status).toBe(200);
    const resume = await s.browser.api(`/v1/skills/${A.skillId}/resume`, {
      method: "POST",
      body: { reason: "reviewed in the console" },
      csrf,
    });
    expect(resume.status).toBe(200);

    const viewerEmail = `viewer-${randomUUID()}@example.com`;
    await addMember(A, "viewer", viewerEmail);
    const v = await signIn(A.workspaceId, { sub: `sub-${randomUUID()}`, email: viewerEmail });
    const vme = await v.browser.api("/console/session");
    expect(vme.json).toMatchObject({ role: "viewer" });
    const refused = await v.browser.api(`/v1/skills/${A.skillId}/resume`, {
      method: "POST",
      body: { reason: "x" },
      csrf: vme.json!.csrfToken as string,
    });
    expect(refused.status).toBe(403);
  });

  it("a mutation without the CSRF token, with another session's, or from another origin is refused and changes nothing", async () => {
    const email = `csrf-${randomUUID()}@example.com`;
    await addMember(A, "admin", email);
    const s = await signIn(A.workspaceId, { sub: `sub-${randomUUID()}`, email });
    const csrf = (await s.browser.api("/console/session")).json!.csrfToken as string;
    const other = await signIn(A.workspaceId, {
      sub: `sub-${randomUUID()}`,
      email: await (async () => {
        const e = `csrf2-${randomUUID()}@example.com`;
        await addMember(A, "admin", e);
        return e;
      })(),
    });
    const otherCsrf = (await other.browser.api("/console/session")).json!.csrfToken as string;
    const pausedAt = async () => (await admin`select status from skills where id = ${A.skillId}`)[0]?.status as string;
    const before = await pausedAt();
    const path = `/v1/skills/${A.skillId}/pause`;
    const body = { reason: "forged" };
    expect((await s.browser.api(path, { method: "POST", body })).status).toBe(403);
    expect((await s.browser.api(path, { method: "POST", body, csrf: otherCsrf })).status).toBe(403);
    expect((await s.browser.api(path, { method: "POST", body, csrf, origin: "https://evil.example" })).status).toBe(
      403,
    );
    expect(await pausedAt()).toBe(before);
    // Reading needs no CSRF token (nothing changes).
    expect((await s.browser.api("/v1/skills")).status).toBe(200);
  });

  it("an api token in Authorization is what authenticates, even beside a session cookie: no CSRF check for it", async () => {
    const email = `both-${randomUUID()}@example.com`;
    await addMember(A, "admin", email);
    const s = await signIn(A.workspaceId, { sub: `sub-${randomUUID()}`, email });
    const m = mintApiTokenMaterial(A.workspaceId);
    await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
                values (${A.workspaceId}, ${m.tokenId}, ${A.memberId}, 'human', 'both', ${m.secretSha256}, now() + interval '1 hour')`;
    const post = (authorization?: string) =>
      fetch(`${base}/v1/skills/${A.skillId}/pause`, {
        method: "POST",
        headers: {
          cookie: s.browser.cookie(base),
          "content-type": "application/json",
          ...(authorization ? { authorization } : {}),
        },
        body: JSON.stringify({ reason: "token beside a cookie" }),
      });
    // The cookie alone, without the CSRF header: refused…
    expect((await post()).status).toBe(403);
    // …the same request carrying an api token: the token is the caller (a cross-site page cannot set this header).
    expect((await post(`Bearer ${m.token}`)).status).toBe(200);
    // A bad token beside a good cookie is not rescued by the cookie.
    expect((await post("Bearer praxa_tk_nope")).status).toBe(401);
    const resumed = await fetch(`${base}/v1/skills/${A.skillId}/resume`, {
      method: "POST",
      headers: { authorization: `Bearer ${m.token}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "back" }),
    });
    expect(resumed.status).toBe(200);
  });

  it("an identity with no member, an unverified email, a foreign callback and a replayed callback are refused", async () => {
    const none = await signIn(A.workspaceId, { sub: `sub-${randomUUID()}`, email: "nobody@example.com" });
    expect(none.end.url).toBe(`${base}/signin?error=SIGN_IN_REFUSED`);
    expect(none.browser.get(base, "__Host-praxa-session")).toBeUndefined();

    const email = `unverified-${randomUUID()}@example.com`;
    await addMember(A, "admin", email);
    const unverified = await signIn(A.workspaceId, { sub: `sub-${randomUUID()}`, email, emailVerified: false });
    expect(unverified.end.url).toBe(`${base}/signin?error=SIGN_IN_REFUSED`);

    // A member of B cannot sign in to A, and A's admin cannot sign in to B by naming it.
    const cross = await signIn(B.workspaceId, { sub: `sub-${randomUUID()}`, email: "admin-a@example.com" });
    expect(cross.end.url).toBe(`${base}/signin?error=SIGN_IN_REFUSED`);

    // A callback URL carried to another browser (login CSRF) is refused: its state is not that browser's.
    const email2 = `victim-${randomUUID()}@example.com`;
    await addMember(A, "member", email2);
    idp.signInAs({ sub: `sub-${randomUUID()}`, email: email2 });
    const attacker = new Browser();
    let url = `${base}/auth/login?workspace=${A.workspaceId}`;
    let callback = "";
    for (let i = 0; i < 20 && !callback; i++) {
      const origin = new URL(url).origin;
      const res = await fetch(url, { redirect: "manual", headers: { cookie: attacker.cookie(origin) } });
      attacker.store(origin, res);
      const next = new URL(res.headers.get("location")!, url).toString();
      if (next.startsWith(`${base}/auth/callback`)) callback = next;
      url = next;
    }
    const victim = new Browser();
    const stolen = await victim.navigate(callback);
    expect(stolen.url).toBe(`${base}/signin?error=SIGN_IN_EXPIRED`);
    expect(victim.get(base, "__Host-praxa-session")).toBeUndefined();
    // The attacker's own browser completes it once; replaying the same callback then fails.
    const first = await attacker.navigate(callback);
    expect(first.url).toBe(`${base}/`);
    const replay = new Browser();
    replay.jar.set(base, new Map([["__Host-praxa-signin", new URL(callback).searchParams.get("state")!]]));
    expect((await replay.navigate(callback)).url).toBe(`${base}/signin?error=SIGN_IN_EXPIRED`);
  });
});

describe("sign-in links (praxa console login) and sign-out", () => {
  async function link(f: WorkspaceFixture, memberId: string, minutes = 5): Promise<string> {
    const linkId = `sl_${randomBytes(16).toString("hex")}`;
    const secret = randomBytes(32).toString("base64url");
    await withWorkspace(owner, f.workspaceId as WorkspaceId, (scope) =>
      createConsoleSignInLink(scope, {
        workspaceId: f.workspaceId,
        linkId,
        memberId,
        secret,
        expiresAt: new Date(Date.now() + minutes * 60_000),
      }),
    );
    return `${f.workspaceId}.${linkId}.${secret}`;
  }

  it("works once, then never; sign-out revokes the session's token", async () => {
    const token = await link(A, A.memberId);
    const browser = new Browser();
    const first = await browser.navigate(`${base}/auth/link?token=${token}`);
    expect(first.url).toBe(`${base}/`);
    const me = await browser.api("/console/session");
    expect(me.json).toMatchObject({ memberId: A.memberId, role: "admin" });
    const again = new Browser();
    expect((await again.navigate(`${base}/auth/link?token=${token}`)).url).toBe(`${base}/signin?error=SIGN_IN_EXPIRED`);

    const csrf = me.json!.csrfToken as string;
    expect((await browser.api("/auth/logout", { method: "POST" })).status).toBe(403); // no CSRF token
    const cookieBefore = browser.cookie(base);
    expect((await browser.api("/auth/logout", { method: "POST", csrf })).status).toBe(204);
    // The old cookie value, replayed, authenticates nowhere: the token is revoked server-side.
    const res = await fetch(`${base}/v1/runs`, { headers: { cookie: cookieBefore } });
    expect(res.status).toBe(401);
  });

  it("is refused in production mode", async () => {
    const token = await link(A, A.memberId);
    const res = await fetch(`${prodBase}/auth/link?token=${token}`, { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/signin?error=SIGN_IN_REFUSED");
    expect(res.headers.getSetCookie()).toEqual([]);
    // …and the link is still unused: production did not consume it.
    const [row] = await admin`select used_at from console_sign_in_links where id = ${token.split(".")[1]!}`;
    expect(row?.used_at).toBeNull();
  });

  it("the operator cannot mint a link that lives longer than 15 minutes", async () => {
    await expect(link(A, A.memberId, 60)).rejects.toThrow();
  });
});

describe("live updates (GET /console/events)", () => {
  it("streams the current state, then an event when a run of the workspace changes; nothing without a session", async () => {
    expect((await fetch(`${base}/console/events`)).status).toBe(401);
    const email = `live-${randomUUID()}@example.com`;
    await addMember(A, "member", email);
    const s = await signIn(A.workspaceId, { sub: `sub-${randomUUID()}`, email });
    const controller = new AbortController();
    const res = await fetch(`${base}/console/events`, {
      headers: { cookie: s.browser.cookie(base) },
      signal: controller.signal,
    });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const nextEvent = async (): Promise<string> => {
      for (;;) {
        const at = text.indexOf("event: runs");
        if (at >= 0) {
          const end = text.indexOf("\n\n", at);
          if (end >= 0) {
            const event = text.slice(at, end);
            text = text.slice(end + 2);
            return event;
          }
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("the stream ended");
        text += decoder.decode(value, { stream: true });
      }
    };
    const first = await nextEvent();
    await admin`update agent_runs set status = 'failed', error_code = 'LIVE_TEST' where id = ${A.runId}`;
    const second = await nextEvent();
    expect(second).not.toBe(first);
    controller.abort();
  });
});

describe("pages", () => {
  it("are served with the strict CSP, the console's routes answer index.html, assets are immutable", async () => {
    const page = await fetch(`${base}/runs/rn_whatever`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).not.toContain("unsafe-inline");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(await page.text()).toContain("/assets/app-1.js");
    const asset = await fetch(`${base}/assets/app-1.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    // The api's own routes are untouched.
    expect((await fetch(`${base}/v1/runs`)).status).toBe(401);
  });
});
