/**
 * Redis connections for BullMQ, to one server or to a Redis Cluster. Workers need `maxRetriesPerRequest: null`
 * (BullMQ's blocking commands); producers on a request path fail fast instead, so an outage answers quickly and the run
 * row — the outbox — carries the work.
 *
 * A cluster (`REDIS_CLUSTER_NODES`, docs/operations.md) is an ioredis `Cluster`: it learns the slot map from any seed,
 * follows MOVED/ASK redirections and a failover's new master by itself. Every multi-key command or script of ours stays
 * in one slot: BullMQ's scripts touch one queue's keys, whose names carry a hash tag on a cluster (`{runs}`,
 * producer.ts); the limiters and the audit-verify gate touch one key per command.
 */
import { Cluster, Redis as SingleRedis, type ClusterOptions, type RedisOptions } from "ioredis";
import { PraxaError, UnavailableError } from "@praxa/core";

/** A connection to one Redis server or to a Redis Cluster: what every Praxa component is handed. */
export type Redis = SingleRedis | Cluster;

export class RedisPolicyError extends PraxaError {
  readonly code = "REDIS_POLICY";
  readonly httpStatus = 500;
}

export type RedisRole = "worker" | "producer";

/** A Redis Cluster to connect to: seed nodes (any of them; the rest is discovered), TLS and AUTH for every node. */
export interface RedisClusterTarget {
  readonly clusterNodes: readonly { readonly host: string; readonly port: number }[];
  /** TLS to every node (ElastiCache in-transit encryption). */
  readonly tls?: boolean;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

/** A `redis://` / `rediss://` URL (one server) or a cluster. */
export type RedisTarget = string | RedisClusterTarget;

/** Per connection: workers wait for ever (BullMQ's blocking commands), producers fail a command after one retry. */
function roleOptions(role: RedisRole): { maxRetriesPerRequest: number | null; connectTimeout?: number } {
  return role === "worker" ? { maxRetriesPerRequest: null } : { maxRetriesPerRequest: 1, connectTimeout: 2_000 };
}

export function createRedis(url: string, role: RedisRole, extra?: RedisOptions): SingleRedis;
export function createRedis(target: RedisTarget, role: RedisRole, extra?: RedisOptions): Redis;
export function createRedis(target: RedisTarget, role: RedisRole, extra: RedisOptions = {}): Redis {
  if (typeof target === "string") {
    return new SingleRedis(target, {
      lazyConnect: false,
      enableReadyCheck: true,
      ...roleOptions(role),
      // Producers: commands wait in ioredis's offline queue while it reconnects (so the connection recovers by itself
      // after an outage); callers bound the wait themselves (`enqueue(…, { timeoutMs })`).
      ...(role === "producer" ? { retryStrategy: (n: number) => Math.min(n * 200, 2_000) } : {}),
      ...extra,
    });
  }
  return createRedisCluster(target, role, extra);
}

function createRedisCluster(target: RedisClusterTarget, role: RedisRole, extra: RedisOptions): Cluster {
  // Options that belong to the cluster client as a whole; the rest applies to each node's connection.
  // A node's reconnection is the cluster client's business (it re-reads the slot map and finds a promoted replica), so
  // a node's own retryStrategy is not passed on (ioredis ignores it).
  const { enableOfflineQueue, lazyConnect, enableReadyCheck, retryStrategy: _nodeRetry, ...nodeExtra } = extra;
  const nodeOptions: NonNullable<ClusterOptions["redisOptions"]> = {
    ...roleOptions(role),
    ...(target.tls ? { tls: {} } : {}),
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...nodeExtra,
  };
  const options: ClusterOptions = {
    lazyConnect: lazyConnect ?? false,
    enableReadyCheck: enableReadyCheck ?? true,
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
    // Keep retrying while the cluster is away (as a single connection does); commands wait in the offline queue.
    clusterRetryStrategy: (n: number) => Math.min(100 + n * 200, 2_000),
    // During a failover slots answer CLUSTERDOWN / TRYAGAIN for a moment: retried, not surfaced.
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    retryDelayOnFailover: 200,
    // ElastiCache with TLS: connect to the names the slot map gives, so the certificate's name matches (ioredis README).
    ...(target.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
    redisOptions: nodeOptions,
  };
  return new Cluster(
    target.clusterNodes.map((n) => ({ host: n.host, port: n.port })),
    options,
  );
}

/** True for a Redis Cluster connection. */
export function isRedisCluster(redis: Redis): redis is Cluster {
  return redis.isCluster;
}

/**
 * The nodes a check or a sweep must visit: the server itself, or — on a cluster — every master (or every node), once
 * the cluster client has read the slot map.
 */
export async function redisNodes(redis: Redis, which: "master" | "all" = "master"): Promise<SingleRedis[]> {
  if (!isRedisCluster(redis)) return [redis];
  try {
    await redisReady(redis, 10_000);
  } catch (err) {
    throw new UnavailableError("the Redis Cluster did not answer (no slot map from any seed node)", { cause: err });
  }
  return redis.nodes(which);
}

/**
 * BullMQ loses jobs if Redis evicts keys. Refuse to start unless `maxmemory-policy` is `noeviction` — on a cluster, on
 * every node, replicas included (a replica becomes the master at a failover); `skip` is for managed Redis that hides
 * CONFIG (then the operator must have set it: the parameter group on ElastiCache).
 */
export async function checkRedisEvictionPolicy(
  redis: Redis,
  options: { skip: boolean },
): Promise<"noeviction" | "skipped"> {
  if (options.skip) return "skipped";
  for (const node of await redisNodes(redis, "all")) {
    let policy: string | undefined;
    try {
      const reply = (await node.config("GET", "maxmemory-policy")) as unknown;
      policy = Array.isArray(reply) ? String(reply[1]) : undefined;
    } catch (err) {
      throw new RedisPolicyError(
        "cannot read Redis maxmemory-policy (CONFIG GET refused); set PRAXA_SKIP_REDIS_POLICY_CHECK=true if your managed Redis hides CONFIG and is set to noeviction",
        { cause: err },
      );
    }
    if (policy !== "noeviction") {
      const where = isRedisCluster(redis)
        ? ` on cluster node ${node.options.host ?? "?"}:${node.options.port ?? "?"}`
        : "";
      throw new RedisPolicyError(
        `Redis maxmemory-policy is "${policy ?? "unknown"}"${where}; BullMQ needs "noeviction" or queued jobs can be evicted`,
      );
    }
  }
  return "noeviction";
}

/** Resolve once the connection is ready (producers do not queue commands while connecting). */
export async function redisReady(redis: Redis, timeoutMs = 5_000): Promise<void> {
  if (redis.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error("redis did not become ready in time"));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off("ready", onReady);
    };
    redis.on("ready", onReady);
  });
}
