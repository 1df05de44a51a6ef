/**
 * The demo's fleet: the sandbox GitHub of packages/testkit (clearly not GitHub: a loopback that speaks its REST API,
 * verifies the App JWT and hands out installation tokens) holding one sample pull request, and a real worker process
 * (`apps/worker/dist/main.js`) configured to act as that sandbox's GitHub App. Closing it stops the worker (SIGTERM,
 * then SIGKILL after a bound) and the sandbox: Ctrl-C leaves nothing running.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { ConfigSource } from '@praxa/config';
import type { RunId, WorkspaceId } from '@praxa/core';
import { schema, eq, withWorkspace, workspacePublicKey, type Database } from '@praxa/db';
import { createQueues, createRedis, enqueue } from '@praxa/queue';
import { startGithubServer, type GithubServer, type SandboxPullRequest } from '@praxa/testkit';
import { withLocalDefaults } from './local-env.js';
import { appEntry } from './start.js';

export const DEMO_PULL_REQUEST: SandboxPullRequest = {
  owner: 'acme',
  repo: 'payments',
  number: 1284,
  title: 'Speed up checkout totals',
  body: 'Caches the cart total during checkout.',
  author: { login: 'dev-dana', type: 'User' },
  headSha: '9f2c1e7b4a5d6c8e0f1a2b3c4d5e6f708192a3b4',
  baseRef: 'main',
  files: [
    {
      filename: 'src/payments/checkout.ts',
      patch: ['@@ -10,3 +10,7 @@ export function total(cart: Cart) {', '   const items = cart.items;', '+  // TODO: invalidate the cache on refunds', '+  if (cache.has(cart.id)) return cache.get(cart.id);', '+  console.log("total", cart.id);', '+  const sum = items.reduce((a, i) => a + i.price, 0);', '   return sum;', ' }'].join('\n'),
    },
  ],
};

export interface DemoFleet {
  readonly github: GithubServer;
  /** Asks the worker's keys job for the workspace's key pair and waits until its public half is readable. */
  createWorkspaceKeys(api: Database, workspaceId: WorkspaceId): Promise<string>;
  enqueue(runId: RunId): Promise<void>;
  waitForRun(database: Database, workspaceId: string, runId: RunId, timeoutMs?: number): Promise<{ status: string; error_code: string | null }>;
  close(): Promise<void>;
}

export async function startDemoFleet(env: ConfigSource, installationId: string, pr: SandboxPullRequest): Promise<DemoFleet> {
  const appKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const appId = 900_001;
  const github = await startGithubServer({ appId, privateKeyPem: appKey, installations: [{ id: Number(installationId), account: pr.owner, permissions: { pull_requests: 'write', contents: 'read' } }], botLogin: 'praxa-demo[bot]' });
  github.sandbox.addPullRequest(pr);
  const local = withLocalDefaults(env);
  const prefix = `praxa-demo-${randomUUID().slice(0, 8)}`;
  const workerEnv = { ...process.env, ...local, PRAXA_QUEUE_PREFIX: prefix, GITHUB_APP_ID: String(appId), GITHUB_APP_PRIVATE_KEY: appKey, GITHUB_API_URL: github.url, LOG_LEVEL: local.LOG_LEVEL ?? 'warn' } as NodeJS.ProcessEnv;
  const worker = spawn(process.execPath, [appEntry('worker')], { env: workerEnv, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const redis = createRedis(local.REDIS_URL ?? 'redis://127.0.0.1:6379', 'producer');
  const queues = createQueues(redis, prefix);
  const stop = (): void => {
    worker.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    github,
    async createWorkspaceKeys(api, workspaceId) {
      await enqueue(queues, 'keys', { workspaceId, operation: 'create' }, { jobId: `keys-create-${workspaceId}` }, { timeoutMs: 5_000 });
      const until = Date.now() + 30_000;
      for (;;) {
        const pub = await withWorkspace(api, workspaceId, (s) => workspacePublicKey(s));
        if (pub) return pub.keyId;
        if (worker.exitCode !== null) throw new Error(`the worker exited (code ${worker.exitCode})`);
        if (Date.now() > until) throw new Error('the workspace key was not created in time');
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async enqueue(runId) {
      await enqueue(queues, 'run', { runId }, { jobId: runId }, { timeoutMs: 5_000 });
    },
    async waitForRun(database, workspaceId, runId, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const [row] = await withWorkspace(database, workspaceId, (s) => s.db.select({ status: schema.agentRuns.status, error_code: schema.agentRuns.errorCode }).from(schema.agentRuns).where(eq(schema.agentRuns.id, runId)));
        if (row && ['succeeded', 'failed', 'skipped', 'cancelled'].includes(row.status)) return row;
        if (worker.exitCode !== null) throw new Error(`the worker exited (code ${worker.exitCode}) before the run finished`);
        if (Date.now() > until) throw new Error(`run ${runId} did not finish within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async close() {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      worker.kill('SIGTERM');
      const killer = setTimeout(() => worker.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
      await queues.close().catch(() => undefined);
      redis.disconnect();
      await github.close();
    },
  };
}
