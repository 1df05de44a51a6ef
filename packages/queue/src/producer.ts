/**
 * A typed producer over the catalog: data is validated before it reaches Redis, and every run job's `jobId` is the run
 * id, so a duplicate enqueue collapses onto the existing job.
 */
import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { ValidationError } from '@praxa/core';
import { JOB_CATALOG, type JobData, type JobName, type QueueName } from './job-catalog.js';

export interface QueueSet {
  readonly prefix: string;
  get(name: QueueName): Queue;
  close(): Promise<void>;
}

export function createQueues(connection: Redis, prefix: string): QueueSet {
  const queues = new Map<QueueName, Queue>();
  return {
    prefix,
    get(name) {
      let q = queues.get(name);
      if (!q) {
        q = new Queue(name, { connection, prefix });
        queues.set(name, q);
      }
      return q;
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}

export async function enqueue<N extends JobName>(queues: QueueSet, name: N, data: JobData<N>, options: JobsOptions & { jobId: string }): Promise<Job> {
  const entry = JOB_CATALOG[name];
  const parsed = entry.schema.safeParse(data);
  if (!parsed.success) throw new ValidationError(`invalid ${name} job data`);
  return queues.get(entry.queue).add(name, parsed.data, { ...entry.options, ...options });
}

/** Parse a job's data against the catalog; anything else in it is refused, never trusted. */
export function parseJobData<N extends JobName>(name: N, data: unknown): JobData<N> {
  const parsed = JOB_CATALOG[name].schema.safeParse(data);
  if (!parsed.success) throw new ValidationError(`invalid ${name} job data`);
  return parsed.data as JobData<N>;
}
