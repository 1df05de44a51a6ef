/**
 * Signed producers end to end: the api mints a `whsec_` secret for a Skill (shown once, sealed to ingest's key);
 * a producer signs with it the Standard Webhooks way; ingest opens the sealed secret, verifies, and records exactly one
 * run per `webhook-id`. Stale, future, altered, unsigned or wrongly signed requests start nothing; two live secrets
 * (rotation) both work.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { mintApiTokenMaterial, newId } from "@praxa/core";
import {
  createDatabase,
  createTestDatabase,
  registerIngestKey,
  sampleManifest,
  seedWorkspaceFixture,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { buildApiServer } from "@praxa/api";
import {
  buildIngestServer,
  createUnverifiedLimiter,
  createWorkspaceLimiter,
  loadIngestTriggerKey,
  standardWebhookSignature,
  type IngestTriggerKey,
} from "@praxa/ingest";
import { createLogger } from "@praxa/observability";
import { createQueues, createRedis, redisReady, removeRedisPrefix, type QueueSet, type Redis } from "@praxa/queue";
import type { FastifyInstance } from "fastify";

let tdb: TestDatabase;
let admin: postgres.Sql;
let apiDb: Database;
let ingestDb: Database;
let redis: Redis;
let queues: QueueSet;
let api: FastifyInstance;
let ingest: FastifyInstance;
let apiUrl: string;
let ingestUrl: string;
let A: WorkspaceFixture;
let token: string;
let triggerKey: IngestTriggerKey;
const log = createLogger({ name: "triggers", level: "silent" });
const prefix = `test-${randomUUID()}`;

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A", {
    manifest: sampleManifest({ triggers: ["github.pull_request.opened", "trigger.webhook"] }),
  });
  apiDb = createDatabase(tdb.roleUrl("praxa_api"), { max: 2 });
  ingestDb = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 2 });
  const key = await loadIngestTriggerKey(join(mkdtempSync(join(tmpdir(), "praxa-ingest-")), "ingest-trigger.key"));
  triggerKey = key;
  await registerIngestKey(ingestDb, key.keyId, Buffer.from(key.publicKey));
  redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", "producer");
  await redisReady(redis);
  queues = createQueues(redis, prefix);
  api = await buildApiServer({
    database: apiDb,
    log,
    auditSigner: { keyId: "aek_triggers_test", privateKey: generateKeyPairSync("ed25519").privateKey },
  });
  apiUrl = await api.listen({ port: 0, host: "127.0.0.1" });
  ingest = await buildIngestServer({
    config: {
      GITHUB_WEBHOOK_SECRET: "unused-github-secret-0123",
      SLACK_SIGNING_SECRET: "unused-slack-secret-0123",
      INGEST_BODY_LIMIT_BYTES: 1 << 20,
      INGEST_UNVERIFIED_RATE_PER_MINUTE: 10_000,
      INGEST_TRUST_PROXY: false,
    },
    database: ingestDb,
    queues,
    limiter: createWorkspaceLimiter(redis, prefix, 1000),
    log,
    now: Date.now,
    githubAppId: undefined,
    triggerKey: key,
    unverifiedLimiter: createUnverifiedLimiter(redis, prefix, {
      perSourcePerMinute: 10_000,
      perSkillPerMinute: 10_000,
    }),
    ready: async () => ({ postgres: true, redis: true }),
  });
  ingestUrl = await ingest.listen({ port: 0, host: "127.0.0.1" });
  const m = mintApiTokenMaterial(A.workspaceId);
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${A.workspaceId}, ${m.tokenId}, ${A.memberId}, 'human', 't', ${m.secretSha256}, now() + interval '1 hour')`;
  token = m.token;
});
afterAll(async () => {
  await api?.close();
  await ingest?.close();
  await queues?.close();
  if (redis) await removeRedisPrefix(redis, prefix);
  redis?.disconnect();
  await Promise.all([apiDb?.close(), ingestDb?.close(), admin?.end({ timeout: 5 })]);
  await tdb?.drop();
});

async function mintSecret(): Promise<string> {
  const res = await fetch(`${apiUrl}/v1/skills/${A.skillId}/trigger-secrets`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { secret: string }).secret;
}
async function send(opts: {
  secret?: string;
  id?: string;
  tsOffset?: number;
  ts?: string;
  body?: string;
  signature?: string | null;
  skillId?: string;
  url?: string;
  source?: string;
}) {
  const id = opts.id ?? `msg_${randomUUID()}`;
  const ts = opts.ts ?? String(Math.floor(Date.now() / 1000) + (opts.tsOffset ?? 0));
  const body =
    opts.body ?? JSON.stringify({ type: "invoice.paid", timestamp: new Date().toISOString(), data: { id: 42 } });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": ts,
  };
  const sig =
    opts.signature === undefined
      ? standardWebhookSignature(opts.secret ?? "", id, ts, Buffer.from(body))
      : opts.signature;
  if (sig !== null) headers["webhook-signature"] = sig;
  if (opts.source) headers["x-forwarded-for"] = opts.source;
  const res = await fetch(`${opts.url ?? ingestUrl}/triggers/${opts.skillId ?? A.skillId}`, {
    method: "POST",
    headers,
    body,
  });
  return {
    status: res.status,
    retryAfter: res.headers.get("retry-after"),
    json: (await res.json()) as { runIds?: string[]; error?: { code: string; message: string } },
  };
}
const runCount = async () =>
  (await admin<{ n: number }[]>`select count(*)::int as n from agent_runs where trigger = 'trigger.webhook'`)[0]?.n ??
  0;

describe("signed producers (Standard Webhooks)", () => {
  let secret: string;
  beforeAll(async () => {
    secret = await mintSecret();
  });

  it("the api shows the secret once and stores only ciphertext", async () => {
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const [row] = await admin<
      { t: string }[]
    >`select string_agg(encode(ciphertext, 'base64'), '') as t from trigger_secrets`;
    expect(row?.t ?? "").not.toContain(secret.slice(6, 30));
  });

  it("a correctly signed delivery → 202 and one run of that Skill; the same webhook-id again → the same run, nothing new", async () => {
    const id = `msg_${randomUUID()}`;
    const first = await send({ secret, id });
    expect(first.status).toBe(202);
    expect(first.json.runIds).toHaveLength(1);
    const [run] = await admin<
      { skill_id: string; status: string; input: Record<string, unknown> }[]
    >`select skill_id, status, input from agent_runs where id = ${first.json.runIds?.[0] ?? ""}`;
    expect(run).toMatchObject({
      skill_id: A.skillId,
      status: "queued",
      input: { webhookId: id, type: "invoice.paid" },
    });
    expect((await queues.get("runs").getJob(`${first.json.runIds?.[0] ?? ""}.1`))?.data).toEqual({
      runId: first.json.runIds?.[0],
    });
    const before = await runCount();
    expect(await send({ secret, id })).toEqual(first);
    expect(await runCount()).toBe(before);
  });

  it.each([
    ["a stale timestamp", { tsOffset: -310 }],
    ["a future timestamp", { tsOffset: 310 }],
    ["a wrong secret", { secret: "whsec_" + Buffer.alloc(32, 9).toString("base64") }],
    ["no signature", { signature: null }],
    ["an unknown skill", { skillId: newId("skill") }],
  ])("%s → 401 and no run", async (_label, opts) => {
    const before = await runCount();
    const res = await send({ secret, ...opts });
    expect(res.status).toBe(401);
    expect(res.json.error?.code).toBe("SIGNATURE_INVALID");
    expect(await runCount()).toBe(before);
  });

  it("an altered body → 401", async () => {
    const id = `msg_${randomUUID()}`;
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = standardWebhookSignature(secret, id, ts, Buffer.from('{"type":"a"}'));
    const res = await fetch(`${ingestUrl}/triggers/${A.skillId}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": ts,
        "webhook-signature": sig,
      },
      body: '{"type":"b"}',
    });
    expect(res.status).toBe(401);
  });

  it("during a rotation both secrets work, and a header with several signatures needs only one to hold", async () => {
    const second = await mintSecret();
    expect((await send({ secret })).status).toBe(202);
    expect((await send({ secret: second })).status).toBe(202);
    const id = `msg_${randomUUID()}`;
    const ts = String(Math.floor(Date.now() / 1000));
    const body = '{"type":"multi"}';
    const bad = standardWebhookSignature("whsec_" + Buffer.alloc(32, 1).toString("base64"), id, ts, Buffer.from(body));
    const good = standardWebhookSignature(second, id, ts, Buffer.from(body));
    expect((await send({ id, body, ts, signature: `${bad} ${good}` })).status).toBe(202);
  });
});

describe("deduplication is per Skill, never across workspaces (issue 16, finding 2)", () => {
  let secretA: string;
  let secretB: string;
  let B: WorkspaceFixture;
  beforeAll(async () => {
    secretA = await mintSecret();
    B = await seedWorkspaceFixture(tdb.adminUrl, "Dedup-B", {
      manifest: sampleManifest({ triggers: ["trigger.webhook"] }),
    });
    // The fixture registers a placeholder ingest key; keep the real ingest's key the newest (the one the api seals to).
    await admin`update ingest_keys set created_at = now() - interval '1 day' where key_id = ${B.ingestKeyId}`;
    const m = mintApiTokenMaterial(B.workspaceId);
    await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${B.workspaceId}, ${m.tokenId}, ${B.memberId}, 'human', 'b', ${m.secretSha256}, now() + interval '1 hour')`;
    const res = await fetch(`${apiUrl}/v1/skills/${B.skillId}/trigger-secrets`, {
      method: "POST",
      headers: { authorization: `Bearer ${m.token}` },
    });
    expect(res.status).toBe(201);
    secretB = ((await res.json()) as { secret: string }).secret;
  });
  const workspaceOf = async (runId: string | undefined) =>
    (await admin<{ workspace_id: string }[]>`select workspace_id from agent_runs where id = ${runId ?? ""}`)[0]
      ?.workspace_id;

  it("two workspaces, identical bodies (even the same webhook-id) → two runs, each answered with its own id", async () => {
    const body = JSON.stringify({ type: "order.created", data: { id: randomUUID() } });
    const id = `msg_${randomUUID()}`;
    const a = await send({ secret: secretA, id, body });
    const b = await send({ secret: secretB, id, body, skillId: B.skillId });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(a.json.runIds).toHaveLength(1);
    expect(b.json.runIds).toHaveLength(1);
    expect(b.json.runIds).not.toEqual(a.json.runIds);
    expect(await workspaceOf(a.json.runIds?.[0])).toBe(A.workspaceId);
    expect(await workspaceOf(b.json.runIds?.[0])).toBe(B.workspaceId);
    // And B under a fresh webhook-id: its own new run, never A's.
    const b2 = await send({ secret: secretB, body, skillId: B.skillId });
    expect(b2.status).toBe(202);
    expect(b2.json.runIds).toHaveLength(1);
    expect(await workspaceOf(b2.json.runIds?.[0])).toBe(B.workspaceId);
    // Each repeat of a webhook-id is answered with that Skill's own run.
    expect((await send({ secret: secretB, id, body, skillId: B.skillId })).json.runIds).toEqual(b.json.runIds);
    expect((await send({ secret: secretA, id, body })).json.runIds).toEqual(a.json.runIds);
  });

  it("the same producer sending the same body under two webhook-ids gets two runs (it asked twice)", async () => {
    const body = JSON.stringify({ type: "order.created", data: { id: randomUUID() } });
    const first = await send({ secret: secretA, body });
    const second = await send({ secret: secretA, body });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(first.json.runIds).toHaveLength(1);
    expect(second.json.runIds).toHaveLength(1);
    expect(second.json.runIds).not.toEqual(first.json.runIds);
  });

  it("a webhook-id longer than the delivery key holds is deduplicated too (by its digest)", async () => {
    const id = `msg_${"x".repeat(240)}`;
    const first = await send({ secret: secretA, id });
    expect(first.status).toBe(202);
    expect(first.json.runIds).toHaveLength(1);
    expect(await send({ secret: secretA, id })).toEqual(first);
  });
});

describe("unverified traffic is limited before any database read (issue 16, finding 7)", () => {
  const PER_SOURCE = 5;
  const PER_SKILL = 8;
  const limitPrefix = `test-${randomUUID()}`;
  let secret: string;
  let servers: FastifyInstance[] = [];
  let otherRedis: Redis;
  let deadDb: Database;
  let withDbUrl: string;
  let noDbUrl: string;
  const garbage = (o: { url: string; source: string; skillId?: string }) =>
    send({ ...o, signature: `v1,${Buffer.alloc(32, 7).toString("base64")}` });
  const serve = async (o: { database: Database; redis: Redis; timeoutMs?: number }) => {
    const app = await buildIngestServer({
      config: {
        GITHUB_WEBHOOK_SECRET: "unused-github-secret-0123",
        SLACK_SIGNING_SECRET: "unused-slack-secret-0123",
        INGEST_BODY_LIMIT_BYTES: 1 << 20,
        INGEST_UNVERIFIED_RATE_PER_MINUTE: 10_000,
        INGEST_TRUST_PROXY: true,
      },
      database: o.database,
      queues,
      limiter: createWorkspaceLimiter(redis, prefix, 1000),
      log,
      now: Date.now,
      githubAppId: undefined,
      triggerKey,
      unverifiedLimiter: createUnverifiedLimiter(o.redis, limitPrefix, {
        perSourcePerMinute: PER_SOURCE,
        perSkillPerMinute: PER_SKILL,
        ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
      }),
      ready: async () => ({ postgres: true, redis: true }),
    });
    servers.push(app);
    return app.listen({ port: 0, host: "127.0.0.1" });
  };

  beforeAll(async () => {
    secret = await mintSecret();
    // Two ingest processes sharing one Redis budget: one with the database, one whose database is unreachable — any
    // request that gets as far as reading the Skill's secrets there answers 5xx.
    otherRedis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", "producer");
    await redisReady(otherRedis);
    deadDb = createDatabase("postgres://praxa_ingest@127.0.0.1:1/unreachable", { max: 1 });
    withDbUrl = await serve({ database: ingestDb, redis });
    noDbUrl = await serve({ database: deadDb, redis: otherRedis });
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    servers = [];
    if (otherRedis) await removeRedisPrefix(otherRedis, limitPrefix);
    otherRedis?.disconnect();
    await deadDb?.close().catch(() => {});
  });

  it("a flood of garbage signatures from one source: after its budget, 429 with Retry-After — answered without the database", async () => {
    const source = "203.0.113.7";
    for (let i = 0; i < PER_SOURCE; i++) expect((await garbage({ url: withDbUrl, source })).status).toBe(401);
    // The unreachable-database ingest proves the point: a request that reached the secrets read would be a 5xx there.
    const control = await garbage({ url: noDbUrl, source: "203.0.113.70", skillId: newId("skill") });
    expect(control.status).toBeGreaterThanOrEqual(500);
    for (let i = 0; i < 20; i++) {
      const res = await garbage({ url: noDbUrl, source });
      expect(res.status).toBe(429);
      expect(Number(res.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(res.json).toEqual({ error: { code: "RATE_LIMITED", message: expect.any(String) } });
    }
    // Even a correct signature from that source waits; the counters carry an expiry (atomic INCR + PEXPIRE).
    expect((await send({ secret, url: noDbUrl, source })).status).toBe(429);
    expect(await redis.pttl(`${limitPrefix}:ingest:unverified:source:${source}`)).toBeGreaterThan(0);
    expect(await redis.pttl(`${limitPrefix}:ingest:unverified:skill:${A.skillId}`)).toBeGreaterThan(0);
    // Another source signing correctly for the same Skill is served.
    expect((await send({ secret, url: withDbUrl, source: "203.0.113.9" })).status).toBe(202);
  });

  it("a flood at one Skill from many sources: after the Skill’s budget, 429 — answered without the database", async () => {
    const skillId = newId("skill");
    for (let i = 0; i < PER_SKILL; i++)
      expect((await garbage({ url: withDbUrl, source: `198.51.100.${i + 1}`, skillId })).status).toBe(401);
    for (let i = 0; i < 10; i++) {
      const res = await garbage({ url: noDbUrl, source: `198.51.100.${100 + i}`, skillId });
      expect(res.status).toBe(429);
      expect(res.json.error?.message).toContain("Skill");
    }
  });

  it("malformed headers and stale timestamps are refused before the limiter and the database, and do not count", async () => {
    const source = "192.0.2.44";
    for (let i = 0; i < PER_SOURCE + 3; i++) {
      expect((await send({ secret, url: noDbUrl, source, tsOffset: -400 })).status).toBe(401);
      expect((await send({ secret, url: noDbUrl, source, signature: "v2,nope" })).status).toBe(401);
      expect((await send({ secret, url: noDbUrl, source, skillId: "not-a-skill" })).status).toBe(401);
    }
    expect(await redis.exists(`${limitPrefix}:ingest:unverified:source:${source}`)).toBe(0);
  });

  it("a limiter that does not answer fails open for verified traffic, and never holds a request", async () => {
    // A TCP hop to the real Redis that, once cut, swallows every command: the client stays connected and `ready`.
    const target = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
    let cut = false;
    const sockets: Socket[] = [];
    const hop: Server = createServer((client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname);
      sockets.push(client, upstream);
      client.on("data", (d) => {
        if (!cut) upstream.write(d);
      });
      upstream.on("data", (d) => client.write(d));
      for (const s of [client, upstream]) s.on("error", () => {});
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => hop.listen(0, "127.0.0.1", resolve));
    const port = (hop.address() as { port: number }).port;
    const hung = createRedis(`redis://127.0.0.1:${port}`, "producer");
    try {
      await redisReady(hung);
      const url = await serve({ database: ingestDb, redis: hung, timeoutMs: 100 });
      cut = true;
      expect(hung.status).toBe("ready");
      const ok = await send({ secret, url, source: "192.0.2.99" });
      expect(ok.status).toBe(202);
      expect(ok.json.runIds).toHaveLength(1);
      expect((await garbage({ url, source: "192.0.2.99" })).status).toBe(401);
    } finally {
      hung.disconnect();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => hop.close(() => resolve()));
    }
  });
});

describe("trigger secrets: list and revoke", () => {
  let viewerToken: string;
  let otherToken: string;
  beforeAll(async () => {
    const [viewer] = await admin<
      { id: string }[]
    >`select id from workspace_members where workspace_id = ${A.workspaceId} and role = 'viewer'`;
    const v = mintApiTokenMaterial(A.workspaceId);
    await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${A.workspaceId}, ${v.tokenId}, ${viewer!.id}, 'human', 'v', ${v.secretSha256}, now() + interval '1 hour')`;
    viewerToken = v.token;
    const B = await seedWorkspaceFixture(tdb.adminUrl, "B");
    // The fixture registers a placeholder ingest key; keep the real ingest's key the newest (the one the api seals to).
    await admin`update ingest_keys set created_at = now() - interval '1 day' where key_id = ${B.ingestKeyId}`;
    const o = mintApiTokenMaterial(B.workspaceId);
    await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${B.workspaceId}, ${o.tokenId}, ${B.memberId}, 'human', 'o', ${o.secretSha256}, now() + interval '1 hour')`;
    otherToken = o.token;
  });
  const call = async (method: string, path: string, as = token) => {
    const res = await fetch(`${apiUrl}${path}`, { method, headers: { authorization: `Bearer ${as}` } });
    const text = await res.text();
    return { status: res.status, text, json: JSON.parse(text) as Record<string, unknown> };
  };
  type Listed = {
    id: string;
    fingerprint: string;
    createdBy: string;
    createdAt: string;
    revokedAt: string | null;
    status: string;
  };

  it("lists id, fingerprint, when and who — never a secret; a revoked secret no longer verifies at ingest", async () => {
    const minted = await fetch(`${apiUrl}/v1/skills/${A.skillId}/trigger-secrets`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    const { id, secret, fingerprint } = (await minted.json()) as { id: string; secret: string; fingerprint: string };
    expect(fingerprint).toBe(secret.slice(-4));
    expect((await send({ secret })).status).toBe(202);

    const list = await call("GET", `/v1/skills/${A.skillId}/trigger-secrets`, viewerToken);
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(secret.slice(6, -4));
    const mine = (list.json["triggerSecrets"] as Listed[]).find((s) => s.id === id);
    expect(mine).toMatchObject({ fingerprint, createdBy: A.memberId, revokedAt: null, status: "live" });
    expect(Object.keys(mine ?? {}).sort()).toEqual([
      "createdAt",
      "createdBy",
      "fingerprint",
      "id",
      "revokedAt",
      "status",
    ]);

    expect((await call("DELETE", `/v1/skills/${A.skillId}/trigger-secrets/${id}`, viewerToken)).status).toBe(403);
    expect((await call("POST", `/v1/skills/${A.skillId}/trigger-secrets`, viewerToken)).status).toBe(403);
    expect((await call("DELETE", `/v1/skills/${A.skillId}/trigger-secrets/${id}`, otherToken)).status).toBe(404);
    expect((await call("GET", `/v1/skills/${A.skillId}/trigger-secrets`, otherToken)).status).toBe(404);
    const revoked = await call("DELETE", `/v1/skills/${A.skillId}/trigger-secrets/${id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.json).toMatchObject({ id, revoked: true });

    const before = await runCount();
    const res = await send({ secret });
    expect(res.status).toBe(401);
    expect(res.json.error?.code).toBe("SIGNATURE_INVALID");
    expect(await runCount()).toBe(before);
    // The other live secrets still verify.
    const live = (await call("GET", `/v1/skills/${A.skillId}/trigger-secrets`)).json["triggerSecrets"] as Listed[];
    expect(live.find((s) => s.id === id)).toMatchObject({ status: "revoked", revokedAt: expect.any(String) });
    expect(live.filter((s) => s.status === "live").length).toBeGreaterThan(0);

    expect((await call("DELETE", `/v1/skills/${A.skillId}/trigger-secrets/${id}`)).status).toBe(404);
    expect((await call("DELETE", `/v1/skills/${A.skillId}/trigger-secrets/${newId("triggerSecret")}`)).status).toBe(
      404,
    );
  });
});
