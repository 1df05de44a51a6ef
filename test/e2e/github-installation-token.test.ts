/**
 * GitHub as the workspace's bot: installation tokens minted from the App's key by the real @octokit/auth-app against a
 * loopback GitHub that really verifies the App JWT; cached only sealed in the vault until shortly before they expire.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { newId } from '@praxa/core';
import { mintInstallationToken } from '@praxa/connectors';
import { LocalKeyProvider, type KeyProvider } from '@praxa/crypto';
import { claimRun, createDatabase, createTestDatabase, seedWorkspaceFixture, withWorkspace, type Database, type TestDatabase, type WorkspaceFixture } from '@praxa/db';
import { startGithubServer, type GithubServer } from '@praxa/testkit';
import { installationTokenForRun, runKeysJob } from '@praxa/worker';

const APP_ID = 424242;
const appKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
let gh: GithubServer;
let tdb: TestDatabase;
let admin: postgres.Sql;
let worker: Database;
let provider: KeyProvider;
let A: WorkspaceFixture;

beforeAll(async () => {
  gh = await startGithubServer({ appId: APP_ID, privateKeyPem: appKey, installations: [{ id: 1001, account: 'acme', permissions: { pull_requests: 'write', contents: 'read' } }] });
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, 'A', { installationId: '1001' });
  worker = createDatabase(tdb.roleUrl('praxa_worker'), { max: 2 });
  provider = await LocalKeyProvider.open({ path: join(mkdtempSync(join(tmpdir(), 'praxa-gh-')), 'master.key') });
  await runKeysJob({ database: worker, provider, holder: 't' }, A.workspaceId, 'create');
});
afterAll(async () => {
  await worker?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
  await gh?.close();
});

async function tokenInNewRun(): Promise<string> {
  const runId = newId('run');
  await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${A.workspaceId}, ${runId}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github')`;
  const claimed = await claimRun(worker, runId, 'w', 30);
  return withWorkspace(worker, A.workspaceId, (s) => installationTokenForRun({ provider, github: { appId: APP_ID, privateKeyPem: appKey, baseUrl: gh.url } }, s, claimed!.lease, 1001));
}

describe('GitHub App installation tokens', () => {
  it('mints with a real App JWT, records the granted permissions, and refuses a wrong key', async () => {
    const t = await mintInstallationToken({ appId: APP_ID, privateKeyPem: appKey, baseUrl: gh.url }, 1001);
    expect(t.token).toMatch(/^ghs_/);
    expect(t.permissions).toEqual(['contents:read', 'pull_requests:write']);
    const wrongKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await expect(mintInstallationToken({ appId: APP_ID, privateKeyPem: wrongKey, baseUrl: gh.url }, 1001)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('is cached only sealed in the vault: a second run reuses it; near expiry a new one is minted', async () => {
    const minted = gh.tokens.length;
    const first = await tokenInNewRun();
    const second = await tokenInNewRun();
    expect(second).toBe(first);
    expect(gh.tokens.length).toBe(minted + 1);
    const [row] = await admin<{ c: Buffer; exp: Date }[]>`select ciphertext as c, expires_at as exp from vault.secrets where name = 'github/installation/1001'`;
    expect(row?.c.toString('latin1')).not.toContain(first);
    expect(row?.exp.getTime()).toBeGreaterThan(Date.now());
    gh.tokenLifetimeMs = 60_000; // tokens now expire within the refresh margin
    await admin`update vault.secrets set expires_at = now() + interval '1 minute' where name = 'github/installation/1001'`;
    const third = await tokenInNewRun();
    expect(third).not.toBe(first);
    expect(gh.tokens.length).toBe(minted + 2);
  });

});
