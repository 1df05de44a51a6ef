#!/usr/bin/env node
/**
 * The api process. Its config slice holds nothing that opens a credential (it seals, never opens). It signs the
 * audit events of the changes it makes (a Skill paused or resumed by an admin, and every administrative change:
 * tokens, BYOK keys, channels, trigger secrets, the redaction policy, installs; a run cancelled or redriven) with its
 * own Ed25519 key.
 */
import { fileURLToPath } from "node:url";
import { egressPolicy } from "@praxa/egress";
import { createObjectStore, parseObjectStoreSettings } from "@praxa/object-store";
import type { NotificationId } from "@praxa/core";
import { apiIntegrations, bootConfig, redisTarget, unconfiguredSummary, type ApiConfig } from "@praxa/config";
import { loadAuditSigningKey } from "@praxa/crypto";
import { createDatabase, registerAuditKey } from "@praxa/db";
import { createLogger, runProcess, startHealthServer, startMetrics, startTelemetry } from "@praxa/observability";
import { createQueues, createRedis, enqueue, queueErrorLogger } from "@praxa/queue";
import { redisVerifyGate } from "./audit-verify-gate.js";
import { runJobRemover } from "./run-jobs.js";
import type { InstallConfig } from "./install-config.js";
import { buildApiServer } from "./server.js";

/** The bot-user install settings of the api's slice; a provider missing any of its settings stays unconfigured. */
export function installConfig(config: ApiConfig): InstallConfig {
  const {
    SLACK_CLIENT_ID: clientId,
    SLACK_CLIENT_SECRET: clientSecret,
    GITHUB_APP_ID: appId,
    GITHUB_APP_PRIVATE_KEY: privateKeyPem,
    GITHUB_APP_SLUG: slug,
  } = config;
  return {
    publicUrl: config.API_PUBLIC_URL,
    ...(clientId && clientSecret
      ? {
          slack: {
            clientId,
            clientSecret,
            baseUrl: config.SLACK_BASE_URL,
            ...(config.SLACK_BOT_SCOPES ? { botScopes: config.SLACK_BOT_SCOPES.split(",") } : {}),
          },
        }
      : {}),
    ...(appId && privateKeyPem && slug
      ? { github: { appId, privateKeyPem, baseUrl: config.GITHUB_API_URL, slug, webUrl: config.GITHUB_WEB_URL } }
      : {}),
  };
}

export async function startApi(env: NodeJS.ProcessEnv): Promise<{ url: string; close: () => Promise<void> }> {
  const config = await bootConfig("api", { env, envFile: ".env" });
  const log = createLogger({ name: "praxa-api", level: config.LOG_LEVEL });
  const off = unconfiguredSummary(apiIntegrations(config));
  if (off)
    log.info(
      { code: "INTEGRATIONS_NOT_CONFIGURED", ...off },
      "integrations not configured: their install routes answer 404 INTEGRATION_NOT_CONFIGURED",
    );
  const telemetry = startTelemetry({
    serviceName: config.OTEL_SERVICE_NAME ?? "praxa-api",
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
  const database = createDatabase(config.API_DATABASE_URL, { max: 10, applicationName: "praxa-api" });
  const signing = loadAuditSigningKey({
    pem: config.PRAXA_AUDIT_SIGNING_KEY,
    path: config.PRAXA_AUDIT_SIGNING_KEY_FILE,
    production: config.NODE_ENV === "production",
  });
  await registerAuditKey(database, {
    keyId: signing.keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: signing.spki,
  });
  // Every queue and connection reports its `error` events to the log (never console.error).
  const queueErrors = queueErrorLogger(log);
  const redis = queueErrors.watch(createRedis(redisTarget(config), "producer"), { component: "redis" });
  const queues = createQueues(redis, config.PRAXA_QUEUE_PREFIX, { errors: queueErrors });
  // Metrics: GET /metrics on the internal PRAXA_HEALTH_PORT (never the public port); OTLP when an endpoint is set.
  const metrics = startMetrics({
    serviceName: config.OTEL_SERVICE_NAME ?? "praxa-api",
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    exportIntervalMs: config.OTEL_METRIC_EXPORT_INTERVAL,
  });
  const enqueueNotifications = async (ids: readonly NotificationId[]): Promise<void> => {
    for (const notificationId of ids) {
      // The notification row is committed: a failed enqueue is left to the monitor's outbox reconciler.
      await enqueue(queues, "notification", { notificationId }, { jobId: notificationId }, { timeoutMs: 1_500 }).catch(
        (err: unknown) =>
          log.warn(
            { notificationId, code: "ENQUEUE_DEFERRED", err },
            "notification enqueue failed; the reconciler will pick it up",
          ),
      );
    }
  };
  // A replay request is committed first; its job carries only the request id (a lost enqueue leaves it queued).
  const enqueueReplay = async (replayId: string): Promise<void> => {
    await enqueue(queues, "replay", { replayId }, { jobId: replayId }, { timeoutMs: 1_500 }).catch((err: unknown) =>
      log.warn({ replayId, code: "ENQUEUE_DEFERRED", err }, "replay enqueue failed; the request stays queued"),
    );
  };
  // Runs cancelled while queued: their jobs are removed after the commit, best effort (run-jobs.ts).
  const removeRunJobs = runJobRemover(queues, log);
  // Rate limits and the audit-verify gate count on their own connection, failing fast while Redis is away (no offline
  // queue): the limits then fail open, verifications are refused (rate-limit.ts, audit-verify.ts).
  const limitsRedis = createRedis(redisTarget(config), "producer", {
    enableOfflineQueue: false,
    commandTimeout: 1_000,
  });
  limitsRedis.on("error", () => undefined); // reported per request (RATE_LIMIT_UNAVAILABLE, AUDIT_VERIFY_UNAVAILABLE)
  const limits = {
    redis: limitsRedis,
    prefix: config.PRAXA_QUEUE_PREFIX,
    limits: {
      perIpPerMinute: config.API_RATE_PER_IP_PER_MINUTE,
      perTokenPerMinute: config.API_RATE_PER_TOKEN_PER_MINUTE,
      verifyFullPerHour: config.API_AUDIT_VERIFY_FULL_PER_HOUR,
    },
    verifyGate: redisVerifyGate(limitsRedis, config.PRAXA_QUEUE_PREFIX, {
      concurrency: config.API_AUDIT_VERIFY_CONCURRENCY,
      memoSeconds: config.API_AUDIT_VERIFY_MEMO_SECONDS,
    }),
    trustProxy: config.API_TRUST_PROXY,
  };
  // The object store (local directory by default, S3 in production): exports are downloaded from it.
  // Not fatal: without it (a read-only disk and no S3 settings) the rest runs; what needs it waits and says so.
  const objects = await createObjectStore(parseObjectStoreSettings(env)).catch((err: unknown) => {
    log.error({ code: "OBJECT_STORE_UNAVAILABLE", err }, "the object store could not be opened");
    return undefined;
  });
  const app = await buildApiServer({
    database,
    log,
    ...(objects ? { objects } : {}),
    install: installConfig(config),
    auditSigner: { keyId: signing.keyId, privateKey: signing.privateKey },
    siem: {
      egress: egressPolicy({
        allowCidrs: config.PRAXA_EGRESS_ALLOW_CIDRS,
        requireHttps: config.NODE_ENV === "production",
      }),
    },
    enqueueNotifications,
    enqueueReplay,
    removeRunJobs,
    limits,
    ...(telemetry.enabled ? { tracer: telemetry.tracer } : {}),
    console: {
      publicUrl: config.API_PUBLIC_URL,
      staticRoot: config.CONSOLE_STATIC_DIR ?? fileURLToPath(new URL("../../web/dist", import.meta.url)),
      production: config.NODE_ENV === "production",
      ...(config.CONSOLE_OIDC_ISSUER && config.CONSOLE_OIDC_CLIENT_ID
        ? {
            oidc: {
              issuer: config.CONSOLE_OIDC_ISSUER,
              clientId: config.CONSOLE_OIDC_CLIENT_ID,
              clientSecret: config.CONSOLE_OIDC_CLIENT_SECRET,
            },
          }
        : {}),
    },
  });
  const url = await app.listen({ port: config.API_PORT, host: process.env.API_HOST ?? "0.0.0.0" });
  const internal = await startHealthServer(env, {
    postgres: () => database.sql`select 1`.then(() => true),
    redis: async () => (await redis.ping()) === "PONG",
  });
  log.info({ port: config.API_PORT }, "api listening");
  return {
    url,
    close: async () => {
      await app.close();
      await internal?.close();
      await queues.close();
      redis.disconnect();
      limitsRedis.disconnect();
      await database.close();
      await telemetry.shutdown();
      await metrics.shutdown();
    },
  };
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  runProcess("praxa-api", () => startApi(process.env));
}
