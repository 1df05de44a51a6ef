#!/usr/bin/env node
/**
 * The worker process: the run processor (`runs` queue: claim by runId, guards, model, tools, audit), the `keys`
 * processor (create / rotate a workspace's key pair), the `notifications` processor (a paused Skill's channels) and the
 * `replays` processor (a recorded decision replayed for a request, replay-job.ts). Refuses to start unless Redis evicts nothing.
 *
 * A dead worker's runs: their leases (WORKER_LEASE_SECONDS, default 12 s) expire, and the next dispatch pass (every
 * WORKER_DISPATCH_POLL_MS, on any live worker) hands them back and dispatches them again under a new job id — about
 * one lease after the death, whatever BullMQ's stalled-job check (WORKER_STALLED_INTERVAL_MS) later does with the dead
 * worker's job (its claim finds the run taken and ends). Effects stay single because of the run's lease in Postgres
 * (fencing token checked on every write, re-checked before each external effect), never because of a job lock.
 */
import { hostname } from "node:os";
import { bootConfig, redisTarget, unconfiguredSummary, workerIntegrations, type WorkerConfig } from "@praxa/config";
import { WorkspaceIdSchema } from "@praxa/core";
import { loadAuditSigningKey } from "@praxa/crypto";
import { createAuditWriter, createDatabase, registerAuditKey } from "@praxa/db";
import { startHealthServer } from "@praxa/observability"; // /readyz on PRAXA_HEALTH_PORT (internal)
import {
  createLogger,
  observeAuditBacklog,
  runProcess,
  startMetrics,
  startTelemetry,
  type DestinationStream,
  type SpanExporter,
} from "@praxa/observability";
import {
  ActiveJobs,
  checkRedisEvictionPolicy,
  closeWorkers,
  createQueues,
  createRedis,
  enqueue,
  parseJobData,
  queueErrorLogger,
  Worker,
  type Job,
} from "@praxa/queue";
import { startDispatcher } from "./dispatcher.js";
import { createKeyProvider } from "./key-provider.js";
import { runKeysJob } from "./keys-job.js";
import type { ProviderFactory } from "./model-selection.js";
import { egressPolicy } from "@praxa/egress";
import { processRunJob } from "./run-job.js";
import { createNotificationProcessor } from "./notification-job.js";
import { createReplayProcessor } from "./replay-job.js";
import { createSiemDeliveryProcessor } from "./siem-delivery-job.js";
import { createModelProvider } from "@praxa/runtime";

export interface WorkerOptions {
  /** Builds a model provider from an opened BYOK credential. Default: the real providers at the configured endpoints; `null`: offline only. */
  readonly providerFactory?: ProviderFactory | null;
  /** Where log lines go (default stdout). */
  readonly logDestination?: DestinationStream;
  /** Export spans here instead of OTLP (always behind the whitelist filter). */
  readonly spanExporter?: SpanExporter;
}

export async function startWorker(
  env: NodeJS.ProcessEnv,
  options: WorkerOptions = {},
): Promise<{ close: () => Promise<void>; config: WorkerConfig }> {
  const config = await bootConfig("worker", { env, envFile: ".env" });
  const log = createLogger({
    name: "praxa-worker",
    level: config.LOG_LEVEL,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  // The key provider first: a refused one (no key file in production, a KMS key of the wrong usage) stops the boot
  // before any pool or connection is opened.
  const provider = await createKeyProvider(config, () =>
    log.warn(
      { code: "LOCAL_KEY_FILE_IN_PRODUCTION" },
      "production is running on a local key file (PRAXA_ALLOW_LOCAL_KEY_FILE_IN_PRODUCTION=true): back it up; losing it loses every key wrapped under it",
    ),
  );
  const telemetry = startTelemetry({
    serviceName: config.OTEL_SERVICE_NAME ?? "praxa-worker",
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    ...(options.spanExporter ? { exporter: options.spanExporter } : {}),
  });
  // Metrics: Prometheus text at GET /metrics on PRAXA_HEALTH_PORT; OTLP too when OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const metrics = startMetrics({
    serviceName: config.OTEL_SERVICE_NAME ?? "praxa-worker",
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    exportIntervalMs: config.OTEL_METRIC_EXPORT_INTERVAL,
  });
  const database = createDatabase(config.WORKER_DATABASE_URL, {
    max: config.WORKER_CONCURRENCY + 2,
    applicationName: "praxa-worker",
  });
  // Every queue, worker and connection reports its `error` events to the log (never console.error).
  const queueErrors = queueErrorLogger(log);
  const redis = queueErrors.watch(createRedis(redisTarget(config), "worker"), { component: "redis" });
  await checkRedisEvictionPolicy(redis, { skip: config.PRAXA_SKIP_REDIS_POLICY_CHECK });
  const queues = createQueues(redis, config.PRAXA_QUEUE_PREFIX, { errors: queueErrors });
  await startHealthServer(env, {
    postgres: () => database.sql`select 1`.then(() => true),
    redis: async () => (await redis.ping()) === "PONG",
  });
  const holder = `${hostname()}:${process.pid}`;

  // Audit: events signed with the app's Ed25519 key; checkpoints every N appends signed through the KeyProvider.
  const eventKey = loadAuditSigningKey({
    pem: config.PRAXA_AUDIT_SIGNING_KEY,
    path: config.PRAXA_AUDIT_SIGNING_KEY_FILE,
    production: config.NODE_ENV === "production",
  });
  await registerAuditKey(database, {
    keyId: eventKey.keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: eventKey.spki,
  });
  const cpKey = await provider.publicKey();
  await registerAuditKey(database, {
    keyId: cpKey.keyId,
    purpose: "checkpoint",
    algorithm: cpKey.algorithm,
    spki: Buffer.from(cpKey.spki),
  });
  // Runs' events go through one writer: events of concurrent runs are committed together (each run's call resolves
  // only once its events are committed; see packages/db/src/audit-writer.ts).
  const auditWriter = createAuditWriter(
    database,
    { keyId: eventKey.keyId, privateKey: eventKey.privateKey },
    {
      checkpoint: {
        every: config.PRAXA_AUDIT_CHECKPOINT_EVERY,
        signer: { keyId: cpKey.keyId, sign: (m) => provider.sign(m) },
      },
      onBatchError: (err, calls) =>
        log.warn({ code: "AUDIT_BATCH_RETRIED", calls, err }, "an audit batch failed; its calls are placed one by one"),
      onBackpressure: (holding, pending) =>
        holding
          ? log.warn(
              { code: "AUDIT_BACKPRESSURE", ...pending },
              "audit appends are held back: the queue is full (the database is slow or away); runs wait for it",
            )
          : log.info({ code: "AUDIT_BACKPRESSURE_OVER", ...pending }, "audit appends are no longer held back"),
    },
  );

  const stopAuditBacklog = observeAuditBacklog(() => auditWriter.pending());

  const github =
    config.GITHUB_APP_ID !== undefined && config.GITHUB_APP_PRIVATE_KEY !== undefined
      ? { appId: config.GITHUB_APP_ID, privateKeyPem: config.GITHUB_APP_PRIVATE_KEY, baseUrl: config.GITHUB_API_URL }
      : null;
  const slack =
    config.SLACK_CLIENT_ID !== undefined && config.SLACK_CLIENT_SECRET !== undefined
      ? { clientId: config.SLACK_CLIENT_ID, clientSecret: config.SLACK_CLIENT_SECRET, baseUrl: config.SLACK_BASE_URL }
      : null;
  const connection = { connection: redis, prefix: config.PRAXA_QUEUE_PREFIX };
  // Fair dispatch (docs/decisions/0005): every worker process runs a dispatcher; one pass runs at a time fleet-wide.
  const dispatcher = startDispatcher({
    database,
    queues,
    log,
    pollMs: config.WORKER_DISPATCH_POLL_MS,
    ...(telemetry.enabled ? { tracer: telemetry.tracer } : {}),
  });
  const runDeps = {
    database,
    provider,
    // Skill callbacks: public addresses only, unless the operator allows ranges (PRAXA_EGRESS_ALLOW_CIDRS).
    egress: egressPolicy({
      allowCidrs: config.PRAXA_EGRESS_ALLOW_CIDRS,
      requireHttps: config.NODE_ENV === "production",
      timeoutMs: config.PRAXA_EGRESS_TIMEOUT_MS,
    }),
    auditWriter,
    tracer: telemetry.tracer,
    github,
    slack,
    // A sub-agent's child run is created queued in Postgres; the dispatcher moves it into the queue in fair order.
    enqueueRun: async () => {
      dispatcher.kick();
    },
    holder,
    leaseSeconds: config.WORKER_LEASE_SECONDS,
    maxAttempts: config.WORKER_MAX_ATTEMPTS,
    maxDeferrals: config.WORKER_MAX_THROTTLE_DEFERRALS,
    onSlotFreed: () => dispatcher.kick(),
    log,
    providerFactory:
      options.providerFactory === undefined
        ? (json: string, workspaceId: string) =>
            createModelProvider(json, {
              workspaceId,
              endpoints: {
                anthropicBaseUrl: config.ANTHROPIC_BASE_URL,
                bedrockBaseUrl: config.BEDROCK_BASE_URL,
                bedrockStsEndpoint: config.BEDROCK_STS_ENDPOINT,
                vertexBaseUrl: config.VERTEX_BASE_URL,
                vertexTokenUrl: config.VERTEX_TOKEN_URL,
              },
            })
        : options.providerFactory,
  };

  // Every processor is counted, so shutdown can wait for the jobs in flight without BullMQ's graceful close (see
  // closeWorkers in @praxa/queue: that close can wait forever after a Redis outage).
  const active = new ActiveJobs();
  const runs = new Worker(
    queues.name("runs"),
    active.track(async (job: Job) => {
      // Only the runId is used; a workspace id in `hint` is for tracing and never authorizes anything.
      const data = parseJobData("run", job.data);
      return processRunJob(runDeps, data.runId);
    }),
    {
      ...connection,
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration: config.WORKER_STALLED_INTERVAL_MS,
      stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: 2,
    },
  );
  queueErrors.watch(runs, { component: "worker", queue: "runs" });
  runs.on("failed", (job, err) => log.warn({ jobId: job?.id, code: "RUN_JOB_FAILED", err }, "run job failed"));

  const keys = new Worker(
    queues.name("keys"),
    active.track(async (job: Job) => {
      const data = parseJobData("keys", job.data);
      const result = await runKeysJob(
        { database, provider, holder },
        WorkspaceIdSchema.parse(data.workspaceId),
        data.operation,
      );
      log.info(
        {
          workspaceId: data.workspaceId,
          operation: data.operation,
          keyId: result.keyId,
          created: result.created,
          code: "KEYS_DONE",
        },
        "keys job",
      );
      return result;
    }),
    { ...connection, concurrency: 1 },
  );
  queueErrors.watch(keys, { component: "worker", queue: "keys" });
  keys.on("failed", (job, err) => log.error({ jobId: job?.id, code: "KEYS_FAILED", err }, "keys job failed"));

  // Notifications of a paused / resumed Skill: one job per channel, claimed under a lease like a run.
  const notifications = new Worker(
    queues.name("notifications"),
    active.track(
      createNotificationProcessor({
        database,
        provider,
        holder,
        log,
        leaseSeconds: config.WORKER_LEASE_SECONDS,
        channels: {
          smtp:
            config.PRAXA_SMTP_URL === undefined ? null : { url: config.PRAXA_SMTP_URL, from: config.PRAXA_SMTP_FROM },
          pagerDutyEventsUrl: config.PRAXA_PAGERDUTY_EVENTS_URL,
          slack: { baseUrl: config.SLACK_BASE_URL, app: slack },
        },
      }),
    ),
    { ...connection, concurrency: 2 },
  );
  queueErrors.watch(notifications, { component: "worker", queue: "notifications" });
  notifications.on("failed", (job, err) =>
    log.warn({ jobId: job?.id, code: "NOTIFICATION_FAILED", err }, "notification job failed"),
  );
  // Replays of recorded decisions (api / CLI requests): claimed under a lease of their own; nothing is posted.
  const replays = new Worker(
    queues.name("replays"),
    active.track(createReplayProcessor({ database, provider, github, slack, holder, log })),
    { ...connection, concurrency: 1 },
  );
  queueErrors.watch(replays, { component: "worker", queue: "replays" });
  replays.on("failed", (job, err) => log.warn({ jobId: job?.id, code: "REPLAY_FAILED", err }, "replay job failed"));
  // SIEM streams: one pass per job, the subscription leased in Postgres (one stream per subscription fleet-wide).
  const siem = new Worker(
    queues.name("siem"),
    active.track(
      createSiemDeliveryProcessor({
        database,
        provider,
        holder,
        log,
        siem: {
          egress: egressPolicy({
            allowCidrs: config.PRAXA_EGRESS_ALLOW_CIDRS,
            requireHttps: config.NODE_ENV === "production",
          }),
          leaseSeconds: config.SIEM_LEASE_SECONDS,
          retryBaseMs: config.SIEM_RETRY_BASE_MS,
          retryMaxMs: config.SIEM_RETRY_MAX_MS,
          maxFailingSeconds: config.SIEM_DISABLE_AFTER_SECONDS,
          maxBatchesPerPass: config.SIEM_BATCHES_PER_PASS,
        },
        auditWriter,
        // The workspace's channels are told through the notification outbox: enqueue what the disabling recorded.
        onDisabled: async ({ notificationIds }) => {
          for (const id of notificationIds)
            await enqueue(queues, "notification", { notificationId: id }, { jobId: id }, { timeoutMs: 2_000 }).catch(
              (err: unknown) => log.warn({ code: "NOTIFICATION_ENQUEUE_FAILED", err }, "left to the outbox reconciler"),
            );
        },
      }),
    ),
    { ...connection, concurrency: 4 },
  );
  queueErrors.watch(siem, { component: "worker", queue: "siem" });
  siem.on("failed", (job, err) =>
    log.warn({ jobId: job?.id, code: "SIEM_JOB_FAILED", err }, "SIEM delivery job failed"),
  );
  const off = unconfiguredSummary(workerIntegrations(config));
  if (off)
    log.info(
      { code: "INTEGRATIONS_NOT_CONFIGURED", ...off },
      "integrations not configured: runs that need one fail with INTEGRATION_NOT_CONFIGURED",
    );
  log.info(
    { code: "WORKER_STARTED", concurrency: config.WORKER_CONCURRENCY, github: github !== null, slack: slack !== null },
    "worker running",
  );
  return {
    config,
    close: async () => {
      // Stop taking jobs; in-flight runs finish within the grace period (their steps are durable regardless: a run
      // cut short is replayed by the next claim once its lease expires).
      await dispatcher.stop();
      const closed = await closeWorkers(
        [runs, keys, notifications, replays, siem],
        active,
        config.WORKER_SHUTDOWN_GRACE_MS,
      );
      if (!closed.drained)
        log.warn(
          { code: "WORKER_SHUTDOWN_ABANDONED", jobs: closed.abandoned, graceMs: config.WORKER_SHUTDOWN_GRACE_MS },
          "jobs still running at the end of the grace period: left to their leases",
        );
      await queues.close().catch(() => undefined);
      redis.disconnect();
      stopAuditBacklog();
      await auditWriter.close();
      await database.close();
      await telemetry.shutdown();
      await metrics.shutdown();
    },
  };
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  runProcess("praxa-worker", () => startWorker(process.env), { closeTimeoutMs: 60_000 });
}
