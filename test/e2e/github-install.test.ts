/**
 * GitHub as the workspace's bot: the App installation callback. The api issues an install link with a state bound to
 * the workspace and member; on GitHub's setup redirect it consumes the state, asks GitHub — as the App, with a real
 * App JWT the loopback GitHub verifies — which account installed what with which permissions, and records the
 * integration. A forged installation id (an older installation, another App's, one connected elsewhere) is refused,
 * as is an OAuth `code` (a user-to-server token is never taken). No installation token is minted by the api.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import postgres from 'postgres';
import { mintApiTokenMaterial, newId } from '@praxa/core';
import { createDatabase, createTestDatabase, seedWorkspaceFixture, type Database, type TestDatabase, type WorkspaceFixture } from '@praxa/db';
import { buildApiServer, type InstallConfig } from '@praxa/api';
import { createLogger } from '@praxa/observability';
import { startGithubServer, type GithubServer } from '@praxa/testkit';
import type { FastifyInstance } from 'fastify';

const APP_ID = 777001;
const appKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
let gh: GithubServer;
let tdb: TestDatabase;
let admin: postgres.Sql;
let apiDb: Database;
let app: FastifyInstance;
let base: string;
let A: WorkspaceFixture;
let B: WorkspaceFixture;
const tokens = { adminA: '', viewerA: '', adminB: '' };
const logs: string[] = [];

async function mintToken(ws: WorkspaceFixture, memberId: string): Promise<string> {
  const m = mintApiTokenMaterial(ws.workspaceId);
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${ws.workspaceId}, ${m.tokenId}, ${memberId}, 'human', 't', ${m.secretSha256}, now() + interval '1 hour')`;
  return m.token;
}

beforeAll(async () => {
  gh = await startGithubServer({ appId: APP_ID, privateKeyPem: appKey, installations: [{ id: 1001, account: 'old-org', permissions: { contents: 'read' }, createdAt: new Date(Date.now() - 3_600_000) }] });
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, 'A');
  B = await seedWorkspaceFixture(tdb.adminUrl, 'B');
  apiDb = createDatabase(tdb.roleUrl('praxa_api'), { max: 2 });
  const destination = new Writable({ write(chunk: Buffer, _e, cb) { logs.push(chunk.toString('utf8')); cb(); } });
  const install: InstallConfig = { publicUrl: 'https://praxa.test', github: { appId: APP_ID, privateKeyPem: appKey, baseUrl: gh.url, slug: 'praxa-test', webUrl: gh.url } };
  app = await buildApiServer({ database: apiDb, log: createLogger({ name: 'github-install', level: 'trace', destination }), install, auditSigner: { keyId: 'aek_install_test', privateKey: generateKeyPairSync('ed25519').privateKey } });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
  const [viewer] = await admin<{ id: string }[]>`select id from workspace_members where workspace_id = ${A.workspaceId} and role = 'viewer'`;
  tokens.adminA = await mintToken(A, A.memberId);
  tokens.viewerA = await mintToken(A, viewer!.id);
  tokens.adminB = await mintToken(B, B.memberId);
});
afterAll(async () => {
  await app?.close();
  await Promise.all([apiDb?.close(), admin?.end({ timeout: 5 })]);
  await tdb?.drop();
  await gh?.close();
});

async function get(path: string, token?: string): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) as Record<string, unknown> };
}

async function stateFor(token: string): Promise<string> {
  const link = await get('/v1/integrations/github/install', token);
  expect(link.status).toBe(200);
  return new URL(String(link.json['url'])).searchParams.get('state') ?? '';
}

const callback = (state: string, installationId: number | string, action = 'install', extra = ''): Promise<{ status: number; text: string; json: Record<string, unknown> }> =>
  get(`/v1/integrations/github/callback?installation_id=${installationId}&setup_action=${action}&state=${encodeURIComponent(state)}${extra}`);

const integrationRow = async (ws: WorkspaceFixture, id: string) =>
  (await admin<{ granted_scopes: string[]; installed_by: string | null; bot_identity: Record<string, unknown> }[]>`select granted_scopes, installed_by, bot_identity from integrations where workspace_id = ${ws.workspaceId} and provider = 'github' and external_id = ${id}`)[0];

describe('GitHub App installation callback', () => {
  it('the install link: owner/admin only; the App’s install page with a state', async () => {
    expect((await get('/v1/integrations/github/install')).status).toBe(401);
    expect((await get('/v1/integrations/github/install', tokens.viewerA)).status).toBe(403);
    const link = await get('/v1/integrations/github/install', tokens.adminA);
    const url = new URL(String(link.json['url']));
    expect(`${url.origin}${url.pathname}`).toBe(`${gh.url}/apps/praxa-test/installations/new`);
    expect(url.searchParams.get('state')).toMatch(new RegExp(`^${A.workspaceId}\\.`));
  });

  it('a new installation: looked up as the App, recorded with its permissions and installer; no token minted', async () => {
    const state = await stateFor(tokens.adminA);
    gh.addInstallation({ id: 5001, account: 'acme', permissions: { pull_requests: 'write', contents: 'read', metadata: 'read' } });
    const minted = gh.tokens.length;
    const lookups = gh.calls['GET /app/installations/:id'] ?? 0;
    const res = await callback(state, 5001);
    expect(res.status).toBe(200);
    expect(res.json['integration']).toMatchObject({
      provider: 'github', externalId: '5001', status: 'active', grantedScopes: ['contents:read', 'metadata:read', 'pull_requests:write'],
      botIdentity: { kind: 'github_app_installation', login: 'praxa-test[bot]', account: 'acme', app_id: APP_ID },
    });
    expect(await integrationRow(A, '5001')).toMatchObject({ installed_by: A.memberId });
    expect(gh.calls['GET /app/installations/:id']).toBe(lookups + 1);
    expect(gh.tokens.length).toBe(minted);
    expect((await callback(state, 5001)).json).toMatchObject({ error: { code: 'OAUTH_STATE_INVALID' } });
    // The installation is an audited change, in the same transaction as its row.
    const [ev] = await admin<{ canonical: Buffer }[]>`select canonical from audit_events where workspace_id = ${A.workspaceId} and kind = 'admin.integration.installed'`;
    expect(JSON.parse(ev!.canonical.toString())).toMatchObject({ trigger: 'api.github_installed', input: { provider: 'github', external_id: '5001', installed_by: A.memberId } });
  });

  it('a forged installation id is refused: made before the link, unknown to the App, or suspended', async () => {
    const old = await callback(await stateFor(tokens.adminA), 1001);
    expect(old.status).toBe(400);
    expect(old.json).toMatchObject({ error: { code: 'INSTALLATION_UNVERIFIED' } });
    expect(await integrationRow(A, '1001')).toBeUndefined();
    const unknown = await callback(await stateFor(tokens.adminA), 424242);
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ error: { code: 'GITHUB_INSTALLATION_NOT_FOUND' } });
    const state = await stateFor(tokens.adminA);
    gh.addInstallation({ id: 5004, account: 'frozen', permissions: { contents: 'read' }, suspended: true });
    expect((await callback(state, 5004)).json).toMatchObject({ error: { code: 'INSTALLATION_SUSPENDED' } });
  });

  it('an installation connected to one workspace is never moved to another (409)', async () => {
    const stateB = await stateFor(tokens.adminB);
    const stateA = await stateFor(tokens.adminA);
    gh.addInstallation({ id: 5003, account: 'contested', permissions: { contents: 'read' } });
    expect((await callback(stateA, 5003)).status).toBe(200);
    const stolen = await callback(stateB, 5003);
    expect(stolen.status).toBe(409);
    expect(stolen.json).toMatchObject({ error: { code: 'INTEGRATION_CLAIMED' } });
    expect(await integrationRow(B, '5003')).toBeUndefined();
  });

  it('setup_action=update refreshes the permissions of the workspace’s own installation', async () => {
    gh.addInstallation({ id: 5002, account: 'acme-2', permissions: { pull_requests: 'write', contents: 'read' }, createdAt: new Date(Date.now() - 86_400_000) });
    await admin`insert into integrations (workspace_id, id, provider, external_id, granted_scopes) values (${A.workspaceId}, ${newId('integration')}, 'github', '5002', ${['contents:read']})`;
    const res = await callback(await stateFor(tokens.adminA), 5002, 'update');
    expect(res.status).toBe(200);
    expect(await integrationRow(A, '5002')).toMatchObject({ granted_scopes: ['contents:read', 'pull_requests:write'], installed_by: A.memberId });
  });

  it('user authorization is refused: a callback with an OAuth code → USER_CREDENTIAL_REFUSED, the code never exchanged', async () => {
    const state = await stateFor(tokens.adminA);
    gh.addInstallation({ id: 5005, account: 'oauthy', permissions: { contents: 'read' } });
    const res = await callback(state, 5005, 'install', '&code=0123456789abcdef0123');
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'USER_CREDENTIAL_REFUSED' } });
    expect(Object.keys(gh.calls).filter((k) => k.includes('oauth'))).toEqual([]);
    expect(await integrationRow(A, '5005')).toBeUndefined();
  });

  it('setup_action=request (an owner must approve) records nothing yet; the App key never shows', async () => {
    const res = await get(`/v1/integrations/github/callback?setup_action=request&state=${encodeURIComponent(await stateFor(tokens.adminA))}`);
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ status: 'requested' });
    const keyBody = appKey.split('\n')[5] ?? 'unreachable';
    expect(logs.join('')).not.toContain(keyBody);
  });
});
