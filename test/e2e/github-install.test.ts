/**
 * GitHub as the workspace's bot: the App installation callback. The api issues an install link with a state bound to
 * the workspace and member, and sets the `__Host-praxa_install` cookie that binds it to the member's browser; on
 * GitHub's setup redirect — only from that browser (the cookie) — it consumes the state, asks GitHub, as the App, with
 * a real App JWT the loopback GitHub verifies, which account installed what with which permissions, and records the
 * integration `pending_confirmation`: ingest ignores its events until the same member confirms the account from the
 * same browser. A link opened in another browser (the attack of security review finding 1: an admin of workspace A
 * sends their install link to another org's owner) is refused and records nothing. A forged installation id (an
 * older installation, another App's, one connected elsewhere) is refused, as is an OAuth `code` (a user-to-server
 * token is never taken). No installation token is minted by the api.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { sign as octokitSign } from "@octokit/webhooks-methods";
import postgres from "postgres";
import { mintApiTokenMaterial, newId } from "@praxa/core";
import {
  createDatabase,
  createTestDatabase,
  seedWorkspaceFixture,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { buildApiServer, type InstallConfig } from "@praxa/api";
import { buildIngestServer, createWorkspaceLimiter } from "@praxa/ingest";
import { createLogger } from "@praxa/observability";
import { createQueues, createRedis, redisReady, removeRedisPrefix, type QueueSet, type Redis } from "@praxa/queue";
import { startGithubServer, type GithubServer } from "@praxa/testkit";
import type { FastifyInstance } from "fastify";
import { expectInstallCookieBound, installNonce } from "./install-cookie.js";

const APP_ID = 777001;
const appKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ format: "pem", type: "pkcs8" })
  .toString();
let gh: GithubServer;
let tdb: TestDatabase;
let admin: postgres.Sql;
let apiDb: Database;
let app: FastifyInstance;
let base: string;
let A: WorkspaceFixture;
let B: WorkspaceFixture;
const tokens = { adminA: "", viewerA: "", adminB: "", otherAdminA: "" };
const logs: string[] = [];
const WEBHOOK_SECRET = "github-install-webhook-secret-01";
const prefix = `test-${randomUUID()}`;
let ingestDb: Database;
let ingest: FastifyInstance;
let ingestBase: string;
let redis: Redis;
let queues: QueueSet;

async function mintToken(ws: WorkspaceFixture, memberId: string): Promise<string> {
  const m = mintApiTokenMaterial(ws.workspaceId);
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${ws.workspaceId}, ${m.tokenId}, ${memberId}, 'human', 't', ${m.secretSha256}, now() + interval '1 hour')`;
  return m.token;
}

beforeAll(async () => {
  gh = await startGithubServer({
    appId: APP_ID,
    privateKeyPem: appKey,
    installations: [
      { id: 1001, account: "old-org", permissions: { contents: "read" }, createdAt: new Date(Date.now() - 3_600_000) },
    ],
  });
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  apiDb = createDatabase(tdb.roleUrl("praxa_api"), { max: 2 });
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      logs.push(chunk.toString("utf8"));
      cb();
    },
  });
  const install: InstallConfig = {
    publicUrl: "https://praxa.test",
    github: { appId: APP_ID, privateKeyPem: appKey, baseUrl: gh.url, slug: "praxa-test", webUrl: gh.url },
  };
  app = await buildApiServer({
    database: apiDb,
    log: createLogger({ name: "github-install", level: "trace", destination }),
    install,
    auditSigner: { keyId: "aek_install_test", privateKey: generateKeyPairSync("ed25519").privateKey },
  });
  base = await app.listen({ port: 0, host: "127.0.0.1" });
  const [viewer] = await admin<
    { id: string }[]
  >`select id from workspace_members where workspace_id = ${A.workspaceId} and role = 'viewer'`;
  tokens.adminA = await mintToken(A, A.memberId);
  tokens.viewerA = await mintToken(A, viewer!.id);
  tokens.adminB = await mintToken(B, B.memberId);
  const otherAdmin = newId("member");
  await admin`insert into workspace_members (workspace_id, id, email, role) values (${A.workspaceId}, ${otherAdmin}, 'other-admin-a@example.com', 'admin')`;
  tokens.otherAdminA = await mintToken(A, otherAdmin);
  // The real ingest, to show what it does with a pending installation's events.
  ingestDb = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 2 });
  redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", "producer");
  await redisReady(redis);
  queues = createQueues(redis, prefix);
  ingest = await buildIngestServer({
    config: {
      GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
      SLACK_SIGNING_SECRET: "unused-slack-secret-0123",
      INGEST_BODY_LIMIT_BYTES: 5 << 20,
      INGEST_UNVERIFIED_RATE_PER_MINUTE: 1000,
      INGEST_TRUST_PROXY: false,
    },
    database: ingestDb,
    queues,
    limiter: createWorkspaceLimiter(redis, prefix, 1000),
    log: createLogger({ name: "ingest", level: "silent" }),
    now: Date.now,
    githubAppId: undefined,
    ready: async () => ({ postgres: true, redis: true }),
  });
  ingestBase = await ingest.listen({ port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await app?.close();
  await ingest?.close();
  await queues?.close();
  if (redis) await removeRedisPrefix(redis, prefix);
  redis?.disconnect();
  await Promise.all([apiDb?.close(), ingestDb?.close(), admin?.end({ timeout: 5 })]);
  await tdb?.drop();
  await gh?.close();
});

interface Answer {
  status: number;
  text: string;
  json: Record<string, unknown>;
  setCookie: string[];
}

async function call(
  method: "GET" | "POST",
  path: string,
  opts: { token?: string; nonce?: string | null } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.token) headers["authorization"] = `Bearer ${opts.token}`;
  if (opts.nonce) headers["cookie"] = `__Host-praxa_install=${opts.nonce}`;
  const res = await fetch(`${base}${path}`, { method, headers });
  const text = await res.text();
  return {
    status: res.status,
    text,
    json: JSON.parse(text) as Record<string, unknown>,
    setCookie: res.headers.getSetCookie(),
  };
}
const get = (path: string, token?: string): Promise<Answer> => call("GET", path, token ? { token } : {});

/** An install started from a member's browser: the link's state, and the nonce of the cookie that browser now holds. */
async function start(token: string): Promise<{ state: string; nonce: string }> {
  const link = await get("/v1/integrations/github/install", token);
  expect(link.status).toBe(200);
  return {
    state: new URL(String(link.json["url"])).searchParams.get("state") ?? "",
    nonce: installNonce(link.setCookie),
  };
}

/** GitHub's setup redirect, arriving in a browser that holds `nonce` (null: a browser without the cookie). */
const callbackIn = (
  nonce: string | null,
  state: string,
  installationId: number | string,
  action = "install",
  extra = "",
): Promise<Answer> =>
  call(
    "GET",
    `/v1/integrations/github/callback?installation_id=${installationId}&setup_action=${action}&state=${encodeURIComponent(state)}${extra}`,
    { nonce },
  );

/** The whole install from one browser: start, then GitHub's redirect back to the same browser. */
async function callback(
  token: string,
  installationId: number | string,
  action = "install",
  extra = "",
): Promise<Answer> {
  const s = await start(token);
  return callbackIn(s.nonce, s.state, installationId, action, extra);
}

const confirm = (integrationId: string, token: string, nonce: string | null): Promise<Answer> =>
  call("POST", `/v1/integrations/${integrationId}/confirm`, { token, nonce });

const integrationRow = async (ws: WorkspaceFixture, id: string) =>
  (
    await admin<
      {
        id: string;
        status: string;
        granted_scopes: string[];
        installed_by: string | null;
        bot_identity: Record<string, unknown>;
      }[]
    >`select id, status, granted_scopes, installed_by, bot_identity from integrations where workspace_id = ${ws.workspaceId} and provider = 'github' and external_id = ${id}`
  )[0];

/** A signed pull_request.opened delivery for `installationId`, to the real ingest; its run ids. */
async function prOpenedFor(installationId: number): Promise<string[]> {
  const payload = JSON.parse(
    readFileSync(new URL("../data/fixtures/github/pull_request.opened.json", import.meta.url), "utf8"),
  ) as Record<string, unknown>;
  payload["installation"] = { id: installationId };
  (payload["pull_request"] as Record<string, unknown>)["number"] = Math.floor(Math.random() * 1e6) + 1; // a new body: replays are dropped by digest
  const body = JSON.stringify(payload);
  const res = await fetch(`${ingestBase}/webhooks/github`, {
    method: "POST",
    body,
    headers: {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": await octokitSign(WEBHOOK_SECRET, body),
    },
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { runIds: string[] }).runIds;
}

describe("GitHub App installation callback", () => {
  it("the install link: owner/admin only; the App’s install page with a state", async () => {
    expect((await get("/v1/integrations/github/install")).status).toBe(401);
    expect((await get("/v1/integrations/github/install", tokens.viewerA)).status).toBe(403);
    const link = await get("/v1/integrations/github/install", tokens.adminA);
    const url = new URL(String(link.json["url"]));
    expect(`${url.origin}${url.pathname}`).toBe(`${gh.url}/apps/praxa-test/installations/new`);
    expect(url.searchParams.get("state")).toMatch(new RegExp(`^${A.workspaceId}\\.`));
  });

  it("a new installation: looked up as the App, recorded pending with its permissions and installer; no token minted", async () => {
    const { state, nonce } = await start(tokens.adminA);
    gh.addInstallation({
      id: 5001,
      account: "acme",
      permissions: { pull_requests: "write", contents: "read", metadata: "read" },
    });
    const minted = gh.tokens.length;
    const lookups = gh.calls["GET /app/installations/:id"] ?? 0;
    const res = await callbackIn(nonce, state, 5001);
    expect(res.status).toBe(200);
    expect(res.json["integration"]).toMatchObject({
      provider: "github",
      externalId: "5001",
      status: "pending_confirmation",
      grantedScopes: ["contents:read", "metadata:read", "pull_requests:write"],
      botIdentity: { kind: "github_app_installation", login: "praxa-test[bot]", account: "acme", app_id: APP_ID },
    });
    expect(await integrationRow(A, "5001")).toMatchObject({ installed_by: A.memberId, status: "pending_confirmation" });
    expect(gh.calls["GET /app/installations/:id"]).toBe(lookups + 1);
    expect(gh.tokens.length).toBe(minted);
    expect((await callbackIn(nonce, state, 5001)).json).toMatchObject({ error: { code: "OAUTH_STATE_INVALID" } });
    // The installation is an audited change, in the same transaction as its row.
    const [ev] = await admin<
      { canonical: Buffer }[]
    >`select canonical from audit_events where workspace_id = ${A.workspaceId} and kind = 'admin.integration.installed'`;
    expect(JSON.parse(ev!.canonical.toString())).toMatchObject({
      trigger: "api.github_installed",
      input: { provider: "github", external_id: "5001", installed_by: A.memberId },
      output: { status: "pending_confirmation" },
    });
  });

  it("a forged installation id is refused: made before the link, unknown to the App, or suspended", async () => {
    const old = await callback(tokens.adminA, 1001);
    expect(old.status).toBe(400);
    expect(old.json).toMatchObject({ error: { code: "INSTALLATION_UNVERIFIED" } });
    expect(await integrationRow(A, "1001")).toBeUndefined();
    const unknown = await callback(tokens.adminA, 424242);
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ error: { code: "GITHUB_INSTALLATION_NOT_FOUND" } });
    gh.addInstallation({ id: 5004, account: "frozen", permissions: { contents: "read" }, suspended: true });
    expect((await callback(tokens.adminA, 5004)).json).toMatchObject({ error: { code: "INSTALLATION_SUSPENDED" } });
  });

  it("an installation connected to one workspace is never moved to another (409)", async () => {
    const b = await start(tokens.adminB);
    const a = await start(tokens.adminA);
    gh.addInstallation({ id: 5003, account: "contested", permissions: { contents: "read" } });
    expect((await callbackIn(a.nonce, a.state, 5003)).status).toBe(200);
    const stolen = await callbackIn(b.nonce, b.state, 5003);
    expect(stolen.status).toBe(409);
    expect(stolen.json).toMatchObject({ error: { code: "INTEGRATION_CLAIMED" } });
    expect(await integrationRow(B, "5003")).toBeUndefined();
  });

  it("setup_action=update refreshes the permissions of the workspace’s own installation (pending again until confirmed)", async () => {
    gh.addInstallation({
      id: 5002,
      account: "acme-2",
      permissions: { pull_requests: "write", contents: "read" },
      createdAt: new Date(Date.now() - 86_400_000),
    });
    await admin`insert into integrations (workspace_id, id, provider, external_id, granted_scopes) values (${A.workspaceId}, ${newId("integration")}, 'github', '5002', ${["contents:read"]})`;
    const res = await callback(tokens.adminA, 5002, "update");
    expect(res.status).toBe(200);
    expect(await integrationRow(A, "5002")).toMatchObject({
      granted_scopes: ["contents:read", "pull_requests:write"],
      installed_by: A.memberId,
      status: "pending_confirmation",
    });
  });

  it("user authorization is refused: a callback with an OAuth code → USER_CREDENTIAL_REFUSED, the code never exchanged", async () => {
    gh.addInstallation({ id: 5005, account: "oauthy", permissions: { contents: "read" } });
    const res = await callback(tokens.adminA, 5005, "install", "&code=0123456789abcdef0123");
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: "USER_CREDENTIAL_REFUSED" } });
    expect(Object.keys(gh.calls).filter((k) => k.includes("oauth"))).toEqual([]);
    expect(await integrationRow(A, "5005")).toBeUndefined();
  });

  it("setup_action=request (an owner must approve) records nothing yet; the App key never shows", async () => {
    const { state, nonce } = await start(tokens.adminA);
    const res = await call(
      "GET",
      `/v1/integrations/github/callback?setup_action=request&state=${encodeURIComponent(state)}`,
      { nonce },
    );
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ status: "requested" });
    const keyBody = appKey.split("\n")[5] ?? "unreachable";
    expect(logs.join("")).not.toContain(keyBody);
  });
});

describe("install links are bound to the browser that started them (security review, finding 1)", () => {
  it("the install cookie: __Host- prefix, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain, 10 minutes; only its hash is stored", async () => {
    const link = await get("/v1/integrations/github/install", tokens.adminA);
    const nonce = await expectInstallCookieBound(link, admin);
    const dump =
      (await admin<{ t: string }[]>`select string_agg(row_to_json(o)::text, ' ') as t from oauth_states o`)[0]?.t ?? "";
    expect(dump).not.toContain(nonce);
  });

  it("the link opened in another browser (no cookie) → 403 INSTALL_NOT_BOUND: GitHub not asked, nothing recorded, the link not burnt", async () => {
    // An admin of A sends their link to another org's owner, who installs the genuine App and lands on the callback.
    const { state, nonce } = await start(tokens.adminA);
    gh.addInstallation({ id: 6001, account: "victim-org", permissions: { pull_requests: "write", contents: "read" } });
    const lookups = gh.calls["GET /app/installations/:id"] ?? 0;
    const events = (
      await admin<{ n: number }[]>`select count(*)::int as n from audit_events where workspace_id = ${A.workspaceId}`
    )[0]?.n;
    const refused = await callbackIn(null, state, 6001);
    expect(refused.status).toBe(403);
    expect(refused.json).toEqual({ error: { code: "INSTALL_NOT_BOUND", message: expect.any(String) } });
    expect(refused.setCookie).toEqual([]);
    expect(gh.calls["GET /app/installations/:id"] ?? 0).toBe(lookups);
    expect((await admin`select 1 from integrations where provider = 'github' and external_id = '6001'`).length).toBe(0);
    expect(
      (
        await admin<{ n: number }[]>`select count(*)::int as n from audit_events where workspace_id = ${A.workspaceId}`
      )[0]?.n,
    ).toBe(events);
    // A cookie that is not a nonce at all changes nothing.
    expect((await callbackIn("not-a-nonce", state, 6001)).json).toMatchObject({ error: { code: "INSTALL_NOT_BOUND" } });
    // Not consumed: the member's own browser can still finish it.
    const own = await callbackIn(nonce, state, 6001);
    expect(own.status).toBe(200);
    expect(own.json).toMatchObject({
      integration: { status: "pending_confirmation" },
      account: { provider: "github", login: "victim-org", type: "Organization" },
    });
  });

  it("a cookie from another member’s start, or from another install’s start, does not fit → 403, nothing recorded", async () => {
    const mine = await start(tokens.adminA);
    const others = await start(tokens.otherAdminA);
    const otherWorkspace = await start(tokens.adminB);
    const mySecondStart = await start(tokens.adminA); // the same member, another install: a new nonce
    gh.addInstallation({ id: 6002, account: "someone-else", permissions: { contents: "read" } });
    for (const wrong of [others.nonce, otherWorkspace.nonce, mySecondStart.nonce]) {
      const res = await callbackIn(wrong, mine.state, 6002);
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ error: { code: "INSTALL_NOT_BOUND" } });
    }
    expect((await admin`select 1 from integrations where provider = 'github' and external_id = '6002'`).length).toBe(0);
  });

  it("the right cookie → pending: ingest ignores its events; confirmed by the same member from the same browser → active, audited, events flow", async () => {
    const { state, nonce } = await start(tokens.adminA);
    gh.addInstallation({ id: 6003, account: "acme-prs", permissions: { pull_requests: "write", contents: "read" } });
    const res = await callbackIn(nonce, state, 6003);
    expect(res.status).toBe(200);
    const integrationId = String((res.json["integration"] as { id: string }).id);
    expect(res.json).toMatchObject({
      account: { provider: "github", login: "acme-prs", type: "Organization" },
      confirm: { method: "POST", url: `/v1/integrations/${integrationId}/confirm` },
    });
    // The cookie is renewed for the confirmation window.
    expect(installNonce(res.setCookie)).toBe(nonce);
    expect((await integrationRow(A, "6003"))?.status).toBe("pending_confirmation");

    // Pending: the real ingest treats it as unknown — no run.
    expect(await prOpenedFor(6003)).toEqual([]);

    // Confirmation: the cookie is required, and only the installer may confirm; a refusal changes nothing.
    expect((await confirm(integrationId, tokens.adminA, null)).json).toMatchObject({
      error: { code: "INSTALL_NOT_BOUND" },
    });
    expect((await confirm(integrationId, tokens.otherAdminA, nonce)).json).toMatchObject({
      error: { code: "INSTALL_NOT_BOUND" },
    });
    expect((await confirm(integrationId, tokens.viewerA, nonce)).status).toBe(403);
    expect((await confirm(integrationId, tokens.adminB, nonce)).status).toBe(404);
    expect((await integrationRow(A, "6003"))?.status).toBe("pending_confirmation");

    const confirmed = await confirm(integrationId, tokens.adminA, nonce);
    expect(confirmed.status).toBe(200);
    expect(confirmed.json).toMatchObject({ integration: { id: integrationId, status: "active", externalId: "6003" } });
    expect(
      confirmed.setCookie.some(
        (c) => /^__Host-praxa_install=;/.test(c) && /max-age=0|expires=thu, 01 jan 1970/i.test(c),
      ),
    ).toBe(true);
    expect((await integrationRow(A, "6003"))?.status).toBe("active");
    const [ev] = await admin<
      { canonical: Buffer }[]
    >`select canonical from audit_events where workspace_id = ${A.workspaceId} and kind = 'admin.integration.confirmed'`;
    expect(JSON.parse(ev!.canonical.toString())).toMatchObject({
      input: { provider: "github", external_id: "6003", confirmed_by: A.memberId },
      output: { integration_id: integrationId, status: "active" },
    });
    expect((await confirm(integrationId, tokens.adminA, nonce)).status).toBe(409);

    // Active: the same kind of event now starts a run in A.
    const runIds = await prOpenedFor(6003);
    expect(runIds).toHaveLength(1);
    const [run] = await admin<{ workspace_id: string }[]>`select workspace_id from agent_runs where id = ${runIds[0]!}`;
    expect(run?.workspace_id).toBe(A.workspaceId);
  });

  it("a confirmation after the window → 403, the integration stays pending", async () => {
    const { state, nonce } = await start(tokens.adminA);
    gh.addInstallation({ id: 6004, account: "slowpoke", permissions: { contents: "read" } });
    const res = await callbackIn(nonce, state, 6004);
    const integrationId = String((res.json["integration"] as { id: string }).id);
    await admin`update integrations set confirm_by = now() - interval '1 second' where id = ${integrationId}`;
    expect((await confirm(integrationId, tokens.adminA, nonce)).json).toMatchObject({
      error: { code: "INSTALL_NOT_BOUND" },
    });
    expect((await integrationRow(A, "6004"))?.status).toBe("pending_confirmation");
  });
});
