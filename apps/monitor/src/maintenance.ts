/**
 * Scheduled maintenance, once per fleet however many monitor processes run: a BullMQ job scheduler (an upsert, so every
 * monitor may declare it) produces one `reconcile` job per interval on the `maintenance` queue, and whichever monitor's
 * worker takes it runs the pass.
 */
import { parseJobData, Worker, type QueueSet, type Redis } from '@praxa/queue';
import type { Logger } from '@praxa/observability';
import { reconcileOnce, type ReconcilerDeps } from './reconciler.js';

export const RECONCILE_SCHEDULER_ID = 'praxa-reconcile';

export async function scheduleMaintenance(queues: QueueSet, everyMs: number): Promise<void> {
  await queues.get('maintenance').upsertJobScheduler(RECONCILE_SCHEDULER_ID, { every: everyMs }, { name: 'reconcile', data: {}, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } });
}

export function startMaintenanceWorker(connection: Redis, prefix: string, deps: ReconcilerDeps, log: Logger): Worker {
  const worker = new Worker(
    'maintenance',
    async (job) => {
      if (job.name !== 'reconcile') throw new Error('unknown maintenance job');
      parseJobData('reconcile', job.data);
      return reconcileOnce(deps);
    },
    { connection, prefix, concurrency: 1, autorun: true },
  );
  worker.on('failed', (_job, err) => log.error({ code: 'RECONCILE_FAILED', err }, 'reconciler pass failed'));
  return worker;
}
