#!/usr/bin/env node
/** The monitor process: today, the run reconciler on a fleet-wide schedule. */
import { bootConfig } from '@praxa/config';
import { createDatabase } from '@praxa/db';
import { createLogger, runProcess } from '@praxa/observability';
import { checkRedisEvictionPolicy, createQueues, createRedis } from '@praxa/queue';
import { scheduleMaintenance, startMaintenanceWorker } from './maintenance.js';
import { reconcileOnce, type ReconcileSummary } from './reconciler.js';

export async function startMonitor(env: NodeJS.ProcessEnv): Promise<{ close: () => Promise<void> }> {
  const config = await bootConfig('monitor', { env, envFile: '.env' });
  const log = createLogger({ name: 'praxa-monitor', level: config.LOG_LEVEL });
  const database = createDatabase(config.MONITOR_DATABASE_URL, { max: 4, applicationName: 'praxa-monitor' });
  const redis = createRedis(config.REDIS_URL, 'worker');
  await checkRedisEvictionPolicy(redis, { skip: config.PRAXA_SKIP_REDIS_POLICY_CHECK });
  const queues = createQueues(redis, config.PRAXA_QUEUE_PREFIX);
  await scheduleMaintenance(queues, 10_000);
  const worker = startMaintenanceWorker(redis, config.PRAXA_QUEUE_PREFIX, { database, queues, log, now: Date.now, graceSeconds: 10, batch: 500 }, log);
  log.info({ code: 'MONITOR_STARTED' }, 'monitor running');
  return {
    close: async () => {
      await worker.close();
      await queues.close();
      redis.disconnect();
      await database.close();
    },
  };
}

/** `--reconcile-once` (what `pnpm praxa reconcile` runs): one reconciler pass, print its summary, exit. */
export async function reconcileNow(env: NodeJS.ProcessEnv): Promise<ReconcileSummary> {
  const config = await bootConfig('monitor', { env, envFile: '.env' });
  const log = createLogger({ name: 'praxa-monitor', level: config.LOG_LEVEL });
  const database = createDatabase(config.MONITOR_DATABASE_URL, { max: 2, applicationName: 'praxa-reconcile' });
  const redis = createRedis(config.REDIS_URL, 'worker');
  const queues = createQueues(redis, config.PRAXA_QUEUE_PREFIX);
  try {
    return await reconcileOnce({ database, queues, log, now: Date.now, graceSeconds: 10, batch: 10_000 });
  } finally {
    await queues.close();
    redis.disconnect();
    await database.close();
  }
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain && process.argv.includes('--reconcile-once')) {
  reconcileNow(process.env).then(
    (summary) => {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`praxa-monitor: ${err instanceof Error ? err.message : 'reconcile failed'}\n`);
      process.exit(1);
    },
  );
} else if (isMain) {
  runProcess('praxa-monitor', () => startMonitor(process.env));
}
