/**
 * Shared parts that each app's config slice is composed from. Keys are the environment variable names (documented in
 * `.env.example`); each part turns its keys into a typed, structured value.
 */
import { z } from "zod";

const postgresUrl = z
  .string()
  .min(1, "required")
  .refine((v) => /^postgres(ql)?:\/\//.test(v), "must be a postgres:// URL");

const redisUrl = z
  .string()
  .min(1, "required")
  .refine((v) => /^rediss?:\/\//.test(v), "must be a redis:// or rediss:// URL");

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

const bool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no", ""])
    .default(fallback ? "true" : "false")
    .transform((v) => v === "true" || v === "1" || v === "yes");

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export const commonPart = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  /** How often metrics are pushed over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (ms; the OTel SDK's variable). */
  OTEL_METRIC_EXPORT_INTERVAL: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
});

/** One seed `host:port` of a Redis Cluster (a name, an IPv4 address, or an IPv6 address in brackets). */
const CLUSTER_NODE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** `host:port,host:port,…` → seeds; any seed will do, the client discovers the rest of the cluster from it. */
const clusterNodes = z.string().transform((v, ctx) => {
  const nodes: { host: string; port: number }[] = [];
  for (const part of v.split(",")) {
    const m = CLUSTER_NODE.exec(part.trim());
    const port = Number(m?.[2]);
    if (!m?.[1] || !(port >= 1 && port <= 65535)) {
      ctx.addIssue({ code: "custom", message: "must be comma-separated host:port seeds of a Redis Cluster" });
      return z.NEVER;
    }
    nodes.push({ host: m[1].replace(/^\[|\]$/g, ""), port });
  }
  return nodes;
});

/**
 * A key prefix: letters, digits, `: _ -`, and at most one hash tag `{…}` (a Redis Cluster hashes only the tag, so a
 * prefix such as `{praxa}` puts every key in one slot; without one, each queue's name carries its own tag).
 */
const queuePrefix = z
  .string()
  .regex(/^[A-Za-z0-9:_{}-]{1,64}$/, "letters, digits, : _ - and one {hash tag} only")
  .refine(
    (v) => !/[{}]/.test(v) || /^[^{}]*\{[^{}]+\}[^{}]*$/.test(v),
    "at most one {hash tag}, non-empty, its braces balanced",
  );

export const redisPart = z.object({
  REDIS_URL: redisUrl.default("redis://127.0.0.1:6379"),
  /**
   * A Redis Cluster (ElastiCache cluster mode): comma-separated `host:port` seeds. When set, every Redis connection is
   * a cluster connection and REDIS_URL is not read.
   */
  REDIS_CLUSTER_NODES: clusterNodes.optional(),
  /** TLS to every cluster node (ElastiCache in-transit encryption). */
  REDIS_CLUSTER_TLS: bool(false),
  /** AUTH for every cluster node: the ElastiCache AUTH token (a secret), and an RBAC user name if any. */
  REDIS_CLUSTER_PASSWORD: z.string().min(1).optional(),
  REDIS_CLUSTER_USERNAME: z.string().min(1).optional(),
  /** Key prefix for every BullMQ key; tests use their own so they never touch the demo's queues. */
  PRAXA_QUEUE_PREFIX: queuePrefix.default("praxa"),
  /** Managed Redis that hides CONFIG: skip the maxmemory-policy check (you must set noeviction yourself). */
  PRAXA_SKIP_REDIS_POLICY_CHECK: bool(false),
});

export type RedisSettings = Readonly<z.output<typeof redisPart>>;

/** Where to connect: a URL (one server) or a cluster — the shape `createRedis` of @praxa/queue takes. */
export type RedisConnectionTarget =
  | string
  | {
      readonly clusterNodes: readonly { readonly host: string; readonly port: number }[];
      readonly tls: boolean;
      readonly username: string | undefined;
      readonly password: string | undefined;
    };

export function redisTarget(config: RedisSettings): RedisConnectionTarget {
  if (config.REDIS_CLUSTER_NODES === undefined) return config.REDIS_URL;
  return {
    clusterNodes: config.REDIS_CLUSTER_NODES,
    tls: config.REDIS_CLUSTER_TLS,
    username: config.REDIS_CLUSTER_USERNAME,
    password: config.REDIS_CLUSTER_PASSWORD,
  };
}

export const keyProviderPart = z.object({
  /**
   * `aws-kms` (required in production); `local` (the key file, the default) for development, the demo and embedded
   * installs — in production only with PRAXA_ALLOW_LOCAL_KEY_FILE_IN_PRODUCTION=true (see `keyProviderRules`).
   */
  PRAXA_KEY_PROVIDER: z.enum(["local", "aws-kms"]).default("local"),
  /** LocalKeyProvider's master key file; created on first run with mode 0600 — except in production, where it must exist. */
  PRAXA_KEY_FILE: z.string().min(1).default(".praxa/master.key"),
  /** A self-hosted production install that keeps its root key in a file it backs up: the explicit, logged opt-in. */
  PRAXA_ALLOW_LOCAL_KEY_FILE_IN_PRODUCTION: bool(false),
  /** aws-kms: the symmetric ENCRYPT_DECRYPT key (SYMMETRIC_DEFAULT) that wraps data keys: key id, ARN, alias or alias ARN. */
  PRAXA_KMS_WRAP_KEY_ID: z.string().min(1).optional(),
  /** aws-kms: the asymmetric SIGN_VERIFY key (ECC_NIST_P256 → ECDSA_SHA_256, or ECC_NIST_EDWARDS25519) that signs checkpoints. */
  PRAXA_KMS_SIGN_KEY_ID: z.string().min(1).optional(),
  /** Replaced by the two above (one KMS key cannot both encrypt and sign); set → a config error naming the new ones. */
  PRAXA_KMS_KEY_ID: z.string().min(1).optional(),
  AWS_REGION: z.string().min(1).optional(),
  /** Only for tests and the offline demo: a loopback KMS endpoint. */
  PRAXA_KMS_ENDPOINT: z.url().optional(),
});

type KeyProviderInput = z.output<typeof keyProviderPart> & { readonly NODE_ENV: "development" | "production" | "test" };

/**
 * The rules of the key-provider settings, checked at boot by the apps that open keys (worker, monitor). Each issue
 * names the variable and never a value:
 * - production: `aws-kms`, or `local` with PRAXA_ALLOW_LOCAL_KEY_FILE_IN_PRODUCTION=true — never the silent default
 *   (a key file made inside an ephemeral container is lost at its restart, and every key wrapped under it with it);
 * - `aws-kms`: PRAXA_KMS_WRAP_KEY_ID and PRAXA_KMS_SIGN_KEY_ID, two different keys (KMS gives a key one usage);
 * - PRAXA_KMS_KEY_ID is gone: refused, naming its replacements.
 */
export function keyProviderRules(cfg: KeyProviderInput, ctx: z.core.$RefinementCtx): void {
  const issue = (key: string, message: string): void => ctx.addIssue({ code: "custom", path: [key], message });
  if (cfg.PRAXA_KMS_KEY_ID !== undefined) {
    issue(
      "PRAXA_KMS_KEY_ID",
      "no longer read: set PRAXA_KMS_WRAP_KEY_ID (a symmetric ENCRYPT_DECRYPT key) and PRAXA_KMS_SIGN_KEY_ID (an asymmetric SIGN_VERIFY key) instead",
    );
  }
  const kind = cfg.PRAXA_KEY_PROVIDER;
  if (cfg.NODE_ENV === "production" && kind === "local" && !cfg.PRAXA_ALLOW_LOCAL_KEY_FILE_IN_PRODUCTION) {
    issue(
      "PRAXA_KEY_PROVIDER",
      "must be aws-kms in production (unset means local, which is refused there unless PRAXA_ALLOW_LOCAL_KEY_FILE_IN_PRODUCTION=true for a self-hosted key file you back up)",
    );
  }
  if (kind === "aws-kms") {
    if (cfg.PRAXA_KMS_WRAP_KEY_ID === undefined)
      issue("PRAXA_KMS_WRAP_KEY_ID", "required when PRAXA_KEY_PROVIDER=aws-kms (a symmetric ENCRYPT_DECRYPT key)");
    if (cfg.PRAXA_KMS_SIGN_KEY_ID === undefined)
      issue(
        "PRAXA_KMS_SIGN_KEY_ID",
        "required when PRAXA_KEY_PROVIDER=aws-kms (an asymmetric SIGN_VERIFY key, ECC_NIST_P256)",
      );
    if (cfg.PRAXA_KMS_WRAP_KEY_ID !== undefined && cfg.PRAXA_KMS_WRAP_KEY_ID === cfg.PRAXA_KMS_SIGN_KEY_ID) {
      issue(
        "PRAXA_KMS_SIGN_KEY_ID",
        "must name a different key than PRAXA_KMS_WRAP_KEY_ID: a KMS key either encrypts (ENCRYPT_DECRYPT) or signs (SIGN_VERIFY), never both",
      );
    }
  }
}

/** The Ed25519 key an appending app signs audit events with: a PEM (from Secrets Manager) or a local file. */
export const auditSigningPart = z.object({
  PRAXA_AUDIT_SIGNING_KEY: z
    .string()
    .refine((v) => v.includes("PRIVATE KEY"), "must be a PKCS#8 PEM private key")
    .optional(),
  PRAXA_AUDIT_SIGNING_KEY_FILE: z.string().min(1).default(".praxa/audit-signing.key"),
  /** Sign a checkpoint every N appended events of a workspace. */
  PRAXA_AUDIT_CHECKPOINT_EVERY: z.coerce.number().int().min(1).max(1_000_000).default(1000),
});

/** One database URL per app role: each app connects as its own role. */
export const databasePart = <K extends string>(key: K) =>
  z.object({ [key]: postgresUrl } as { [P in K]: typeof postgresUrl });

export const portPart = <K extends string>(key: K, fallback: number) =>
  z.object({ [key]: port(fallback) } as { [P in K]: ReturnType<typeof port> });

/** Optional: without it ingest answers `/webhooks/github` with 404 INTEGRATION_NOT_CONFIGURED. */
export const githubWebhookPart = z.object({
  GITHUB_WEBHOOK_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  GITHUB_APP_ID: z.coerce.number().int().positive().optional(),
});

/** Optional: without it ingest answers `/webhooks/slack/*` with 404 INTEGRATION_NOT_CONFIGURED. */
export const slackSigningPart = z.object({
  SLACK_SIGNING_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
});

export const githubAppPart = z.object({
  GITHUB_APP_ID: z.coerce.number().int().positive().optional(),
  GITHUB_APP_PRIVATE_KEY: z
    .string()
    .refine((v) => v.includes("PRIVATE KEY"), "must be a PEM private key")
    .optional(),
  /** Base URL of the GitHub API (GitHub Enterprise Server, or the sandbox in the offline demo). */
  GITHUB_API_URL: z.url().default("https://api.github.com"),
});

/** The Slack app's OAuth client: the api exchanges install codes, the worker refreshes rotating bot tokens. */
export const slackOAuthPart = z.object({
  SLACK_CLIENT_ID: z.string().min(1).optional(),
  SLACK_CLIENT_SECRET: z.string().min(1).optional(),
  /** https://slack.com (Web API under /api/, authorize page under /oauth/v2/authorize), or the sandbox. */
  SLACK_BASE_URL: z.url().default("https://slack.com"),
});

/**
 * Where notifications go out (the worker delivers them): the platform's SMTP relay for email channels (its URL may
 * carry credentials: from Secrets Manager in production) and PagerDuty's Events API (overridable only for the sandbox
 * and tests). Slack messages go through SLACK_BASE_URL (the Slack OAuth part).
 */
export const notifyPart = z.object({
  PRAXA_SMTP_URL: z
    .string()
    .refine((v) => /^smtps?:\/\/[^\s]+$/.test(v), "must be an smtp:// or smtps:// URL")
    .optional(),
  PRAXA_SMTP_FROM: z.string().min(3).max(320).default("Praxa <praxa@localhost>"),
  PRAXA_PAGERDUTY_EVENTS_URL: z.url().default("https://events.pagerduty.com/v2/enqueue"),
});

/**
 * Requests to customer-given URLs (SIEM streams, Skill callbacks) go through packages/egress: only public addresses,
 * unless the operator allows ranges here (comma- or space-separated CIDRs; empty by default — tests, self-host).
 * Production sends https only.
 */
export const egressPart = z.object({
  PRAXA_EGRESS_ALLOW_CIDRS: z
    .string()
    .regex(/^[0-9a-fA-F:./,\s]*$/, "comma- or space-separated CIDR ranges")
    .optional(),
  /** Bound on one outbound exchange to a Skill's callback (resolve, connect, send, receive). */
  PRAXA_EGRESS_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
});

/** SIEM delivery (the worker): the lease per stream, the retry backoff, and when a failing stream is disabled. */
export const siemDeliveryPart = z.object({
  SIEM_LEASE_SECONDS: z.coerce.number().int().min(5).max(600).default(30),
  SIEM_RETRY_BASE_MS: z.coerce.number().int().min(10).max(600_000).default(1_000),
  SIEM_RETRY_MAX_MS: z.coerce.number().int().min(100).max(86_400_000).default(600_000),
  /** Batches one delivery pass sends before the subscription's lease is released for the next pass. */
  SIEM_BATCHES_PER_PASS: z.coerce.number().int().min(1).max(10_000).default(50),
  /** A stream failing for longer than this is disabled and the workspace's notification channels are told. */
  SIEM_DISABLE_AFTER_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(30 * 86_400)
    .default(86_400),
});

export const anthropicPart = z.object({
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  ANTHROPIC_BASE_URL: z.url().optional(),
});

/**
 * Where the worker reaches the BYOK model providers when not their public endpoints: loopback servers in tests, a VPC
 * endpoint or gateway in production. Never from a workspace's credential (a credential cannot point the worker at a
 * URL). docs/models.md.
 */
export const modelEndpointsPart = z.object({
  /** Bedrock Runtime (default `https://bedrock-runtime.<region>.amazonaws.com`). */
  BEDROCK_BASE_URL: z.url().optional(),
  /** STS, for assuming a workspace's Bedrock role (default: the regional STS endpoint). */
  BEDROCK_STS_ENDPOINT: z.url().optional(),
  /** Vertex AI, including `/v1` (default `https://<region>-aiplatform.googleapis.com/v1`). */
  VERTEX_BASE_URL: z.url().optional(),
  /** Google's OAuth token endpoint for the service-account exchange (default `https://oauth2.googleapis.com/token`). */
  VERTEX_TOKEN_URL: z.url().optional(),
});

export { bool, postgresUrl, redisUrl, port };

/**
 * The api's rate limits, held in Redis so they bind across api processes (docs/operations.md). Per source address on
 * every request before anything touches the database; per token once it authenticated; full audit verifications per
 * workspace; audit verifications at once per workspace.
 */
export const apiLimitsPart = z.object({
  API_RATE_PER_IP_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(1200),
  API_RATE_PER_TOKEN_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
  API_AUDIT_VERIFY_FULL_PER_HOUR: z.coerce.number().int().min(1).max(10_000).default(6),
  API_AUDIT_VERIFY_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  /** How long a "verified up to checkpoint T" memo stands before the next verify reads the whole chain again. */
  API_AUDIT_VERIFY_MEMO_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(86_400),
  /** Behind a load balancer that sets X-Forwarded-For: trust it for the client address (never on a bare host). */
  API_TRUST_PROXY: bool(false),
});
