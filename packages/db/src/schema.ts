/**
 * drizzle table definitions, for typed queries. The DDL itself — and the roles, RLS policies and SECURITY DEFINER
 * functions drizzle cannot express (FORCE ROW LEVEL SECURITY: drizzle issue #5819) — lives in the SQL migrations,
 * which are the source of truth; `schema.test.ts` checks the two agree.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  customType,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => "bytea" });
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const tenants = pgTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const workspaces = pgTable("workspaces", {
  id: text("id").primaryKey(),
  tenantId: text("tenant_id").notNull(),
  name: text("name").notNull(),
  auditRetentionDays: integer("audit_retention_days").notNull().default(90),
  auditRedaction: jsonb("audit_redaction")
    .$type<Record<string, unknown>>()
    .notNull()
    .default(sql`'{}'::jsonb`),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const MEMBER_ROLES = ["owner", "admin", "member", "viewer"] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

export const workspaceMembers = pgTable("workspace_members", {
  workspaceId: text("workspace_id").notNull(),
  id: text("id").primaryKey(),
  email: text("email").notNull(),
  displayName: text("display_name"),
  role: text("role", { enum: MEMBER_ROLES }).notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
  /** The member's Slack user (migrations/0031): their click on an Approve / Deny button decides as them. */
  slackUserId: text("slack_user_id"),
});

export const integrations = pgTable("integrations", {
  workspaceId: text("workspace_id").notNull(),
  id: text("id").primaryKey(),
  provider: text("provider", { enum: ["github", "slack"] }).notNull(),
  externalId: text("external_id").notNull(),
  botIdentity: jsonb("bot_identity")
    .$type<Record<string, unknown>>()
    .notNull()
    .default(sql`'{}'::jsonb`),
  grantedScopes: text("granted_scopes")
    .array()
    .notNull()
    .default(sql`'{}'`),
  /** `pending_confirmation`: recorded by an install callback, inert until its installer confirms it (migrations/0022). */
  status: text("status", { enum: ["active", "suspended", "revoked", "pending_confirmation"] })
    .notNull()
    .default("active"),
  createdAt: ts("created_at").notNull().defaultNow(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
  /** The member whose install state completed the OAuth install (migrations/0013). */
  installedBy: text("installed_by"),
  /** While pending: SHA-256 (hex) of the install cookie's nonce, and the confirmation deadline (migrations/0022). */
  confirmBindingSha256: text("confirm_binding_sha256"),
  confirmBy: ts("confirm_by"),
});

export const skills = pgTable("skills", {
  workspaceId: text("workspace_id").notNull(),
  id: text("id").primaryKey(),
  slug: text("slug").notNull(),
  name: text("name").notNull(),
  status: text("status", { enum: ["active", "paused"] })
    .notNull()
    .default("active"),
  pausedReason: text("paused_reason"),
  pausedAt: ts("paused_at"),
  pausedBy: text("paused_by"),
  createdAt: ts("created_at").notNull().defaultNow(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});

export const skillVersions = pgTable("skill_versions", {
  workspaceId: text("workspace_id").notNull(),
  id: text("id").primaryKey(),
  skillId: text("skill_id").notNull(),
  version: integer("version").notNull(),
  manifest: jsonb("manifest").$type<Record<string, unknown>>().notNull(),
  manifestHash: text("manifest_hash").notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const RUN_STATUSES = [
  "queued",
  "running",
  "waiting_approval",
  "succeeded",
  "failed",
  "skipped",
  "cancelled",
  "denied",
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const RUN_SOURCES = ["github", "slack", "trigger", "subagent", "api"] as const;
export type RunSource = (typeof RUN_SOURCES)[number];

export const agentRuns = pgTable("agent_runs", {
  workspaceId: text("workspace_id").notNull(),
  id: text("id").primaryKey(),
  skillId: text("skill_id").notNull(),
  skillVersionId: text("skill_version_id").notNull(),
  parentRunId: text("parent_run_id"),
  trigger: text("trigger").notNull(),
  source: text("source", { enum: RUN_SOURCES }).notNull(),
  sourceDeliveryId: text("source_delivery_id"),
  input: jsonb("input")
    .$type<Record<string, unknown>>()
    .notNull()
    .default(sql`'{}'::jsonb`),
  status: text("status", { enum: RUN_STATUSES }).notNull().default("queued"),
  skipReason: text("skip_reason"),
  attempt: integer("attempt").notNull().default(0),
  errorCode: text("error_code"),
  leaseToken: uuid("lease_token"),
  leaseHolder: text("lease_holder"),
  leaseExpiresAt: ts("lease_expires_at"),
  notBefore: ts("not_before"),
  createdAt: ts("created_at").notNull().defaultNow(),
  startedAt: ts("started_at"),
  finishedAt: ts("finished_at"),
  updatedAt: ts("updated_at").notNull().defaultNow(),
  /** The integration (GitHub installation, Slack team) the verified webhook came through; tokens are minted for it. */
  integrationId: text("integration_id"),
  // Fleet control (migrations/0027): dispatch state, cancellation and redrive.
  dispatchedAt: ts("dispatched_at"),
  dispatchSeq: integer("dispatch_seq").notNull().default(0),
  deferrals: integer("deferrals").notNull().default(0),
  cancelRequestedAt: ts("cancel_requested_at"),
  failureClass: text("failure_class", {
    enum: ["guard", "permanent", "exhausted", "throttled", "integration_gone", "cancelled"],
  }),
  retryOf: text("retry_of"),
  /** The W3C trace context of the ingest request that created the run (migrations/0028); ids only. */
  traceparent: text("traceparent"),
});

export const runSteps = pgTable(
  "run_steps",
  {
    workspaceId: text("workspace_id").notNull(),
    runId: text("run_id").notNull(),
    idx: integer("idx").notNull(),
    kind: text("kind").notNull(),
    idempotencyKey: text("idempotency_key").notNull(),
    status: text("status", { enum: ["started", "completed", "failed"] }).notNull(),
    result: jsonb("result"),
    resultSealed: bytea("result_sealed"),
    createdAt: ts("created_at").notNull().defaultNow(),
    completedAt: ts("completed_at"),
  },
  (t) => [primaryKey({ columns: [t.runId, t.idx] })],
);

export const agentRunEvents = pgTable("agent_run_events", {
  workspaceId: text("workspace_id").notNull(),
  id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
  runId: text("run_id").notNull(),
  meta: jsonb("meta").$type<{ tool_name?: string; ms?: number; code?: string | null; iter?: number }>().notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    source: text("source", { enum: ["github", "slack", "trigger"] }).notNull(),
    deliveryId: text("delivery_id").notNull(),
    bodySha256: text("body_sha256").notNull(),
    workspaceId: text("workspace_id"),
    runIds: text("run_ids").array().notNull(),
    outcome: text("outcome", { enum: ["accepted", "ignored"] }).notNull(),
    receivedAt: ts("received_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.source, t.deliveryId] })],
);

export const memoryFacts = pgTable("memory_facts", {
  workspaceId: text("workspace_id").notNull(),
  id: text("id").primaryKey(),
  namespace: text("namespace").notNull(),
  key: text("key").notNull(),
  value: jsonb("value").notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});

export const auditEvents = pgTable(
  "audit_events",
  {
    workspaceId: text("workspace_id").notNull(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    id: text("id").notNull(),
    kind: text("kind").notNull(),
    skillId: text("skill_id"),
    runId: text("run_id"),
    step: integer("step"),
    trigger: text("trigger").notNull(),
    occurredAt: ts("occurred_at").notNull(),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
    keyId: text("key_id").notNull(),
    signature: text("signature").notNull(),
    canonical: bytea("canonical").notNull(),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.seq] })],
);

export const llmCredentials = pgTable("llm_credentials", {
  workspaceId: text("workspace_id").notNull(),
  id: text("id").primaryKey(),
  provider: text("provider", { enum: ["anthropic", "bedrock", "vertex"] }).notNull(),
  fingerprint: text("fingerprint").notNull(),
  vaultName: text("vault_name").notNull(),
  createdBy: text("created_by").notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const triggerSecrets = pgTable("trigger_secrets", {
  workspaceId: text("workspace_id").notNull(),
  id: text("id").primaryKey(),
  skillId: text("skill_id").notNull(),
  ciphertext: bytea("ciphertext").notNull(),
  keyId: text("key_id").notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
  revokedAt: ts("revoked_at"),
  createdBy: text("created_by"),
  /** The secret's last 4 characters. */
  fingerprint: text("fingerprint"),
});

/** OAuth install states (migrations/0013): only the SHA-256 of the state is stored; single-use, expiring. */
export const oauthStates = pgTable("oauth_states", {
  workspaceId: text("workspace_id").notNull(),
  stateSha256: text("state_sha256").primaryKey(),
  provider: text("provider", { enum: ["github", "slack"] }).notNull(),
  memberId: text("member_id").notNull(),
  redirectUri: text("redirect_uri"),
  createdAt: ts("created_at").notNull().defaultNow(),
  expiresAt: ts("expires_at").notNull(),
  /** SHA-256 (hex) of the nonce in the starting browser's `__Host-praxa_install` cookie (migrations/0022). */
  bindingSha256: text("binding_sha256"),
});

// ── the quality monitor (migrations/0014) ──

export const FEEDBACK_VERDICTS = ["accepted", "rejected"] as const;
export const FEEDBACK_SOURCES = ["slack", "github", "api"] as const;
export const NOTIFY_KINDS = ["slack", "email", "pagerduty"] as const;

export const skillFeedback = pgTable("skill_feedback", {
  workspaceId: text("workspace_id").notNull(),
  id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
  runId: text("run_id").notNull(),
  skillId: text("skill_id").notNull(),
  verdict: text("verdict", { enum: FEEDBACK_VERDICTS }).notNull(),
  source: text("source", { enum: FEEDBACK_SOURCES }).notNull(),
  actorId: text("actor_id").notNull(),
  actorIsBot: boolean("actor_is_bot").notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const skillAcceptance = pgTable("skill_acceptance", {
  workspaceId: text("workspace_id").notNull(),
  skillId: text("skill_id").primaryKey(),
  dirty: boolean("dirty").notNull(),
  decided: integer("decided").notNull(),
  accepted: integer("accepted").notNull(),
  rate: numeric("rate", { mode: "number" }),
  threshold: numeric("threshold", { mode: "number" }),
  windowSize: integer("window_size"),
  minSamples: integer("min_samples"),
  changedAt: ts("changed_at").notNull(),
  evaluatedAt: ts("evaluated_at"),
});

export const skillAcceptanceSamples = pgTable("skill_acceptance_samples", {
  workspaceId: text("workspace_id").notNull(),
  id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
  skillId: text("skill_id").notNull(),
  decided: integer("decided").notNull(),
  accepted: integer("accepted").notNull(),
  rate: numeric("rate", { mode: "number" }).notNull(),
  threshold: numeric("threshold", { mode: "number" }),
  windowSize: integer("window_size"),
  sampledAt: ts("sampled_at").notNull().defaultNow(),
});

export const skillPauses = pgTable("skill_pauses", {
  workspaceId: text("workspace_id").notNull(),
  id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
  skillId: text("skill_id").notNull(),
  cause: text("cause", { enum: ["acceptance", "manual"] }).notNull(),
  reason: text("reason").notNull(),
  rate: numeric("rate", { mode: "number" }),
  threshold: numeric("threshold", { mode: "number" }),
  decided: integer("decided"),
  accepted: integer("accepted"),
  pausedBy: text("paused_by").notNull(),
  pausedAt: ts("paused_at").notNull(),
  incidentKey: text("incident_key").notNull(),
  resumedAt: ts("resumed_at"),
  resumedBy: text("resumed_by"),
  resumeReason: text("resume_reason"),
});

export const notificationChannels = pgTable("notification_channels", {
  workspaceId: text("workspace_id").notNull(),
  id: text("id").primaryKey(),
  kind: text("kind", { enum: NOTIFY_KINDS }).notNull(),
  target: text("target").notNull(),
  integrationId: text("integration_id"),
  vaultName: text("vault_name"),
  fingerprint: text("fingerprint"),
  createdBy: text("created_by").notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
  disabledAt: ts("disabled_at"),
});

export const notifications = pgTable("notifications", {
  workspaceId: text("workspace_id").notNull(),
  id: text("id").primaryKey(),
  channelId: text("channel_id").notNull(),
  skillId: text("skill_id").notNull(),
  pauseId: bigint("pause_id", { mode: "number" }).notNull(),
  event: text("event", { enum: ["skill.paused", "skill.resumed"] }).notNull(),
  kind: text("kind", { enum: NOTIFY_KINDS }).notNull(),
  status: text("status", { enum: ["pending", "sending", "delivered", "failed"] }).notNull(),
  attempts: integer("attempts").notNull(),
  lastErrorCode: text("last_error_code"),
  createdAt: ts("created_at").notNull(),
  updatedAt: ts("updated_at").notNull(),
  deliveredAt: ts("delivered_at"),
});

export const APPROVAL_STATUSES = ["pending", "granted", "denied", "expired"] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/** A human's approval of one gated tool call of a run (migrations/0031); decided through the api, Slack or expiry. */
export const runApprovals = pgTable("run_approvals", {
  workspaceId: text("workspace_id").notNull(),
  id: text("id").primaryKey(),
  runId: text("run_id").notNull(),
  skillId: text("skill_id").notNull(),
  step: integer("step").notNull(),
  tool: text("tool").notNull(),
  status: text("status", { enum: APPROVAL_STATUSES }).notNull(),
  roles: text("roles").array().notNull(),
  slackChannel: text("slack_channel"),
  slackTs: text("slack_ts"),
  requestedAt: ts("requested_at").notNull(),
  expiresAt: ts("expires_at").notNull(),
  decidedAt: ts("decided_at"),
  decidedByMember: text("decided_by_member"),
  decidedVia: text("decided_via", { enum: ["api", "slack", "expiry"] }),
  reason: text("reason"),
});

/** A SIEM stream (migrations/0032): the api manages it; the cursor, the batch in flight and the lease are the worker's. */
export const siemSubscriptions = pgTable("siem_subscriptions", {
  workspaceId: text("workspace_id").notNull(),
  id: text("id").primaryKey(),
  endpointUrl: text("endpoint_url").notNull(),
  format: text("format", { enum: ["jsonl", "splunk-hec", "datadog"] }).notNull(),
  status: text("status", { enum: ["active", "paused", "disabled", "deleted"] }).notNull(),
  statusReason: text("status_reason"),
  batchMaxEvents: integer("batch_max_events").notNull(),
  batchMaxBytes: integer("batch_max_bytes").notNull(),
  keyGeneration: integer("key_generation").notNull(),
  publicKey: text("public_key").notNull(),
  previousPublicKey: text("previous_public_key"),
  previousUntil: ts("previous_until"),
  hmacEnabled: boolean("hmac_enabled").notNull(),
  credentialFingerprint: text("credential_fingerprint"),
  cursorSeq: bigint("cursor_seq", { mode: "number" }).notNull(),
  failures: integer("failures").notNull(),
  failingSince: ts("failing_since"),
  nextAttemptAt: ts("next_attempt_at").notNull(),
  lastErrorCode: text("last_error_code"),
  lastStatus: integer("last_status"),
  lastDeliveredAt: ts("last_delivered_at"),
  testRequestedAt: ts("test_requested_at"),
  lastTestAt: ts("last_test_at"),
  lastTestResult: text("last_test_result"),
  createdBy: text("created_by").notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});
