#!/usr/bin/env node
/**
 * The ingest process: config once at boot, one Postgres pool as praxa_ingest, one Redis connection, the HTTP server.
 * SIGTERM/SIGINT: stop accepting, finish in-flight requests, close pools.
 */
import { bootConfig, ingestIntegrations, redisTarget, unconfiguredSummary } from "@praxa/config";
import { createDatabase, registerIngestKey } from "@praxa/db";
import {
  createLogger,
  runProcess,
  startHealthServer,
  startMetrics,
  startTelemetry,
  type DestinationStream,
  type SpanExporter,
} from "@praxa/observability";
import { createQueues, createRedis, queueErrorLogger } from "@praxa/queue";
import { buildIngestServer } from "./server.js";
import { loadIngestTriggerKey } from "./trigger-key.js";
import { createUnverifiedLimiter } from "./unverified-limiter.js";
import { createWorkspaceLimiter } from "./workspace-limiter.js";

export async function startIngest(
  env: NodeJS.ProcessEnv,
  options: {
    readonly logDestination?: DestinationStream;
    /** Export spans here instead of OTLP (tests); always behind the filtering exporter. */
    readonly spanExporter?: SpanExporter;
  } = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const config = await bootConfig("ingest", { env, envFile: ".env" });
  const log = createLogger({
    name: "praxa-ingest",
    level: config.LOG_LEVEL,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  const off = unconfiguredSummary(ingestIntegrations(config));
  if (off)
    log.info(
      { code: "INTEGRATIONS_NOT_CONFIGURED", ...off },
      "integrations not configured: their routes answer 404 INTEGRATION_NOT_CONFIGURED",
    );
  const telemetry = startTelemetry({
    serviceName: config.OTEL_SERVICE_NAME ?? "praxa-ingest",
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    ...(options.spanExporter ? { exporter: options.spanExporter } : {}),
  });
  const database = createDatabase(config.INGEST_DATABASE_URL, { max: 10, applicationName: "praxa-ingest" });
  const redis = createRedis(redisTarget(config), "producer");
  // Reported through readiness and enqueue failures, and logged (throttled) — never as unhandled events.
  const queueErrors = queueErrorLogger(log);
  queueErrors.watch(redis, { component: "redis" });
  const queues = createQueues(redis, config.PRAXA_QUEUE_PREFIX, { errors: queueErrors });
  // Metrics (accepted / refused by code): GET /metrics on the internal PRAXA_HEALTH_PORT, never on the public port.
  const metrics = startMetrics({
    serviceName: config.OTEL_SERVICE_NAME ?? "praxa-ingest",
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    exportIntervalMs: config.OTEL_METRIC_EXPORT_INTERVAL,
  });
  const triggerKey = await loadIngestTriggerKey({
    file: config.INGEST_TRIGGER_KEY_FILE,
    value: config.INGEST_TRIGGER_KEY,
    production: config.NODE_ENV === "production",
  });
  let limiterWarnedAt = 0;
  await registerIngestKey(database, triggerKey.keyId, Buffer.from(triggerKey.publicKey));
  const app = await buildIngestServer({
    config,
    database,
    queues,
    limiter: createWorkspaceLimiter(redis, config.PRAXA_QUEUE_PREFIX, config.INGEST_WORKSPACE_RATE_PER_SECOND),
    log,
    ...(telemetry.enabled ? { tracer: telemetry.tracer } : {}),
    now: Date.now,
    githubAppId: config.GITHUB_APP_ID,
    triggerKey,
    unverifiedLimiter: createUnverifiedLimiter(
      redis,
      config.PRAXA_QUEUE_PREFIX,
      {
        perSourcePerMinute: config.INGEST_UNVERIFIED_RATE_PER_MINUTE,
        perSkillPerMinute: config.INGEST_UNVERIFIED_RATE_PER_SKILL_PER_MINUTE,
      },
      () => {
        // Fails open; say so at most once a minute.
        if (Date.now() - limiterWarnedAt < 60_000) return;
        limiterWarnedAt = Date.now();
        log.warn(
          { code: "RATE_LIMITER_UNAVAILABLE" },
          "the unverified-traffic limiter did not answer in time; requests go on to verification",
        );
      },
    ),
    ready: async () => ({
      postgres: await database.sql`select 1`.then(
        () => true,
        () => false,
      ),
      redis: await redis.ping().then(
        (r) => r === "PONG",
        () => false,
      ),
    }),
  });
  const url = await app.listen({ port: config.INGEST_PORT, host: process.env.INGEST_HOST ?? "0.0.0.0" });
  const internal = await startHealthServer(env, {
    postgres: () => database.sql`select 1`.then(() => true),
    redis: async () => (await redis.ping()) === "PONG",
  });
  log.info({ port: config.INGEST_PORT }, "ingest listening");
  return {
    url,
    close: async () => {
      await app.close();
      await internal?.close();
      await queues.close();
      redis.disconnect();
      await database.close();
      await telemetry.shutdown();
      await metrics.shutdown();
    },
  };
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  runProcess("praxa-ingest", () => startIngest(process.env));
}
