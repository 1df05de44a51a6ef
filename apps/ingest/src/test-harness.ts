/**
 * Shared set-up for ingest's integration tests: a fresh database with one workspace whose GitHub installation id
 * matches the recorded fixtures (installation 1) and a Slack team (the fixtures' T00FAKE00BB), a Redis key prefix of
 * the test's own, and the real server (fastify.inject, no sockets). Not exported from the package.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import postgres from "postgres";
import { manifestHash, newId } from "@praxa/core";
import {
  createDatabase,
  createTestDatabase,
  sampleManifest,
  seedWorkspaceFixture,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createLogger } from "@praxa/observability";
import { createQueues, createRedis, redisReady, removeRedisPrefix, type QueueSet, type Redis } from "@praxa/queue";
import type { FastifyInstance } from "fastify";
import { buildIngestServer, type IngestServerDeps } from "./server.js";
import { createWorkspaceLimiter } from "./workspace-limiter.js";

export const GITHUB_SECRET = "test-github-webhook-secret-0123";
export const SLACK_SECRET = "test-slack-signing-secret-0123";
export const SLACK_TEAM = "T00FAKE00BB";

export const fixture = (path: string): Buffer =>
  readFileSync(new URL(`../../../test/data/fixtures/${path}`, import.meta.url));

export interface InjectOptions {
  readonly method: "GET" | "POST";
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly payload?: string | Buffer;
  /** Sent as X-Forwarded-For (the harness's server trusts the proxy header). */
  readonly remoteAddress?: string;
}
export interface Response {
  readonly statusCode: number;
  json(): unknown;
}
/** The server listening on a loopback port, driven over real HTTP. */
export interface Served {
  readonly url: string;
  inject(options: InjectOptions): Promise<Response>;
}

async function serve(app: FastifyInstance): Promise<Served> {
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    url,
    async inject(o) {
      const headers: Record<string, string> = {
        ...o.headers,
        ...(o.remoteAddress ? { "x-forwarded-for": o.remoteAddress } : {}),
      };
      const res = await fetch(url + o.url, {
        method: o.method,
        headers,
        ...(o.payload !== undefined ? { body: o.payload } : {}),
      });
      const text = await res.text();
      return { statusCode: res.status, json: () => JSON.parse(text) as unknown };
    },
  };
}

export interface Harness {
  readonly tdb: TestDatabase;
  readonly admin: postgres.Sql;
  readonly db: Database;
  readonly redis: Redis;
  readonly queues: QueueSet;
  /** This harness's Redis key prefix (queues and the workspace limiter). */
  readonly prefix: string;
  readonly ws: WorkspaceFixture;
  readonly slackSkillId: string;
  server(
    overrides?: Partial<IngestServerDeps["config"]> & {
      perSecond?: number;
      redis?: Redis;
      queues?: QueueSet;
      limiterTimeoutMs?: number;
    },
  ): Promise<Served>;
  runCount(): Promise<number>;
  close(): Promise<void>;
}

export async function startHarness(redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"): Promise<Harness> {
  const tdb = await createTestDatabase();
  const admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  const ws = await seedWorkspaceFixture(tdb.adminUrl, "A", { installationId: "1", botLogin: "praxa[bot]" });
  const slackSkillId = newId("skill");
  const slackManifest = sampleManifest({
    slug: "slack-answer",
    name: "Slack answer",
    triggers: ["slack.app_mention", "slack.message.im"],
    tools: ["slack.post_message"],
  });
  await admin`insert into integrations (workspace_id, id, provider, external_id, bot_identity) values (${ws.workspaceId}, ${newId("integration")}, 'slack', ${SLACK_TEAM}, ${admin.json({ user_id: "U00FAKEBOT02" })})`;
  await admin`insert into skills (workspace_id, id, slug, name) values (${ws.workspaceId}, ${slackSkillId}, 'slack-answer', 'Slack answer')`;
  await admin`insert into skill_versions (workspace_id, id, skill_id, version, manifest, manifest_hash) values (${ws.workspaceId}, ${newId("skillVersion")}, ${slackSkillId}, 1, ${admin.json(slackManifest as never)}, ${manifestHash(slackManifest)})`;
  const db = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 4 });
  const redis = createRedis(redisUrl, "producer");
  await redisReady(redis);
  const prefix = `test-${randomUUID()}`;
  const queues = createQueues(redis, prefix);
  const log = createLogger({ name: "ingest-test", level: "silent" });
  const servers: FastifyInstance[] = [];
  return {
    tdb,
    admin,
    db,
    redis,
    queues,
    prefix,
    ws,
    slackSkillId,
    async server(o = {}) {
      const r = o.redis ?? redis;
      const app = await buildIngestServer({
        config: {
          GITHUB_WEBHOOK_SECRET: GITHUB_SECRET,
          SLACK_SIGNING_SECRET: SLACK_SECRET,
          INGEST_BODY_LIMIT_BYTES: o.INGEST_BODY_LIMIT_BYTES ?? 5 * 1024 * 1024,
          INGEST_UNVERIFIED_RATE_PER_MINUTE: o.INGEST_UNVERIFIED_RATE_PER_MINUTE ?? 100_000,
          INGEST_TRUST_PROXY: true,
        },
        database: db,
        queues: o.queues ?? queues,
        limiter: createWorkspaceLimiter(r, prefix, o.perSecond ?? 1000),
        ...(o.limiterTimeoutMs !== undefined ? { limiterTimeoutMs: o.limiterTimeoutMs } : {}),
        log,
        now: Date.now,
        githubAppId: 424242,
        ready: async () => ({ postgres: true, redis: r.status === "ready" }),
      });
      servers.push(app);
      return serve(app);
    },
    async runCount() {
      const [row] = await admin<{ n: number }[]>`select count(*)::int as n from agent_runs`;
      return row?.n ?? 0;
    },
    async close() {
      for (const s of servers) await s.close();
      await queues.close();
      await db.close();
      await admin.end({ timeout: 5 });
      await tdb.drop();
      try {
        await removeRedisPrefix(redis, prefix); // nothing left behind in a shared Redis
      } finally {
        redis.disconnect();
      }
    },
  };
}
