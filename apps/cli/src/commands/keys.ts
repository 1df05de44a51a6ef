/**
 * `pnpm praxa keys rotate --workspace <id>` — asks for a new workspace key pair. Key material is made only where it can
 * be opened: this enqueues a `keys` job (carrying only the workspace id) that a worker runs under the workspace's
 * key-operation lease. Old credentials keep opening (the previous key is retired, not destroyed).
 */
import { parseId } from "@praxa/core";
import { bootConfig, redisTarget, type ConfigSource } from "@praxa/config";
import { createQueues, createRedis, enqueue, redisReady } from "@praxa/queue";
import { withLocalDefaults } from "./local-env.js";

export async function requestKeyRotation(
  env: ConfigSource,
  workspace: string,
  operation: "create" | "rotate" = "rotate",
): Promise<string> {
  const workspaceId = parseId("workspace", workspace);
  const cfg = await bootConfig("monitor", { env: withLocalDefaults(env), envFile: ".env" });
  const redis = createRedis(redisTarget(cfg), "producer");
  try {
    await redisReady(redis);
    const queues = createQueues(redis, cfg.PRAXA_QUEUE_PREFIX);
    const job = await enqueue(
      queues,
      "keys",
      { workspaceId, operation },
      { jobId: `keys-${workspaceId}-${Date.now()}` },
      { timeoutMs: 5_000 },
    );
    await queues.close();
    return String(job.id);
  } finally {
    redis.disconnect();
  }
}
