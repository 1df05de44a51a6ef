/**
 * Removing a whole key prefix: what a test suite or the demo does when it finishes, so nothing it created stays in a
 * shared Redis (queues, job schedulers, limiter counters — every key Praxa writes is `${prefix}:…`). SCAN with MATCH and
 * UNLINK in batches, never KEYS: it does not block a Redis that others use. One node only (on a cluster, SCAN each
 * master). Close the workers and queues that write under the prefix first, or they re-create keys behind the sweep.
 */
import type { Redis } from "ioredis";
import { ValidationError } from "@praxa/core";

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
  let cursor = "0";
  let removed = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", match, "COUNT", count);
    cursor = next;
    if (keys.length > 0) removed += await redis.unlink(...keys);
  } while (cursor !== "0");
  return removed;
}
