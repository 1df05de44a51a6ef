/**
 * README command 1 ends in `pnpm praxa demo`. Run the built CLI as a real process against a fresh database: it must
 * exit 0 and say the demo completed, with tenancy and fencing enforced.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, databaseUrl, type TestDatabase } from '@praxa/db';

const cli = fileURLToPath(new URL('../../apps/cli/dist/main.js', import.meta.url));
let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: 'praxa_test_demo' });
});
afterAll(async () => tdb?.drop());

describe('pnpm praxa demo', () => {
  it('runs end to end from a migrated database and reports success', () => {
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: databaseUrl(tdb.adminUrl, {}), LOG_LEVEL: 'silent', PRAXA_KEY_FILE: join(mkdtempSync(join(tmpdir(), 'praxa-keys-')), 'master.key'), PRAXA_AUDIT_SIGNING_KEY_FILE: join(mkdtempSync(join(tmpdir(), 'praxa-aek-')), 'audit-signing.key') };
    const run = spawnSync(process.execPath, [cli, 'demo'], { env, encoding: 'utf8', timeout: 60_000, cwd: fileURLToPath(new URL('.', import.meta.url)) });
    const output = `${run.stdout}\n${run.stderr}`;
    expect({ status: run.status, output }).toEqual({ status: 0, output: expect.stringContaining('demo complete') });
    expect(output).toContain('→ LEASE_LOST');
    expect(output).toContain('→ WORKSPACE_SCOPE');
    expect(output).toContain('duplicate=true');
    expect(output).toContain('audit verify: chain holds');
    expect(output).toContain('deleting history as the api role → PERMISSION_DENIED');
    // A second run against the same database is fine too (idempotent migrations, fresh demo rows).
    const again = spawnSync(process.execPath, [cli, 'demo'], { env, encoding: 'utf8', timeout: 60_000 });
    expect({ status: again.status, migrations: again.stdout.includes('0 migration(s) applied') }).toEqual({ status: 0, migrations: true });
  });
});

describe('pnpm praxa audit checkpoint / verify', () => {
  it('a demo workspace’s chain and checkpoint verify (exit 0); a byte flipped behind the app’s back fails, naming the seq (exit 1)', async () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'praxa-keys-'));
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: databaseUrl(tdb.adminUrl, {}), LOG_LEVEL: 'silent', PRAXA_KEY_FILE: join(keyDir, 'master.key'), PRAXA_AUDIT_SIGNING_KEY_FILE: join(keyDir, 'audit-signing.key') };
    const praxa = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 60_000 });
    const demo = praxa('demo');
    const ws = /audit verify --workspace (ws_[0-9a-z]{26})/.exec(demo.stdout)?.[1] ?? '';
    expect(ws).toMatch(/^ws_/);
    expect(praxa('audit', 'checkpoint', '--workspace', ws).status).toBe(0);
    const ok = praxa('audit', 'verify', '--workspace', ws);
    expect({ status: ok.status, out: ok.stdout }).toEqual({ status: 0, out: expect.stringContaining('ok: 1 event(s) and 1 checkpoint(s) hold') });
    const full = praxa('audit', 'verify', '--workspace', ws, '--full');
    expect({ status: full.status, out: full.stdout }).toEqual({ status: 0, out: expect.stringContaining('every event signature') });

    const sql = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
    try {
      await sql.begin(async (tx) => {
        await tx`set local session_replication_role = replica`;
        await tx`update audit_events set canonical = overlay(canonical placing '\\x7a'::bytea from 30 for 1) where workspace_id = ${ws} and seq = 1`;
      });
    } finally {
      await sql.end({ timeout: 5 });
    }
    const bad = praxa('audit', 'verify', '--workspace', ws);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/FAILED: seq 1: /);
  });
});
