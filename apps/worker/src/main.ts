#!/usr/bin/env node
/**
 * The worker process. Today it runs the `keys` jobs (create / rotate a workspace's key pair); the run processor
 * (claim by runId, guards, model, tools) lands with the worker issue. Refuses to start unless Redis evicts nothing.
 */
import { hostname } from 'node:os';
import { bootConfig } from '@praxa/config';
import { WorkspaceIdSchema } from '@praxa/core';
import { createDatabase } from '@praxa/db';
import { createLogger, runProcess } from '@praxa/observability';
import { checkRedisEvictionPolicy, createRedis, parseJobData, Worker } from '@praxa/queue';
import { createKeyProvider } from './key-provider.js';
import { runKeysJob } from './keys-job.js';

export async function startWorker(env: NodeJS.ProcessEnv): Promise<{ close: () => Promise<void> }> {
  const config = await bootConfig('worker', { env, envFile: '.env' });
  const log = createLogger({ name: 'praxa-worker', level: config.LOG_LEVEL });
  const database = createDatabase(config.WORKER_DATABASE_URL, { max: config.WORKER_CONCURRENCY + 2, applicationName: 'praxa-worker' });
  const provider = await createKeyProvider(config);
  const redis = createRedis(config.REDIS_URL, 'worker');
  await checkRedisEvictionPolicy(redis, { skip: config.PRAXA_SKIP_REDIS_POLICY_CHECK });
  const holder = `${hostname()}:${process.pid}`;
  const keys = new Worker(
    'keys',
    async (job) => {
      const data = parseJobData('keys', job.data);
      const result = await runKeysJob({ database, provider, holder }, WorkspaceIdSchema.parse(data.workspaceId), data.operation);
      log.info({ workspaceId: data.workspaceId, operation: data.operation, keyId: result.keyId, created: result.created, code: 'KEYS_DONE' }, 'keys job');
      return result;
    },
    { connection: redis, prefix: config.PRAXA_QUEUE_PREFIX, concurrency: 1 },
  );
  keys.on('failed', (job, err) => log.error({ jobId: job?.id, code: 'KEYS_FAILED', err }, 'keys job failed'));
  log.info({ code: 'WORKER_STARTED', concurrency: config.WORKER_CONCURRENCY }, 'worker running');
  return {
    close: async () => {
      await keys.close();
      redis.disconnect();
      await database.close();
    },
  };
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  runProcess('praxa-worker', () => startWorker(process.env));
}
