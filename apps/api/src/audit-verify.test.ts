/**
 * Review findings 5 and 10 at the api's HTTP edge, on the real database and real Redis, with two api servers sharing
 * one Redis as two processes would:
 *   - rate limits per token and per address hold across both servers (one budget), answer 429 + Retry-After in the
 *     house shape, and the per-address limit answers before any database query;
 *   - verifications are capped per workspace across servers; a full one is for owners and admins and has its own budget;
 *   - the default verify checks the head's signature and every event past the newest checkpoint (a forged head or a
 *     re-hashed tail is named by seq), and is incremental from a memo that cannot let a rewritten event T pass;
 *   - with Redis away, the limits fail open and verifications are refused (503).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPublicKey, generateKeyPairSync, randomUUID, sign } from "node:crypto";
import postgres from "postgres";
import { canonicalBytes, eventHash, mintApiTokenMaterial, newId, signEvent, type AuditEventDraft } from "@praxa/core";
import {
  appendAuditEvents,
  createCheckpoint,
  createDatabase,
  createTestDatabase,
  registerAuditKey,
  seedWorkspaceFixture,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createLogger } from "@praxa/observability";
import { createRedis, removeRedisPrefix, type Redis } from "@praxa/queue";
import type { FastifyInstance } from "fastify";
import { redisVerifyGate } from "./audit-verify-gate.js";
import { buildApiServer } from "./server.js";

let tdb: TestDatabase;
let admin: postgres.Sql;
let db: Database;
let redis: Redis;
const prefix = `test-${randomUUID()}`;
const servers: FastifyInstance[] = [];
const eventKey = {
  keyId: `aek_verify_${randomUUID().slice(0, 8)}`,
  privateKey: generateKeyPairSync("ed25519").privateKey,
};
const cpPair = generateKeyPairSync("ed25519");
const cpSigner = {
  keyId: `cpk_verify_${randomUUID().slice(0, 8)}`,
  sign: async (m: Uint8Array) => sign(null, m, cpPair.privateKey),
};
const foreign = generateKeyPairSync("ed25519").privateKey;

/** Every prefix a server of this suite counted under on the shared Redis: removed in afterAll. */
const prefixes = new Set<string>([prefix]);
const limits = { perIpPerMinute: 1000, perTokenPerMinute: 1000, verifyFullPerHour: 1000 };
async function server(
  over: { limits?: Partial<typeof limits>; database?: Database; redis?: Redis; prefix?: string } = {},
): Promise<string> {
  const r = over.redis ?? redis;
  const p = over.prefix ?? prefix;
  if (r === redis) prefixes.add(p);
  const app = await buildApiServer({
    database: over.database ?? db,
    log: createLogger({ name: "api-verify-test", level: "silent" }),
    limits: { redis: r, prefix: p, limits: { ...limits, ...over.limits }, verifyGate: redisVerifyGate(r, p) },
  });
  servers.push(app);
  return app.listen({ port: 0, host: "127.0.0.1" });
}

async function token(f: WorkspaceFixture, role: "admin" | "viewer"): Promise<string> {
  const memberId = role === "admin" ? f.memberId : newId("member");
  if (role !== "admin")
    await admin`insert into workspace_members (workspace_id, id, email, role) values (${f.workspaceId}, ${memberId}, ${`${memberId}@example.com`}, ${role})`;
  const m = mintApiTokenMaterial(f.workspaceId);
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${f.workspaceId}, ${m.tokenId}, ${memberId}, 'human', 'test', ${m.secretSha256}, now() + '1 hour'::interval)`;
  return m.token;
}

async function get(base: string, path: string, tok?: string) {
  const res = await fetch(base + path, { headers: tok ? { authorization: `Bearer ${tok}` } : {} });
  return {
    status: res.status,
    retryAfter: res.headers.get("retry-after"),
    json: (await res.json()) as Record<string, unknown>,
  };
}

async function append(f: WorkspaceFixture, n: number): Promise<void> {
  const draft = (): AuditEventDraft => ({
    auditEventId: newId("auditEvent"),
    kind: "key.rotated",
    skillId: null,
    runId: null,
    trigger: "api.key_rotation",
    input: {},
    reasoning: ["rotated"],
    alternatives: [],
    confidence: null,
    output: {},
    tools_used: [],
    duration_ms: 0,
    occurred_at: new Date().toISOString(),
  });
  await withWorkspace(db, f.workspaceId, (s) => appendAuditEvents(s, Array.from({ length: n }, draft), eventKey));
}
const checkpoint = (f: WorkspaceFixture) => withWorkspace(db, f.workspaceId, (s) => createCheckpoint(s, cpSigner));

/** As the superuser with triggers off: what an insider with database access (and not the signing key) could do. */
const asSuperuser = (fn: (tx: postgres.TransactionSql) => Promise<unknown>) =>
  admin.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await fn(tx);
  });
const rowOf = async (f: WorkspaceFixture, seq: number) =>
  (
    await admin<
      { prev_hash: string; hash: string; signature: string; canonical: Buffer }[]
    >`select prev_hash, hash, signature, canonical from audit_events where workspace_id = ${f.workspaceId} and seq = ${seq}`
  )[0]!;

/** Rewrite events `seqs` (ascending, ending at the head) so the hash chain still links; signatures left as they were. */
async function rehash(f: WorkspaceFixture, seqs: number[]): Promise<void> {
  let prev = (await rowOf(f, seqs[0]! - 1)).hash;
  const rows: { seq: number; prev: string; canonical: Buffer; hash: string }[] = [];
  for (const seq of seqs) {
    const body = JSON.parse((await rowOf(f, seq)).canonical.toString("utf8")) as Record<string, unknown>;
    const canonical = Buffer.from(canonicalBytes({ ...body, prev_hash: prev, reasoning: ["rewritten"] }));
    rows.push({ seq, prev, canonical, hash: eventHash(prev, canonical) });
    prev = eventHash(prev, canonical);
  }
  await asSuperuser(async (tx) => {
    for (const r of rows)
      await tx`update audit_events set canonical = ${r.canonical}, prev_hash = ${r.prev}, hash = ${r.hash} where workspace_id = ${f.workspaceId} and seq = ${r.seq}`;
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  db = createDatabase(tdb.roleUrl("praxa_api"), { max: 6 });
  redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", "producer");
  await registerAuditKey(db, {
    keyId: eventKey.keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: createPublicKey(eventKey.privateKey).export({ format: "der", type: "spki" }),
  });
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  for (const p of prefixes) await removeRedisPrefix(redis, p);
  redis.disconnect();
  await db?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

describe("rate limits, shared by two api servers on one Redis", () => {
  it("one token’s budget is spent across both servers; past it 429 RATE_LIMITED with Retry-After", async () => {
    const p = `${prefix}-tok`;
    const [a, b] = [
      await server({ prefix: p, limits: { perTokenPerMinute: 3 } }),
      await server({ prefix: p, limits: { perTokenPerMinute: 3 } }),
    ];
    const f = await seedWorkspaceFixture(tdb.adminUrl, "RL");
    const tok = await token(f, "viewer");
    expect((await get(a, "/v1/skills", tok)).status).toBe(200);
    expect((await get(b, "/v1/skills", tok)).status).toBe(200);
    expect((await get(a, "/v1/skills", tok)).status).toBe(200);
    const over = await get(b, "/v1/skills", tok);
    expect(over).toEqual({
      status: 429,
      retryAfter: expect.stringMatching(/^[1-9][0-9]*$/),
      json: { error: { code: "RATE_LIMITED", message: "too many requests with this token" } },
    });
    // Another token of the same workspace has its own budget.
    expect((await get(a, "/v1/skills", await token(f, "viewer"))).status).toBe(200);
  });

  it("per address, before the database: made-up tokens are refused 429 once the address’s budget is spent, with no query run", async () => {
    const p = `${prefix}-ip`;
    // A database nobody listens on: any request that reached the token lookup would fail with 500.
    const unreachable = createDatabase("postgres://praxa_api@127.0.0.1:1/none", { max: 1 });
    try {
      const [a, b] = [
        await server({ prefix: p, database: unreachable, limits: { perIpPerMinute: 2 } }),
        await server({ prefix: p, database: unreachable, limits: { perIpPerMinute: 2 } }),
      ];
      const made = () => mintApiTokenMaterial(newId("workspace")).token;
      expect((await get(a, "/v1/skills", made())).status).toBe(500);
      expect((await get(b, "/v1/skills", made())).status).toBe(500);
      for (const base of [a, b]) {
        expect(await get(base, "/v1/skills", made())).toEqual({
          status: 429,
          retryAfter: expect.stringMatching(/^[1-9][0-9]*$/),
          json: { error: { code: "RATE_LIMITED", message: "too many requests from this address" } },
        });
      }
      expect((await get(a, "/healthz")).status).toBe(200);
    } finally {
      await unreachable.close();
    }
  });

  it("Redis away: the limits fail open (requests served), verifications are refused 503", async () => {
    const away = createRedis("redis://127.0.0.1:1", "producer", {
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    away.on("error", () => undefined);
    try {
      const base = await server({
        redis: away,
        prefix: `${prefix}-away`,
        limits: { perIpPerMinute: 1, perTokenPerMinute: 1 },
      });
      const f = await seedWorkspaceFixture(tdb.adminUrl, "RA");
      const tok = await token(f, "viewer");
      for (let i = 0; i < 3; i++) expect((await get(base, "/v1/skills", tok)).status).toBe(200);
      expect(await get(base, "/v1/audit/verify", tok)).toMatchObject({
        status: 503,
        json: { error: { code: "AUDIT_VERIFY_UNAVAILABLE" } },
      });
    } finally {
      away.disconnect();
    }
  });
});

describe("GET /v1/audit/verify", () => {
  let base: string;
  let other: string;
  beforeAll(async () => {
    base = await server();
    other = await server();
    await registerAuditKey(db, {
      keyId: cpSigner.keyId,
      purpose: "checkpoint",
      algorithm: "ed25519",
      spki: cpPair.publicKey.export({ format: "der", type: "spki" }),
    });
  });

  it("caps verifications per workspace across servers: a held slot → 429 with Retry-After; released → verified", async () => {
    const f = await seedWorkspaceFixture(tdb.adminUrl, "VC", { auditChain: false });
    await append(f, 2);
    const tok = await token(f, "viewer");
    // Another api process holds the workspace's one slot.
    const held = await redisVerifyGate(redis, prefix).acquire(f.workspaceId);
    if ("retryAfterSeconds" in held) throw new Error("the slot should have been free");
    try {
      expect(await get(other, "/v1/audit/verify", tok)).toEqual({
        status: 429,
        retryAfter: expect.stringMatching(/^[1-9][0-9]?$/),
        json: { error: { code: "RATE_LIMITED", message: "a verification of this workspace is already running" } },
      });
    } finally {
      await held.release();
    }
    expect(await get(base, "/v1/audit/verify", tok)).toMatchObject({ status: 200, json: { ok: true, events: 2 } });
  });

  it("?full=true: owners and admins only, with its own budget per workspace", async () => {
    const p = `${prefix}-full`;
    const one = await server({ prefix: p, limits: { verifyFullPerHour: 1 } });
    const f = await seedWorkspaceFixture(tdb.adminUrl, "VF", { auditChain: false });
    await append(f, 3);
    expect((await get(one, "/v1/audit/verify?full=true", await token(f, "viewer"))).status).toBe(403);
    const adminTok = await token(f, "admin");
    expect(await get(one, "/v1/audit/verify?full=true", adminTok)).toMatchObject({
      status: 200,
      json: { ok: true, mode: "full", events: 3 },
    });
    expect(await get(one, "/v1/audit/verify?full=true", await token(f, "admin"))).toMatchObject({
      status: 429,
      json: { error: { code: "RATE_LIMITED" } },
    });
    expect(await get(one, "/v1/audit/verify", adminTok)).toMatchObject({ status: 200, json: { ok: true } });
  });

  it("finding 10: a forged signature on the head, with no checkpoint and under one that covers it → ok=false naming the head", async () => {
    const f = await seedWorkspaceFixture(tdb.adminUrl, "VH", { auditChain: false });
    await append(f, 4);
    const tok = await token(f, "viewer");
    expect(await get(base, "/v1/audit/verify", tok)).toMatchObject({
      json: { ok: true, mode: "whole", events: 4, checkpoints: 0 },
    });
    const head = await rowOf(f, 4);
    await asSuperuser(
      (tx) =>
        tx`update audit_events set signature = ${signEvent(head.hash, foreign)} where workspace_id = ${f.workspaceId} and seq = 4`,
    );
    expect(await get(base, "/v1/audit/verify", tok)).toMatchObject({
      json: { ok: false, failure: { seq: 4, reason: "bad_signature" } },
    });
    await checkpoint(f);
    expect(await get(base, "/v1/audit/verify", tok)).toMatchObject({
      json: { ok: false, failure: { seq: 4, reason: "bad_signature" } },
    });
  });

  it("incremental from a memo: the next call reads from checkpoint T on, and still names a re-hashed tail", async () => {
    const f = await seedWorkspaceFixture(tdb.adminUrl, "VI", { auditChain: false });
    await append(f, 5);
    await checkpoint(f); // T = 5
    const tok = await token(f, "viewer");
    expect(await get(base, "/v1/audit/verify", tok)).toMatchObject({
      json: { ok: true, mode: "whole", events: 5, checkpoints: 1 },
    });
    await append(f, 4); // 6-9
    // The memo was written by one server and is used by the other.
    expect(await get(other, "/v1/audit/verify", tok)).toMatchObject({
      json: { ok: true, mode: "incremental", since: 5, events: 9 },
    });
    await checkpoint(f); // T = 9
    await append(f, 3); // 10-12
    expect(await get(base, "/v1/audit/verify", tok)).toMatchObject({
      json: { ok: true, mode: "incremental", since: 5, events: 12, checkpoints: 2 },
    });
    expect(await get(base, "/v1/audit/verify", tok)).toMatchObject({
      json: { ok: true, mode: "incremental", since: 9, events: 12 },
    });
    await rehash(f, [11, 12]);
    expect(await get(base, "/v1/audit/verify", tok)).toMatchObject({
      json: { ok: false, mode: "incremental", failure: { seq: 11, reason: "bad_signature" } },
    });
  });

  it("a memo cannot let a rewritten event T pass: its stored hash must fold to checkpoint T’s signed root, else the whole chain is read", async () => {
    const f = await seedWorkspaceFixture(tdb.adminUrl, "VT", { auditChain: false });
    await append(f, 6);
    await checkpoint(f); // T = 6
    const tok = await token(f, "viewer");
    expect(await get(base, "/v1/audit/verify", tok)).toMatchObject({ json: { ok: true, mode: "whole" } });
    await append(f, 2);
    // Rewrite 5..8 so the chain links (signatures untouched): event 6's hash no longer folds, with the memo's frontier,
    // to checkpoint 6's signed root, so the call reads the whole chain — and fails at the first event past the
    // checkpoint, whose own signature no longer matches its hash.
    await rehash(f, [5, 6, 7, 8]);
    const res = await get(base, "/v1/audit/verify", tok);
    expect(res.json).toMatchObject({ ok: false, mode: "whole" });
    expect(res.json.failure).toEqual(expect.objectContaining({ seq: 7, reason: "bad_signature" }));
  });

  it("a planted memo (made-up frontier) is not trusted: the whole chain is read", async () => {
    const f = await seedWorkspaceFixture(tdb.adminUrl, "VP", { auditChain: false });
    await append(f, 3);
    const cp = await checkpoint(f);
    await redis.set(
      `${prefix}:audit-verify:memo:${f.workspaceId}`,
      JSON.stringify({ treeSize: 3, rootHash: cp!.root_hash, frontierBefore: ["a".repeat(64)] }),
    );
    expect(await get(base, "/v1/audit/verify", await token(f, "viewer"))).toMatchObject({
      json: { ok: true, mode: "whole", events: 3 },
    });
  });
});
