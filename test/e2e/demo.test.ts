/**
 * README command 1 ends in `pnpm praxa demo`. Run the built CLI as a real process against a fresh database: it must
 * exit 0 and say the demo completed, with tenancy and fencing enforced.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
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
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: databaseUrl(tdb.adminUrl, {}), LOG_LEVEL: 'silent' };
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
