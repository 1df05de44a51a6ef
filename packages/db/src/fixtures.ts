/**
 * Test fixtures: a workspace with one row in every tenant table, inserted as the admin (a superuser on a developer
 * machine, so row-level security does not apply to it). Used by the integration and security suites only.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, randomUUID, sign } from "node:crypto";
import postgres from "postgres";
import {
  checkpointBody,
  eventLeafHash,
  genesisPrevHash,
  manifestHash,
  merkleRoot,
  newId,
  sealAuditEvent,
  type SkillManifest,
  type WorkspaceId,
} from "@praxa/core";

export interface WorkspaceFixture {
  readonly tenantId: string;
  readonly workspaceId: WorkspaceId;
  readonly memberId: string;
  readonly integrationId: string;
  readonly installationId: string;
  readonly skillId: string;
  readonly skillVersionId: string;
  readonly runId: string;
  readonly memoryFactId: string;
  readonly ingestKeyId: string;
  readonly notificationChannelId: string;
  /** A paused SIEM subscription (migrations/0032). */
  readonly siemSubscriptionId: string;
  readonly manifest: SkillManifest;
}

export function sampleManifest(overrides: Partial<SkillManifest> = {}): SkillManifest {
  return {
    slug: "pr-review",
    name: "PR review",
    triggers: ["github.pull_request.opened", "github.pull_request.synchronize", "github.pull_request.reopened"],
    tools: ["github.read.diff", "github.comment.pr"],
    memory: null,
    subAgents: { allowed: [], maxDepth: 0 },
    model: { id: "claude-sonnet-4-5" },
    maxIterations: 8,
    acceptance: { threshold: 0.7, window: 50, minSamples: 20 },
    notify: ["slack"],
    ...overrides,
  };
}

export interface WorkspaceFixtureOptions {
  readonly manifest?: SkillManifest;
  readonly installationId?: string;
  readonly botLogin?: string;
  /**
   * Seed the audit chain's first event (signed with a throw-away key), its head and a checkpoint (default true).
   * False leaves the chain empty, for tests and benches that append their own from seq 1.
   */
  readonly auditChain?: boolean;
}

/** Seed one workspace (own tenant) with a row in every tenant table (the audit tables unless `auditChain: false`). */
export async function seedWorkspaceFixture(
  adminUrl: string,
  label = "A",
  options: WorkspaceFixtureOptions = {},
): Promise<WorkspaceFixture> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const manifest = options.manifest ?? sampleManifest();
  const f: WorkspaceFixture = {
    tenantId: newId("tenant"),
    workspaceId: newId("workspace"),
    memberId: newId("member"),
    integrationId: newId("integration"),
    installationId: options.installationId ?? String(Math.floor(Math.random() * 1e9) + 1),
    skillId: newId("skill"),
    skillVersionId: newId("skillVersion"),
    runId: newId("run"),
    memoryFactId: newId("memoryFact"),
    ingestKeyId: `itk_${randomBytes(16).toString("hex")}`,
    notificationChannelId: newId("notificationChannel"),
    siemSubscriptionId: newId("siemSubscription"),
    manifest,
  };
  try {
    await sql.begin(async (tx) => {
      await tx`insert into tenants (id, name) values (${f.tenantId}, ${"Tenant " + label})`;
      await tx`insert into workspaces (id, tenant_id, name) values (${f.workspaceId}, ${f.tenantId}, ${"Workspace " + label})`;
      await tx`insert into workspace_members (workspace_id, id, email, role) values (${f.workspaceId}, ${f.memberId}, ${`admin-${label.toLowerCase()}@example.com`}, 'admin')`;
      await tx`insert into workspace_members (workspace_id, id, email, role) values (${f.workspaceId}, ${newId("member")}, ${`viewer-${label.toLowerCase()}@example.com`}, 'viewer')`;
      await tx`insert into integrations (workspace_id, id, provider, external_id, bot_identity, granted_scopes)
               values (${f.workspaceId}, ${f.integrationId}, 'github', ${f.installationId}, ${tx.json({ login: options.botLogin ?? "praxa[bot]" })}, ${["pull_requests:write", "contents:read"]})`;
      await tx`insert into skills (workspace_id, id, slug, name) values (${f.workspaceId}, ${f.skillId}, ${manifest.slug}, ${manifest.name})`;
      await tx`insert into skill_versions (workspace_id, id, skill_id, version, manifest, manifest_hash)
               values (${f.workspaceId}, ${f.skillVersionId}, ${f.skillId}, 1, ${tx.json(manifest as unknown as postgres.JSONValue)}, ${manifestHash(manifest)})`;
      // A finished run: a queued one would be picked up by any worker's dispatcher in a suite that starts one.
      await tx`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input, status, attempt, started_at, finished_at)
               values (${f.workspaceId}, ${f.runId}, ${f.skillId}, ${f.skillVersionId}, 'github.pull_request.opened', 'github', ${tx.json({ repo: "octo/hello", prNumber: 1 })},
                       'succeeded', 1, now(), now())`;
      // Fleet control's tenant tables (0027): the workspace on the default cap, and a gate that has already passed.
      await tx`insert into workspace_fleet (workspace_id, max_concurrency) values (${f.workspaceId}, null)`;
      await tx`insert into run_gates (workspace_id, resource, until, code) values (${f.workspaceId}, 'model', now() - interval '1 hour', 'MODEL_RATE_LIMITED')`;
      await tx`insert into run_steps (workspace_id, run_id, idx, kind, idempotency_key, status)
               values (${f.workspaceId}, ${f.runId}, 0, 'model.call', ${f.runId + ":0"}, 'completed')`;
      await tx`insert into agent_run_events (workspace_id, run_id, meta) values (${f.workspaceId}, ${f.runId}, ${tx.json({ tool_name: "github.read.diff", ms: 12, code: null, iter: 0 })})`;
      // Human approval (0031): the admin linked to a Slack user, and the approval they granted the fixture's run.
      await tx`update workspace_members set slack_user_id = ${`U0FIX${randomBytes(5).toString("hex").toUpperCase()}`} where id = ${f.memberId}`;
      await tx`insert into run_approvals (workspace_id, id, run_id, skill_id, step, tool, status, roles, requested_at, expires_at, decided_at, decided_by_member, decided_via)
               values (${f.workspaceId}, ${newId("approval")}, ${f.runId}, ${f.skillId}, 1, 'github.comment.pr', 'granted', ${["admin"]}, now(), now() + interval '1 hour', now(), ${f.memberId}, 'api')`;
      await tx`insert into memory_facts (workspace_id, id, namespace, key, value) values (${f.workspaceId}, ${f.memoryFactId}, 'faq', 'greeting', ${tx.json({ text: "hello" })})`;
      await tx`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
               values (${f.workspaceId}, ${newId("apiToken")}, ${f.memberId}, 'automation', 'fixture', ${"0".repeat(64)}, now() + interval '1 day')`;
      // The console's tenant tables (0034): an IdP identity of the admin, a sign-in in flight, a used sign-in link.
      await tx`insert into member_identities (workspace_id, issuer, subject, member_id) values (${f.workspaceId}, 'https://idp.example.com', ${`sub-${label.toLowerCase()}`}, ${f.memberId})`;
      await tx`insert into console_sign_ins (workspace_id, state_sha256, code_verifier, nonce, expires_at)
               values (${f.workspaceId}, ${randomBytes(32).toString("hex")}, ${randomBytes(32).toString("base64url")}, ${randomBytes(16).toString("hex")}, now() + interval '10 minutes')`;
      await tx`insert into console_sign_in_links (workspace_id, id, member_id, secret_sha256, expires_at, used_at)
               values (${f.workspaceId}, ${`sl_${randomBytes(16).toString("hex")}`}, ${f.memberId}, ${"0".repeat(64)}, now() + interval '5 minutes', now())`;
      if (options.auditChain ?? true) {
        const { privateKey } = generateKeyPairSync("ed25519");
        const sealed = sealAuditEvent(
          {
            auditEventId: newId("auditEvent"),
            kind: "skill.action",
            skillId: f.skillId as never,
            runId: f.runId as never,
            trigger: "github.pull_request.opened",
            input: { repo: "octo/hello", prNumber: 1 },
            reasoning: ["fixture"],
            alternatives: [{ action: "approve", score: 0.9 }],
            confidence: 0.9,
            output: { verdict: "approve" },
            tools_used: ["github.read.diff"],
            duration_ms: 1,
            occurred_at: new Date().toISOString(),
            manifest_hash: manifestHash(manifest),
            step: 0,
            workspace_id: f.workspaceId,
            seq: 1,
            prev_hash: genesisPrevHash(f.workspaceId),
            key_id: `fixture-ev-${f.workspaceId}`,
          },
          privateKey,
        );
        await tx`insert into audit_events (workspace_id, seq, id, kind, skill_id, run_id, step, trigger, occurred_at, prev_hash, hash, key_id, signature, canonical)
                 values (${f.workspaceId}, 1, ${sealed.event.auditEventId}, 'skill.action', ${f.skillId}, ${f.runId}, 0, 'github.pull_request.opened', now(),
                         ${sealed.event.prev_hash}, ${sealed.hash}, ${`fixture-ev-${f.workspaceId}`}, ${sealed.signature}, ${Buffer.from(sealed.canonical)})`;
        await tx`insert into audit_chain_heads (workspace_id, seq, head_hash) values (${f.workspaceId}, 1, ${sealed.hash})`;
        // A replay request of that decision (0035), as a member asked it.
        await tx`insert into audit_replays (workspace_id, id, event_id, requested_by_member) values (${f.workspaceId}, ${newId("auditReplay")}, ${sealed.event.auditEventId}, ${f.memberId})`;
        // What a retention cut keeps (0033): the leaf hash of seq 1. The event itself is left in place for the suites
        // that read it; verifiers start after the cut either way (an event at or before it is vouched for by the cut's
        // leaf hashes and the checkpoint at it, below).
        await tx`insert into audit_retention_cuts (workspace_id, from_seq, through_seq, leaf_hashes) values (${f.workspaceId}, 1, 1, ${Buffer.from(sealed.hash, "hex")})`;
        const cpKey = `fixture-cp-${f.workspaceId}`;
        const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
        await tx`insert into audit_keys (key_id, purpose, algorithm, spki) values (${`fixture-ev-${f.workspaceId}`}, 'event', 'ed25519', ${spki}), (${cpKey}, 'checkpoint', 'ed25519', ${spki})`;
        const cpFields = {
          workspace_id: f.workspaceId,
          tree_size: 1,
          root_hash: merkleRoot([eventLeafHash(sealed.hash)]).toString("hex"),
          timestamp: new Date().toISOString(),
          key_id: cpKey,
        };
        const cpBody = checkpointBody(cpFields);
        await tx`insert into audit_checkpoints (workspace_id, tree_size, root_hash, "timestamp", key_id, signature, body)
                 values (${f.workspaceId}, 1, ${cpFields.root_hash}, ${cpFields.timestamp}, ${cpKey}, ${sign(null, cpBody, privateKey)}, ${Buffer.from(cpBody)})`;
      }
      await tx`insert into workspace_exports (workspace_id, requested_by) values (${f.workspaceId}, ${f.memberId})`;
      await tx`insert into ingest_keys (key_id, public_key) values (${f.ingestKeyId}, ${randomBytes(32)})`;
      await tx`insert into trigger_secrets (workspace_id, id, skill_id, ciphertext, key_id) values (${f.workspaceId}, ${newId("triggerSecret")}, ${f.skillId}, ${randomBytes(64)}, ${f.ingestKeyId})`;
      await tx`insert into oauth_states (workspace_id, state_sha256, provider, member_id, expires_at)
               values (${f.workspaceId}, ${randomBytes(32).toString("hex")}, 'slack', ${f.memberId}, now() + interval '10 minutes')`;
      await tx`insert into llm_credentials (workspace_id, id, provider, fingerprint, vault_name, created_by)
               values (${f.workspaceId}, ${newId("credential")}, 'anthropic', 'abcd', 'llm/anthropic/fixture', ${f.memberId})`;
      // The quality monitor's tables (0014): a human's verdict (folded into skill_action_verdicts and skill_acceptance
      // by its trigger), a sample, an email channel, a pause already resumed and the notification it sent.
      await tx`insert into skill_feedback (workspace_id, run_id, skill_id, verdict, source, actor_id, actor_is_bot)
               values (${f.workspaceId}, ${f.runId}, ${f.skillId}, 'accepted', 'api', ${f.memberId}, false)`;
      await tx`insert into skill_acceptance_samples (workspace_id, skill_id, decided, accepted, rate, threshold, window_size)
               values (${f.workspaceId}, ${f.skillId}, 1, 1, 1, ${manifest.acceptance.threshold}, ${manifest.acceptance.window})`;
      await tx`insert into notification_channels (workspace_id, id, kind, target, created_by)
               values (${f.workspaceId}, ${f.notificationChannelId}, 'email', ${`alerts-${label.toLowerCase()}@example.com`}, ${f.memberId})`;
      const [pause] = await tx<
        { id: string }[]
      >`insert into skill_pauses (workspace_id, skill_id, cause, reason, paused_by, incident_key, resumed_at, resumed_by, resume_reason)
               values (${f.workspaceId}, ${f.skillId}, 'manual', 'fixture', ${f.memberId}, ${`praxa/${f.skillId}/${randomUUID()}`}, now(), ${f.memberId}, 'fixture') returning id`;
      await tx`insert into notifications (workspace_id, id, channel_id, skill_id, pause_id, event, kind, status, attempts, delivered_at)
               values (${f.workspaceId}, ${newId("notification")}, ${f.notificationChannelId}, ${f.skillId}, ${pause?.id ?? null}, 'skill.paused', 'email', 'delivered', 1, now())`;
      // A SIEM stream (0032), paused so no sweep picks it up.
      await tx`insert into siem_subscriptions (workspace_id, id, endpoint_url, format, status, status_reason, public_key, created_by)
               values (${f.workspaceId}, ${f.siemSubscriptionId}, 'https://siem.example.com/praxa', 'jsonl', 'paused', 'PAUSED_BY_ADMIN',
                       ${`whpk_${randomBytes(32).toString("base64")}`}, ${f.memberId})`;
    });
  } finally {
    await sql.end({ timeout: 5 });
  }
  return f;
}
