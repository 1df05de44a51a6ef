#!/usr/bin/env node
/**
 * The monitor process: on fleet-wide schedules, the run and notification reconciler, the quality monitor's acceptance
 * pass (self-pause), and time-based audit checkpoints. It signs `skill.paused` audit events with its own Ed25519 key
 * and checkpoints with the key provider's signing key (KMS in production); both public keys are registered at boot.
 */
import { bootConfig, redisTarget, type MonitorConfig } from "@praxa/config";
import { loadAuditSigningKey, openKeyProvider } from "@praxa/crypto";
import { createDatabase, registerAuditKey, type AuditSigner, type CheckpointSigner, type Database } from "@praxa/db";
import {
  createLogger,
  runProcess,
  startHealthServer, // /readyz and /metrics on PRAXA_HEALTH_PORT (internal)
  startMetrics,
  startTelemetry,
  type DestinationStream,
  type Logger,
} from "@praxa/observability";
import { checkRedisEvictionPolicy, closeWorkers, createQueues, createRedis, queueErrorLogger } from "@praxa/queue";
import { scheduleMaintenance, startMaintenanceWorker } from "./maintenance.js";
import { createObjectStore, parseObjectStoreSettings } from "@praxa/object-store";
import { observeMonitorMetrics } from "./metrics.js";
import { reconcileNotifications } from "./notification-outbox.js";
import { reconcileOnce, type ReconcileSummary } from "./reconciler.js";

/** The monitor's two signers, their public halves registered so verifiers find them by key id. */
export async function monitorSigners(
  config: MonitorConfig,
  database: Database,
  log?: Logger,
): Promise<{ auditSigner: AuditSigner; checkpointSigner: CheckpointSigner }> {
  // The key provider first (nothing registered if it is refused). Production: KMS's SIGN_VERIFY key
  // (PRAXA_KMS_SIGN_KEY_ID, ECDSA_SHA_256 on ECC_NIST_P256); both KMS keys are checked at boot.
  const provider = await openKeyProvider({
    kind: config.PRAXA_KEY_PROVIDER,
    keyFile: config.PRAXA_KEY_FILE,
    kmsWrapKeyId: config.PRAXA_KMS_WRAP_KEY_ID,
    kmsSignKeyId: config.PRAXA_KMS_SIGN_KEY_ID,
    region: config.AWS_REGION,
    endpoint: config.PRAXA_KMS_ENDPOINT,
    production: config.NODE_ENV === "production",
    onLocalKeyFileInProduction: () =>
      log?.warn(
        { code: "LOCAL_KEY_FILE_IN_PRODUCTION" },
        "production is running on a local key file (PRAXA_ALLOW_LOCAL_KEY_FILE_IN_PRODUCTION=true): back it up; losing it loses every key wrapped under it",
      ),
  });
  const events = loadAuditSigningKey({
    pem: config.PRAXA_AUDIT_SIGNING_KEY,
    path: config.PRAXA_AUDIT_SIGNING_KEY_FILE,
    production: config.NODE_ENV === "production",
  });
  await registerAuditKey(database, { keyId: events.keyId, purpose: "event", algorithm: "ed25519", spki: events.spki });
  const pub = await provider.publicKey();
  await registerAuditKey(database, {
    keyId: pub.keyId,
    purpose: "checkpoint",
    algorithm: pub.algorithm,
    spki: Buffer.from(pub.spki),
  });
  return {
    auditSigner: { keyId: events.keyId, privateKey: events.privateKey },
    checkpointSigner: { keyId: pub.keyId, sign: (m) => provider.sign(m) },
  };
}

/** How long a stopping monitor waits for a maintenance pass in flight (inside runProcess's 25 s close bound). */
const MONITOR_SHUTDOWN_GRACE_MS = 10_000;

export async function startMonitor(
  env: NodeJS.ProcessEnv,
  options: { readonly logDestination?: DestinationStream } = {},
): Promise<{ close: () => Promise<void> }> {
  const config = await bootConfig("monitor", { env, envFile: ".env" });
  const log = createLogger({
    name: "praxa-monitor",
    level: config.LOG_LEVEL,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  const telemetry = startTelemetry({
    serviceName: config.OTEL_SERVICE_NAME ?? "praxa-monitor",
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
  const database = createDatabase(config.MONITOR_DATABASE_URL, { max: 4, applicationName: "praxa-monitor" });
  const signers = await monitorSigners(config, database, log).catch(async (err: unknown) => {
    await database.close();
    throw err;
  });
  // Every queue, scheduler, worker and connection reports its `error` events to the log (never console.error).
  const queueErrors = queueErrorLogger(log);
  const redis = queueErrors.watch(createRedis(redisTarget(config), "worker"), { component: "redis" });
  await checkRedisEvictionPolicy(redis, { skip: config.PRAXA_SKIP_REDIS_POLICY_CHECK });
  const queues = createQueues(redis, config.PRAXA_QUEUE_PREFIX, { errors: queueErrors });
  await scheduleMaintenance(queues);
  // The object store (local directory by default, S3 in production): erasure deletes a workspace's ws/<id>/ prefix.
  // Not fatal: without it (a read-only disk and no S3 settings) the rest runs; what needs it waits and says so.
  const objects = await createObjectStore(parseObjectStoreSettings(env)).catch((err: unknown) => {
    log.error({ code: "OBJECT_STORE_UNAVAILABLE", err }, "the object store could not be opened");
    return undefined;
  });
  // Metrics: queue depth and oldest waiting job per queue, run states from Postgres; scraped at GET /metrics on
  // PRAXA_HEALTH_PORT, pushed over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const metrics = startMetrics({
    serviceName: config.OTEL_SERVICE_NAME ?? "praxa-monitor",
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    exportIntervalMs: config.OTEL_METRIC_EXPORT_INTERVAL,
  });
  const stopObserving = observeMonitorMetrics({ queues, database, now: Date.now });
  await startHealthServer(env, {
    postgres: () => database.sql`select 1`.then(() => true),
    redis: async () => (await redis.ping()) === "PONG",
  });
  const { worker, active } = startMaintenanceWorker(
    redis,
    config.PRAXA_QUEUE_PREFIX,
    {
      database,
      queues,
      log,
      now: Date.now,
      graceSeconds: 10,
      batch: 500,
      objects,
      ...signers,
      ...(telemetry.enabled ? { tracer: telemetry.tracer } : {}),
    },
    log,
  );
  queueErrors.watch(worker, { component: "worker", queue: "maintenance" });
  log.info({ code: "MONITOR_STARTED" }, "monitor running");
  return {
    close: async () => {
      stopObserving();
      // Maintenance passes are idempotent sweeps: one cut short by the grace period is simply run again by the next
      // scheduled job. Never BullMQ's graceful close here: it can wait forever after a Redis outage (closeWorkers).
      const closed = await closeWorkers([worker], active, MONITOR_SHUTDOWN_GRACE_MS);
      if (!closed.drained)
        log.warn(
          { code: "MONITOR_SHUTDOWN_ABANDONED", jobs: closed.abandoned, graceMs: MONITOR_SHUTDOWN_GRACE_MS },
          "a maintenance pass was still running at the end of the grace period: the next scheduled one redoes it",
        );
      await queues.close();
      redis.disconnect();
      await database.close();
      await telemetry.shutdown();
      await metrics.shutdown();
    },
  };
}

/** `--reconcile-once` (what `pnpm praxa reconcile` runs): one pass over runs and notifications, print its summary, exit. */
export async function reconcileNow(
  env: NodeJS.ProcessEnv,
): Promise<ReconcileSummary & { notifications: Awaited<ReturnType<typeof reconcileNotifications>> }> {
  const config = await bootConfig("monitor", { env, envFile: ".env" });
  const log = createLogger({ name: "praxa-monitor", level: config.LOG_LEVEL });
  const database = createDatabase(config.MONITOR_DATABASE_URL, { max: 2, applicationName: "praxa-reconcile" });
  const queueErrors = queueErrorLogger(log);
  const redis = queueErrors.watch(createRedis(redisTarget(config), "worker"), { component: "redis" });
  const queues = createQueues(redis, config.PRAXA_QUEUE_PREFIX, { errors: queueErrors });
  try {
    const deps = { database, queues, log, now: Date.now, graceSeconds: 10, batch: 10_000 };
    return { ...(await reconcileOnce(deps)), notifications: await reconcileNotifications(deps) };
  } finally {
    await queues.close();
    redis.disconnect();
    await database.close();
  }
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain && process.argv.includes("--reconcile-once")) {
  reconcileNow(process.env).then(
    (summary) => {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`praxa-monitor: ${err instanceof Error ? err.message : "reconcile failed"}\n`);
      process.exit(1);
    },
  );
} else if (isMain) {
  runProcess("praxa-monitor", () => startMonitor(process.env));
}
