/**
 * The api's contract (issue 17), on the real server, the real database and real Redis, through the generated client
 * (packages/api-client): every documented operation is called — success and its refusals: 401 without or with a bad
 * token, 403 for a viewer or an automation token where a human is needed, 404 for another workspace's id, 429 past
 * the per-token budget — and every answer is checked against the schema the document declares for that operation and
 * status (the routes' own zod schemas, which the server also serializes through). Then the document itself: served ==
 * checked in (docs/api/openapi.json; `pnpm api:openapi`), a valid OpenAPI 3.1 document, the client's types generated
 * from it unchanged, and the reference page loading nothing from another origin. The audit export downloaded through
 * the api verifies offline with core's verifier against keys pinned from the database.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, createPublicKey, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { Ajv2020 } from "ajv/dist/2020.js";
import { Validator } from "@seriousme/openapi-schema-validator";
import { createApiClient, type ApiClient } from "@praxa/api-client";
import { buildApiServer, redisVerifyGate } from "@praxa/api";
import { mintApiTokenMaterial, newId, verifyAuditExport, type AuditEventDraft, type PinnedKeys } from "@praxa/core";
import {
  appendAuditEvents,
  createDatabase,
  createTestDatabase,
  databaseUrl,
  readAuditKeyset,
  registerAuditKey,
  seedWorkspaceFixture,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createLocalObjectStore, type LocalObjectStoreBackend } from "@praxa/object-store";
import { exportPass } from "@praxa/monitor";
import { createLogger } from "@praxa/observability";
import { createRedis, removeRedisPrefix, type Redis } from "@praxa/queue";
import type { FastifyInstance } from "fastify";

const root = fileURLToPath(new URL("../../", import.meta.url));
const checkedIn = JSON.parse(readFileSync(`${root}docs/api/openapi.json`, "utf8")) as OpenApiDoc;

interface OpenApiDoc {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      { operationId: string; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }
    >
  >;
}

let tdb: TestDatabase;
let admin: postgres.Sql;
let db: Database;
let redis: Redis;
const servers: FastifyInstance[] = [];
let base: string;
let A: WorkspaceFixture;
let B: WorkspaceFixture;
const tok: Record<"admin" | "viewer" | "automation" | "foreign", string> = {
  admin: "",
  viewer: "",
  automation: "",
  foreign: "",
};
const prefix = `test-contract-${randomUUID()}`;

async function token(
  f: WorkspaceFixture,
  role: "admin" | "viewer",
  kind: "human" | "automation" = "human",
): Promise<{ token: string; id: string }> {
  const memberId = role === "admin" ? f.memberId : newId("member");
  if (role !== "admin")
    await admin`insert into workspace_members (workspace_id, id, email, role) values (${f.workspaceId}, ${memberId}, ${`${memberId}@example.com`}, ${role})`;
  const m = mintApiTokenMaterial(f.workspaceId);
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
              values (${f.workspaceId}, ${m.tokenId}, ${memberId}, ${kind}, 'contract', ${m.secretSha256}, now() + interval '1 hour')`;
  return { token: m.token, id: m.tokenId };
}

// ── the response check: the schema the document declares for (operation, status) ──
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
const operations = new Map<
  string,
  { path: string; method: string; responses: OpenApiDoc["paths"][string][string]["responses"] }
>();
for (const [path, item] of Object.entries(checkedIn.paths))
  for (const [method, op] of Object.entries(item))
    operations.set(op.operationId, { path, method, responses: op.responses });
const seen = new Map<string, Set<number>>();

function check(
  operationId: string,
  result: { response: Response; data?: unknown; error?: unknown },
  status: number,
): void {
  const op = operations.get(operationId);
  if (!op) throw new Error(`no operation ${operationId} in the document`);
  expect({ operationId, status: result.response.status }).toEqual({ operationId, status });
  const declared = op.responses[String(status)];
  if (!declared) throw new Error(`${operationId} answered ${status}, which it does not declare`);
  const schema = declared.content?.["application/json"]?.schema;
  if (!schema) throw new Error(`${operationId} ${status} declares no JSON schema`);
  const body = result.response.ok ? result.data : result.error;
  const validate = ajv.compile(schema as object);
  if (!validate(body))
    throw new Error(
      `${operationId} ${status}: the answer does not fit its declared schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`,
    );
  seen.set(operationId, (seen.get(operationId) ?? new Set()).add(status));
}

let api: ApiClient;
let viewer: ApiClient;
let automation: ApiClient;
let anonymous: ApiClient;
let objects: LocalObjectStoreBackend;
let foreign: ApiClient;

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  db = createDatabase(tdb.roleUrl("praxa_api"), { max: 4 });
  redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", "producer");
  const signing = generateKeyPairSync("ed25519");
  const keyId = `aek_contract_${randomUUID()}`;
  await registerAuditKey(db, {
    keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: signing.publicKey.export({ format: "der", type: "spki" }),
  });
  const auditSigner = { keyId, privateKey: signing.privateKey };
  // One real signed event past the fixture's checkpoint, so the export has an event to verify by its signature.
  const draft: AuditEventDraft = {
    auditEventId: newId("auditEvent"),
    kind: "skill.action",
    skillId: A.skillId as AuditEventDraft["skillId"],
    runId: A.runId as AuditEventDraft["runId"],
    trigger: "github.pull_request.opened",
    input: { pr: 7 },
    reasoning: ["the diff adds a test"],
    alternatives: [],
    confidence: 0.9,
    output: { comment: "looks good" },
    tools_used: ["github.read.diff"],
    duration_ms: 5,
    occurred_at: new Date().toISOString(),
    step: 1,
    manifest_hash: "a".repeat(64),
  };
  await withWorkspace(db, A.workspaceId, (s) => appendAuditEvents(s, [draft], auditSigner));
  objects = await createLocalObjectStore({ dir: mkdtempSync(join(tmpdir(), "praxa-contract-")) });
  const app = await buildApiServer({
    database: db,
    objects,
    log: createLogger({ name: "api-contract", level: "silent" }),
    auditSigner,
    limits: {
      redis,
      prefix,
      limits: { perIpPerMinute: 100_000, perTokenPerMinute: 100_000, verifyFullPerHour: 100 },
      verifyGate: redisVerifyGate(redis, prefix),
    },
  });
  servers.push(app);
  base = await app.listen({ port: 0, host: "127.0.0.1" });
  tok.admin = (await token(A, "admin")).token;
  tok.viewer = (await token(A, "viewer")).token;
  tok.automation = (await token(A, "admin", "automation")).token;
  tok.foreign = (await token(B, "admin")).token;
  api = createApiClient({ baseUrl: base, token: tok.admin });
  viewer = createApiClient({ baseUrl: base, token: tok.viewer });
  automation = createApiClient({ baseUrl: base, token: tok.automation });
  anonymous = createApiClient({ baseUrl: base });
  foreign = createApiClient({ baseUrl: base, token: tok.foreign });
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await db?.close();
  for (const p of [prefix, `${prefix}-429`]) await removeRedisPrefix(redis, p);
  redis.disconnect();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

describe("every route, through the generated client, answers what it declares", () => {
  it("health and authentication: no token or a bad one → 401", async () => {
    check("health", await anonymous.GET("/healthz"), 200);
    check("listSkills", await anonymous.GET("/v1/skills"), 401);
    check(
      "listSkills",
      await createApiClient({ baseUrl: base, token: tok.admin.slice(0, -4) + "AAAA" }).GET("/v1/skills"),
      401,
    );
    check("listRuns", await anonymous.GET("/v1/runs"), 401);
  });

  it("skills: list, one with its versions and manifests, acceptance; pause and resume (human only); 404 for a foreign id", async () => {
    const list = await api.GET("/v1/skills");
    check("listSkills", list, 200);
    expect(list.data?.skills.map((s) => s.id)).toEqual([A.skillId]);
    const one = await api.GET("/v1/skills/{id}", { params: { path: { id: A.skillId } } });
    check("getSkill", one, 200);
    expect(one.data?.versions).toEqual([
      expect.objectContaining({
        id: A.skillVersionId,
        version: 1,
        manifest: expect.objectContaining({ slug: A.manifest.slug }),
      }),
    ]);
    check("getSkill", await api.GET("/v1/skills/{id}", { params: { path: { id: B.skillId } } }), 404);
    check("getSkill", await api.GET("/v1/skills/{id}", { params: { path: { id: "not-an-id" } } }), 400);
    check(
      "getSkillAcceptance",
      await api.GET("/v1/skills/{id}/acceptance", { params: { path: { id: A.skillId }, query: { samples: 10 } } }),
      200,
    );
    check(
      "getSkillAcceptance",
      await api.GET("/v1/skills/{id}/acceptance", { params: { path: { id: B.skillId } } }),
      404,
    );
    check(
      "pauseSkill",
      await viewer.POST("/v1/skills/{id}/pause", { params: { path: { id: A.skillId } }, body: { reason: "no" } }),
      403,
    );
    check(
      "pauseSkill",
      await api.POST("/v1/skills/{id}/pause", { params: { path: { id: B.skillId } }, body: { reason: "not mine" } }),
      404,
    );
    check(
      "pauseSkill",
      await api.POST("/v1/skills/{id}/pause", {
        params: { path: { id: A.skillId } },
        body: { reason: "contract test" },
      }),
      200,
    );
    check(
      "resumeSkill",
      await automation.POST("/v1/skills/{id}/resume", {
        params: { path: { id: A.skillId } },
        body: { reason: "a bot may not" },
      }),
      403,
    );
    check(
      "resumeSkill",
      await api.POST("/v1/skills/{id}/resume", {
        params: { path: { id: A.skillId } },
        body: { reason: "contract test done" },
      }),
      200,
    );
    check(
      "resumeSkill",
      await api.POST("/v1/skills/{id}/resume", { params: { path: { id: A.skillId } }, body: { reason: "" } }),
      400,
    );
  });

  it("declarative skills: validate (a dry run), create, a new version, the callback secret; viewer 403; foreign 404", async () => {
    const document = {
      slug: "contract-skill",
      name: "Contract Skill",
      triggers: ["trigger.build.failed"],
      input: { type: "object", properties: { service: { type: "string", audit: true } } },
      instructions: "Decide.",
      tools: ["webhook.callback"],
      decision: { verdicts: [{ name: "notify", description: "call back" }] },
      actions: { notify: [{ callback: {} }] },
      callback: { url: "https://ci.example.com/hook" },
      acceptance: { threshold: 0.5, window: 10, minSamples: 5 },
    };
    const valid = await api.POST("/v1/skills/validate", { body: { document } });
    check("validateSkill", valid, 200);
    expect(valid.data).toMatchObject({ valid: true, issues: [] });
    const invalid = await api.POST("/v1/skills/validate", { body: { document: { ...document, tools: [] } } });
    check("validateSkill", invalid, 200);
    expect(invalid.data?.issues).toEqual([
      { path: "actions.notify.0", message: "this action needs the tool webhook.callback in tools" },
    ]);
    check("createSkill", await viewer.POST("/v1/skills", { body: { document } }), 403);
    const created = await api.POST("/v1/skills", { body: { document } });
    check("createSkill", created, 201);
    check("createSkill", await api.POST("/v1/skills", { body: { document } }), 409);
    check(
      "createSkill",
      await api.POST("/v1/skills", { body: { document: { ...document, slug: "x", tools: [] } } }),
      400,
    );
    const id = created.data?.skill.id ?? "";
    const updated = await api.PUT("/v1/skills/{id}", {
      params: { path: { id } },
      body: { document: { ...document, instructions: "Decide carefully." } },
    });
    check("updateSkill", updated, 200);
    expect(updated.data?.version).toMatchObject({ version: 2, created: true });
    check(
      "updateSkill",
      await api.PUT("/v1/skills/{id}", { params: { path: { id: B.skillId } }, body: { document } }),
      404,
    );
    const secret = await api.POST("/v1/skills/{id}/callback-secret", { params: { path: { id } } });
    check("createSkillCallbackSecret", secret, secret.response.status === 201 ? 201 : 409);
    check(
      "createSkillCallbackSecret",
      await viewer.POST("/v1/skills/{id}/callback-secret", { params: { path: { id } } }),
      403,
    );
  });

  it("trigger secrets: create (shown once), list, revoke; viewer 403; foreign Skill 404", async () => {
    const created = await api.POST("/v1/skills/{id}/trigger-secrets", { params: { path: { id: A.skillId } } });
    check("createTriggerSecret", created, 201);
    check(
      "createTriggerSecret",
      await viewer.POST("/v1/skills/{id}/trigger-secrets", { params: { path: { id: A.skillId } } }),
      403,
    );
    const list = await api.GET("/v1/skills/{id}/trigger-secrets", { params: { path: { id: A.skillId } } });
    check("listTriggerSecrets", list, 200);
    expect(JSON.stringify(list.data)).not.toContain(created.data?.secret ?? "x");
    check(
      "listTriggerSecrets",
      await api.GET("/v1/skills/{id}/trigger-secrets", { params: { path: { id: B.skillId } } }),
      404,
    );
    check(
      "revokeTriggerSecret",
      await api.DELETE("/v1/skills/{id}/trigger-secrets/{secretId}", {
        params: { path: { id: A.skillId, secretId: created.data?.id ?? "" } },
      }),
      200,
    );
    check(
      "revokeTriggerSecret",
      await api.DELETE("/v1/skills/{id}/trigger-secrets/{secretId}", {
        params: { path: { id: A.skillId, secretId: created.data?.id ?? "" } },
      }),
      404,
    );
  });

  it("runs: filters, keyset pagination on (created_at, id) through an opaque cursor, one run, its telemetry, feedback; 404 for a foreign id", async () => {
    // Five more runs, three created in the same microsecond: the id breaks the tie, no run is skipped or repeated.
    const same = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const extra: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = newId("run");
      extra.push(id);
      const createdAt = i < 3 ? same : new Date(same.getTime() + (i - 2) * 60_000);
      await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input, status, created_at)
                  values (${A.workspaceId}, ${id}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.synchronize', 'github', ${admin.json({ pr: i })}, ${i % 2 ? "failed" : "succeeded"}, ${createdAt})`;
    }
    const pages: string[][] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await api.GET("/v1/runs", { params: { query: { limit: 2, ...(cursor ? { cursor } : {}) } } });
      check("listRuns", page, 200);
      pages.push(page.data?.runs.map((r) => r.id) ?? []);
      if (!page.data?.next) break;
      cursor = page.data.next;
    }
    const all = pages.flat();
    expect(all.sort()).toEqual([A.runId, ...extra].sort());
    expect(pages.map((p) => p.length)).toEqual([2, 2, 2]);
    const filtered = await api.GET("/v1/runs", {
      params: {
        query: {
          status: "failed",
          trigger: "github.pull_request.synchronize",
          from: same.toISOString(),
          to: new Date(same.getTime() + 3 * 60_000).toISOString(),
        },
      },
    });
    check("listRuns", filtered, 200);
    expect(filtered.data?.runs.map((r) => r.id).sort()).toEqual([extra[1], extra[3]].sort());
    const bySkill = await api.GET("/v1/runs", { params: { query: { skill: B.skillId } } });
    check("listRuns", bySkill, 200);
    expect(bySkill.data?.runs).toEqual([]);
    check("listRuns", await api.GET("/v1/runs", { params: { query: { cursor: "bm90LWEtY3Vyc29y" } } }), 400);
    check("listRuns", await api.GET("/v1/runs", { params: { query: { limit: 0 } } }), 400);
    check("getRun", await api.GET("/v1/runs/{id}", { params: { path: { id: A.runId } } }), 200);
    check("getRun", await api.GET("/v1/runs/{id}", { params: { path: { id: B.runId } } }), 404);
    const events = await api.GET("/v1/runs/{id}/events", { params: { path: { id: A.runId } } });
    check("listRunEvents", events, 200);
    expect(events.data?.events.map((e) => e.meta)).toEqual([
      { tool_name: "github.read.diff", ms: 12, code: null, iter: 0 },
    ]);
    check("listRunEvents", await api.GET("/v1/runs/{id}/events", { params: { path: { id: B.runId } } }), 404);
    check(
      "postRunFeedback",
      await api.POST("/v1/runs/{id}/feedback", {
        params: { path: { id: extra[0] as string } },
        body: { verdict: "accepted" },
      }),
      201,
    );
    check(
      "postRunFeedback",
      await viewer.POST("/v1/runs/{id}/feedback", { params: { path: { id: A.runId } }, body: { verdict: "rejected" } }),
      403,
    );
    check(
      "postRunFeedback",
      await api.POST("/v1/runs/{id}/feedback", { params: { path: { id: B.runId } }, body: { verdict: "rejected" } }),
      404,
    );
  });

  it("runs: cancel and redrive, one and by filter; 409 for a finished or not failed run, 400 for an empty filter, 403 for a viewer, 404 for a foreign id", async () => {
    const insert = async (status: "queued" | "failed", errorCode: string | null = null): Promise<string> => {
      const id = newId("run");
      await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input, status, error_code, failure_class)
                  values (${A.workspaceId}, ${id}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.reopened', 'github', ${admin.json({ pr: 9 })}, ${status}, ${errorCode}, ${status === "failed" ? "exhausted" : null})`;
      return id;
    };
    const queued = await insert("queued");
    check("cancelRun", await viewer.POST("/v1/runs/{id}/cancel", { params: { path: { id: queued } }, body: {} }), 403);
    check("cancelRun", await api.POST("/v1/runs/{id}/cancel", { params: { path: { id: B.runId } }, body: {} }), 404);
    const cancelled = await api.POST("/v1/runs/{id}/cancel", {
      params: { path: { id: queued } },
      body: { reason: "contract test" },
    });
    check("cancelRun", cancelled, 200);
    expect(cancelled.data?.run).toEqual({ id: queued, outcome: "cancelled" });
    const finished = await api.POST("/v1/runs/{id}/cancel", { params: { path: { id: queued } }, body: {} });
    check("cancelRun", finished, 409);
    expect(finished.error?.error.code).toBe("RUN_FINISHED");

    await insert("queued");
    check("cancelRuns", await api.POST("/v1/runs/cancel", { body: {} }), 400);
    check(
      "cancelRuns",
      await viewer.POST("/v1/runs/cancel", { body: { trigger: "github.pull_request.reopened" } }),
      403,
    );
    const bulk = await api.POST("/v1/runs/cancel", {
      body: { trigger: "github.pull_request.reopened", status: ["queued"], limit: 10 },
    });
    check("cancelRuns", bulk, 200);
    expect(bulk.data).toEqual({ cancelled: 1, cancelling: 0, matched: 1, more: false });

    const failed = await insert("failed", "UNAVAILABLE");
    check("retryRun", await viewer.POST("/v1/runs/{id}/retry", { params: { path: { id: failed } } }), 403);
    check("retryRun", await api.POST("/v1/runs/{id}/retry", { params: { path: { id: B.runId } } }), 404);
    check("retryRun", await api.POST("/v1/runs/{id}/retry", { params: { path: { id: queued } } }), 409);
    const retried = await api.POST("/v1/runs/{id}/retry", { params: { path: { id: failed } } });
    check("retryRun", retried, 201);
    expect(retried.data?.run.retryOf).toBe(failed);
    const newRun = await api.GET("/v1/runs/{id}", { params: { path: { id: retried.data?.run.id ?? "" } } });
    check("getRun", newRun, 200);
    expect(newRun.data?.run).toMatchObject({ status: "queued", retryOf: failed, failureClass: null });

    await insert("failed", "UNAVAILABLE");
    check("retryRuns", await api.POST("/v1/runs/retry", { body: {} }), 400);
    check("retryRuns", await viewer.POST("/v1/runs/retry", { body: { errorCode: "UNAVAILABLE" } }), 403);
    const redriven = await api.POST("/v1/runs/retry", { body: { errorCode: "UNAVAILABLE", limit: 10 } });
    check("retryRuns", redriven, 200);
    expect(redriven.data).toEqual({
      retried: 1,
      refused: { needs_new_version: 0, skill_paused: 0 },
      matched: 1,
      more: false,
    });
    // The new runs are the dispatcher's; cancelled here so they stay out of the other tests' counts.
    check(
      "cancelRuns",
      await api.POST("/v1/runs/cancel", { body: { trigger: "github.pull_request.reopened", status: ["queued"] } }),
      200,
    );
  });

  it("audit: events, redaction policy (admins change it), verify, and an export that verifies offline", async () => {
    check("listAuditEvents", await api.GET("/v1/audit/events", { params: { query: { limit: 10 } } }), 200);
    check(
      "listAuditEvents",
      await api.GET("/v1/audit/events", { params: { query: { trigger: "Not A Trigger" } } }),
      400,
    );
    check("getRedactionPolicy", await viewer.GET("/v1/audit/redaction-policy"), 200);
    check(
      "putRedactionPolicy",
      await viewer.PUT("/v1/audit/redaction-policy", { body: { input: { default: "keep", fields: {} } } }),
      403,
    );
    check(
      "putRedactionPolicy",
      await api.PUT("/v1/audit/redaction-policy", {
        body: { input: { default: "keep", fields: {} }, output: { default: "keep", fields: {} } },
      }),
      200,
    );
    check("verifyAudit", await api.GET("/v1/audit/verify"), 200);
    check("verifyAudit", await viewer.GET("/v1/audit/verify", { params: { query: { full: "true" } } }), 403);

    const exported = await api.GET("/v1/audit/export", { parseAs: "text" });
    expect(exported.response.status).toBe(200);
    expect(exported.response.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    seen.set("exportAudit", new Set([200]));
    const text = exported.data as unknown as string;
    // Keys pinned from the database, not from the export.
    const pinned: PinnedKeys = (await readAuditKeyset(db)).map((k) => ({
      key_id: k.keyId,
      purpose: k.purpose,
      algorithm: k.algorithm as PinnedKeys[number]["algorithm"],
      public_key_pem: createPublicKey({ key: k.spki, format: "der", type: "spki" })
        .export({ format: "pem", type: "spki" })
        .toString(),
    }));
    const verdict = verifyAuditExport(text, pinned, undefined, { full: true });
    expect(verdict).toMatchObject({ ok: true });
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; workspace_id?: string; seq?: number; through_seq?: number });
    // Every event of the workspace after the fixture's retention cut at seq 1 (the signed one above, the admin events
    // of the tests before); the cut's leaf line and its `retention` line stay.
    const cut = lines.find((l) => l.type === "retention")?.through_seq;
    expect(cut).toBe(1);
    const seqs = lines.filter((l) => l.type === "event").map((l) => l.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_v, i) => i + 2));
    expect(lines.filter((l) => l.type === "leaf").map((l) => l.seq)).toEqual([1, ...seqs]);
    expect(seqs.length).toBeGreaterThan(1);
    expect(lines.every((l) => l.workspace_id === undefined || l.workspace_id === A.workspaceId)).toBe(true);
    // A changed byte in an exported event fails the offline verification.
    const tampered = text.replace(
      /"canonical":"([A-Za-z0-9+/]{8})/,
      (_m, s: string) => `"canonical":"${s.startsWith("A") ? "B" : "A"}${s.slice(1)}`,
    );
    expect(verifyAuditExport(tampered, pinned, undefined, { full: true })).toMatchObject({ ok: false });
    // A range: only its events, still verifiable (the leaves anchor it).
    const later = await api.GET("/v1/audit/export", {
      params: { query: { from: new Date(Date.now() + 3_600_000).toISOString() } },
      parseAs: "text",
    });
    expect(verifyAuditExport(later.data as unknown as string, pinned)).toMatchObject({ ok: true });
    // Byte for byte what the CLI writes (`praxa audit export`), the header's export time aside.
    const dir = mkdtempSync(join(tmpdir(), "praxa-contract-"));
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      DATABASE_URL: databaseUrl(tdb.adminUrl, {}),
      LOG_LEVEL: "silent",
      PRAXA_KEY_FILE: join(dir, "master.key"),
      PRAXA_AUDIT_SIGNING_KEY_FILE: join(dir, "audit-signing.key"),
    };
    const viaCli = spawnSync(
      process.execPath,
      [`${root}apps/cli/dist/main.js`, "audit", "export", "--workspace", A.workspaceId],
      { env, encoding: "utf8", timeout: 60_000 },
    );
    expect(viaCli.status).toBe(0);
    const viaApi = (await api.GET("/v1/audit/export", { parseAs: "text" })).data as unknown as string;
    const withoutTime = (t: string) => t.replace(/"exported_at":"[^"]*"/, '"exported_at":"-"');
    expect(withoutTime(viaApi)).toEqual(withoutTime(viaCli.stdout));
    check("exportAudit", await api.GET("/v1/audit/export", { params: { query: { from: "yesterday" } } }), 400);
    check("exportAudit", await anonymous.GET("/v1/audit/export"), 401);
  });

  it("tokens: mint (human admin), list, revoke; a viewer 403, an automation token cannot mint, a foreign token 404", async () => {
    const minted = await api.POST("/v1/tokens", { body: { name: "contract-bot", ttlDays: 1 } });
    check("createToken", minted, 201);
    check("createToken", await viewer.POST("/v1/tokens", { body: { name: "nope" } }), 403);
    check("createToken", await automation.POST("/v1/tokens", { body: { name: "nope" } }), 403);
    check("createToken", await api.POST("/v1/tokens", { body: { name: "x", ttlDays: 1, extra: true } as never }), 400);
    const list = await api.GET("/v1/tokens");
    check("listTokens", list, 200);
    expect(JSON.stringify(list.data)).not.toContain(minted.data?.token.split(".").at(-1) ?? "x");
    check("listTokens", await viewer.GET("/v1/tokens"), 403);
    const foreignToken = await token(B, "admin");
    check("revokeToken", await api.DELETE("/v1/tokens/{id}", { params: { path: { id: foreignToken.id } } }), 404);
    check("revokeToken", await api.DELETE("/v1/tokens/{id}", { params: { path: { id: minted.data?.id ?? "" } } }), 200);
  });

  it("members: every member, never a token or a secret", async () => {
    const members = await viewer.GET("/v1/members");
    check("listMembers", members, 200);
    expect(members.data?.members.map((m) => m.id)).toContain(A.memberId);
    const text = JSON.stringify(members.data);
    for (const t of Object.values(tok)) expect(text).not.toContain(t.split(".").at(-1));
    expect(text).not.toMatch(/token|secret|sha256/i);
    const [fromB] = (await foreign.GET("/v1/members")).data?.members ?? [];
    expect(members.data?.members.map((m) => m.id)).not.toContain(fromB?.id);
  });

  it("approvals: list, one; grant and deny (a human member with an allowed role), 403 for a viewer or an automation token, 409 once decided, 404 foreign; link a member's Slack user", async () => {
    const parked = async (): Promise<string> => {
      const runId = newId("run");
      const approvalId = newId("approval");
      await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input, status)
                  values (${A.workspaceId}, ${runId}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github', ${admin.json({ repo: "octo/hello", prNumber: 3 })}, 'waiting_approval')`;
      await admin`insert into run_approvals (workspace_id, id, run_id, skill_id, step, tool, roles, slack_channel, expires_at)
                  values (${A.workspaceId}, ${approvalId}, ${runId}, ${A.skillId}, 2, 'github.comment.pr', ${["admin", "owner"]}, 'C0APPROVE1', now() + interval '1 hour')`;
      return approvalId;
    };
    const first = await parked();
    const second = await parked();
    const list = await api.GET("/v1/approvals", { params: { query: { status: "pending" } } });
    check("listApprovals", list, 200);
    expect(list.data?.approvals.map((x) => x.id)).toEqual(expect.arrayContaining([first, second]));
    check("listApprovals", await api.GET("/v1/approvals", { params: { query: { status: "nope" as never } } }), 400);
    const one = await viewer.GET("/v1/approvals/{id}", { params: { path: { id: first } } });
    check("getApproval", one, 200);
    expect(one.data?.approval).toMatchObject({
      status: "pending",
      tool: "github.comment.pr",
      roles: ["admin", "owner"],
    });
    check("getApproval", await foreign.GET("/v1/approvals/{id}", { params: { path: { id: first } } }), 404);
    const path = { params: { path: { id: first } } };
    check("grantApproval", await automation.POST("/v1/approvals/{id}/grant", { ...path, body: {} }), 403);
    check("grantApproval", await viewer.POST("/v1/approvals/{id}/grant", { ...path, body: {} }), 403);
    check("grantApproval", await foreign.POST("/v1/approvals/{id}/grant", { ...path, body: {} }), 404);
    const granted = await api.POST("/v1/approvals/{id}/grant", { ...path, body: { reason: "reviewed" } });
    check("grantApproval", granted, 200);
    expect(granted.data).toMatchObject({ approvalId: first, status: "granted", decidedBy: A.memberId });
    check("grantApproval", await api.POST("/v1/approvals/{id}/grant", { ...path, body: {} }), 409);
    const [run] = await admin<
      { status: string }[]
    >`select r.status from agent_runs r join run_approvals a on a.run_id = r.id where a.id = ${first}`;
    expect(run?.status).toBe("queued");
    const denyPath = { params: { path: { id: second } } };
    check("denyApproval", await automation.POST("/v1/approvals/{id}/deny", { ...denyPath, body: {} }), 403);
    check("denyApproval", await api.POST("/v1/approvals/{id}/deny", { ...denyPath, body: { reason: "not now" } }), 200);
    check("denyApproval", await api.POST("/v1/approvals/{id}/deny", { ...denyPath, body: {} }), 409);
    const link = { params: { path: { id: A.memberId } } };
    check(
      "linkMemberSlack",
      await automation.PUT("/v1/members/{id}/slack", { ...link, body: { slackUserId: "U0CONTRACT1" } }),
      403,
    );
    check(
      "linkMemberSlack",
      await viewer.PUT("/v1/members/{id}/slack", { ...link, body: { slackUserId: "U0CONTRACT1" } }),
      403,
    );
    check(
      "linkMemberSlack",
      await api.PUT("/v1/members/{id}/slack", { ...link, body: { slackUserId: "not-a-user" } }),
      400,
    );
    const linked = await api.PUT("/v1/members/{id}/slack", { ...link, body: { slackUserId: "U0CONTRACT1" } });
    check("linkMemberSlack", linked, 200);
    expect(linked.data).toEqual({ memberId: A.memberId, slackUserId: "U0CONTRACT1" });
    check(
      "linkMemberSlack",
      await api.PUT("/v1/members/{id}/slack", { params: { path: { id: B.memberId } }, body: { slackUserId: null } }),
      404,
    );
  });

  it("llm keys, notification channels: add, list, delete; viewer 403; a foreign id 404", async () => {
    const key = await api.POST("/v1/llm-keys", {
      body: { provider: "anthropic", apiKey: `sk-ant-api03-${"x".repeat(40)}` },
    });
    // The fixture workspace has no key pair yet: the refusal is part of the contract too.
    check("createLlmKey", key, key.response.status === 201 ? 201 : 409);
    check(
      "createLlmKey",
      await viewer.POST("/v1/llm-keys", { body: { provider: "anthropic", apiKey: `sk-ant-api03-${"x".repeat(40)}` } }),
      403,
    );
    const keys = await api.GET("/v1/llm-keys");
    check("listLlmKeys", keys, 200);
    const [foreignKey] = (await foreign.GET("/v1/llm-keys")).data?.llmKeys ?? [];
    check(
      "deleteLlmKey",
      await api.DELETE("/v1/llm-keys/{id}", { params: { path: { id: foreignKey?.id ?? "" } } }),
      404,
    );
    const mine = keys.data?.llmKeys[0];
    check("deleteLlmKey", await api.DELETE("/v1/llm-keys/{id}", { params: { path: { id: mine?.id ?? "" } } }), 200);

    const channel = await api.POST("/v1/notification-channels", {
      body: { kind: "email", address: "oncall@example.com" },
    });
    check("createNotificationChannel", channel, 201);
    check(
      "createNotificationChannel",
      await api.POST("/v1/notification-channels", { body: { kind: "email", address: "not an address" } }),
      400,
    );
    check(
      "createNotificationChannel",
      await viewer.POST("/v1/notification-channels", { body: { kind: "email", address: "a@example.com" } }),
      403,
    );
    check("listNotificationChannels", await viewer.GET("/v1/notification-channels"), 200);
    check(
      "deleteNotificationChannel",
      await api.DELETE("/v1/notification-channels/{id}", { params: { path: { id: B.notificationChannelId } } }),
      404,
    );
    check(
      "deleteNotificationChannel",
      await api.DELETE("/v1/notification-channels/{id}", { params: { path: { id: channel.data?.id ?? "" } } }),
      200,
    );
  });

  it("siem subscriptions: refused address 422, viewer 403; pause, resume, test, rotate, delete; a foreign id 404; audit keys", async () => {
    check("listAuditKeys", await viewer.GET("/v1/audit/keys"), 200);
    check(
      "createSiemSubscription",
      await api.POST("/v1/siem-subscriptions", { body: { format: "jsonl", url: "https://169.254.169.254/hook" } }),
      422,
    );
    check(
      "createSiemSubscription",
      await viewer.POST("/v1/siem-subscriptions", { body: { format: "jsonl", url: "https://siem.example.com/" } }),
      403,
    );
    check("listSiemSubscriptions", await viewer.GET("/v1/siem-subscriptions"), 200);
    const path = { params: { path: { id: A.siemSubscriptionId } } };
    check("resumeSiemSubscription", await api.POST("/v1/siem-subscriptions/{id}/resume", path), 200);
    check("resumeSiemSubscription", await api.POST("/v1/siem-subscriptions/{id}/resume", path), 409);
    check("testSiemSubscription", await api.POST("/v1/siem-subscriptions/{id}/test", path), 202);
    check("pauseSiemSubscription", await api.POST("/v1/siem-subscriptions/{id}/pause", path), 200);
    check("testSiemSubscription", await api.POST("/v1/siem-subscriptions/{id}/test", path), 409);
    // The fixture workspace has no key pair: a rotation cannot seal its new key.
    check(
      "rotateSiemSubscription",
      await api.POST("/v1/siem-subscriptions/{id}/rotate", { ...path, body: { overlapHours: 1 } }),
      409,
    );
    check(
      "pauseSiemSubscription",
      await api.POST("/v1/siem-subscriptions/{id}/pause", { params: { path: { id: B.siemSubscriptionId } } }),
      404,
    );
    check("deleteSiemSubscription", await viewer.DELETE("/v1/siem-subscriptions/{id}", path), 403);
    check("deleteSiemSubscription", await api.DELETE("/v1/siem-subscriptions/{id}", path), 200);
  });

  it("integrations: list; installs unconfigured → 404 INTEGRATION_NOT_CONFIGURED; callbacks without a state → 400; confirm: 409 when not pending, 404 foreign", async () => {
    check("listIntegrations", await api.GET("/v1/integrations"), 200);
    check("startSlackInstall", await api.GET("/v1/integrations/slack/install"), 404);
    check("startSlackInstall", await viewer.GET("/v1/integrations/slack/install"), 403);
    check("startGithubInstall", await api.GET("/v1/integrations/github/install"), 404);
    check(
      "slackInstallCallback",
      await anonymous.GET("/v1/integrations/slack/callback", { params: { query: {} as never } }),
      400,
    );
    check(
      "slackInstallCallback",
      await anonymous.GET("/v1/integrations/slack/callback", { params: { query: { state: "x", code: "y" } } }),
      404,
    );
    check(
      "githubInstallCallback",
      await anonymous.GET("/v1/integrations/github/callback", { params: { query: {} as never } }),
      400,
    );
    check(
      "githubInstallCallback",
      await anonymous.GET("/v1/integrations/github/callback", {
        params: { query: { state: "x", installation_id: "1" } },
      }),
      404,
    );
    check(
      "confirmIntegration",
      await api.POST("/v1/integrations/{id}/confirm", { params: { path: { id: A.integrationId } } }),
      409,
    );
    check(
      "confirmIntegration",
      await api.POST("/v1/integrations/{id}/confirm", { params: { path: { id: B.integrationId } } }),
      404,
    );
  });

  it("audit replay: request (202, audited), viewer 403, a non-decision 409, foreign 404; read it (every role), with a report once done", async () => {
    const [decision] = await admin<
      { id: string }[]
    >`select id from audit_events where workspace_id = ${A.workspaceId} and kind = 'skill.action' order by seq desc limit 1`;
    const [other] = await admin<
      { id: string }[]
    >`select id from audit_events where workspace_id = ${A.workspaceId} and kind <> 'skill.action' order by seq desc limit 1`;
    const asked = await api.POST("/v1/audit/events/{id}/replay", { params: { path: { id: decision!.id } } });
    check("replayAuditEvent", asked, 202);
    expect(asked.data?.replay).toMatchObject({ status: "queued", eventId: decision!.id, report: null });
    check(
      "replayAuditEvent",
      await viewer.POST("/v1/audit/events/{id}/replay", { params: { path: { id: decision!.id } } }),
      403,
    );
    check(
      "replayAuditEvent",
      await api.POST("/v1/audit/events/{id}/replay", { params: { path: { id: other!.id } } }),
      409,
    );
    check(
      "replayAuditEvent",
      await foreign.POST("/v1/audit/events/{id}/replay", { params: { path: { id: decision!.id } } }),
      404,
    );
    const id = asked.data!.replay.id;
    check("getAuditReplay", await viewer.GET("/v1/audit/replays/{id}", { params: { path: { id } } }), 200);
    check("getAuditReplay", await foreign.GET("/v1/audit/replays/{id}", { params: { path: { id } } }), 404);
    // As a worker stores it (replay_finish): the report in its declared shape.
    const h64 = (c: string) => c.repeat(64);
    const report = {
      format: "praxa-replay/v1",
      eventId: decision!.id,
      runId: A.runId,
      skillId: A.skillId,
      skillSlug: "pr-review",
      ok: true,
      outcome: "reproduced",
      manifest: {
        name: "manifest",
        source: "manifest",
        status: "matches",
        recordedHash: h64("a"),
        currentHash: h64("a"),
        note: "manifest: matches",
      },
      inputs: [],
      steps: [
        {
          step: "1",
          tool: "github.read.diff",
          status: "matches",
          recordedHash: h64("b"),
          currentHash: h64("b"),
          note: "step 1: matches",
        },
      ],
      decision: {
        status: "identical",
        recordedModel: "offline-rules/1",
        recorded: { verdict: "approve", confidence: 0.9 },
        replayed: { verdict: "approve", confidence: 0.9 },
        note: "identical",
      },
      lines: ["manifest: matches"],
    };
    await admin`update audit_replays set status = 'done', outcome = 'reproduced', report = ${admin.json(report)}, finished_at = now() where id = ${id}`;
    const done = await api.GET("/v1/audit/replays/{id}", { params: { path: { id } } });
    check("getAuditReplay", done, 200);
    expect(done.data?.replay).toMatchObject({ status: "done", outcome: "reproduced", report: { ok: true } });
  });

  it("workspace erasure: owners only, human only; request then cancel; the receipt by its id (404 until erased)", async () => {
    const C = await seedWorkspaceFixture(tdb.adminUrl, "C");
    const ownerId = newId("member");
    await admin`insert into workspace_members (workspace_id, id, email, role) values (${C.workspaceId}, ${ownerId}, ${`${ownerId}@example.com`}, 'owner')`;
    const mint = async (kind: "human" | "automation") => {
      const m = mintApiTokenMaterial(C.workspaceId);
      await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
                  values (${C.workspaceId}, ${m.tokenId}, ${ownerId}, ${kind}, 'contract', ${m.secretSha256}, now() + interval '1 hour')`;
      return createApiClient({ baseUrl: base, token: m.token });
    };
    const owner = await mint("human");
    const ownerAutomation = await mint("automation");
    check("requestWorkspaceErasure", await api.POST("/v1/workspace/erasure", { body: { graceHours: 72 } }), 403);
    check(
      "requestWorkspaceErasure",
      await ownerAutomation.POST("/v1/workspace/erasure", { body: { graceHours: 72 } }),
      403,
    );
    check("requestWorkspaceErasure", await owner.POST("/v1/workspace/erasure", { body: { graceHours: 99 } }), 400);
    const asked = await owner.POST("/v1/workspace/erasure", { body: { graceHours: 24 } });
    check("requestWorkspaceErasure", asked, 202);
    expect(asked.data?.status).toBe("pending");
    const [event] = await admin<
      { n: number }[]
    >`select count(*)::int as n from audit_events where workspace_id = ${C.workspaceId} and kind = 'admin.workspace.erasure_requested'`;
    expect(event?.n).toBe(1);
    check("cancelWorkspaceErasure", await api.DELETE("/v1/workspace/erasure"), 403);
    const cancelled = await owner.DELETE("/v1/workspace/erasure");
    check("cancelWorkspaceErasure", cancelled, 200);
    expect(cancelled.data).toEqual({ cancelled: true });
    const id = asked.data?.erasureId ?? "";
    check("getErasureReceipt", await anonymous.GET("/v1/erasure-receipts/{id}", { params: { path: { id } } }), 404);
    check(
      "getErasureReceipt",
      await anonymous.GET("/v1/erasure-receipts/{id}", { params: { path: { id: "not-a-uuid" } } }),
      400,
    );
    // A receipted erasure (as the monitor leaves it): readable without a token, by its id.
    const [done] = await admin<{ id: string }[]>`
      insert into workspace_erasures (subject_workspace_id, tenant_id, requested_by, requested_at, execute_after, due_by, status, erased_at, counts, receipt, receipt_key_id, receipt_signature)
      values (${newId("workspace")}, ${C.tenantId}, 'operator', now(), now(), now() + interval '7 days', 'receipted', now(), '{}'::jsonb, ${Buffer.from("{}")}, 'cp-key', ${Buffer.alloc(64)})
      returning id::text`;
    const receipt = await anonymous.GET("/v1/erasure-receipts/{id}", { params: { path: { id: done?.id ?? "" } } });
    check("getErasureReceipt", receipt, 200);
    expect(receipt.data?.format).toBe("praxa-erasure-receipt/v1");
  });

  it("workspace export: owners and admins, human only; pending until the monitor writes it; then short-lived links that download", async () => {
    check("requestWorkspaceExport", await viewer.POST("/v1/workspace/export"), 403);
    check("requestWorkspaceExport", await automation.POST("/v1/workspace/export"), 403);
    const asked = await api.POST("/v1/workspace/export");
    check("requestWorkspaceExport", asked, 202);
    const id = asked.data?.exportId ?? "";
    const pending = await api.GET("/v1/workspace/exports/{id}", { params: { path: { id } } });
    check("getWorkspaceExport", pending, 200);
    expect(pending.data).toMatchObject({ status: "pending", files: [] });
    check("getWorkspaceExport", await foreign.GET("/v1/workspace/exports/{id}", { params: { path: { id } } }), 404);
    // The monitor's pass writes it (as the monitor role, into the api's object store).
    const monitorDb = createDatabase(tdb.roleUrl("praxa_monitor"), { max: 1 });
    try {
      for (let i = 0; i < 5; i++) {
        const r = await exportPass({
          database: monitorDb,
          log: createLogger({ name: "contract-export", level: "silent" }),
          now: Date.now,
          checkpointSigner: { keyId: "unused", sign: () => Promise.reject(new Error("not used")) },
          objects,
        });
        if (r.exported === 0) break;
      }
    } finally {
      await monitorDb.close();
    }
    const done = await api.GET("/v1/workspace/exports/{id}", { params: { path: { id } } });
    check("getWorkspaceExport", done, 200);
    expect(done.data?.status).toBe("done");
    expect(done.data?.files.map((f) => f.name)).toEqual(["data.json", "audit.jsonl"]);
    const audit = done.data?.files.find((f) => f.name === "audit.jsonl");
    const token = new URL(audit?.url ?? "http://x/").searchParams.get("token") ?? "";
    const downloaded = await anonymous.GET("/v1/downloads", { params: { query: { token } }, parseAs: "text" });
    // The bytes, not JSON: the status and the declared media type are what the contract says.
    expect(downloaded.response.status).toBe(200);
    expect(downloaded.response.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    seen.set("downloadObject", new Set([200]));
    expect(String(downloaded.data)).toContain('"type":"export"');
    check(
      "downloadObject",
      await anonymous.GET("/v1/downloads", {
        params: { query: { token: token.slice(0, -2) + "xx" } },
        parseAs: "text",
      }),
      404,
    );
  });

  it("429 past the per-token budget, with Retry-After, in the declared envelope", async () => {
    const p = `${prefix}-429`;
    const limited = await buildApiServer({
      database: db,
      log: createLogger({ name: "api-contract-429", level: "silent" }),
      limits: {
        redis,
        prefix: p,
        limits: { perIpPerMinute: 1000, perTokenPerMinute: 2, verifyFullPerHour: 1 },
        verifyGate: redisVerifyGate(redis, p),
      },
    });
    servers.push(limited);
    const client = createApiClient({
      baseUrl: await limited.listen({ port: 0, host: "127.0.0.1" }),
      token: tok.viewer,
    });
    check("listMembers", await client.GET("/v1/members"), 200);
    check("listMembers", await client.GET("/v1/members"), 200);
    const over = await client.GET("/v1/members");
    check("listMembers", over, 429);
    expect(Number(over.response.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("every documented operation was called (this suite covers the whole contract)", () => {
    expect([...seen.keys()].sort()).toEqual([...operations.keys()].sort());
  });
});

describe("the document", () => {
  it("the served document is the checked-in one (regenerate: pnpm api:openapi)", async () => {
    const res = await fetch(`${base}/v1/openapi.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(checkedIn);
  });

  it("is a valid OpenAPI 3.1 document, with the bearer scheme and a tag per resource", async () => {
    const validator = new Validator();
    const result = await validator.validate(checkedIn as never);
    expect({ valid: result.valid, errors: result.errors }).toEqual({ valid: true, errors: undefined });
    expect(validator.version).toBe("3.1");
    expect((checkedIn as unknown as { components: { securitySchemes: unknown } }).components.securitySchemes).toEqual({
      bearerAuth: expect.objectContaining({ type: "http", scheme: "bearer" }),
    });
  });

  it("every example in the document fits the schema beside it", () => {
    let examples = 0;
    for (const item of Object.values(checkedIn.paths)) {
      for (const op of Object.values(item) as {
        requestBody?: { content: Record<string, { schema: object; example?: unknown }> };
        responses: Record<string, { content?: Record<string, { schema: object; example?: unknown }> }>;
      }[]) {
        for (const media of [
          ...Object.values(op.requestBody?.content ?? {}),
          ...Object.values(op.responses).flatMap((r) => Object.values(r.content ?? {})),
        ]) {
          if (media.example === undefined) continue;
          examples++;
          const validate = ajv.compile(media.schema);
          expect({ ok: validate(media.example), errors: ajv.errorsText(validate.errors) }).toEqual({
            ok: true,
            errors: "No errors",
          });
        }
      }
    }
    expect(examples).toBeGreaterThan(5);
  });

  it("the client types are what the checked-in document generates", () => {
    const r = spawnSync(process.execPath, [`${root}packages/api-client/scripts/generate.mjs`, "--check"], {
      encoding: "utf8",
    });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
  });

  it("the reference page loads nothing from another origin, under a CSP that allows only this one", async () => {
    const page = await fetch(`${base}/v1/reference`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    expect(page.headers.get("content-security-policy")).toMatch(/connect-src 'self'/);
    const html = await page.text();
    const refs = [...html.matchAll(/<(?:script|link)[^>]*(?:src|href)="([^"]*)"/g)].map((m) => m[1] ?? "");
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(ref).not.toMatch(/^(https?:)?\/\//);
    expect(html).not.toMatch(/https?:\/\/(cdn|fonts|unpkg|jsdelivr)/);
    for (const src of refs.filter((r) => r.endsWith(".js"))) {
      const script = await fetch(new URL(src, `${base}/v1/reference/`));
      expect(script.status).toBe(200);
      expect(script.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    }
  });
});
