/**
 * bench/audit — audit appends against a plain INSERT of the same row, in the same run; and verification speed.
 *  - one workspace, 8 concurrent appenders (each append: lock the chain head, sign, insert — serialized per workspace);
 *  - 16 workspaces, one appender each (chains are independent, so they run in parallel);
 *  - baseline: the same rows INSERTed as the admin into a copy of the table without triggers, chain or signatures.
 *  - verify: hashing stored canonical bytes (fast mode) and with every Ed25519 signature, events/s on one core.
 * Targets (issue #6): 8 appenders ≥ 0.3× baseline; 16 workspaces ≥ 0.8×; fast verify ≥ 200k events/s.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import postgres from 'postgres';
import { genesisPrevHash, newId, sealAuditEvent, verifyChain, type AuditEventDraft, type StoredChainEvent } from '@praxa/core';
import { appendAuditEvents, createDatabase, createTestDatabase, readAuditChain, seedWorkspaceFixture, withWorkspace, type WorkspaceFixture } from '@praxa/db';

const PER_APPENDER = Number(process.env.BENCH_EVENTS ?? 150);
const signer = { keyId: 'bench-key', privateKey: generateKeyPairSync('ed25519').privateKey };

const tdb = await createTestDatabase({ prefix: 'praxa_bench_audit' });
const admin = postgres(tdb.adminUrl, { max: 16, onnotice: () => {} });
const worker = createDatabase(tdb.roleUrl('praxa_worker'), { max: 16 });
const api = createDatabase(tdb.roleUrl('praxa_api'), { max: 2 });

const draft = (f: WorkspaceFixture, step: number, runId: string): AuditEventDraft => ({
  auditEventId: newId('auditEvent'), kind: 'skill.action', skillId: f.skillId as AuditEventDraft['skillId'], runId: runId as AuditEventDraft['runId'],
  trigger: 'github.pull_request.opened', input: { prNumber: 1284, repo: 'acme/payments' },
  reasoning: ['Diff touches payments/checkout — high-risk surface.', 'Author has 0 prior PRs in this directory.'],
  alternatives: [{ action: 'approve', score: 0.42 }, { action: 'request_changes', score: 0.83 }, { action: 'escalate_human', score: 0.71 }],
  confidence: 0.83, output: { verdict: 'request_changes' }, tools_used: ['github.read.diff', 'github.comment.pr'], duration_ms: 4218,
  occurred_at: new Date().toISOString(), manifest_hash: 'a'.repeat(64), step,
});

async function fresh(label: string): Promise<WorkspaceFixture> {
  const f = await seedWorkspaceFixture(tdb.adminUrl, label);
  await admin.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`delete from audit_checkpoints where workspace_id = ${f.workspaceId}`;
    await tx`delete from audit_events where workspace_id = ${f.workspaceId}`;
    await tx`delete from audit_chain_heads where workspace_id = ${f.workspaceId}`;
  });
  return f;
}

async function appenders(fixtures: WorkspaceFixture[], perFixture: number): Promise<number> {
  const start = performance.now();
  await Promise.all(
    fixtures.flatMap((f) =>
      Array.from({ length: perFixture }, async () => {
        const runId = newId('run');
        await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${f.workspaceId}, ${runId}, ${f.skillId}, ${f.skillVersionId}, 'github.pull_request.opened', 'github')`;
        for (let i = 0; i < PER_APPENDER; i++) await withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [draft(f, i, runId)], signer));
      }),
    ),
  );
  return (fixtures.length * perFixture * PER_APPENDER) / ((performance.now() - start) / 1000);
}

async function baseline(concurrency: number): Promise<number> {
  await admin`create table if not exists bench_plain (like audit_events including defaults)`;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async (_, c) => {
    for (let i = 0; i < PER_APPENDER; i++) {
      const body = Buffer.from(JSON.stringify(draft({ skillId: 'sk', runId: 'rn' } as unknown as WorkspaceFixture, i, 'rn')));
      await admin.begin((tx) => tx`insert into bench_plain (workspace_id, seq, id, kind, trigger, occurred_at, prev_hash, hash, key_id, signature, canonical)
        values ('ws', ${c * 100000 + i + 1}, ${newId('auditEvent')}, 'skill.action', 'github.pull_request.opened', now(), ${'0'.repeat(64)}, ${'1'.repeat(64)}, 'k', 's', ${body})`);
    }
  }));
  return (concurrency * PER_APPENDER) / ((performance.now() - start) / 1000);
}

try {
  const one = await fresh('one');
  const many = await Promise.all(Array.from({ length: 16 }, (_, i) => fresh(`m${i}`)));
  const base8 = await baseline(8);
  const ours8 = await appenders([one], 8);
  const base16 = await baseline(16);
  const ours16 = await appenders(many, 1);

  // Verification speed on a larger chain, built in memory with the same sealing code (stored bytes as the DB keeps them).
  const stored = await withWorkspace(api, one.workspaceId, (s) => readAuditChain(s));
  if (stored.length === 0) throw new Error('no events appended');
  const VERIFY_EVENTS = Number(process.env.BENCH_VERIFY_EVENTS ?? 20_000);
  const chain: StoredChainEvent[] = [];
  let prev = genesisPrevHash(one.workspaceId);
  for (let i = 1; i <= VERIFY_EVENTS; i++) {
    const sealed = sealAuditEvent({ ...draft(one, i, one.runId), workspace_id: one.workspaceId, seq: i, prev_hash: prev, key_id: signer.keyId }, signer.privateKey);
    chain.push({ seq: i, workspace_id: one.workspaceId, prev_hash: prev, hash: sealed.hash, key_id: signer.keyId, signature: sealed.signature, canonical: sealed.canonical });
    prev = sealed.hash;
  }
  const keyset = new Map([[signer.keyId, createPublicKey(signer.privateKey)]]);
  verifyChain(chain.slice(0, 2000), keyset, { workspaceId: one.workspaceId, signatures: false, content: 'columns' }); // warm-up
  let t = performance.now();
  const fast = verifyChain(chain, keyset, { workspaceId: one.workspaceId, signatures: false, content: 'columns' });
  const fastRate = chain.length / ((performance.now() - t) / 1000);
  t = performance.now();
  const full = verifyChain(chain, keyset, { workspaceId: one.workspaceId });
  const fullRate = chain.length / ((performance.now() - t) / 1000);
  if (!fast.ok || !full.ok) throw new Error('bench chain did not verify');

  console.log(`1 workspace × 8 appenders: ${ours8.toFixed(0)} events/s vs plain INSERT ${base8.toFixed(0)}/s → ${(ours8 / base8).toFixed(2)}× (target ≥ 0.3)`);
  console.log(`16 workspaces × 1 appender: ${ours16.toFixed(0)} events/s vs plain INSERT ${base16.toFixed(0)}/s → ${(ours16 / base16).toFixed(2)}× (target ≥ 0.8)`);
  console.log(`verify ${chain.length} events: fast (hashes + links + columns) ${fastRate.toFixed(0)}/s; full (+ Ed25519 + JCS + schema) ${fullRate.toFixed(0)}/s on one core`);
  console.log(JSON.stringify({ bench: 'audit', ratio: Number((ours8 / base8).toFixed(3)), unit: 'events/s (ours/baseline, 1 workspace × 8 appenders)', ours: Math.round(ours8), baseline: Math.round(base8), ratio_16_workspaces: Number((ours16 / base16).toFixed(3)), verify_fast_per_s: Math.round(fastRate), verify_full_per_s: Math.round(fullRate) }));
} finally {
  await worker.close();
  await api.close();
  await admin.end({ timeout: 5 });
  await tdb.drop();
}
