/**
 * `pnpm praxa demo` — the live demo, on embedded defaults (local Postgres and Redis, env secrets). It shows what exists
 * end to end, with real roles and real row-level security:
 *   migrate → seed a demo workspace (and a second, "other" tenant) → ingest records a delivery and its run through its
 *   definer functions (a replay creates nothing) → a worker claims the run by id alone and derives the workspace from
 *   the row → a stale lease holder is fenced off → the other tenant sees none of it, and its attempts are refused.
 * The full pipeline (webhook over HTTP → BullMQ → Skill run → audit verify) extends this same command as it lands.
 */
import { createHash, createPublicKey } from 'node:crypto';

import { newId, isPraxaError, verifyChain } from '@praxa/core';
import { bootConfig, type ConfigSource } from '@praxa/config';
import {
  count,
  eq,
  createDatabase,
  createRunsForDelivery,
  readAuditChain,
  readAuditKeyset,
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
import { DEMO_PULL_REQUEST, startDemoFleet } from './demo-fleet.js';
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
    const pr = DEMO_PULL_REQUEST;
    const subscribed = await subscribedSkills(ingest, install.workspace_id, trigger);
    const body = JSON.stringify({ action: 'opened', number: 1284, installation: { id: Number(demo.installationId) } });
    const digest = createHash('sha256').update(body).digest('hex');
    const deliveryId = crypto.randomUUID();
    const created = await createRunsForDelivery(ingest, {
      source: 'github', deliveryId, bodySha256: digest, workspaceId: install.workspace_id, trigger,
      input: { repo: 'acme/payments', prNumber: 1284, headSha: pr.headSha, draft: false, authorIsBot: false },
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

    // ── the fleet's main job: a worker process takes the `{runId}` job, reviews the PR on the offline model as the
    //    sandbox GitHub's bot, posts one review and appends a signed audit event ──
    const fleet = await startDemoFleet(local, demo.installationId, pr);
    try {
      step(t0, `sandbox GitHub (packages/testkit — NOT real GitHub) at ${fleet.github.url}; worker process started (offline model: deterministic rules, not a language model)`);
      const keyId = await fleet.createWorkspaceKeys(api, demo.workspaceId);
      step(t0, `keys: the worker's keys job created workspace key ${keyId} (X25519; private half wrapped by the tenant key)`);
      await fleet.enqueue(runId);
      step(t0, `queue: job { runId: ${runId} } — nothing else; the worker derives the workspace from the run row`);
      const finished = await fleet.waitForRun(worker, demo.workspaceId, runId);
      step(t0, `worker: run ${runId} ${finished.status}${finished.error_code ? ` (${finished.error_code})` : ''}`);
      const review = fleet.github.sandbox.reviews('acme', 'payments', 1284)[0];
      if (review) {
        console.log(`\n  ── review posted on acme/payments#1284 as ${review.user} (${review.event}) ──`);
        for (const line of review.body.split('\n').filter((l) => !l.startsWith('<!--'))) console.log(`  ${line}`);
        for (const c of review.comments) console.log(`  ↳ ${c.path}:${c.line}  ${c.body}`);
        console.log('');
      }
    } finally {
      await fleet.close();
    }
    const stale = { runId, token: crypto.randomUUID(), expiresAt: new Date() };
    const fenced = await refusedCode(() => withWorkspace(worker, demo.workspaceId, (s) => recordRunStep(s, stale, { idx: 99, kind: 'tool.call', idempotencyKey: `${runId}:late`, status: 'completed' })));
    step(t0, `worker: a late write with a stale fencing token → ${fenced}`);

    // ── the other tenant, as praxa_api scoped to its own workspace ──
    const seen = await countRuns(api, other.workspaceId, runId);
    const wrote = await refusedCode(() =>
      withWorkspace(api, other.workspaceId, (s) => s.db.insert(schema.memoryFacts).values({ workspaceId: demo.workspaceId, id: newId('memoryFact'), namespace: 'faq', key: 'x', value: {} })),
    );
    const own = await countRuns(api, demo.workspaceId, runId);
    step(t0, `tenancy: the other workspace sees ${seen} of the demo's runs; writing into the demo workspace → ${wrote}; the demo workspace itself sees ${own}`);

    // ── audit: the worker's event, in the workspace's hash chain, signed, verified back ──
    const chain = await withWorkspace(api, demo.workspaceId, (s) => readAuditChain(s));
    const keyset = new Map((await readAuditKeyset(api)).filter((k) => k.purpose === 'event').map((k) => [k.keyId, createPublicKey({ key: k.spki, format: 'der', type: 'spki' })]));
    const verdict = verifyChain(chain, keyset, { workspaceId: demo.workspaceId });
    for (const e of chain) {
      const rec = JSON.parse(Buffer.from(e.canonical).toString('utf8')) as { kind: string; output?: { verdict?: string }; confidence?: number | null; reasoning?: string[]; tools_used?: string[] };
      step(t0, `audit: seq ${e.seq} ${rec.kind} — verdict ${rec.output?.verdict ?? '-'}, confidence ${rec.confidence ?? '-'}, tools ${(rec.tools_used ?? []).join(', ')}; hash ${e.hash.slice(0, 12)}…, key ${e.key_id}`);
    }
    step(t0, `audit verify: ${verdict.ok ? `chain holds — ${verdict.count} event(s), hashes, links and signatures` : `FAILED at seq ${verdict.seq}: ${verdict.reason}`}`);
    const rewrite = await refusedCode(() => withWorkspace(api, demo.workspaceId, (s) => s.execute(sql`delete from audit_events`)));
    step(t0, `audit: deleting history as the api role → ${rewrite}`);

    const ok = fenced === 'LEASE_LOST' && wrote === 'WORKSPACE_SCOPE' && seen === 0 && own === 1 && replay.duplicate && verdict.ok && chain.length === 1 && rewrite === 'PERMISSION_DENIED';
    console.log(`\n${ok ? 'demo complete' : 'demo FAILED'}: a PR reviewed end to end; tenancy, fencing and the audit chain enforced by Postgres (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    console.log('Still to land on this command: the signed webhook sent over HTTP to a running ingest process (see docs/roadmap.md).');
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
