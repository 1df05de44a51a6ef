/**
 * A typed producer over the catalog: data is validated before it reaches Redis, and every run job's `jobId` is the run
 * id, so a duplicate enqueue collapses onto the existing job.
 */
import { Queue, type Job, type JobsOptions } from "bullmq";
import { UnavailableError, ValidationError } from "@praxa/core";
import { isRedisCluster, type Redis } from "./connection.js";
import { JOB_CATALOG, type JobData, type JobName, type QueueName } from "./job-catalog.js";
import type { QueueErrorWatcher } from "./queue-errors.js";

export interface QueueSet {
  readonly prefix: string;
  get(name: QueueName): Queue;
  /** The BullMQ queue name of `name` on this connection (hash-tagged on a cluster): what a `Worker` is given. */
  name(name: QueueName): string;
  close(): Promise<void>;
}

/**
 * The BullMQ name of one of our queues. On a Redis Cluster it carries a hash tag — `{runs}`, `{keys}`,
 * `{notifications}`, `{maintenance}` — so every key of one queue (`<prefix>:{runs}:wait`, `…:{runs}:42`) hashes to one
 * slot (BullMQ's scripts touch several of them at once) while different queues spread across the shards. On one
 * server the names stay bare: the keys of an existing deployment do not move. A prefix that carries its own hash tag
 * (`{praxa}`) wins — Redis hashes the first `{…}` of a key — and puts every queue in one slot.
 */
export function bullQueueName(name: QueueName, connection: Redis): string {
  return isRedisCluster(connection) ? `{${name}}` : name;
}

/** `errors`: every queue made here reports its `error` events (its job schedulers' too) to the app's logger. */
export function createQueues(
  connection: Redis,
  prefix: string,
  options: { readonly errors?: QueueErrorWatcher } = {},
): QueueSet {
  const queues = new Map<QueueName, Queue>();
  return {
    prefix,
    name: (name) => bullQueueName(name, connection),
    get(name) {
      let q = queues.get(name);
      if (!q) {
        q = new Queue(bullQueueName(name, connection), { connection, prefix });
        options.errors?.watch(q, { component: "queue", queue: name });
        queues.set(name, q);
      }
      return q;
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}

/**
 * Add a job. `timeoutMs` bounds the wait: BullMQ waits for a connection that is reconnecting, and a request path must
 * not hang on a Redis outage — the caller's outbox (the run row) carries the work instead. An add that completes
 * after the timeout is harmless: the job id is the run id.
 */
export async function enqueue<N extends JobName>(
  queues: QueueSet,
  name: N,
  data: JobData<N>,
  options: JobsOptions & { jobId: string },
  limits: { timeoutMs?: number } = {},
): Promise<Job> {
  const entry = JOB_CATALOG[name];
  const parsed = entry.schema.safeParse(data);
  if (!parsed.success) throw new ValidationError(`invalid ${name} job data`);
  const add = queues.get(entry.queue).add(name, parsed.data, { ...entry.options, ...options });
  if (limits.timeoutMs === undefined) return add;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new UnavailableError("the queue did not accept the job in time")),
      limits.timeoutMs,
    );
  });
  add.catch(() => {}); // a late failure after the timeout is already accounted for
  try {
    return await Promise.race([add, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Parse a job's data against the catalog; anything else in it is refused, never trusted. */
export function parseJobData<N extends JobName>(name: N, data: unknown): JobData<N> {
  const parsed = JOB_CATALOG[name].schema.safeParse(data);
  if (!parsed.success) throw new ValidationError(`invalid ${name} job data`);
  return parsed.data as JobData<N>;
}
