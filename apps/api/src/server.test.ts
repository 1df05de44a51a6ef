/**
 * The api's token authentication and tenancy at the HTTP edge, on the real database and real HTTP: wrong, expired or
 * malformed tokens → 401; another workspace's id → 404 (never 403, never its data); a viewer cannot mint tokens (403);
 * a minted token is shown once, is `automation`, works, and never reaches the logs.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Writable } from "node:stream";
import postgres from "postgres";
import { generateKeyPairSync } from "node:crypto";
import { mintApiTokenMaterial, newId, type AuditEventDraft } from "@praxa/core";
import {
  appendAuditEvents,
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
import type { FastifyInstance } from "fastify";
import { buildApiServer } from "./server.js";

let tdb: TestDatabase;
let admin: postgres.Sql;
let db: Database;
let app: FastifyInstance;
let base: string;
let A: WorkspaceFixture;
let B: WorkspaceFixture;
const logLines: string[] = [];

async function token(f: WorkspaceFixture, role: "admin" | "viewer", opts: { expired?: boolean } = {}): Promise<string> {
  const memberId = role === "admin" ? f.memberId : newId("member");
  if (role !== "admin")
    await admin`insert into workspace_members (workspace_id, id, email, role) values (${f.workspaceId}, ${memberId}, ${`${memberId}@example.com`}, ${role})`;
  const m = mintApiTokenMaterial(f.workspaceId);
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
              values (${f.workspaceId}, ${m.tokenId}, ${memberId}, 'human', 'test', ${m.secretSha256}, now() + ${opts.expired ? "-1 second" : "1 hour"}::interval)`;
  return m.token;
}

async function call(method: "GET" | "POST", path: string, tok?: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(tok ? { authorization: `Bearer ${tok}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  db = createDatabase(tdb.roleUrl("praxa_api"), { max: 4 });
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      logLines.push(chunk.toString("utf8"));
      cb();
    },
  });
  const signing = generateKeyPairSync("ed25519");
  const keyId = "aek_api_server_test";
  await registerAuditKey(db, {
    keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: signing.publicKey.export({ format: "der", type: "spki" }),
  });
  app = await buildApiServer({
    database: db,
    log: createLogger({ name: "api-test", level: "trace", destination }),
    auditSigner: { keyId, privateKey: signing.privateKey },
  });
  base = await app.listen({ port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await app?.close();
  await db?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

describe("api token authentication", () => {
  it("no, malformed, wrong-secret or expired tokens → 401 with the envelope", async () => {
    const good = await token(A, "admin");
    const wrongSecret = good.slice(0, -4) + (good.endsWith("AAAA") ? "BBBB" : "AAAA");
    for (const t of [undefined, "praxa_tk_nope", wrongSecret, await token(A, "admin", { expired: true })]) {
      const res = await call("GET", "/v1/skills", t);
      expect(res).toEqual({
        status: 401,
        json: { error: { code: "UNAUTHENTICATED", message: "a valid api token is required" } },
      });
    }
  });

  it("a token whose workspace id was swapped for another workspace’s → 401 (the lookup is scoped by it)", async () => {
    const good = await token(A, "admin");
    const swapped = good.replace(A.workspaceId, B.workspaceId);
    expect((await call("GET", "/v1/skills", swapped)).status).toBe(401);
  });
});

describe("tenancy at the edge", () => {
  it("lists only the caller’s Skills and runs; another workspace’s run id is 404", async () => {
    const tok = await token(A, "admin");
    const skills = await call("GET", "/v1/skills", tok);
    expect((skills.json.skills as { id: string }[]).map((s) => s.id)).toEqual([A.skillId]);
    const runs = await call("GET", "/v1/runs", tok);
    expect((runs.json.runs as { id: string }[]).map((r) => r.id)).toEqual([A.runId]);
    expect((await call("GET", `/v1/runs/${A.runId}`, tok)).status).toBe(200);
    const foreign = await call("GET", `/v1/runs/${B.runId}`, tok);
    expect(foreign).toEqual({ status: 404, json: { error: { code: "NOT_FOUND", message: "not found" } } });
    const missing = await call("GET", `/v1/runs/${newId("run")}`, tok);
    expect(missing).toEqual(foreign);
  });

  it("a malformed id is 400, not 500", async () => {
    const tok = await token(A, "admin");
    expect((await call("GET", "/v1/runs/not-a-run", tok)).status).toBe(400);
  });
});

describe("audit", () => {
  it("queries by run, skill, trigger and time; never another workspace’s events; paginates by seq", async () => {
    const tok = await token(A, "admin");
    const byRun = await call("GET", `/v1/audit/events?run=${A.runId}`, tok);
    expect(byRun.status).toBe(200);
    const events = byRun.json.events as { runId: string; seq: number; workspace_id: string; hash: string }[];
    expect(events.map((e) => [e.runId, e.seq, e.workspace_id])).toEqual([[A.runId, 1, A.workspaceId]]);
    expect(
      (await call("GET", `/v1/audit/events?skill=${A.skillId}&trigger=github.pull_request.opened`, tok)).json.events,
    ).toHaveLength(1);
    expect((await call("GET", `/v1/audit/events?run=${B.runId}`, tok)).json.events).toEqual([]);
    expect(
      (await call("GET", `/v1/audit/events?from=${new Date(Date.now() + 60_000).toISOString()}`, tok)).json.events,
    ).toEqual([]);
    expect((await call("GET", "/v1/audit/events?after=1", tok)).json.events).toEqual([]);
    expect((await call("GET", "/v1/audit/events?skill=not-a-skill", tok)).status).toBe(400);
  });

  it("a time range is paged in seq order, whatever order the events occurred in", async () => {
    const C = await seedWorkspaceFixture(tdb.adminUrl, "C");
    const at = (hour: number) => new Date(Date.UTC(2020, 0, 1, hour)).toISOString();
    // seq 2..7 occurred at these hours (not in seq order); seq 1 is the fixture's own event, occurring now.
    const hours: Record<number, number> = { 2: 1, 3: 5, 4: 2, 5: 3, 6: 9, 7: 4 };
    for (const [seq, hour] of Object.entries(hours)) {
      const record = { auditEventId: newId("auditEvent"), seq: Number(seq), occurred_at: at(hour) };
      await admin`insert into audit_events (workspace_id, seq, id, kind, skill_id, run_id, step, trigger, occurred_at, prev_hash, hash, key_id, signature, canonical)
                  values (${C.workspaceId}, ${Number(seq)}, ${record.auditEventId}, 'skill.action', ${C.skillId}, ${C.runId}, ${Number(seq)}, 'github.pull_request.opened', ${at(hour)},
                          ${"0".repeat(64)}, ${"1".repeat(64)}, 'k', 's', ${Buffer.from(JSON.stringify(record))})`;
    }
    const tok = await token(C, "admin");
    const seqs = async (q: string) => {
      const r = await call("GET", `/v1/audit/events?${q}`, tok);
      return { seqs: (r.json.events as { seq: number }[]).map((e) => e.seq), next: r.json.next };
    };
    expect(await seqs(`from=${at(2)}&to=${at(5)}&limit=2`)).toEqual({ seqs: [4, 5], next: 5 });
    expect(await seqs(`from=${at(2)}&to=${at(5)}&limit=2&after=5`)).toEqual({ seqs: [7], next: null });
    expect(await seqs(`from=${at(5)}&to=${at(10)}`)).toEqual({ seqs: [3, 6], next: null });
    expect(await seqs(`to=${at(2)}`)).toEqual({ seqs: [2], next: null });
    expect(await seqs(`skill=${C.skillId}&from=${at(3)}&to=${at(6)}`)).toEqual({ seqs: [3, 5, 7], next: null });
    expect(await seqs(`from=${at(6)}&to=${at(9)}`)).toEqual({ seqs: [], next: null });
  });

  it("the redaction policy: admins set it, viewers read it, invalid policies are refused", async () => {
    const adminTok = await token(A, "admin");
    const put = await fetch(`${base}/v1/audit/redaction-policy`, {
      method: "PUT",
      headers: { authorization: `Bearer ${adminTok}`, "content-type": "application/json" },
      body: JSON.stringify({ input: { fields: { repo: "hash" } } }),
    });
    expect(put.status).toBe(200);
    const got = await call("GET", "/v1/audit/redaction-policy", await token(A, "viewer"));
    expect((got.json.policy as { input: { fields: Record<string, string> } }).input.fields).toEqual({ repo: "hash" });
    const viewerPut = await fetch(`${base}/v1/audit/redaction-policy`, {
      method: "PUT",
      headers: { authorization: `Bearer ${await token(A, "viewer")}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(viewerPut.status).toBe(403);
    const bad = await fetch(`${base}/v1/audit/redaction-policy`, {
      method: "PUT",
      headers: { authorization: `Bearer ${adminTok}`, "content-type": "application/json" },
      body: JSON.stringify({ input: { fields: { repo: "encrypt" } } }),
    });
    expect(bad.status).toBe(400);
    const reset = await fetch(`${base}/v1/audit/redaction-policy`, {
      method: "PUT",
      headers: { authorization: `Bearer ${adminTok}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(reset.status).toBe(200);
  });

  it("verifies the workspace’s chain and checkpoints server-side", async () => {
    const res = await call("GET", "/v1/audit/verify", await token(A, "viewer"));
    // The fixture's event, and one admin.redaction_policy.changed per policy change above.
    const [n] = await admin<
      { n: number }[]
    >`select count(*)::int as n from audit_events where workspace_id = ${A.workspaceId}`;
    expect(n?.n).toBe(3);
    // The fixture keeps seq 1's leaf hash as a retention cut (0033): verified from its checkpoint, reported.
    expect(res).toEqual({
      status: 200,
      json: { ok: true, mode: "whole", events: 3, checkpoints: 1, removedThrough: 1 },
    });
  });

  it("verifies a chain longer than a page (pages anchored on each other) and names a tampered event on a later page", async () => {
    const k = generateKeyPairSync("ed25519");
    const keyId = "aek_paging_test_0001";
    await registerAuditKey(db, {
      keyId,
      purpose: "event",
      algorithm: "ed25519",
      spki: k.publicKey.export({ format: "der", type: "spki" }),
    });
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
    await withWorkspace(db, B.workspaceId, (s) =>
      appendAuditEvents(s, [draft(), draft(), draft(), draft()], { keyId, privateKey: k.privateKey }),
    );
    const paged = await buildApiServer({
      database: db,
      log: createLogger({ name: "api-paged", level: "silent" }),
      auditVerifyPageSize: 2,
    });
    const url = await paged.listen({ port: 0, host: "127.0.0.1" });
    try {
      const tok = await token(B, "viewer");
      const verify = async () =>
        (await fetch(`${url}/v1/audit/verify`, { headers: { authorization: `Bearer ${tok}` } })).json() as Promise<
          Record<string, unknown>
        >;
      expect(await verify()).toMatchObject({ ok: true, events: 5, checkpoints: 1 });
      // Behind the app's back (triggers off, as a superuser would): one byte of seq 4, on the second page.
      await admin.begin(async (tx) => {
        await tx`alter table audit_events disable trigger user`;
        await tx`update audit_events set canonical = overlay(canonical placing '\x20'::bytea from 3 for 1) where workspace_id = ${B.workspaceId} and seq = 4`;
        await tx`alter table audit_events enable trigger user`;
      });
      expect(await verify()).toMatchObject({ ok: false, failure: { seq: 4 } });
    } finally {
      await paged.close();
    }
  });
});

describe("integrations", () => {
  it("lists bot installations with granted, needed and excess permissions; an over-broad grant is flagged", async () => {
    const tok = await token(A, "admin");
    const before = await call("GET", "/v1/integrations", tok);
    const [gh] = before.json.integrations as {
      provider: string;
      needed: string[];
      excess: string[];
      flagged: boolean;
    }[];
    expect(gh).toMatchObject({
      provider: "github",
      needed: ["contents:read", "pull_requests:read", "pull_requests:write"],
      excess: [],
      flagged: false,
    });
    await admin`update integrations set granted_scopes = array_append(granted_scopes, 'administration:write') where workspace_id = ${A.workspaceId}`;
    const after = await call("GET", "/v1/integrations", tok);
    expect((after.json.integrations as { excess: string[]; flagged: boolean }[])[0]).toMatchObject({
      excess: ["administration:write"],
      flagged: true,
    });
    expect(JSON.stringify(after.json)).not.toContain(B.installationId);
  });
});

describe("minting tokens", () => {
  it("an admin mints an automation token, shown once, that authenticates; it never reaches the logs", async () => {
    const tok = await token(A, "admin");
    const res = await call("POST", "/v1/tokens", tok, { name: "ci" });
    expect(res.status).toBe(201);
    expect(res.json.kind).toBe("automation");
    const minted = String(res.json.token);
    expect((await call("GET", "/v1/skills", minted)).status).toBe(200);
    const [row] = await admin<
      { kind: string; secret_sha256: string }[]
    >`select kind, secret_sha256 from api_tokens where id = ${String(res.json.id)}`;
    expect(row?.kind).toBe("automation");
    expect(minted).not.toContain(row?.secret_sha256 ?? "x");
    const logs = logLines.join("");
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).not.toContain(minted.split(".").at(-1) ?? "x");
  });

  it("a viewer cannot mint (403)", async () => {
    const res = await call("POST", "/v1/tokens", await token(A, "viewer"), { name: "nope" });
    expect(res).toEqual({ status: 403, json: { error: { code: "FORBIDDEN", message: "your role may not do this" } } });
  });

  it("an invalid body is 400", async () => {
    expect((await call("POST", "/v1/tokens", await token(A, "admin"), { name: "", extra: 1 })).status).toBe(400);
  });
});
