/**
 * Review issue #16, finding 3 — "automation tokens renew themselves, cannot be revoked". Performed for real: the api
 * server over HTTP on the real database, and the api's own database role calling the definer functions directly (as a
 * compromised api process could).
 *  - an automation token asking to mint → 403 and nothing minted, at the route and in SQL (api_mint_automation_token
 *    re-checks the presented token from its hash: live, human, an owner's or admin's);
 *  - a human admin mints: the token acts as that admin, records minted_by, one signed admin.token.minted event;
 *  - GET /v1/tokens never shows a secret or its hash; viewers may not list;
 *  - DELETE /v1/tokens/:id revokes the token and, recursively, the tokens it minted (they then get 401), one signed
 *    admin.token.revoked event each; an automation token revokes only itself; the api role cannot revoke around it;
 *  - a lifetime beyond the operator's maximum is refused by the route and by SQL;
 *  - the chain still verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync } from "node:crypto";
import postgres from "postgres";
import {
  hashTokenSecret,
  mintApiTokenMaterial,
  newId,
  parseApiToken,
  PermissionDeniedError,
  ValidationError,
} from "@praxa/core";
import {
  createDatabase,
  createTestDatabase,
  mapPgError,
  mintAutomationToken,
  registerAuditKey,
  revokeApiToken,
  seedWorkspaceFixture,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { buildApiServer } from "@praxa/api";
import { createLogger } from "@praxa/observability";
import type { FastifyInstance } from "fastify";

let tdb: TestDatabase;
let admin: postgres.Sql;
let apiDb: Database;
let app: FastifyInstance;
let base: string;
let A: WorkspaceFixture;
let B: WorkspaceFixture;

interface Presented {
  readonly token: string;
  readonly tokenId: string;
  readonly secretSha256: string;
}

/** A human token for a member of the role (created by the operator; inserted here as the fixture does). */
async function humanToken(f: WorkspaceFixture, role: "owner" | "admin" | "viewer" = "admin"): Promise<Presented> {
  const memberId = role === "owner" ? f.memberId : newId("member");
  if (role !== "owner")
    await admin`insert into workspace_members (workspace_id, id, email, role) values (${f.workspaceId}, ${memberId}, ${`${memberId}@example.com`}, ${role})`;
  const m = mintApiTokenMaterial(f.workspaceId);
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
              values (${f.workspaceId}, ${m.tokenId}, ${memberId}, 'human', 'h', ${m.secretSha256}, now() + interval '1 day')`;
  return { token: m.token, tokenId: m.tokenId, secretSha256: m.secretSha256 };
}

async function call(method: "GET" | "POST" | "DELETE", path: string, tok: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${tok}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Mint through the api; returns the new token as presented. */
async function mint(
  by: Presented,
  name = "ci",
  ttlDays?: number,
): Promise<Presented & { body: Record<string, unknown> }> {
  const res = await call("POST", "/v1/tokens", by.token, { name, ...(ttlDays !== undefined ? { ttlDays } : {}) });
  expect(res.status).toBe(201);
  const token = String(res.json["token"]);
  const parsed = parseApiToken(`Bearer ${token}`)!;
  return { token, tokenId: parsed.tokenId, secretSha256: hashTokenSecret(parsed.secret), body: res.json };
}

const tokenCount = async (f: WorkspaceFixture) =>
  (await admin<{ n: number }[]>`select count(*)::int as n from api_tokens where workspace_id = ${f.workspaceId}`)[0]!.n;
const events = async (f: WorkspaceFixture, kind: string) =>
  admin<
    { seq: number; canonical: Buffer }[]
  >`select seq::int as seq, canonical from audit_events where workspace_id = ${f.workspaceId} and kind = ${kind} order by seq`;
const record = (e: { canonical: Buffer }) =>
  JSON.parse(e.canonical.toString("utf8")) as { input: Record<string, unknown>; output: Record<string, unknown> };
const errorOf = async (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => mapPgError(e),
  );

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  apiDb = createDatabase(tdb.roleUrl("praxa_api"), { max: 4 });
  const k = generateKeyPairSync("ed25519");
  await registerAuditKey(apiDb, {
    keyId: "aek_tokens_test",
    purpose: "event",
    algorithm: "ed25519",
    spki: k.publicKey.export({ format: "der", type: "spki" }),
  });
  app = await buildApiServer({
    database: apiDb,
    log: createLogger({ name: "tokens", level: "silent" }),
    auditSigner: { keyId: "aek_tokens_test", privateKey: k.privateKey },
  });
  base = await app.listen({ port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await app?.close();
  await apiDb?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

describe("minting needs a live human token of an owner or admin", () => {
  it("a human admin mints: the token acts as the admin, records minted_by, and one signed admin.token.minted names it (never the secret)", async () => {
    const human = await humanToken(A);
    const before = (await events(A, "admin.token.minted")).length;
    const child = await mint(human, "deploy", 30);
    expect(child.body).toMatchObject({ kind: "automation", mintedBy: human.tokenId });
    expect((await call("GET", "/v1/skills", child.token)).status).toBe(200);
    const [row] = await admin<
      { kind: string; minted_by: string; member_id: string }[]
    >`select kind, minted_by, member_id from api_tokens where id = ${child.tokenId}`;
    const [humanRow] = await admin<
      { member_id: string }[]
    >`select member_id from api_tokens where id = ${human.tokenId}`;
    expect(row).toEqual({ kind: "automation", minted_by: human.tokenId, member_id: humanRow!.member_id });
    const minted = (await events(A, "admin.token.minted")).slice(before);
    expect(minted).toHaveLength(1);
    expect(record(minted[0]!).input).toMatchObject({
      actor_member_id: humanRow!.member_id,
      actor_token_id: human.tokenId,
      target_id: child.tokenId,
      kind: "automation",
    });
    const secret = child.token.split(".").at(-1)!;
    for (const s of [secret, child.secretSha256, child.token])
      expect(minted[0]!.canonical.toString("utf8")).not.toContain(s);
  });

  it("an automation token (even an admin’s) cannot mint: 403 at the route, nothing minted, nothing audited", async () => {
    const child = await mint(await humanToken(A));
    const tokens = await tokenCount(A);
    const audited = (await events(A, "admin.token.minted")).length;
    const res = await call("POST", "/v1/tokens", child.token, { name: "successor", ttlDays: 365 });
    expect(res).toEqual({ status: 403, json: { error: { code: "FORBIDDEN", message: "this needs a human token" } } });
    expect(await tokenCount(A)).toBe(tokens);
    expect((await events(A, "admin.token.minted")).length).toBe(audited);
  });

  it("the database refuses it too: the api role minting with an automation token, a viewer’s, a revoked or a wrong secret → permission denied", async () => {
    const human = await humanToken(A);
    const child = await mint(human);
    const viewer = await humanToken(A, "viewer");
    const other = await humanToken(B);
    const tokens = await tokenCount(A);
    const attempt = (minter: { tokenId: string; secretSha256: string }) => {
      const m = mintApiTokenMaterial(A.workspaceId);
      return errorOf(
        withWorkspace(apiDb, A.workspaceId, (s) =>
          mintAutomationToken(s, {
            tokenId: m.tokenId,
            name: "x",
            secretSha256: m.secretSha256,
            expiresAt: new Date(Date.now() + 86_400_000),
            minter,
          }),
        ),
      );
    };
    expect(await attempt(child)).toBeInstanceOf(PermissionDeniedError);
    expect(await attempt(viewer)).toBeInstanceOf(PermissionDeniedError);
    expect(await attempt({ ...human, secretSha256: hashTokenSecret("guessed") })).toBeInstanceOf(PermissionDeniedError);
    expect(await attempt(other)).toBeInstanceOf(PermissionDeniedError); // B's human token, in A's scope
    // The old signature (member id as an argument, no minter) is gone.
    const m = mintApiTokenMaterial(A.workspaceId);
    await expect(
      apiDb.sql.begin(async (tx) => {
        await tx`select set_config('app.workspace_id', ${A.workspaceId}, true)`;
        return tx`select public.api_mint_automation_token(${m.tokenId}, ${A.memberId}, 'x', ${m.secretSha256}, now() + interval '1 day')`;
      }),
    ).rejects.toThrow();
    expect(await tokenCount(A)).toBe(tokens);
    // Revoked, the human token mints nothing either.
    expect((await call("DELETE", `/v1/tokens/${human.tokenId}`, (await humanToken(A)).token)).status).toBe(200);
    expect(await attempt(human)).toBeInstanceOf(PermissionDeniedError);
  });
});

describe("listing", () => {
  it("owners and admins list id, name, kind, role, expiry, minted_by, status — never a secret or its hash; viewers may not", async () => {
    const human = await humanToken(A);
    const child = await mint(human, "nightly");
    const res = await call("GET", "/v1/tokens", human.token);
    expect(res.status).toBe(200);
    const list = res.json["tokens"] as Record<string, unknown>[];
    expect(list.find((t) => t["id"] === child.tokenId)).toEqual({
      id: child.tokenId,
      name: "nightly",
      kind: "automation",
      memberId: expect.any(String),
      role: "admin",
      createdAt: expect.any(String),
      expiresAt: child.body["expiresAt"],
      mintedBy: human.tokenId,
      revokedAt: null,
      status: "live",
    });
    const bytes = JSON.stringify(res.json);
    const secrets = await admin<{ secret_sha256: string }[]>`select secret_sha256 from api_tokens`;
    for (const s of [child.token, child.token.split(".").at(-1)!, ...secrets.map((r) => r.secret_sha256)])
      expect(bytes).not.toContain(s);
    expect(list.every((t) => !Object.keys(t).some((k) => /secret|sha|hash|token$/i.test(k)))).toBe(true);
    expect(bytes).not.toContain(B.workspaceId);
    expect((await call("GET", "/v1/tokens", (await humanToken(A, "viewer")).token)).status).toBe(403);
  });
});

describe("revoking", () => {
  it("revoking a token revokes the tokens it minted, in one transaction, one signed admin.token.revoked each; they then get 401", async () => {
    const lead = await humanToken(A);
    const c1 = await mint(lead, "c1");
    const c2 = await mint(lead, "c2");
    const bystander = await mint(await humanToken(A), "other");
    const before = (await events(A, "admin.token.revoked")).length;
    const res = await call("DELETE", `/v1/tokens/${lead.tokenId}`, (await humanToken(A)).token);
    expect(res.status).toBe(200);
    expect((res.json["revoked"] as string[]).sort()).toEqual([lead.tokenId, c1.tokenId, c2.tokenId].sort());
    for (const t of [lead, c1, c2]) expect((await call("GET", "/v1/skills", t.token)).status).toBe(401);
    expect((await call("GET", "/v1/skills", bystander.token)).status).toBe(200);
    const revoked = (await events(A, "admin.token.revoked")).slice(before);
    expect(revoked.map((e) => record(e).input["target_id"]).sort()).toEqual(
      [lead.tokenId, c1.tokenId, c2.tokenId].sort(),
    );
    expect(revoked.map((e) => record(e).output["cascade"]).filter(Boolean)).toHaveLength(2);
    // Revoking it again changes nothing and records nothing; an unknown or another workspace's token is 404.
    const again = await call("DELETE", `/v1/tokens/${lead.tokenId}`, (await humanToken(A)).token);
    expect(again).toEqual({ status: 200, json: { id: lead.tokenId, revoked: [] } });
    expect((await events(A, "admin.token.revoked")).length).toBe(before + 3);
    expect(
      (await call("DELETE", `/v1/tokens/${(await humanToken(B)).tokenId}`, (await humanToken(A)).token)).status,
    ).toBe(404);
    expect((await call("DELETE", `/v1/tokens/${newId("apiToken")}`, (await humanToken(A)).token)).status).toBe(404);
  });

  it("an automation token revokes only itself; a viewer revokes nothing; the api role cannot set revoked_at around the function", async () => {
    const human = await humanToken(A);
    const a1 = await mint(human, "a1");
    const a2 = await mint(human, "a2");
    expect((await call("DELETE", `/v1/tokens/${a2.tokenId}`, a1.token)).status).toBe(403);
    expect((await call("DELETE", `/v1/tokens/${human.tokenId}`, a1.token)).status).toBe(403);
    expect((await call("GET", "/v1/skills", a2.token)).status).toBe(200);
    expect((await call("DELETE", `/v1/tokens/${a2.tokenId}`, (await humanToken(A, "viewer")).token)).status).toBe(403);
    // Through SQL as the api role: the function refuses the automation token, and the column is not the api's to write.
    expect(await errorOf(withWorkspace(apiDb, A.workspaceId, (s) => revokeApiToken(s, a2.tokenId, a1)))).toBeInstanceOf(
      PermissionDeniedError,
    );
    expect(
      await errorOf(
        apiDb.sql.begin(async (tx) => {
          await tx`select set_config('app.workspace_id', ${A.workspaceId}, true)`;
          return tx`update api_tokens set revoked_at = now() where id = ${a2.tokenId}`;
        }),
      ),
    ).toBeInstanceOf(PermissionDeniedError);
    const self = await call("DELETE", `/v1/tokens/${a1.tokenId}`, a1.token);
    expect(self).toEqual({ status: 200, json: { id: a1.tokenId, revoked: [a1.tokenId] } });
    expect((await call("GET", "/v1/skills", a1.token)).status).toBe(401);
  });
});

describe("revocation racing a mint", () => {
  /** Resolves once some backend of this database waits on a row lock (the racing statement is blocked). */
  async function someoneWaitsOnALock(): Promise<void> {
    for (;;) {
      const [w] = await admin<
        { n: number }[]
      >`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
      if (w!.n > 0) return;
      await new Promise((r) => setImmediate(r));
    }
  }

  it("a mint by a token whose revocation is in flight waits for it, then is refused: no live token with a revoked minter", async () => {
    const lead = await humanToken(A);
    const other = await humanToken(A);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const holding = new Promise<void>((r) => (locked = r));
    // The revocation, its transaction held open after the function ran (the minter's row locked and revoked, uncommitted).
    const revocation = withWorkspace(apiDb, A.workspaceId, async (s) => {
      const r = await revokeApiToken(s, lead.tokenId, other);
      locked();
      await gate;
      return r;
    });
    await holding;
    const mintCall = call("POST", "/v1/tokens", lead.token, { name: "racer" });
    await someoneWaitsOnALock();
    release();
    expect((await revocation).map((r) => r.token_id)).toEqual([lead.tokenId]);
    const minted = await mintCall;
    expect(minted.status).toBe(403);
    const [live] = await admin<
      { n: number }[]
    >`select count(*)::int as n from api_tokens where minted_by = ${lead.tokenId} and revoked_at is null`;
    expect(live!.n).toBe(0);
  });
});

describe("maximum lifetime", () => {
  it("beyond the operator’s maximum is refused by the route and by SQL; the operator sets it", async () => {
    const human = await humanToken(A);
    const tokens = await tokenCount(A);
    expect((await call("POST", "/v1/tokens", human.token, { name: "x", ttlDays: 366 })).status).toBe(400); // past any maximum
    const over = await call("POST", "/v1/tokens", human.token, { name: "x", ttlDays: 91 }); // past the default 90
    expect(over.status).toBe(400);
    expect(over.json).toMatchObject({ error: { code: "VALIDATION_FAILED" } });
    expect(await tokenCount(A)).toBe(tokens);
    await mint(human, "ninety", 90);
    // SQL, as the api role, with an expiry the route would never compute.
    const m = mintApiTokenMaterial(A.workspaceId);
    expect(
      await errorOf(
        withWorkspace(apiDb, A.workspaceId, (s) =>
          mintAutomationToken(s, {
            tokenId: m.tokenId,
            name: "x",
            secretSha256: m.secretSha256,
            expiresAt: new Date(Date.now() + 91 * 86_400_000),
            minter: human,
          }),
        ),
      ),
    ).toBeInstanceOf(ValidationError);
    expect(
      await errorOf(
        withWorkspace(apiDb, A.workspaceId, (s) =>
          mintAutomationToken(s, {
            tokenId: m.tokenId,
            name: "x",
            secretSha256: m.secretSha256,
            expiresAt: new Date(Date.now() - 1000),
            minter: human,
          }),
        ),
      ),
    ).toBeInstanceOf(ValidationError);
    // The operator lowers the maximum (praxa_owner, through admin_set_token_max_days; the api role may not).
    expect(await errorOf(apiDb.sql`select public.admin_set_token_max_days('automation', 366)`)).toBeInstanceOf(
      PermissionDeniedError,
    );
    await admin.begin(async (tx) => {
      await tx`set local role praxa_owner`;
      await tx`select public.admin_set_token_max_days('automation', 7)`;
    });
    try {
      expect((await call("POST", "/v1/tokens", human.token, { name: "x", ttlDays: 8 })).status).toBe(400);
      await mint(human, "week", 7);
      // No ttlDays: the operator's maximum, recorded by the database.
      const asked = Date.now();
      const dflt = await mint(human, "default");
      const expires = Date.parse(String(dflt.body["expiresAt"]));
      expect(expires).toBeGreaterThan(asked + 6 * 86_400_000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 7 * 86_400_000 + 60_000);
    } finally {
      await admin.begin(async (tx) => {
        await tx`set local role praxa_owner`;
        await tx`select public.admin_set_token_max_days('automation', 90)`;
      });
    }
  });
});

describe("the chain", () => {
  it("every token event above is signed into the workspace chain, which still verifies", async () => {
    const res = await call("GET", "/v1/audit/verify", (await humanToken(A, "viewer")).token);
    const [n] = await admin<
      { n: number }[]
    >`select count(*)::int as n from audit_events where workspace_id = ${A.workspaceId} and kind like 'admin.token.%'`;
    expect(n!.n).toBeGreaterThan(10);
    expect(res).toMatchObject({ status: 200, json: { ok: true } });
  });
});
