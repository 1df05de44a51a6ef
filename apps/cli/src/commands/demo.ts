/**
 * `pnpm praxa demo` — the live demo, on embedded defaults (local Postgres and Redis, env secrets). It shows what exists
 * end to end, with real roles and real row-level security:
 *   migrate → seed a demo workspace (and a second, "other" tenant) → ingest records a delivery and its run through its
 *   definer functions (a replay creates nothing) → a worker claims the run by id alone and derives the workspace from
 *   the row → a stale lease holder is fenced off → the other tenant sees none of it, and its attempts are refused.
 * The full pipeline (webhook over HTTP → BullMQ → Skill run → audit verify) extends this same command as it lands.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { loadAuditSigningKey } from '@praxa/crypto';

import { newId, isPraxaError, verifyChain, type AuditEventDraft } from '@praxa/core';
import { bootConfig, type ConfigSource } from '@praxa/config';
import {
  appendAuditEvents,
  claimRun,
  count,
  eq,
  createDatabase,
  createRunsForDelivery,
  finishRun,
  readAuditChain,
  registerAuditKey,
  recordRunStep,
  resolveInstallation,
  schema,
  sql,
  subscribedSkills,
  withWorkspace,
  type Database,
} from '@praxa/db';
import { withLocalDefaults } from './local-env.js';
import { migrateDatabase } from './migrate.js';
import { seedDemoWorkspace } from './seed.js';

export interface DemoOptions {
  readonly keep: boolean;
}

function step(startedAt: number, text: string): void {
  const s = ((performance.now() - startedAt) / 1000).toFixed(2).padStart(6);
  console.log(`[${s}s] ${text}`);
}

async function refusedCode(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return 'NOT REFUSED';
  } catch (err) {
    return isPraxaError(err) ? err.code : 'UNEXPECTED';
  }
}

export async function runDemo(env: ConfigSource, options: DemoOptions): Promise<void> {
  const t0 = performance.now();
  console.log('Praxa demo — embedded defaults: local Postgres and Redis, env secrets, offline model.\n');
  const local = withLocalDefaults(env);

  const migrated = await migrateDatabase(local);
  step(t0, `database ready (${migrated.databaseCreated ? 'created; ' : ''}${migrated.applied.length} migration(s) applied; roles bootstrapped)`);

  const demo = await seedDemoWorkspace(local, 'Demo');
  const other = await seedDemoWorkspace(local, 'Other');
  step(t0, `seeded workspace ${demo.workspaceId} (GitHub installation ${demo.installationId}, skill pr-review ${demo.skillId})`);
  step(t0, `seeded a second tenant's workspace ${other.workspaceId}, to attack from`);

  const [ingestCfg, workerCfg, apiCfg] = await Promise.all([
    bootConfig('ingest', { env: { GITHUB_WEBHOOK_SECRET: 'demo-webhook-secret-0123456789', SLACK_SIGNING_SECRET: 'demo-slack-secret-0123456789', ...local }, envFile: '.env' }),
    bootConfig('worker', { env: local, envFile: '.env' }),
    bootConfig('api', { env: local, envFile: '.env' }),
  ]);
  const ingest = createDatabase(ingestCfg.INGEST_DATABASE_URL, { max: 2, applicationName: 'praxa-demo-ingest' });
  const worker = createDatabase(workerCfg.WORKER_DATABASE_URL, { max: 2, applicationName: 'praxa-demo-worker' });
  const api = createDatabase(apiCfg.API_DATABASE_URL, { max: 2, applicationName: 'praxa-demo-api' });
  try {
    // ── ingest, as praxa_ingest: installation → workspace, delivery → run, through definer functions only ──
    const install = await resolveInstallation(ingest, 'github', demo.installationId);
    if (!install) throw new Error('demo installation did not resolve');
    const trigger = 'github.pull_request.opened';
    const subscribed = await subscribedSkills(ingest, install.workspace_id, trigger);
    const body = JSON.stringify({ action: 'opened', number: 1284, installation: { id: Number(demo.installationId) } });
    const digest = createHash('sha256').update(body).digest('hex');
    const deliveryId = crypto.randomUUID();
    const created = await createRunsForDelivery(ingest, {
      source: 'github', deliveryId, bodySha256: digest, workspaceId: install.workspace_id, trigger,
      input: { repo: 'acme/payments', prNumber: 1284, headSha: 'a'.repeat(40) },
      runs: subscribed.map((s) => ({ runId: newId('run'), skillId: s.skill_id })),
    });
    const runId = created.run_ids[0];
    if (!runId) throw new Error('no run was created');
    step(t0, `ingest (as praxa_ingest): installation ${demo.installationId} → ${install.workspace_id}; delivery ${deliveryId.slice(0, 8)}… → run ${runId} (${created.statuses[0]})`);
    const replay = await createRunsForDelivery(ingest, {
      source: 'github', deliveryId: crypto.randomUUID(), bodySha256: digest, workspaceId: install.workspace_id, trigger, input: {},
      runs: subscribed.map((s) => ({ runId: newId('run'), skillId: s.skill_id })),
    });
    step(t0, `ingest: the same body replayed under a fresh delivery id → duplicate=${replay.duplicate}, runs ${replay.run_ids.join(', ')} (nothing new)`);

    // ── worker, as praxa_worker: the job carries only the run id; the workspace comes from the row ──
    const claimed = await claimRun(worker, runId, 'demo-worker-1', 30);
    if (!claimed) throw new Error('run could not be claimed');
    step(t0, `worker (as praxa_worker): claim_run(${runId}) → workspace ${claimed.workspaceId}, skill version ${claimed.skillVersionId}, attempt ${claimed.attempt}, lease ${claimed.lease.token.slice(0, 8)}…`);
    await withWorkspace(worker, claimed.workspaceId, (s) =>
      recordRunStep(s, claimed.lease, { idx: 0, kind: 'tool.call', idempotencyKey: `${runId}:0`, status: 'completed', result: { tool: 'github.read.diff' } }),
    );
    const stale = { ...claimed.lease, token: crypto.randomUUID() };
    const fenced = await refusedCode(() => withWorkspace(worker, claimed.workspaceId, (s) => recordRunStep(s, stale, { idx: 1, kind: 'tool.call', idempotencyKey: `${runId}:1`, status: 'completed' })));
    step(t0, `worker: step 0 recorded under the lease; a write with a stale fencing token → ${fenced}`);

    // ── the other tenant, as praxa_api scoped to its own workspace ──
    const seen = await countRuns(api, other.workspaceId, runId);
    const wrote = await refusedCode(() =>
      withWorkspace(api, other.workspaceId, (s) => s.db.insert(schema.memoryFacts).values({ workspaceId: demo.workspaceId, id: newId('memoryFact'), namespace: 'faq', key: 'x', value: {} })),
    );
    const own = await countRuns(api, demo.workspaceId, runId);
    step(t0, `tenancy: the other workspace sees ${seen} of the demo's runs; writing into the demo workspace → ${wrote}; the demo workspace itself sees ${own}`);

    // ── audit: the action is recorded in the workspace's hash chain, signed, and verified back ──
    // The worker's audit signing key: PRAXA_AUDIT_SIGNING_KEY (Secrets Manager) or the local file, created on first run.
    const signer = loadAuditSigningKey({ pem: workerCfg.PRAXA_AUDIT_SIGNING_KEY, path: workerCfg.PRAXA_AUDIT_SIGNING_KEY_FILE });
    await registerAuditKey(worker, { keyId: signer.keyId, purpose: 'event', algorithm: 'ed25519', spki: signer.spki });
    const [event] = await withWorkspace(worker, claimed.workspaceId, (s) =>
      appendAuditEvents(s, [{
        auditEventId: newId('auditEvent'), kind: 'skill.action', skillId: demo.skillId as AuditEventDraft['skillId'], runId: runId as AuditEventDraft['runId'],
        trigger, input: { prNumber: 1284, repo: 'acme/payments' },
        reasoning: ['Demo step: the pipeline that produces real reviews lands with the built-in Skills.'],
        alternatives: [{ action: 'approve', score: 0.5 }, { action: 'escalate_human', score: 0.5 }], confidence: 0.5,
        output: { verdict: 'escalate_human', note: 'demo: no model was called' }, tools_used: ['github.read.diff'],
        duration_ms: Math.round(performance.now() - t0), occurred_at: new Date().toISOString(), manifest_hash: demo.manifestHash, step: 0,
      }], signer),
    );
    const chain = await withWorkspace(api, claimed.workspaceId, (s) => readAuditChain(s));
    const verdict = verifyChain(chain, new Map([[signer.keyId, createPublicKey(signer.privateKey)]]), { workspaceId: claimed.workspaceId });
    step(t0, `audit: event ${event?.auditEventId} appended at seq ${event?.seq} (hash ${event?.hash.slice(0, 12)}…, Ed25519 key ${signer.keyId})`);
    step(t0, `audit verify: ${verdict.ok ? `chain holds — ${verdict.count} event(s), hashes, links and signatures` : `FAILED at seq ${verdict.seq}: ${verdict.reason}`}`);
    const rewrite = await refusedCode(() => withWorkspace(api, claimed.workspaceId, (s) => s.execute(sql`delete from audit_events`)));
    step(t0, `audit: deleting history as the api role → ${rewrite}`);

    await withWorkspace(worker, claimed.workspaceId, (s) => finishRun(s, claimed.lease, 'succeeded'));
    step(t0, `worker: run ${runId} finished (succeeded); its lease is released`);

    const ok = fenced === 'LEASE_LOST' && wrote === 'WORKSPACE_SCOPE' && seen === 0 && own === 1 && replay.duplicate && verdict.ok && rewrite === 'PERMISSION_DENIED';
    console.log(`\n${ok ? 'demo complete' : 'demo FAILED'}: tenancy, fencing and the audit chain enforced by Postgres (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    console.log('Still to land on this command: the webhook over HTTP → BullMQ → a Skill run on the offline model → its review (see docs/roadmap.md).');
    console.log(`Check it yourself: pnpm praxa audit checkpoint --workspace ${demo.workspaceId} && pnpm praxa audit verify --workspace ${demo.workspaceId}`);
    if (options.keep) console.log('--keep: there is no long-running fleet yet; nothing to keep running.');
    if (!ok) process.exitCode = 1;
  } finally {
    await Promise.all([ingest.close(), worker.close(), api.close()]);
  }
}

async function countRuns(database: Database, workspaceId: string, runId: string): Promise<number> {
  return withWorkspace(database, workspaceId, async (s) => {
    const [row] = await s.db.select({ n: count() }).from(schema.agentRuns).where(eq(schema.agentRuns.id, runId));
    return row?.n ?? 0;
  });
}
