/**
 * Review issue #16, finding 3 — "admin changes leave no audit record". Over real HTTP against the api on the real
 * database: every administrative change (a BYOK key added and deleted, a notification channel added and deleted, a
 * trigger secret created and revoked, the redaction policy changed, a token minted and revoked) appends exactly one
 * signed `admin.*` event naming the actor and the target, in the transaction of the change:
 *  - when the audit append fails (a trigger refuses the insert), the change itself is rolled back — nothing changed;
 *  - a change refused (a missing id) records nothing;
 *  - no secret (the BYOK key, the PagerDuty routing key, the trigger secret, the token) is in any audit row's bytes;
 *  - the chain still verifies.
 * (The integration install's `admin.integration.installed` is covered by test/e2e/github-install.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { mintApiTokenMaterial, newId } from "@praxa/core";
import { LocalKeyProvider } from "@praxa/crypto";
import {
  createDatabase,
  createTestDatabase,
  registerAuditKey,
  seedWorkspaceFixture,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { buildApiServer } from "@praxa/api";
import { createLogger } from "@praxa/observability";
import { runKeysJob } from "@praxa/worker";
import type { FastifyInstance } from "fastify";

const LLM_CANARY = "sk-ant-api03-CANARY-admin-audit-0123456789abcdef";
const PD_CANARY = "CANARYpagerdutyROUTINGkey0123456";

let tdb: TestDatabase;
let admin: postgres.Sql;
let apiDb: Database;
let workerDb: Database;
let app: FastifyInstance;
let base: string;
let A: WorkspaceFixture;
let adminToken: string;
let adminTokenId: string;
/** Every secret a response showed once (trigger secrets, minted tokens): none may reach the audit log. */
const shownSecrets: string[] = [];

async function call(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown, tok = adminToken) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${tok}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

interface Ev {
  seq: number;
  kind: string;
  canonical: Buffer;
}
const allEvents = async (): Promise<Ev[]> =>
  admin<
    Ev[]
  >`select seq::int as seq, kind, canonical from audit_events where workspace_id = ${A.workspaceId} order by seq`;
const input = (e: Ev) => (JSON.parse(e.canonical.toString("utf8")) as { input: Record<string, unknown> }).input;
const output = (e: Ev) => (JSON.parse(e.canonical.toString("utf8")) as { output: Record<string, unknown> }).output;
const policyDigest = async () =>
  (
    await admin<
      { d: string }[]
    >`select encode(sha256(convert_to(audit_redaction::text, 'UTF8')), 'hex') as d from workspaces where id = ${A.workspaceId}`
  )[0]!.d;

/** What a change leaves behind, as the superuser sees it: compared before and after a change that must roll back. */
async function state(): Promise<string> {
  const [s] = await admin<{ s: string }[]>`select concat_ws('|',
      (select count(*) from llm_credentials where workspace_id = ${A.workspaceId}),
      (select count(*) from vault.secrets where workspace_id = ${A.workspaceId}),
      (select count(*) filter (where disabled_at is null) from notification_channels where workspace_id = ${A.workspaceId}),
      (select count(*) filter (where revoked_at is null) from trigger_secrets where workspace_id = ${A.workspaceId}),
      (select audit_redaction::text from workspaces where id = ${A.workspaceId}),
      (select count(*) filter (where revoked_at is null) from api_tokens where workspace_id = ${A.workspaceId}),
      (select count(*) from api_tokens where workspace_id = ${A.workspaceId}),
      (select count(*) from audit_events where workspace_id = ${A.workspaceId})) as s`;
  return s!.s;
}

/** The administrative changes, each returning its response, the kind it must record and the id it changed. */
type Change = () => Promise<{
  status: number;
  kind: string;
  target: string;
  json: Record<string, unknown>;
  setup?: string;
}>;
const changes: Record<string, Change> = {
  "llm key added": async () => {
    const r = await call("POST", "/v1/llm-keys", { provider: "anthropic", apiKey: LLM_CANARY });
    return { ...r, kind: "admin.llm_key.added", target: String(r.json["id"]) };
  },
  "llm key deleted": async () => {
    const id = String((await call("POST", "/v1/llm-keys", { provider: "anthropic", apiKey: LLM_CANARY })).json["id"]);
    const r = await call("DELETE", `/v1/llm-keys/${id}`);
    return { ...r, kind: "admin.llm_key.deleted", target: id, setup: "admin.llm_key.added" };
  },
  "channel added": async () => {
    const r = await call("POST", "/v1/notification-channels", { kind: "pagerduty", routingKey: PD_CANARY });
    return { ...r, kind: "admin.channel.added", target: String(r.json["id"]) };
  },
  "channel deleted": async () => {
    const id = String(
      (await call("POST", "/v1/notification-channels", { kind: "email", address: "oncall@example.com" })).json["id"],
    );
    const r = await call("DELETE", `/v1/notification-channels/${id}`);
    return { ...r, kind: "admin.channel.deleted", target: id, setup: "admin.channel.added" };
  },
  "trigger secret created": async () => {
    const r = await call("POST", `/v1/skills/${A.skillId}/trigger-secrets`);
    if (typeof r.json["secret"] === "string") shownSecrets.push(r.json["secret"]);
    return { ...r, kind: "admin.trigger_secret.created", target: String(r.json["id"]) };
  },
  "trigger secret revoked": async () => {
    const made = await call("POST", `/v1/skills/${A.skillId}/trigger-secrets`);
    if (typeof made.json["secret"] === "string") shownSecrets.push(made.json["secret"]);
    const id = String(made.json["id"]);
    const r = await call("DELETE", `/v1/skills/${A.skillId}/trigger-secrets/${id}`);
    return { ...r, kind: "admin.trigger_secret.revoked", target: id, setup: "admin.trigger_secret.created" };
  },
  "redaction policy changed": async () => {
    const current = (await call("GET", "/v1/audit/redaction-policy")).json["policy"] as {
      input?: { fields?: Record<string, string> };
    };
    const next = current.input?.fields?.["provider"] === "hash" ? {} : { input: { fields: { provider: "hash" } } };
    const r = await call("PUT", "/v1/audit/redaction-policy", next);
    return { ...r, kind: "admin.redaction_policy.changed", target: A.workspaceId };
  },
  "token minted": async () => {
    const r = await call("POST", "/v1/tokens", { name: "ci", ttlDays: 30 });
    if (typeof r.json["token"] === "string") shownSecrets.push(r.json["token"], r.json["token"].split(".").at(-1)!);
    return { ...r, kind: "admin.token.minted", target: String(r.json["id"]) };
  },
  "token revoked": async () => {
    const minted = await call("POST", "/v1/tokens", { name: "ci", ttlDays: 30 });
    if (typeof minted.json["token"] === "string") shownSecrets.push(minted.json["token"]);
    const id = String(minted.json["id"]);
    const r = await call("DELETE", `/v1/tokens/${id}`);
    return { ...r, kind: "admin.token.revoked", target: id, setup: "admin.token.minted" };
  },
};

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  apiDb = createDatabase(tdb.roleUrl("praxa_api"), { max: 4 });
  workerDb = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
  const provider = await LocalKeyProvider.open({
    path: join(mkdtempSync(join(tmpdir(), "praxa-admin-audit-")), "master.key"),
  });
  expect((await runKeysJob({ database: workerDb, provider, holder: "test" }, A.workspaceId, "create")).created).toBe(
    true,
  );
  const k = generateKeyPairSync("ed25519");
  await registerAuditKey(apiDb, {
    keyId: "aek_admin_audit_test",
    purpose: "event",
    algorithm: "ed25519",
    spki: k.publicKey.export({ format: "der", type: "spki" }),
  });
  app = await buildApiServer({
    database: apiDb,
    log: createLogger({ name: "admin-audit", level: "silent" }),
    auditSigner: { keyId: "aek_admin_audit_test", privateKey: k.privateKey },
  });
  base = await app.listen({ port: 0, host: "127.0.0.1" });
  const m = mintApiTokenMaterial(A.workspaceId);
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${A.workspaceId}, ${m.tokenId}, ${A.memberId}, 'human', 'admin', ${m.secretSha256}, now() + interval '1 day')`;
  adminToken = m.token;
  adminTokenId = m.tokenId;
});
afterAll(async () => {
  await app?.close();
  await Promise.all([apiDb?.close(), workerDb?.close()]);
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

describe("every administrative change appends exactly one signed admin.* event, in its transaction", () => {
  for (const [name, change] of Object.entries(changes)) {
    it(`${name}: one event naming the actor and the target`, async () => {
      const before = await allEvents();
      const r = await change();
      expect(r.status).toBeLessThan(300);
      const added = (await allEvents()).slice(before.length);
      // A change that needs a setup step (add, then delete) records that step too, first.
      expect(added.map((e) => e.kind)).toEqual([...(r.setup ? [r.setup] : []), r.kind]);
      const ev = added.at(-1)!;
      expect(input(ev)).toMatchObject({
        actor_member_id: A.memberId,
        actor_token_id: adminTokenId,
        target_id: r.target,
      });
    });
  }

  it("the redaction policy event carries the old and the new policy digests, as the database computes them", async () => {
    const old = await policyDigest();
    const before = (await allEvents()).length;
    expect(
      (await call("PUT", "/v1/audit/redaction-policy", { output: { fields: { fingerprint: "keep" } } })).status,
    ).toBe(200);
    const now = await policyDigest();
    expect(now).not.toBe(old);
    const added = (await allEvents()).slice(before);
    expect(added.map((e) => e.kind)).toEqual(["admin.redaction_policy.changed"]);
    expect(input(added[0]!)).toMatchObject({ old_digest: old });
    expect(output(added[0]!)).toMatchObject({ new_digest: now });
    // The same policy again is no change: nothing recorded.
    expect(
      (await call("PUT", "/v1/audit/redaction-policy", { output: { fields: { fingerprint: "keep" } } })).status,
    ).toBe(200);
    expect((await allEvents()).length).toBe(before + 1);
  });

  it("a refused change records nothing", async () => {
    const before = await state();
    expect((await call("DELETE", `/v1/llm-keys/${newId("credential")}`)).status).toBeGreaterThanOrEqual(400);
    expect(
      (await call("DELETE", `/v1/notification-channels/${newId("notificationChannel")}`)).status,
    ).toBeGreaterThanOrEqual(400);
    expect((await call("DELETE", `/v1/tokens/${newId("apiToken")}`)).status).toBe(404);
    expect(await state()).toBe(before);
  });

  it("when the audit append fails, the change is rolled back with it: nothing changed, nothing recorded", async () => {
    // Set up what the deletes and revokes act on first (audited normally).
    const llm = String((await call("POST", "/v1/llm-keys", { provider: "anthropic", apiKey: LLM_CANARY })).json["id"]);
    const channel = String(
      (await call("POST", "/v1/notification-channels", { kind: "email", address: "x@example.com" })).json["id"],
    );
    const secret = String((await call("POST", `/v1/skills/${A.skillId}/trigger-secrets`)).json["id"]);
    const token = String((await call("POST", "/v1/tokens", { name: "victim" })).json["id"]);
    await admin.unsafe(`create function public.test_refuse_audit() returns trigger language plpgsql as $$ begin raise exception 'audit refused by the test'; end $$;
                        create trigger test_refuse_audit before insert on audit_events for each row execute function public.test_refuse_audit();`);
    try {
      const before = await state();
      const attempts = [
        call("POST", "/v1/llm-keys", { provider: "anthropic", apiKey: LLM_CANARY }),
        call("DELETE", `/v1/llm-keys/${llm}`),
        call("POST", "/v1/notification-channels", { kind: "pagerduty", routingKey: PD_CANARY }),
        call("DELETE", `/v1/notification-channels/${channel}`),
        call("POST", `/v1/skills/${A.skillId}/trigger-secrets`),
        call("DELETE", `/v1/skills/${A.skillId}/trigger-secrets/${secret}`),
        call("PUT", "/v1/audit/redaction-policy", { input: { fields: { anything: "drop" } } }),
        call("POST", "/v1/tokens", { name: "unaudited" }),
        call("DELETE", `/v1/tokens/${token}`),
      ];
      for (const a of attempts) expect((await a).status).toBe(500);
      expect(await state()).toBe(before);
    } finally {
      await admin.unsafe("drop trigger test_refuse_audit on audit_events; drop function public.test_refuse_audit();");
    }
  });

  it("no secret is in any audit row’s bytes, and the chain still verifies", async () => {
    const rows = await admin<
      { row: string; canonical: Buffer }[]
    >`select a::text as row, canonical from audit_events a`;
    expect(shownSecrets.length).toBeGreaterThan(3);
    for (const r of rows) {
      for (const s of [LLM_CANARY, PD_CANARY, ...shownSecrets]) {
        expect(r.canonical.toString("utf8")).not.toContain(s);
        expect(r.row).not.toContain(s);
        expect(r.canonical.includes(Buffer.from(s))).toBe(false);
      }
    }
    const kinds = new Set((await allEvents()).map((e) => e.kind));
    for (const k of [
      "admin.llm_key.added",
      "admin.llm_key.deleted",
      "admin.channel.added",
      "admin.channel.deleted",
      "admin.trigger_secret.created",
      "admin.trigger_secret.revoked",
      "admin.redaction_policy.changed",
      "admin.token.minted",
      "admin.token.revoked",
    ]) {
      expect(kinds.has(k)).toBe(true);
    }
    const verify = await call("GET", "/v1/audit/verify");
    expect(verify).toMatchObject({ status: 200, json: { ok: true } });
  });
});
