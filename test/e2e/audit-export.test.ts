/**
 * Export and offline verification, as a customer does it: pin the key set, keep a checkpoint, export, verify with no
 * database. An insider who drops the tail of the log and re-signs a new head with Praxa's own key passes a plain
 * verify — and is caught by `--trusted-checkpoint`, which proves (RFC 9162 consistency) the log only ever grew.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { newId, type AuditEventDraft } from '@praxa/core';
import { appendAuditEvents, createDatabase, createTestDatabase, databaseUrl, registerAuditKey, seedWorkspaceFixture, withWorkspace, type Database, type TestDatabase, type WorkspaceFixture } from '@praxa/db';

const cli = fileURLToPath(new URL('../../apps/cli/dist/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'praxa-audit-'));
let tdb: TestDatabase;
let admin: postgres.Sql;
let worker: Database;
let W: WorkspaceFixture;
const eventKey = { keyId: `events-${newId('checkpoint').slice(3)}`, privateKey: generateKeyPairSync('ed25519').privateKey };

function praxa(...args: string[]) {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: databaseUrl(tdb.adminUrl, {}), LOG_LEVEL: 'silent', PRAXA_KEY_FILE: join(dir, 'master.key'), PRAXA_AUDIT_SIGNING_KEY_FILE: join(dir, 'audit-signing.key') };
  return spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 60_000 });
}
async function append(n: number, from: number) {
  const drafts: AuditEventDraft[] = Array.from({ length: n }, (_, i) => ({
    auditEventId: newId('auditEvent'), kind: 'skill.action', skillId: W.skillId as AuditEventDraft['skillId'], runId: W.runId as AuditEventDraft['runId'],
    trigger: 'github.pull_request.opened', input: { prNumber: 1 }, reasoning: [`step ${from + i}`], alternatives: [{ action: 'approve', score: 0.6 }],
    confidence: 0.6, output: { verdict: 'approve' }, tools_used: ['github.read.diff'], duration_ms: 10, occurred_at: new Date().toISOString(), manifest_hash: 'b'.repeat(64), step: from + i,
  }));
  await withWorkspace(worker, W.workspaceId, (s) => appendAuditEvents(s, drafts, eventKey));
}
function exportTo(file: string) {
  const out = praxa('audit', 'export', '--workspace', W.workspaceId);
  expect(out.status).toBe(0);
  writeFileSync(file, out.stdout);
  return out.stdout;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  W = await seedWorkspaceFixture(tdb.adminUrl, 'W', { auditChain: false });
  worker = createDatabase(tdb.roleUrl('praxa_worker'), { max: 2 });
  await registerAuditKey(worker, { keyId: eventKey.keyId, purpose: 'event', algorithm: 'ed25519', spki: createPublicKey(eventKey.privateKey).export({ format: 'der', type: 'spki' }) });
});
afterAll(async () => {
  await worker?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

describe('audit export → offline verify', () => {
  it('verifies offline against pinned keys; a kept checkpoint proves the log only grew; a truncated, re-signed log is caught', async () => {
    await append(5, 0);
    expect(praxa('audit', 'checkpoint', '--workspace', W.workspaceId).status).toBe(0);
    const keys = praxa('audit', 'keys');
    writeFileSync(join(dir, 'keys.json'), keys.stdout);
    const first = exportTo(join(dir, 'export-1.jsonl'));
    const trustedLine = first.split('\n').find((l) => l.includes('"type":"checkpoint"')) ?? '';
    writeFileSync(join(dir, 'trusted.json'), trustedLine);

    await append(4, 5);
    expect(praxa('audit', 'checkpoint', '--workspace', W.workspaceId).status).toBe(0);
    exportTo(join(dir, 'export-2.jsonl'));
    const ok = praxa('audit', 'verify', '--file', join(dir, 'export-2.jsonl'), '--keys', join(dir, 'keys.json'), '--trusted-checkpoint', join(dir, 'trusted.json'), '--full');
    expect({ status: ok.status, out: ok.stdout }).toEqual({ status: 0, out: expect.stringContaining('trusted checkpoint: consistent') });
    expect(praxa('audit', 'verify', '--workspace', W.workspaceId, '--trusted-checkpoint', join(dir, 'trusted.json')).status).toBe(0);

    // One event, proven on its own: a compact inclusion proof against the newest checkpoint, verified offline.
    const [ev3] = await admin<{ id: string }[]>`select id from audit_events where workspace_id = ${W.workspaceId} and seq = 3`;
    const prove = praxa('audit', 'prove', '--workspace', W.workspaceId, '--event', ev3!.id);
    expect(prove.status).toBe(0);
    writeFileSync(join(dir, 'proof.json'), prove.stdout);
    const proofOk = praxa('audit', 'verify', '--proof', join(dir, 'proof.json'), '--keys', join(dir, 'keys.json'));
    expect({ status: proofOk.status, out: proofOk.stdout }).toEqual({ status: 0, out: expect.stringContaining('event seq 3 is in the log checkpointed at tree_size 9') });
    const forged = JSON.parse(prove.stdout) as { proof: string[] };
    forged.proof[0] = 'f'.repeat(64);
    writeFileSync(join(dir, 'proof-forged.json'), JSON.stringify(forged));
    expect(praxa('audit', 'verify', '--proof', join(dir, 'proof-forged.json'), '--keys', join(dir, 'keys.json')).status).toBe(1);

    // A flipped byte in one exported event → named.
    const lines = readFileSync(join(dir, 'export-2.jsonl'), 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"type":"event"') && l.includes('"seq":3,'));
    const ev = JSON.parse(lines[i] ?? '{}') as { canonical: string };
    const bytes = Buffer.from(ev.canonical, 'base64');
    bytes[15] = (bytes[15] ?? 0) ^ 1;
    lines[i] = JSON.stringify({ ...ev, canonical: bytes.toString('base64') });
    writeFileSync(join(dir, 'export-flipped.jsonl'), lines.join('\n'));
    const flipped = praxa('audit', 'verify', '--file', join(dir, 'export-flipped.jsonl'), '--keys', join(dir, 'keys.json'));
    expect({ status: flipped.status, err: flipped.stderr }).toEqual({ status: 1, err: expect.stringContaining('seq 3') });

    // The insider: drop the last 6 events behind the app's back, reset the head, sign a fresh checkpoint with our key.
    await admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`delete from audit_events where workspace_id = ${W.workspaceId} and seq > 3`;
      await tx`delete from audit_checkpoints where workspace_id = ${W.workspaceId}`;
      await tx`update audit_chain_heads set seq = 3, head_hash = (select hash from audit_events where workspace_id = ${W.workspaceId} and seq = 3) where workspace_id = ${W.workspaceId}`;
    });
    expect(praxa('audit', 'checkpoint', '--workspace', W.workspaceId).status).toBe(0);
    exportTo(join(dir, 'export-3.jsonl'));
    const plain = praxa('audit', 'verify', '--file', join(dir, 'export-3.jsonl'), '--keys', join(dir, 'keys.json'));
    expect(plain.status).toBe(0); // internally consistent: only a kept checkpoint can tell
    const caught = praxa('audit', 'verify', '--file', join(dir, 'export-3.jsonl'), '--keys', join(dir, 'keys.json'), '--trusted-checkpoint', join(dir, 'trusted.json'));
    expect({ status: caught.status, err: caught.stderr }).toEqual({ status: 1, err: expect.stringContaining('the log shrank') });
    // The database form catches it too.
    const caughtDb = praxa('audit', 'verify', '--workspace', W.workspaceId, '--trusted-checkpoint', join(dir, 'trusted.json'));
    expect({ status: caughtDb.status, err: caughtDb.stderr }).toEqual({ status: 1, err: expect.stringContaining('the log shrank') });

    // … and if the insider then pads the log back past the kept size with new events, consistency still fails.
    await append(4, 100);
    expect(praxa('audit', 'checkpoint', '--workspace', W.workspaceId).status).toBe(0);
    exportTo(join(dir, 'export-4.jsonl'));
    expect(praxa('audit', 'verify', '--file', join(dir, 'export-4.jsonl'), '--keys', join(dir, 'keys.json')).status).toBe(0);
    const rewritten = praxa('audit', 'verify', '--file', join(dir, 'export-4.jsonl'), '--keys', join(dir, 'keys.json'), '--trusted-checkpoint', join(dir, 'trusted.json'));
    expect({ status: rewritten.status, err: rewritten.stderr }).toEqual({ status: 1, err: expect.stringContaining('not consistent with the trusted checkpoint') });
  });
});
