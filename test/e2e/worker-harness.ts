/**
 * A real fleet slice for worker tests: a fresh database with a workspace running the built-in pr-review Skill, its
 * key pair created by the keys job, the sandbox GitHub (App JWT verified, installation tokens, a PR), a private key
 * directory, and a unique queue prefix on the real Redis. Starts the worker in-process (or hands back the env to start
 * it as a process).
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { newId, type RunId, type SkillManifest } from "@praxa/core";
import { LocalKeyProvider, sealCredential, type KeyProvider } from "@praxa/crypto";
import {
  createDatabase,
  createTestDatabase,
  schema,
  seedWorkspaceFixture,
  vaultPutSecret,
  withWorkspace,
  workspacePublicKey,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createQueues, createRedis, enqueue, removeRedisPrefix, type QueueSet, type Redis } from "@praxa/queue";
import { PR_REVIEW_MANIFEST } from "@praxa/skills";
import { startGithubServer, type GithubServer, type SandboxPullRequest } from "@praxa/testkit";
import { runKeysJob } from "@praxa/worker";

export const APP_ID = 777001;
export const INSTALLATION = 5150;

export interface WorkerHarness {
  readonly tdb: TestDatabase;
  readonly admin: postgres.Sql;
  readonly ws: WorkspaceFixture;
  readonly gh: GithubServer;
  readonly redis: Redis;
  readonly queues: QueueSet;
  readonly env: Record<string, string>;
  readonly workerDb: Database;
  createPrRun(
    pr: Partial<SandboxPullRequest> & { number: number },
    options?: { trigger?: string; input?: Record<string, unknown> },
  ): Promise<RunId>;
  enqueueRun(runId: RunId, hint?: { workspaceId?: string }): Promise<void>;
  /** The workspace's Anthropic key, as POST /v1/llm-keys stores it: sealed to the workspace key, by the api role. */
  storeAnthropicKey(apiKey: string): Promise<void>;
  /** Seal a BYOK credential (the JSON the api seals: `{provider, …}`) to the workspace's key, as its newest credential. */
  storeModelCredential(
    credential: { readonly provider: "anthropic" | "bedrock" | "vertex" } & Record<string, unknown>,
    fingerprint: string,
  ): Promise<void>;
  waitForRun(runId: RunId, timeoutMs?: number): Promise<{ status: string; error_code: string | null }>;
  close(): Promise<void>;
}

/** A valid `record_decision` input: the offline or scripted model approving a PR. */
export const APPROVING_DECISION = {
  verdict: "approve",
  reasoning: ["Small, tested change."],
  alternatives: [
    { action: "approve", score: 0.8 },
    { action: "request_changes", score: 0.2 },
  ],
  confidence: 0.8,
  summary: "Fine.",
  comments: [],
};

export const appKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ format: "pem", type: "pkcs8" })
  .toString();

/** `keyProvider`: the provider the workspace's key pair is made under (default: a local key file in the harness's directory, as `env` names). */
export async function startWorkerHarness(
  options: {
    manifest?: SkillManifest;
    extraEnv?: Record<string, string>;
    redisUrl?: string;
    /** A Redis Cluster instead (REDIS_CLUSTER_NODES): every connection of the harness and of the worker is a cluster's. */
    redisCluster?: { readonly nodes: string; readonly seeds: readonly { host: string; port: number }[] };
    keyProvider?: KeyProvider;
    /** The sandbox installation's permissions (default: pull requests write, contents read). */
    installationPermissions?: Record<string, "read" | "write">;
  } = {},
): Promise<WorkerHarness> {
  const tdb = await createTestDatabase();
  const admin = postgres(tdb.adminUrl, { max: 2, onnotice: () => {} });
  const ws = await seedWorkspaceFixture(tdb.adminUrl, "W", {
    manifest: options.manifest ?? PR_REVIEW_MANIFEST,
    installationId: String(INSTALLATION),
    botLogin: "praxa-sandbox[bot]",
  });
  const gh = await startGithubServer({
    appId: APP_ID,
    privateKeyPem: appKey,
    installations: [
      {
        id: INSTALLATION,
        account: "acme",
        permissions: options.installationPermissions ?? { pull_requests: "write", contents: "read" },
      },
    ],
    botLogin: "praxa-sandbox[bot]",
  });
  const dir = mkdtempSync(join(tmpdir(), "praxa-worker-"));
  const workerDb = createDatabase(tdb.roleUrl("praxa_worker"), { max: 4 });
  const provider = options.keyProvider ?? (await LocalKeyProvider.open({ path: join(dir, "master.key") }));
  await runKeysJob({ database: workerDb, provider, holder: "harness" }, ws.workspaceId, "create");
  // The fixture's BYOK row points at no vault secret: remove it, so runs use the offline model unless a test adds a key.
  await admin`delete from llm_credentials where workspace_id = ${ws.workspaceId}`;
  const prefix = `test-${randomUUID()}`;
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const redis = createRedis(options.redisCluster ? { clusterNodes: options.redisCluster.seeds } : redisUrl, "producer");
  redis.on("error", () => undefined);
  const queues = createQueues(redis, prefix);
  const env: Record<string, string> = {
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    WORKER_DATABASE_URL: tdb.roleUrl("praxa_worker"),
    ...(options.redisCluster ? { REDIS_CLUSTER_NODES: options.redisCluster.nodes } : { REDIS_URL: redisUrl }),
    PRAXA_QUEUE_PREFIX: prefix,
    PRAXA_KEY_PROVIDER: "local",
    PRAXA_KEY_FILE: join(dir, "master.key"),
    PRAXA_AUDIT_SIGNING_KEY_FILE: join(dir, "audit-signing.key"),
    PRAXA_AUDIT_CHECKPOINT_EVERY: "4",
    GITHUB_APP_ID: String(APP_ID),
    GITHUB_APP_PRIVATE_KEY: appKey,
    GITHUB_API_URL: gh.url,
    WORKER_CONCURRENCY: "2",
    ...options.extraEnv,
  };
  const storeModelCredential: WorkerHarness["storeModelCredential"] = async (credential, fingerprint) => {
    const api = createDatabase(tdb.roleUrl("praxa_api"), { max: 1 });
    try {
      await withWorkspace(api, ws.workspaceId, async (s) => {
        const pub = await workspacePublicKey(s);
        if (!pub) throw new Error("the workspace has no key");
        const id = newId("credential");
        const name = `llm/${credential.provider}/${id}`;
        const sealed = await sealCredential(
          { keyId: pub.keyId, publicKey: pub.publicKey },
          { workspaceId: ws.workspaceId, provider: credential.provider, purpose: "llm_credentials" },
          JSON.stringify(credential),
        );
        await vaultPutSecret(s, {
          name,
          provider: credential.provider,
          purpose: "llm_credentials",
          ciphertext: Buffer.from(sealed),
          keyId: pub.keyId,
        });
        await s.db.insert(schema.llmCredentials).values({
          workspaceId: ws.workspaceId,
          id,
          provider: credential.provider,
          fingerprint,
          vaultName: name,
          createdBy: ws.memberId,
        });
      });
    } finally {
      await api.close();
    }
  };
  return {
    tdb,
    admin,
    ws,
    gh,
    redis,
    queues,
    env,
    workerDb,
    async createPrRun(pr, o = {}) {
      const full: SandboxPullRequest = {
        owner: "acme",
        repo: "shop",
        title: "Change",
        body: "",
        author: { login: "dev", type: "User" },
        headSha: randomUUID().replace(/-/g, "").slice(0, 40).padEnd(40, "0"),
        baseRef: "main",
        files: [],
        ...pr,
      };
      gh.sandbox.addPullRequest(full);
      const runId = newId("run");
      const input = o.input ?? {
        repo: `${full.owner}/${full.repo}`,
        prNumber: full.number,
        headSha: full.headSha,
        baseRef: "main",
        draft: full.draft ?? false,
        authorLogin: full.author.login,
        authorIsBot: full.author.type === "Bot",
      };
      // As ingest records it: with the installation the webhook came through.
      await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input, integration_id)
                  values (${ws.workspaceId}, ${runId}, ${ws.skillId}, ${ws.skillVersionId}, ${o.trigger ?? "github.pull_request.opened"}, 'github', ${admin.json(input as postgres.JSONValue)}, ${ws.integrationId})`;
      return runId;
    },
    async storeAnthropicKey(apiKey) {
      await storeModelCredential({ provider: "anthropic", apiKey }, apiKey.slice(-4));
    },
    storeModelCredential,
    async enqueueRun(runId, hint) {
      await enqueue(queues, "run", hint ? { runId, hint } : { runId }, { jobId: runId });
    },
    async waitForRun(runId, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const [row] = await admin<
          { status: string; error_code: string | null }[]
        >`select status, error_code from agent_runs where id = ${runId}`;
        if (row && ["succeeded", "failed", "skipped", "cancelled", "denied"].includes(row.status)) return row;
        if (Date.now() > until)
          throw new Error(`run ${runId} did not finish within ${timeoutMs} ms (status ${row?.status ?? "missing"})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async close() {
      // Workers started on `env` are stopped by the suite before this, so nothing writes under the prefix any more.
      await queues.close().catch(() => undefined);
      await workerDb.close();
      await admin.end({ timeout: 5 });
      await tdb.drop();
      await gh.close();
      try {
        await removeRedisPrefix(redis, prefix); // nothing left behind in a shared Redis
      } finally {
        redis.disconnect();
      }
    },
  };
}

/** A unified diff patch adding `lines` at the top of a new file. */
export function addedPatch(lines: readonly string[]): string {
  return [`@@ -0,0 +1,${lines.length} @@`, ...lines.map((l) => `+${l}`)].join("\n");
}
