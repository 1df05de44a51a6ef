/**
 * Slack as the workspace's bot, end to end: the api's install link (bot scopes only, a state bound to the workspace
 * and member, and the `__Host-praxa_install` cookie binding it to the member's browser) → the loopback Slack's
 * authorize redirect → the api's callback, only in that browser, exchanges the code with the real @slack/web-api
 * client, drops any user token, seals the bot token (and with rotation its refresh token) to the workspace key, and
 * records the team `pending_confirmation` — unused by ingest and workers — until the same member confirms it from the
 * same browser; a worker, in a claimed run, gets the bot token and refreshes it near expiry — once, even when two runs
 * ask at the same time — storing the new pair sealed. The link opened in another browser (security review finding
 * 1) is refused before Slack is asked: no integration, no vault secret. No token appears in an api response, a log
 * line or the database in clear.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import postgres from "postgres";
import { mintApiTokenMaterial, newId } from "@praxa/core";
import { SlackReinstallNeededError } from "@praxa/connectors";
import { LocalKeyProvider, type KeyProvider } from "@praxa/crypto";
import {
  claimRun,
  createDatabase,
  createTestDatabase,
  resolveInstallation,
  seedWorkspaceFixture,
  withWorkspace,
  type ClaimedRun,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { buildApiServer, type InstallConfig } from "@praxa/api";
import { createLogger } from "@praxa/observability";
import { startSlackServer, type SlackServer } from "@praxa/testkit";
import {
  openCredentialForRun,
  runKeysJob,
  slackBotTokenForRun,
  SlackNotInstalledError,
  type SlackTokenDeps,
} from "@praxa/worker";
import type { FastifyInstance } from "fastify";
import { expectInstallCookieBound, installNonce } from "./install-cookie.js";

const PUBLIC_URL = "https://praxa.test";
let tdb: TestDatabase;
let admin: postgres.Sql;
let apiDb: Database;
let workerDb: Database;
let ingestDb: Database;
let provider: KeyProvider;
let slack: SlackServer;
let app: FastifyInstance;
let bare: FastifyInstance;
let base: string;
let bareBase: string;
let A: WorkspaceFixture;
let B: WorkspaceFixture;
const tokens: Record<"adminA" | "viewerA" | "adminB" | "otherAdminA", string> = {
  adminA: "",
  viewerA: "",
  adminB: "",
  otherAdminA: "",
};
const logs: string[] = [];

async function mintToken(
  ws: WorkspaceFixture,
  memberId: string,
  expires = "now() + interval '1 hour'",
): Promise<string> {
  const m = mintApiTokenMaterial(ws.workspaceId);
  await admin.unsafe(
    `insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values ($1, $2, $3, 'human', 't', $4, ${expires})`,
    [ws.workspaceId, m.tokenId, memberId, m.secretSha256],
  );
  return m.token;
}

beforeAll(async () => {
  slack = await startSlackServer({ tokenRotation: true, tokenLifetimeSeconds: 3600 });
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  apiDb = createDatabase(tdb.roleUrl("praxa_api"), { max: 2 });
  workerDb = createDatabase(tdb.roleUrl("praxa_worker"), { max: 3 });
  ingestDb = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 1 });
  provider = await LocalKeyProvider.open({ path: join(mkdtempSync(join(tmpdir(), "praxa-slack-")), "master.key") });
  for (const ws of [A, B]) await runKeysJob({ database: workerDb, provider, holder: "test" }, ws.workspaceId, "create");
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      logs.push(chunk.toString("utf8"));
      cb();
    },
  });
  const install: InstallConfig = {
    publicUrl: PUBLIC_URL,
    slack: { clientId: slack.clientId, clientSecret: slack.clientSecret, baseUrl: slack.url },
  };
  app = await buildApiServer({
    database: apiDb,
    log: createLogger({ name: "slack-install", level: "trace", destination }),
    install,
    auditSigner: { keyId: "aek_install_test", privateKey: generateKeyPairSync("ed25519").privateKey },
  });
  base = await app.listen({ port: 0, host: "127.0.0.1" });
  bare = await buildApiServer({ database: apiDb, log: createLogger({ name: "bare", level: "silent" }) });
  bareBase = await bare.listen({ port: 0, host: "127.0.0.1" });
  const [viewer] = await admin<
    { id: string }[]
  >`select id from workspace_members where workspace_id = ${A.workspaceId} and role = 'viewer'`;
  tokens.adminA = await mintToken(A, A.memberId);
  tokens.viewerA = await mintToken(A, viewer!.id);
  tokens.adminB = await mintToken(B, B.memberId);
  const otherAdmin = newId("member");
  await admin`insert into workspace_members (workspace_id, id, email, role) values (${A.workspaceId}, ${otherAdmin}, 'other-admin-a@example.com', 'admin')`;
  tokens.otherAdminA = await mintToken(A, otherAdmin);
});
afterAll(async () => {
  await app?.close();
  await bare?.close();
  await Promise.all([apiDb?.close(), workerDb?.close(), ingestDb?.close(), admin?.end({ timeout: 5 })]);
  await tdb?.drop();
  await slack?.close();
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
  opts: { token?: string; nonce?: string | null; at?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.token) headers["authorization"] = `Bearer ${opts.token}`;
  if (opts.nonce) headers["cookie"] = `__Host-praxa_install=${opts.nonce}`;
  const res = await fetch(`${opts.at ?? base}${path}`, { method, headers });
  const text = await res.text();
  return {
    status: res.status,
    text,
    json: JSON.parse(text) as Record<string, unknown>,
    setCookie: res.headers.getSetCookie(),
  };
}
const get = (path: string, token?: string, at = base): Promise<Answer> =>
  call("GET", path, { ...(token ? { token } : {}), at });

/** The browser's part: follow the install link to Slack's authorize page, get redirected back to the api. */
async function authorize(installUrl: string): Promise<string> {
  const res = await fetch(installUrl, { redirect: "manual" });
  expect(res.status).toBe(302);
  const back = new URL(res.headers.get("location") ?? "");
  expect(`${back.origin}${back.pathname}`).toBe(`${PUBLIC_URL}/v1/integrations/slack/callback`);
  return `${back.pathname}${back.search}`;
}

/** An install started in a member's browser and approved on Slack: the callback path, and that browser's nonce. */
async function startAndAuthorize(token: string): Promise<{ callback: string; nonce: string }> {
  const link = await get("/v1/integrations/slack/install", token);
  expect(link.status).toBe(200);
  return { callback: await authorize(String(link.json["url"])), nonce: installNonce(link.setCookie) };
}

/** Slack's redirect back, arriving in a browser that holds `nonce` (null: a browser without the cookie). */
const callbackIn = (nonce: string | null, callback: string): Promise<Answer> => call("GET", callback, { nonce });

const confirm = (integrationId: string, token: string, nonce: string | null): Promise<Answer> =>
  call("POST", `/v1/integrations/${integrationId}/confirm`, { token, nonce });

/** The whole install from one browser, up to the callback (the integration is then pending). */
async function installAs(token: string): Promise<Answer & { nonce: string }> {
  const { callback, nonce } = await startAndAuthorize(token);
  return { ...(await callbackIn(nonce, callback)), nonce };
}

const slackSecrets = async (ws: WorkspaceFixture): Promise<number> =>
  (
    await admin<
      { n: number }[]
    >`select count(*)::int as n from vault.secrets where workspace_id = ${ws.workspaceId} and name like 'slack/%'`
  )[0]?.n ?? -1;

async function claimedRun(ws: WorkspaceFixture): Promise<ClaimedRun> {
  const runId = newId("run");
  await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${ws.workspaceId}, ${runId}, ${ws.skillId}, ${ws.skillVersionId}, 'slack.app_mention', 'slack')`;
  // These runs are held and never finished: lift the workspace's cap (default 10) so the suite can hold more.
  await admin`insert into workspace_fleet (workspace_id, max_concurrency) values (${ws.workspaceId}, 1000) on conflict (workspace_id) do update set max_concurrency = 1000`;
  const claimed = await claimRun(workerDb, runId, "w", 60);
  if (!claimed) throw new Error("not claimed");
  return claimed;
}

/** What the vault holds for A's Slack bot, opened as a worker would (in a claimed run). */
async function storedRecord(): Promise<{ botToken: string; refreshToken: string }> {
  const run = await claimedRun(A);
  const opened = await withWorkspace(workerDb, A.workspaceId, (s) =>
    openCredentialForRun(provider, s, run.lease, "slack/bot/t0praxa01"),
  );
  return JSON.parse(Buffer.from(opened).toString("utf8")) as { botToken: string; refreshToken: string };
}

const deps = (now?: () => number): SlackTokenDeps => ({
  database: workerDb,
  provider,
  slack: { clientId: slack.clientId, clientSecret: slack.clientSecret, baseUrl: slack.url },
  ...(now ? { now } : {}),
});

describe("Slack install (api)", () => {
  it("the install link: owner/admin only, bot scopes only (never a user_scope), a state bound to the workspace", async () => {
    expect((await get("/v1/integrations/slack/install")).status).toBe(401);
    expect((await get("/v1/integrations/slack/install", "praxa_tk_garbage")).status).toBe(401);
    const expired = await mintToken(A, A.memberId, "now() + interval '1 second'");
    await admin`update api_tokens set expires_at = now() - interval '1 second' where workspace_id = ${A.workspaceId} and expires_at < now() + interval '1 minute'`;
    expect((await get("/v1/integrations/slack/install", expired)).status).toBe(401);
    const viewer = await get("/v1/integrations/slack/install", tokens.viewerA);
    expect(viewer.status).toBe(403);
    expect(viewer.json).toEqual({ error: { code: "FORBIDDEN", message: expect.any(String) } });
    const ok = await get("/v1/integrations/slack/install", tokens.adminA);
    expect(ok.status).toBe(200);
    const url = new URL(String(ok.json["url"]));
    expect(`${url.origin}${url.pathname}`).toBe(slack.authorizeUrl);
    expect(url.searchParams.get("client_id")).toBe(slack.clientId);
    expect(url.searchParams.get("scope")).toBe("chat:write"); // the fixture's Skill needs nothing from Slack; notifications need chat:write
    expect(url.searchParams.has("user_scope")).toBe(false);
    expect(url.searchParams.get("state")).toMatch(new RegExp(`^${A.workspaceId}\\.[A-Za-z0-9_-]{43}$`));
    expect(url.searchParams.get("redirect_uri")).toBe(`${PUBLIC_URL}/v1/integrations/slack/callback`);
    const [stored] = await admin<
      { n: number }[]
    >`select count(*)::int as n from oauth_states where state_sha256 = encode(sha256(${url.searchParams.get("state")!}::bytea), 'hex')`;
    expect(stored?.n).toBe(1);
    const unconfigured = await get("/v1/integrations/slack/install", tokens.adminA, bareBase);
    expect(unconfigured.status).toBe(404);
    expect(unconfigured.json).toMatchObject({ error: { code: "INTEGRATION_NOT_CONFIGURED" } });
  });

  it("the install cookie: __Host- prefix, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain, 10 minutes; only its hash is stored", async () => {
    const link = await get("/v1/integrations/slack/install", tokens.adminA);
    await expectInstallCookieBound(link, admin);
  });

  it("the link opened in another browser (no cookie, or another start’s cookie) → 403 INSTALL_NOT_BOUND: the code never exchanged, no integration, no vault secret", async () => {
    // An admin of A sends their link to the owner of a Slack team, who approves the genuine app and lands on the callback.
    const { callback } = await startAndAuthorize(tokens.adminA);
    const exchanges = slack.calls["oauth.v2.access"] ?? 0;
    const refused = await callbackIn(null, callback);
    expect(refused.status).toBe(403);
    expect(refused.json).toEqual({ error: { code: "INSTALL_NOT_BOUND", message: expect.any(String) } });
    // Another member's start, or another start of the same member: a cookie that does not fit this link.
    for (const other of [
      await startAndAuthorize(tokens.otherAdminA),
      await startAndAuthorize(tokens.adminA),
      await startAndAuthorize(tokens.adminB),
    ]) {
      expect((await callbackIn(other.nonce, callback)).json).toMatchObject({ error: { code: "INSTALL_NOT_BOUND" } });
    }
    expect(slack.calls["oauth.v2.access"] ?? 0).toBe(exchanges);
    expect((await admin`select 1 from integrations where provider = 'slack'`).length).toBe(0);
    expect(await slackSecrets(A)).toBe(0);
    expect(
      (await admin`select 1 from audit_events where workspace_id = ${A.workspaceId} and kind like '%integration.%'`)
        .length,
    ).toBe(0);
    // The link was not burnt: the member's own browser could still finish it (it expires unused here).
    const state = new URL(callback, base).searchParams.get("state")!;
    expect(
      (await admin`select 1 from oauth_states where state_sha256 = encode(sha256(${state}::bytea), 'hex')`).length,
    ).toBe(1);
  });

  it("the callback stores the bot token sealed — a user token in Slack’s answer is stored nowhere, shown nowhere", async () => {
    slack.userTokenInAnswers = true;
    let res;
    try {
      res = await installAs(tokens.adminA);
    } finally {
      slack.userTokenInAnswers = false;
    }
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      rotation: true,
      integration: {
        provider: "slack",
        externalId: slack.teamId,
        status: "pending_confirmation",
        grantedScopes: ["chat:write"],
        botIdentity: { user_id: slack.botUserId, kind: "slack_bot" },
      },
      account: { provider: "slack", teamId: slack.teamId, teamName: slack.teamName },
    });
    const integrationId = String((res.json["integration"] as { id: string }).id);
    const issued = slack.issuedTokens.slice(-3);
    expect(issued.map((t) => t.kind)).toEqual(["bot_rotating", "refresh", "user"]);
    const [botToken, refreshToken, userToken] = issued.map((t) => t.token) as [string, string, string];

    const [integration] = await admin<
      { installed_by: string }[]
    >`select installed_by from integrations where workspace_id = ${A.workspaceId} and provider = 'slack'`;
    expect(integration?.installed_by).toBe(A.memberId);
    const [row] = await admin<
      { provider: string; purpose: string; expires_at: Date; ciphertext: Buffer }[]
    >`select provider, purpose, expires_at, ciphertext from vault.secrets where workspace_id = ${A.workspaceId} and name = 'slack/bot/t0praxa01'`;
    expect(row).toMatchObject({ provider: "slack", purpose: "bot_token" });
    expect(row!.expires_at.getTime()).toBeGreaterThan(Date.now() + 3_500_000);

    // Opened only by a worker, in a run it holds: the bot token and its refresh token, nothing else.
    const run = await claimedRun(A);
    const opened = Buffer.from(
      await withWorkspace(workerDb, A.workspaceId, (s) =>
        openCredentialForRun(provider, s, run.lease, "slack/bot/t0praxa01"),
      ),
    ).toString("utf8");
    expect(JSON.parse(opened)).toEqual({ v: 1, botToken, refreshToken });

    // Canaries: the user token nowhere; the bot and refresh tokens never in clear outside the sealed record.
    const dump =
      (
        await admin.unsafe<{ t: string }[]>(`
      select string_agg(x::text, ' ') as t from (
        select row_to_json(i)::text as x from integrations i union all select row_to_json(o)::text from oauth_states o
        union all select encode(ciphertext, 'escape') from vault.secrets union all select row_to_json(r)::text from agent_runs r) all_rows`)
      )[0]?.t ?? "";
    for (const secret of [userToken, botToken, refreshToken, slack.clientSecret]) {
      expect(res.text).not.toContain(secret);
      expect(logs.join("")).not.toContain(secret);
      expect(dump).not.toContain(secret);
    }
    expect(opened).not.toContain(userToken);

    // Pending: ingest resolves the team as unknown, and a run cannot get its bot token.
    expect(await resolveInstallation(ingestDb, "slack", slack.teamId)).toBeNull();
    await expect(slackBotTokenForRun(deps(), await claimedRun(A), slack.teamId)).rejects.toBeInstanceOf(
      SlackNotInstalledError,
    );
    // Confirmed by the member who installed it, from the same browser (the cookie), not by another admin → active.
    expect((await confirm(integrationId, tokens.adminA, null)).status).toBe(403);
    expect((await confirm(integrationId, tokens.otherAdminA, res.nonce)).status).toBe(403);
    const confirmed = await confirm(integrationId, tokens.adminA, res.nonce);
    expect(confirmed.status).toBe(200);
    expect(confirmed.json).toMatchObject({ integration: { id: integrationId, status: "active" } });
    expect(await resolveInstallation(ingestDb, "slack", slack.teamId)).toMatchObject({
      workspace_id: A.workspaceId,
      status: "active",
    });
    expect(await slackBotTokenForRun(deps(), await claimedRun(A), slack.teamId)).toBe(botToken);
    const [ev] = await admin<
      { canonical: Buffer }[]
    >`select canonical from audit_events where workspace_id = ${A.workspaceId} and kind = 'admin.integration.confirmed'`;
    expect(JSON.parse(ev!.canonical.toString())).toMatchObject({
      kind: "admin.integration.confirmed",
      input: { provider: "slack", external_id: slack.teamId, confirmed_by: A.memberId },
    });
  });

  it("a state is single-use, expiring, and never crosses workspaces", async () => {
    const { callback, nonce } = await startAndAuthorize(tokens.adminA);
    const state = new URL(callback, base).searchParams.get("state")!;
    // Moved to another workspace's prefix: looked up in B's scope, where it does not exist.
    const moved = await callbackIn(
      nonce,
      `/v1/integrations/slack/callback?code=x&state=${encodeURIComponent(state.replace(A.workspaceId, B.workspaceId))}`,
    );
    expect(moved.json).toMatchObject({ error: { code: "OAUTH_STATE_INVALID" } });
    const reinstalled = await callbackIn(nonce, callback);
    expect(reinstalled.status).toBe(200);
    const replay = await callbackIn(nonce, callback);
    expect(replay.status).toBe(400);
    expect(replay.json).toMatchObject({ error: { code: "OAUTH_STATE_INVALID" } });
    // (The reinstall is pending again until confirmed; the worker tests below use it.)
    expect(
      (await confirm(String((reinstalled.json["integration"] as { id: string }).id), tokens.adminA, nonce)).status,
    ).toBe(200);

    const stale = await startAndAuthorize(tokens.adminA);
    await admin`update oauth_states set created_at = now() - interval '20 minutes', expires_at = now() - interval '10 minutes' where workspace_id = ${A.workspaceId}`;
    expect((await callbackIn(stale.nonce, stale.callback)).json).toMatchObject({
      error: { code: "OAUTH_STATE_INVALID" },
    });

    const denied = await get("/v1/integrations/slack/install", tokens.adminA);
    const deniedState = new URL(String(denied.json["url"])).searchParams.get("state")!;
    expect(
      (
        await callbackIn(
          installNonce(denied.setCookie),
          `/v1/integrations/slack/callback?error=access_denied&state=${encodeURIComponent(deniedState)}`,
        )
      ).json,
    ).toMatchObject({ error: { code: "OAUTH_DENIED" } });
  });

  it("a Slack team connected to one workspace cannot be claimed by another (409), and nothing is stored for it", async () => {
    const res = await installAs(tokens.adminB);
    expect(res.status).toBe(409);
    expect(res.json).toMatchObject({ error: { code: "INTEGRATION_CLAIMED" } });
    expect(await slackSecrets(B)).toBe(0);
  });
});

describe("Slack token rotation (worker)", () => {
  it("a fresh token is opened from the vault as is; it works against Slack", async () => {
    const oauthCalls = slack.calls["oauth.v2.access"] ?? 0;
    const token = await slackBotTokenForRun(deps(), await claimedRun(A), slack.teamId);
    expect(token).toMatch(/^xoxe\.xoxb-/);
    expect(slack.calls["oauth.v2.access"]).toBe(oauthCalls);
    const posted = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify({ channel: "C0PRAXA01", text: "hello from the run" }),
    });
    expect(await posted.json()).toMatchObject({ ok: true });
    expect(slack.messages.at(-1)).toMatchObject({ text: "hello from the run", token });
  });

  it("within 5 minutes of expiry: refreshed once — also when two runs ask at once — and the new pair is stored sealed", async () => {
    const later = Date.now() + 3_600_000 - 60_000; // one minute before the stored expiry
    const oauthCalls = slack.calls["oauth.v2.access"] ?? 0;
    const [before] = await admin<
      { ciphertext: Buffer; expires_at: Date }[]
    >`select ciphertext, expires_at from vault.secrets where workspace_id = ${A.workspaceId} and name = 'slack/bot/t0praxa01'`;
    const stored = await storedRecord();

    const [r1, r2] = await Promise.all([claimedRun(A), claimedRun(A)]);
    const [t1, t2] = await Promise.all([
      slackBotTokenForRun(
        deps(() => later),
        r1,
        slack.teamId,
      ),
      slackBotTokenForRun(
        deps(() => later),
        r2,
        slack.teamId,
      ),
    ]);
    expect(slack.calls["oauth.v2.access"]).toBe(oauthCalls + 1);
    expect(t1).toBe(t2);
    expect(t1).not.toBe(stored.botToken);
    expect(slack.issuedTokens.find((t) => t.token === stored.refreshToken)?.revoked).toBe(true);

    const [after] = await admin<
      { ciphertext: Buffer; expires_at: Date }[]
    >`select ciphertext, expires_at from vault.secrets where workspace_id = ${A.workspaceId} and name = 'slack/bot/t0praxa01'`;
    expect(after!.ciphertext.equals(before!.ciphertext)).toBe(false);
    expect(after!.expires_at.getTime()).toBeGreaterThan(before!.expires_at.getTime());
    const renewed = await storedRecord();
    expect(renewed.botToken).toBe(t1);
    expect(renewed.refreshToken).toMatch(/^xoxe-1-/);
    expect(renewed.refreshToken).not.toBe(stored.refreshToken);
    expect(slack.issuedTokens.find((t) => t.token === renewed.refreshToken)?.revoked).toBe(false);
    for (const secret of [renewed.botToken, renewed.refreshToken])
      expect(after!.ciphertext.toString("latin1")).not.toContain(secret);

    // Now fresh again: no further refresh, the same token.
    expect(
      await slackBotTokenForRun(
        deps(() => later),
        await claimedRun(A),
        slack.teamId,
      ),
    ).toBe(t1);
    expect(slack.calls["oauth.v2.access"]).toBe(oauthCalls + 1);
  });

  it("a refresh token Slack no longer honours → SlackReinstallNeededError; a team never installed → SlackNotInstalledError", async () => {
    const live = (await storedRecord()).refreshToken;
    slack.revokeToken(live);
    const muchLater = Date.now() + 2 * 3_600_000;
    const err = await slackBotTokenForRun(
      deps(() => muchLater),
      await claimedRun(A),
      slack.teamId,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlackReinstallNeededError);
    expect(err).toMatchObject({ code: "INTEGRATION_GONE", resource: "slack", details: { teamId: slack.teamId } });
    expect(String((err as Error).message)).not.toContain(live);
    await expect(slackBotTokenForRun(deps(), await claimedRun(A), "T0NOTHERE")).rejects.toBeInstanceOf(
      SlackNotInstalledError,
    );
    // A stale lease reads nothing.
    const run = await claimedRun(A);
    await expect(
      slackBotTokenForRun(deps(), { ...run, lease: { ...run.lease, token: crypto.randomUUID() } }, slack.teamId),
    ).rejects.toMatchObject({ code: "LEASE_LOST" });
  });
});
