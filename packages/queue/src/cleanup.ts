/**
 * Removing a whole key prefix: what a test suite or the demo does when it finishes, so nothing it created stays in a
 * shared Redis (queues, job schedulers, limiter counters — every key Praxa writes is `${prefix}:…`). SCAN with MATCH and
 * UNLINK in batches, never KEYS: it does not block a Redis that others use. On a cluster every master is scanned (each
 * holds its own slots' keys) and each key is unlinked on its own (keys of one batch may hash to different slots).
 * Close the workers and queues that write under the prefix first, or they re-create keys behind the sweep.
 */
import { ValidationError } from "@praxa/core";
import { isRedisCluster, redisNodes, type Redis } from "./connection.js";

/** A prefix as a SCAN MATCH pattern: glob characters in it match themselves. */
function globEscape(text: string): string {
  return text.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

/** Delete every key under `${prefix}:`; answers how many were removed. */
export async function removeRedisPrefix(
  redis: Redis,
  prefix: string,
  options: { readonly batch?: number } = {},
): Promise<number> {
  if (prefix.length === 0) throw new ValidationError("an empty Redis prefix would match other prefixes' keys");
  const match = `${globEscape(prefix)}:*`;
  const count = options.batch ?? 500;
  const cluster = isRedisCluster(redis);
  let removed = 0;
  for (const node of await redisNodes(redis, "master")) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", match, "COUNT", count);
      cursor = next;
      if (keys.length === 0) continue;
      if (!cluster) {
        removed += await node.unlink(...keys);
        continue;
      }
      // Through the cluster client, one key per command: it routes each to its slot's master (a slot that moved since
      // the SCAN included).
      const unlinked = await Promise.all(keys.map((k) => redis.unlink(k)));
      removed += unlinked.reduce((a, b) => a + b, 0);
    } while (cursor !== "0");
  }
  return removed;
}
