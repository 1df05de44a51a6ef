export * from "./cleanup.js";
export * from "./connection.js";
export * from "./job-catalog.js";
export * from "./producer.js";
export * from "./queue-errors.js";
export {
  Job,
  Queue,
  QueueEvents,
  Worker,
  UnrecoverableError,
  DelayedError,
  type JobsOptions,
  type Processor,
} from "bullmq";
export type { Cluster as RedisCluster, Redis as SingleRedis } from "ioredis";
export * from "./worker-shutdown.js";
