/**
 * The quality monitor's end-to-end set-up: a fresh database with one workspace (its key pair made by the worker's
 * keys job), the real api over HTTP, monitors (each its own pool, as separate processes would have), a BullMQ worker
 * delivering `notification` jobs with the real channel clients to the loopback Slack (a rotating bot token stored sealed
 * the way the OAuth install stores it, one minute from its expiry), the loopback PagerDuty and a real SMTP server, and a
 * Redis key prefix of the test's own. Not a test file.
 */
import { generateKeyPairSync, createPublicKey, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { manifestHash, mintApiTokenMaterial, newId, type NotificationId, type RunId } from "@praxa/core";
import { encodeSlackBotTokenRecord, SLACK_BOT_TOKEN_PURPOSE, slackBotVaultName } from "@praxa/connectors";
import { LocalKeyProvider, sealCredential, type KeyProvider } from "@praxa/crypto";
import {
  createDatabase,
  createTestDatabase,
  registerAuditKey,
  sampleManifest,
  seedWorkspaceFixture,
  vaultPutSecret,
  withWorkspace,
  workspacePublicKey,
  type AuditSigner,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { buildApiServer } from "@praxa/api";
import { enqueueNotifications, type AcceptanceDeps } from "@praxa/monitor";
import { createLogger } from "@praxa/observability";
import {
  createQueues,
  createRedis,
  redisReady,
  removeRedisPrefix,
  Worker,
  type QueueSet,
  type Redis,
} from "@praxa/queue";
import {
  startPagerDutyServer,
  startSlackServer,
  startSmtpServer,
  type LoopbackSmtpServer,
  type PagerDutyServer,
  type SlackServer,
} from "@praxa/testkit";
import { createNotificationProcessor, runKeysJob } from "@praxa/worker";
import type { FastifyInstance } from "fastify";

/** Fast exponential backoff for the test's notification jobs (production: the catalog's 5 s base). */
export const NOTIFICATION_JOB_OPTIONS = { attempts: 8, backoff: { type: "exponential", delay: 100 } } as const;
export const ROUTING_KEY = "e93facc04764012d7bfb002500d5d1a6";

export interface Harness {
  readonly tdb: TestDatabase;
  readonly admin: postgres.Sql;
  readonly ws: WorkspaceFixture;
  readonly queues: QueueSet;
  readonly pd: PagerDutyServer;
  readonly smtp: LoopbackSmtpServer;
  readonly slack: SlackServer;
  /** The bot token stored at "install" (a rotating one, one minute from its expiry). */
  readonly installedBotToken: string;
  readonly tokens: { readonly admin: string; readonly viewer: string; readonly automation: string };
  readonly apiUrl: string;
  /** Deps for a monitor with its own database pool (a second call: a second monitor). */
  monitor(): AcceptanceDeps;
  call(
    method: "GET" | "POST" | "DELETE",
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
  newSkill(
    notify: ("slack" | "email" | "pagerduty")[],
    acceptance?: { threshold: number; window: number; minSamples: number },
  ): Promise<{ skillId: string; versionId: string }>;
  newRun(skill: { skillId: string; versionId: string }): Promise<RunId>;
  close(): Promise<void>;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function signer(): AuditSigner & { spki: Buffer } {
  const { privateKey } = generateKeyPairSync("ed25519");
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return { keyId: `test-${randomUUID()}`, privateKey, spki };
}

export async function startHarness(): Promise<Harness> {
  const tdb = await createTestDatabase();
  const admin = postgres(tdb.adminUrl, { max: 2, onnotice: () => {} });
  const ws = await seedWorkspaceFixture(tdb.adminUrl, "A");
  const log = createLogger({ name: "quality-monitor-e2e", level: "silent" });
  const pools: Database[] = [];
  const pool = (role: "praxa_api" | "praxa_monitor" | "praxa_worker") => {
    const db = createDatabase(tdb.roleUrl(role), { max: 4 });
    pools.push(db);
    return db;
  };
  const workerDb = pool("praxa_worker");
  const provider: KeyProvider = await LocalKeyProvider.open({
    path: join(mkdtempSync(join(tmpdir(), "praxa-qm-")), "master.key"),
  });
  await runKeysJob({ database: workerDb, provider, holder: "e2e" }, ws.workspaceId, "create");

  const apiSigner = signer();
  const monitorSigner = signer();
  for (const s of [apiSigner, monitorSigner])
    await registerAuditKey(workerDb, { keyId: s.keyId, purpose: "event", algorithm: "ed25519", spki: s.spki });

  const prefix = `test-${randomUUID()}`;
  const redis: Redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", "producer");
  await redisReady(redis);
  const workerRedis: Redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", "worker");
  const queues = createQueues(redis, prefix);

  const pd = await startPagerDutyServer();
  const smtp = await startSmtpServer();
  const slack = await startSlackServer({ tokenRotation: true, channels: ["C0PRAXA01"] });
  // The Slack app installed in this workspace, as the api's OAuth callback records it: the integration, and the bot
  // token + refresh token sealed to the workspace key under slack/bot/<team>, expiring in one minute.
  const bot = slack.installBot(["chat:write"]);
  await admin`insert into integrations (workspace_id, id, provider, external_id, bot_identity, granted_scopes)
              values (${ws.workspaceId}, ${newId("integration")}, 'slack', ${slack.teamId}, ${admin.json({ kind: "slack_bot", user_id: slack.botUserId, team_id: slack.teamId })}, ${["chat:write"]})`;
  await withWorkspace(pool("praxa_api"), ws.workspaceId, async (scope) => {
    const pub = await workspacePublicKey(scope);
    if (!pub) throw new Error("no workspace key");
    const sealed = await sealCredential(
      { keyId: pub.keyId, publicKey: pub.publicKey },
      { workspaceId: ws.workspaceId, provider: "slack", purpose: SLACK_BOT_TOKEN_PURPOSE },
      encodeSlackBotTokenRecord({ botToken: bot.botToken, refreshToken: bot.refreshToken }),
    );
    await vaultPutSecret(scope, {
      name: slackBotVaultName(slack.teamId),
      provider: "slack",
      purpose: SLACK_BOT_TOKEN_PURPOSE,
      ciphertext: Buffer.from(sealed),
      keyId: pub.keyId,
      expiresAt: new Date(Date.now() + 60_000),
    });
  });

  const notify = (ids: readonly NotificationId[]) =>
    enqueueNotifications({ queues, log, notificationJobOptions: NOTIFICATION_JOB_OPTIONS }, ids).then(() => undefined);
  const api: FastifyInstance = await buildApiServer({
    database: pool("praxa_api"),
    log,
    auditSigner: apiSigner,
    enqueueNotifications: notify,
  });
  const base = await api.listen({ port: 0, host: "127.0.0.1" });

  const worker = new Worker(
    "notifications",
    createNotificationProcessor({
      database: workerDb,
      provider,
      holder: "e2e-worker",
      log,
      channels: {
        smtp: { url: smtp.url, from: "Praxa <praxa@example.com>" },
        pagerDutyEventsUrl: pd.enqueueUrl,
        slack: {
          baseUrl: slack.url,
          app: { clientId: slack.clientId, clientSecret: slack.clientSecret, baseUrl: slack.url },
        },
      },
    }),
    { connection: workerRedis, prefix, concurrency: 4 },
  );

  const token = async (role: "admin" | "viewer", kind: "human" | "automation") => {
    const memberId = role === "admin" && kind === "human" ? ws.memberId : newId("member");
    if (memberId !== ws.memberId)
      await admin`insert into workspace_members (workspace_id, id, email, role) values (${ws.workspaceId}, ${memberId}, ${`${memberId}@example.com`}, ${role})`;
    const m = mintApiTokenMaterial(ws.workspaceId);
    await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${ws.workspaceId}, ${m.tokenId}, ${memberId}, ${kind}, 'e2e', ${m.secretSha256}, now() + interval '1 hour')`;
    return m.token;
  };
  const tokens = {
    admin: await token("admin", "human"),
    viewer: await token("viewer", "human"),
    automation: await token("admin", "automation"),
  };

  return {
    tdb,
    admin,
    ws,
    queues,
    pd,
    smtp,
    slack,
    installedBotToken: bot.botToken,
    tokens,
    apiUrl: base,
    monitor: () => ({
      database: pool("praxa_monitor"),
      queues,
      log,
      now: Date.now,
      auditSigner: monitorSigner,
      batch: 500,
      notificationJobOptions: NOTIFICATION_JOB_OPTIONS,
    }),
    async call(method, path, tok, body) {
      const res = await fetch(base + path, {
        method,
        headers: {
          authorization: `Bearer ${tok}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
    },
    async newSkill(notifyKinds, acceptance = { threshold: 0.7, window: 20, minSamples: 20 }) {
      const skillId = newId("skill");
      const versionId = newId("skillVersion");
      const manifest = sampleManifest({ slug: `review-${skillId.slice(-8)}`, acceptance, notify: notifyKinds });
      await admin`insert into skills (workspace_id, id, slug, name) values (${ws.workspaceId}, ${skillId}, ${manifest.slug}, 'PR review')`;
      await admin`insert into skill_versions (workspace_id, id, skill_id, version, manifest, manifest_hash) values (${ws.workspaceId}, ${versionId}, ${skillId}, 1, ${admin.json(manifest as never)}, ${manifestHash(manifest)})`;
      return { skillId, versionId };
    },
    async newRun(skill) {
      const id = newId("run");
      await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, status) values (${ws.workspaceId}, ${id}, ${skill.skillId}, ${skill.versionId}, 'github.pull_request.opened', 'github', 'succeeded')`;
      return id;
    },
    async close() {
      await worker.close();
      await api.close();
      await queues.close();
      await removeRedisPrefix(redis, prefix);
      redis.disconnect();
      workerRedis.disconnect();
      await pd.close();
      await smtp.close();
      await slack.close();
      for (const db of pools) await db.close();
      await admin.end({ timeout: 5 });
      await tdb.drop();
    },
  };
}
