/**
 * One config slice per app, each composed of the shared parts it needs and nothing more: the api's slice holds no
 * key-provider setting and no credential that opens anything (it can seal, never open).
 */
import { z } from "zod";
import {
  anthropicPart,
  apiLimitsPart,
  auditSigningPart,
  bool,
  commonPart,
  databasePart,
  egressPart,
  githubAppPart,
  githubWebhookPart,
  keyProviderPart,
  keyProviderRules,
  modelEndpointsPart,
  notifyPart,
  portPart,
  redisPart,
  siemDeliveryPart,
  slackOAuthPart,
  slackSigningPart,
} from "./parts.js";

/** The operator's slice (migrations and operator commands): the owner URL, and the key operator events are signed with. */
export const migrateConfigSchema = commonPart.extend(databasePart("DATABASE_URL").shape).extend(auditSigningPart.shape);

export const ingestConfigSchema = commonPart
  .extend(databasePart("INGEST_DATABASE_URL").shape)
  .extend(redisPart.shape)
  .extend(portPart("INGEST_PORT", 3001).shape)
  .extend({
    INGEST_BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(5 * 1024 * 1024),
    /** After verification: runs per workspace per second before jobs are delayed (never dropped). */
    INGEST_WORKSPACE_RATE_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(20),
    /** Before verification: requests per source IP per minute that FAIL verification before 429. */
    INGEST_UNVERIFIED_RATE_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(60),
    /** Before verification, signed producers only: requests per Skill per minute (all sources) that FAIL verification before 429. */
    INGEST_UNVERIFIED_RATE_PER_SKILL_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
    /** Behind a load balancer that sets X-Forwarded-For: trust it for the client address (never on a bare host). */
    INGEST_TRUST_PROXY: bool(false),
    /** The ingest fleet's X25519 key that opens signed-producer (`whsec_`) secrets; created 0600 on first run (not in production). */
    INGEST_TRIGGER_KEY_FILE: z.string().min(1).default(".praxa/ingest-trigger.key"),
    /** The same key as a value (the key file's JSON), from the ingest secret in production; wins over the file. */
    INGEST_TRIGGER_KEY: z.string().min(1).optional(),
  })
  .extend(githubWebhookPart.shape)
  .extend(slackSigningPart.shape);

export const workerConfigSchema = commonPart
  .extend(databasePart("WORKER_DATABASE_URL").shape)
  .extend(auditSigningPart.shape)
  .extend(redisPart.shape)
  .extend({
    WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
    /**
     * A run's lease, renewed every third of it while the run lives. A dead worker's run is handed back by the next
     * dispatch pass after it expires, so this bounds recovery (default 12 s: recovered in about 13 s).
     */
    WORKER_LEASE_SECONDS: z.coerce.number().int().min(5).max(3600).default(12),
    /** Claims of a run in all before a transient failure is final (throttled claims do not count). */
    WORKER_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
    /** A run throttled (429/529, GitHub or Slack rate limit) more times than this fails with the throttle's code. */
    WORKER_MAX_THROTTLE_DEFERRALS: z.coerce.number().int().min(1).max(100_000).default(100),
    /** Time between dispatch passes when nothing else triggers one (a freed slot, a new run). */
    WORKER_DISPATCH_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(500),
    /** On SIGTERM: stop taking jobs, let in-flight runs finish within this bound (steps are durable either way). */
    /** BullMQ's job lock and stalled-job check period: a dead worker's job is handed on after this (default 30 s). */
    WORKER_STALLED_INTERVAL_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
    WORKER_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(20_000),
  })
  .extend(keyProviderPart.shape)
  .extend(githubAppPart.shape)
  .extend(slackOAuthPart.shape)
  .extend(anthropicPart.shape)
  .extend(modelEndpointsPart.shape)
  .extend(notifyPart.shape)
  .extend(egressPart.shape)
  .extend(siemDeliveryPart.shape)
  .superRefine(keyProviderRules);

export const monitorConfigSchema = commonPart
  .extend(databasePart("MONITOR_DATABASE_URL").shape)
  .extend(auditSigningPart.shape)
  .extend(redisPart.shape)
  .extend(keyProviderPart.shape)
  .superRefine(keyProviderRules);

export const apiConfigSchema = commonPart
  .extend(databasePart("API_DATABASE_URL").shape)
  .extend(auditSigningPart.shape)
  .extend(redisPart.shape)
  .extend(portPart("API_PORT", 3002).shape)
  .extend({
    /** Where browsers reach the api: the OAuth callbacks' redirect URIs are built from it. */
    API_PUBLIC_URL: z.url().default("http://127.0.0.1:3002"),
    GITHUB_APP_SLUG: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,99}$/)
      .optional(),
    /** Where the App's install page lives (https://github.com, a GitHub Enterprise Server, or the sandbox). */
    GITHUB_WEB_URL: z.url().default("https://github.com"),
    /** Bot scopes the Slack install asks for; default: what the workspace's Skills need, plus chat:write. */
    SLACK_BOT_SCOPES: z
      .string()
      .regex(/^[a-z:._-]+(,[a-z:._-]+)*$/)
      .optional(),
    /**
     * The console's single sign-on (OpenID Connect, code + PKCE): the IdP's issuer URL and this deployment's client.
     * Unset: no SSO (sign-in links from `praxa console login` still work outside production). The redirect URI to
     * register at the IdP is API_PUBLIC_URL + /auth/callback.
     */
    CONSOLE_OIDC_ISSUER: z.url().optional(),
    CONSOLE_OIDC_CLIENT_ID: z.string().min(1).max(255).optional(),
    /** A confidential client's secret (a secret: from Secrets Manager in production); unset: a public client. */
    CONSOLE_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
    /** Where the built console is (default: apps/web/dist beside the api); missing: the api serves no pages. */
    CONSOLE_STATIC_DIR: z.string().min(1).optional(),
  })
  .extend(apiLimitsPart.shape)
  .extend(egressPart.shape)
  // The GitHub App key signs App JWTs for one call, the installation lookup at install time (it opens no sealed
  // credential; see docs/security.md on what it could mint and why it is accepted here).
  .extend(githubAppPart.shape)
  .extend(slackOAuthPart.shape);

export const APP_CONFIG_SCHEMAS = {
  migrate: migrateConfigSchema,
  ingest: ingestConfigSchema,
  worker: workerConfigSchema,
  monitor: monitorConfigSchema,
  api: apiConfigSchema,
} as const;

export type AppName = keyof typeof APP_CONFIG_SCHEMAS;
export type MigrateConfig = Readonly<z.output<typeof migrateConfigSchema>>;
export type IngestConfig = Readonly<z.output<typeof ingestConfigSchema>>;
export type WorkerConfig = Readonly<z.output<typeof workerConfigSchema>>;
export type MonitorConfig = Readonly<z.output<typeof monitorConfigSchema>>;
export type ApiConfig = Readonly<z.output<typeof apiConfigSchema>>;
export type AppConfig<A extends AppName> = Readonly<z.output<(typeof APP_CONFIG_SCHEMAS)[A]>>;
