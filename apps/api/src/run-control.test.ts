/**
 * Cancel and redrive through the api (issue #19 items 4 and 5), on the real database, real Redis and real HTTP: a
 * queued run is cancelled and its job removed; a running run answers `cancelling` and its worker's next lease check
 * throws RunCancelledError; a finished run is a 409 naming its status; another workspace's run is a 404; bulk cancel
 * counts and refuses an empty filter. A failed run is redriven as a new run `retryOf` it, once; a guard denial only
 * after a new Skill version is published; a paused Skill's runs not at all. Every change appends a signed event that
 * verifies with the chain; viewers may do none of it, and without an audit signer nothing changes (503).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPublicKey, generateKeyPairSync, randomUUID } from "node:crypto";
import postgres from "postgres";
import type { FastifyInstance } from "fastify";
import { manifestHash, mintApiTokenMaterial, newId, RunCancelledError, verifyChain, type RunId } from "@praxa/core";
import {
  assertRunLease,
  claimRun,
  createDatabase,
  createTestDatabase,
  finishRun,
  readAuditChain,
  readAuditKeyset,
  registerAuditKey,
  sampleManifest,
  seedWorkspaceFixture,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createLogger } from "@praxa/observability";
import { createQueues, createRedis, enqueue, runJobId, type QueueSet, type Redis } from "@praxa/queue";
import { runJobRemover } from "./run-jobs.js";
import { buildApiServer } from "./server.js";

let tdb: TestDatabase;
let admin: postgres.Sql;
let db: Database;
let worker: Database;
let redis: Redis;
let queues: QueueSet;
const servers: FastifyInstance[] = [];
let base: string;
let A: WorkspaceFixture;
let B: WorkspaceFixture;
const tok = { admin: "", member: "", viewer: "" };
const prefix = `test-run-control-${randomUUID()}`;
const log = createLogger({ name: "run-control-test", level: "silent" });

async function token(f: WorkspaceFixture, role: "admin" | "member" | "viewer"): Promise<string> {
  const memberId = role === "admin" ? f.memberId : newId("member");
  if (role !== "admin")
    await admin`insert into workspace_members (workspace_id, id, email, role) values (${f.workspaceId}, ${memberId}, ${`${memberId}@example.com`}, ${role})`;
  const m = mintApiTokenMaterial(f.workspaceId);
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
              values (${f.workspaceId}, ${m.tokenId}, ${memberId}, 'human', 'test', ${m.secretSha256}, now() + interval '1 hour')`;
  return m.token;
}

async function call(path: string, tok: string, body?: unknown, url = base) {
  const res = await fetch(url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${tok}`, "content-type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

interface RunRow {
  status: string;
  failure_class: string | null;
  cancel_requested_at: Date | null;
  retry_of: string | null;
  skill_version_id: string;
  input: unknown;
  trigger: string;
  dispatched_at: Date | null;
}
const runRow = async (id: string): Promise<RunRow | undefined> =>
  (
    await admin<
      RunRow[]
    >`select status, failure_class, cancel_requested_at, retry_of, skill_version_id, input, trigger, dispatched_at
                         from agent_runs where id = ${id}`
  )[0];

/** A run of the fixture's Skill, inserted as the admin (created in insertion order). */
async function insertRun(
  f: WorkspaceFixture,
  o: {
    status?: "queued" | "failed" | "succeeded";
    trigger?: string;
    errorCode?: string;
    failureClass?: string;
    dispatchSeq?: number;
  } = {},
): Promise<RunId> {
  const id = newId("run");
  const status = o.status ?? "queued";
  await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input, status,
                                      attempt, error_code, failure_class, integration_id, dispatched_at, dispatch_seq,
                                      finished_at)
              values (${f.workspaceId}, ${id}, ${f.skillId}, ${f.skillVersionId}, ${o.trigger ?? "github.pull_request.opened"},
                      'github', ${admin.json({ repo: "octo/hello", prNumber: 7 })}, ${status}, ${status === "queued" ? 0 : 5},
                      ${o.errorCode ?? null}, ${o.failureClass ?? null}, ${f.integrationId},
                      ${o.dispatchSeq === undefined ? null : new Date()}, ${o.dispatchSeq ?? 0},
                      ${status === "queued" ? null : new Date()})`;
  return id;
}

/** The workspace's events of `kind` about `runId`, as stored (canonical JSON parsed). */
async function runEvents(f: WorkspaceFixture, kind: string, runId?: string) {
  const rows = await admin<{ canonical: Buffer; run_id: string }[]>`
    select canonical, run_id from audit_events where workspace_id = ${f.workspaceId} and kind = ${kind}
       and (${runId ?? null}::text is null or run_id = ${runId ?? null}) order by seq`;
  return rows.map(
    (r) =>
      JSON.parse(r.canonical.toString("utf8")) as {
        runId: string;
        skillId: string;
        step: number;
        manifest_hash: string;
        input: Record<string, unknown>;
        output: Record<string, unknown>;
      },
  );
}

async function chainVerifies(f: WorkspaceFixture): Promise<void> {
  const keys = await readAuditKeyset(db);
  const chain = await withWorkspace(db, f.workspaceId, (s) => readAuditChain(s));
  const verdict = verifyChain(
    chain,
    new Map(
      keys
        .filter((k) => k.purpose === "event")
        .map((k) => [k.keyId, createPublicKey({ key: k.spki, format: "der", type: "spki" })]),
    ),
    { workspaceId: f.workspaceId },
  );
  expect(verdict).toMatchObject({ ok: true, count: chain.length });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  db = createDatabase(tdb.roleUrl("praxa_api"), { max: 4 });
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
  redis = createRedis("redis://127.0.0.1:6379", "producer");
  queues = createQueues(redis, prefix);
  const signing = generateKeyPairSync("ed25519");
  const keyId = `aek_run_control_${randomUUID()}`;
  await registerAuditKey(db, {
    keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: signing.publicKey.export({ format: "der", type: "spki" }),
  });
  const app = await buildApiServer({
    database: db,
    log,
    auditSigner: { keyId, privateKey: signing.privateKey },
    removeRunJobs: runJobRemover(queues, log),
  });
  servers.push(app);
  base = await app.listen({ port: 0, host: "127.0.0.1" });
  tok.admin = await token(A, "admin");
  tok.member = await token(A, "member");
  tok.viewer = await token(A, "viewer");
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await queues?.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis?.disconnect();
  await worker?.close();
  await db?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

describe("POST /v1/runs/{id}/cancel", () => {
  it("a queued run: cancelled at once, its job removed, one signed run.cancelled event naming actor, token and reason", async () => {
    const id = await insertRun(A, { dispatchSeq: 3 });
    const jobId = runJobId(id, 3);
    await enqueue(queues, "run", { runId: id }, { jobId });
    expect(await queues.get("runs").getJob(jobId)).toBeDefined();

    const res = await call(`/v1/runs/${id}/cancel`, tok.member, { reason: "wrong branch" });
    expect(res).toEqual({ status: 200, json: { run: { id, outcome: "cancelled" } } });
    expect(await runRow(id)).toMatchObject({
      status: "cancelled",
      failure_class: "cancelled",
      cancel_requested_at: expect.any(Date),
      dispatched_at: null,
    });
    expect(await queues.get("runs").getJob(jobId)).toBeUndefined();
    const [event, ...more] = await runEvents(A, "run.cancelled", id);
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      runId: id,
      skillId: A.skillId,
      step: 0,
      manifest_hash: manifestHash(A.manifest),
      input: {
        actor_member_id: expect.stringMatching(/^mb_/),
        actor_token_id: expect.any(String),
        reason: "wrong branch",
      },
      output: { outcome: "cancelled", prior_status: "queued" },
    });
    await chainVerifies(A);
    // It is finished now: a second cancel is a 409 naming its status, and appends nothing.
    const again = await call(`/v1/runs/${id}/cancel`, tok.admin);
    expect(again.status).toBe(409);
    expect(again.json).toEqual({ error: { code: "RUN_FINISHED", message: expect.stringContaining("(cancelled)") } });
    expect(await runEvents(A, "run.cancelled", id)).toHaveLength(1);
  });

  it("a running run: `cancelling`, and its worker's next lease check throws RunCancelledError; asked again, no second event", async () => {
    const id = await insertRun(A);
    const claimed = await claimRun(worker, id, "worker-test");
    expect(claimed).not.toBeNull();
    const lease = claimed!.lease;
    await withWorkspace(worker, A.workspaceId, (s) => assertRunLease(s, lease));

    expect(await call(`/v1/runs/${id}/cancel`, tok.admin, {})).toEqual({
      status: 200,
      json: { run: { id, outcome: "cancelling" } },
    });
    expect(await runRow(id)).toMatchObject({ status: "running", cancel_requested_at: expect.any(Date) });
    await expect(withWorkspace(worker, A.workspaceId, (s) => assertRunLease(s, lease))).rejects.toBeInstanceOf(
      RunCancelledError,
    );
    expect(await call(`/v1/runs/${id}/cancel`, tok.admin, {})).toEqual({
      status: 200,
      json: { run: { id, outcome: "cancelling" } },
    });
    const events = await runEvents(A, "run.cancelled", id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      input: { reason: null },
      output: { outcome: "cancelling", prior_status: "running" },
    });
    // The worker finishes it `cancelled` at its step boundary; from then on a cancel is a 409.
    await withWorkspace(worker, A.workspaceId, (s) => finishRun(s, lease, "cancelled"));
    expect((await call(`/v1/runs/${id}/cancel`, tok.admin)).json).toMatchObject({ error: { code: "RUN_FINISHED" } });
    await chainVerifies(A);
  });

  it("a finished run is a 409 RUN_FINISHED naming its status; another workspace's or an unknown id is a 404", async () => {
    const done = await call(`/v1/runs/${A.runId}/cancel`, tok.admin);
    expect(done).toEqual({
      status: 409,
      json: {
        error: {
          code: "RUN_FINISHED",
          message: `run ${A.runId} has already finished (succeeded): only a queued or running run can be cancelled`,
        },
      },
    });
    const foreign = await insertRun(B);
    const notFound = { status: 404, json: { error: { code: "NOT_FOUND", message: "not found" } } };
    expect(await call(`/v1/runs/${foreign}/cancel`, tok.admin)).toEqual(notFound);
    expect(await call(`/v1/runs/${newId("run")}/cancel`, tok.admin)).toEqual(notFound);
    expect((await runRow(foreign))?.status).toBe("queued");
    expect((await call(`/v1/runs/${foreign}/cancel`, tok.admin, { reason: "x".repeat(501) })).status).toBe(400);
  });
});

describe("POST /v1/runs/cancel (by filter)", () => {
  it("cancels queued runs at once and marks running ones, `limit` at a time, oldest first; answers how many", async () => {
    const trigger = "github.pull_request.reopened";
    const queued = [await insertRun(A, { trigger }), await insertRun(A, { trigger }), await insertRun(A, { trigger })];
    const running = await insertRun(A, { trigger });
    expect(await claimRun(worker, running, "worker-test")).not.toBeNull();
    const other = await insertRun(A, { trigger: "github.pull_request.synchronize" });
    const foreign = await insertRun(B, { trigger });

    expect(await call("/v1/runs/cancel", tok.member, { trigger, limit: 3, reason: "flood" })).toEqual({
      status: 200,
      json: { cancelled: 3, cancelling: 0, matched: 3, more: true },
    });
    expect(await call("/v1/runs/cancel", tok.member, { trigger, limit: 3 })).toEqual({
      status: 200,
      json: { cancelled: 0, cancelling: 1, matched: 1, more: false },
    });
    // A run already being cancelled is not matched again.
    expect((await call("/v1/runs/cancel", tok.member, { trigger })).json).toEqual({
      cancelled: 0,
      cancelling: 0,
      matched: 0,
      more: false,
    });
    for (const id of queued) expect((await runRow(id))?.status).toBe("cancelled");
    expect(await runRow(running)).toMatchObject({ status: "running", cancel_requested_at: expect.any(Date) });
    expect((await runRow(other))?.status).toBe("queued");
    expect((await runRow(foreign))?.status).toBe("queued");
    for (const id of [...queued, running]) expect(await runEvents(A, "run.cancelled", id)).toHaveLength(1);
    expect((await runEvents(A, "run.cancelled", queued[0]))[0]?.input).toMatchObject({ reason: "flood", bulk: true });

    // By status: only the queued ones of the other trigger's kind.
    expect(await call("/v1/runs/cancel", tok.admin, { status: ["queued"], skillId: A.skillId })).toMatchObject({
      status: 200,
      json: { cancelled: 1, cancelling: 0, matched: 1, more: false },
    });
    expect((await runRow(other))?.status).toBe("cancelled");
    await chainVerifies(A);
  });

  it("an empty filter is a 400 (nobody cancels everything by accident), as is an unknown field", async () => {
    for (const body of [{}, { limit: 5 }, { reason: "all of it" }]) {
      const res = await call("/v1/runs/cancel", tok.admin, body);
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({
        error: { code: "VALIDATION_FAILED", message: expect.stringContaining("filter") },
      });
    }
    expect((await call("/v1/runs/cancel", tok.admin, { status: ["failed"] })).status).toBe(400);
    expect((await call("/v1/runs/cancel", tok.admin, { everything: true })).status).toBe(400);
    expect((await call("/v1/runs/cancel", tok.admin, { trigger: "x", limit: 10_001 })).status).toBe(400);
  });
});

describe("POST /v1/runs/{id}/retry", () => {
  it("a failed run: a new queued run retryOf it, same input and trigger, audited on the new run; once only", async () => {
    const failed = await insertRun(A, { status: "failed", errorCode: "UNAVAILABLE", failureClass: "exhausted" });
    const res = await call(`/v1/runs/${failed}/retry`, tok.member);
    expect(res.status).toBe(201);
    const run = (res.json as { run: { id: string; retryOf: string } }).run;
    expect(run).toEqual({ id: expect.stringMatching(/^rn_/), retryOf: failed });
    expect(await runRow(run.id)).toMatchObject({
      status: "queued",
      retry_of: failed,
      dispatched_at: null,
      skill_version_id: A.skillVersionId,
      trigger: "github.pull_request.opened",
      input: { repo: "octo/hello", prNumber: 7 },
    });
    const [event, ...more] = await runEvents(A, "run.retried", run.id);
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      runId: run.id,
      step: 0,
      manifest_hash: manifestHash(A.manifest),
      input: { retry_of: failed, actor_member_id: expect.any(String), actor_token_id: expect.any(String) },
    });
    await chainVerifies(A);

    // The api shows the dead letter and its redrive.
    const got = await fetch(`${base}/v1/runs/${run.id}`, { headers: { authorization: `Bearer ${tok.viewer}` } });
    expect(((await got.json()) as { run: unknown }).run).toMatchObject({
      retryOf: failed,
      failureClass: null,
      cancelRequestedAt: null,
    });
    const list = await fetch(`${base}/v1/runs?status=failed`, { headers: { authorization: `Bearer ${tok.viewer}` } });
    expect(((await list.json()) as { runs: unknown[] }).runs).toContainEqual(
      expect.objectContaining({ id: failed, errorCode: "UNAVAILABLE", attempt: 5, failureClass: "exhausted" }),
    );

    expect((await call(`/v1/runs/${failed}/retry`, tok.member)).json).toEqual({
      error: { code: "RUN_ALREADY_RETRIED", message: expect.stringContaining(run.id) },
    });
    expect(await call(`/v1/runs/${A.runId}/retry`, tok.member)).toEqual({
      status: 409,
      json: {
        error: { code: "RUN_NOT_FAILED", message: `run ${A.runId} is succeeded: only a failed run can be retried` },
      },
    });
    expect((await call(`/v1/runs/${await insertRun(B, { status: "failed" })}/retry`, tok.member)).status).toBe(404);
  });

  it("a guard denial: 409 GUARD_DENIAL_NEEDS_NEW_VERSION until a new Skill version is published, then 201 on it", async () => {
    const C = await seedWorkspaceFixture(tdb.adminUrl, "C");
    const cTok = await token(C, "admin");
    const id = await insertRun(C);
    const claimed = await claimRun(worker, id, "worker-test");
    await withWorkspace(worker, C.workspaceId, (s) =>
      finishRun(s, claimed!.lease, "failed", "TOOL_NOT_ALLOWED", "guard"),
    );
    const refused = await call(`/v1/runs/${id}/retry`, cTok);
    expect(refused.status).toBe(409);
    expect(refused.json).toEqual({
      error: {
        code: "GUARD_DENIAL_NEEDS_NEW_VERSION",
        message: expect.stringMatching(/a guard refused .*TOOL_NOT_ALLOWED.*Publish a new Skill version first/),
      },
    });
    expect(await admin`select 1 from agent_runs where retry_of = ${id}`).toHaveLength(0);

    const v2 = sampleManifest({ maxIterations: 4 });
    const v2Id = newId("skillVersion");
    await admin`insert into skill_versions (workspace_id, id, skill_id, version, manifest, manifest_hash)
                values (${C.workspaceId}, ${v2Id}, ${C.skillId}, 2, ${admin.json(v2 as never)}, ${manifestHash(v2)})`;
    const ok = await call(`/v1/runs/${id}/retry`, cTok);
    expect(ok.status).toBe(201);
    const newRun = (ok.json as { run: { id: string } }).run.id;
    expect(await runRow(newRun)).toMatchObject({ skill_version_id: v2Id, retry_of: id });
    expect((await runEvents(C, "run.retried", newRun))[0]).toMatchObject({ manifest_hash: manifestHash(v2) });
    await chainVerifies(C);
  });

  it("a paused Skill's run: 409 SKILL_PAUSED, nothing created", async () => {
    const D = await seedWorkspaceFixture(tdb.adminUrl, "D");
    const dTok = await token(D, "admin");
    const id = await insertRun(D, { status: "failed", errorCode: "UNAVAILABLE", failureClass: "exhausted" });
    await admin`update skills set status = 'paused', paused_at = now(), paused_reason = 'test' where id = ${D.skillId}`;
    const res = await call(`/v1/runs/${id}/retry`, dTok);
    expect(res).toEqual({ status: 409, json: { error: { code: "SKILL_PAUSED", message: expect.any(String) } } });
    expect(await admin`select 1 from agent_runs where retry_of = ${id}`).toHaveLength(0);
    expect(await runEvents(D, "run.retried")).toEqual([]);
  });
});

describe("POST /v1/runs/retry (by filter)", () => {
  it("redrives failed runs not redriven before; counts the refused; an empty filter is a 400", async () => {
    const E = await seedWorkspaceFixture(tdb.adminUrl, "E");
    const eTok = await token(E, "admin");
    const f = { status: "failed" as const, errorCode: "UNAVAILABLE", failureClass: "exhausted" };
    const plain = [await insertRun(E, f), await insertRun(E, f), await insertRun(E, f)];
    const guard = await insertRun(E, { status: "failed", errorCode: "UNAVAILABLE", failureClass: "guard" });
    const otherCode = await insertRun(E, { status: "failed", errorCode: "INTERNAL", failureClass: "permanent" });

    expect(await call("/v1/runs/retry", eTok, { errorCode: "UNAVAILABLE", limit: 2 })).toEqual({
      status: 200,
      json: { retried: 2, refused: { needs_new_version: 0, skill_paused: 0 }, matched: 2, more: true },
    });
    expect(await call("/v1/runs/retry", eTok, { errorCode: "UNAVAILABLE" })).toEqual({
      status: 200,
      json: { retried: 1, refused: { needs_new_version: 1, skill_paused: 0 }, matched: 2, more: false },
    });
    for (const id of plain) expect(await admin`select 1 from agent_runs where retry_of = ${id}`).toHaveLength(1);
    expect(await admin`select 1 from agent_runs where retry_of = ${guard}`).toHaveLength(0);
    expect(await admin`select 1 from agent_runs where retry_of = ${otherCode}`).toHaveLength(0);
    expect(await runEvents(E, "run.retried")).toHaveLength(3);
    await chainVerifies(E);

    for (const body of [{}, { limit: 10 }]) {
      const res = await call("/v1/runs/retry", eTok, body);
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({
        error: { code: "VALIDATION_FAILED", message: expect.stringContaining("filter") },
      });
    }
    expect((await call("/v1/runs/retry", eTok, { errorCode: "not a code" })).status).toBe(400);
    expect((await call("/v1/runs/retry", eTok, { from: "2020-01-01T00:00:00Z", limit: 1001 })).status).toBe(400);
  });
});

describe("who may", () => {
  it("viewers may not cancel or redrive (403); the run is untouched", async () => {
    const id = await insertRun(A);
    const failed = await insertRun(A, { status: "failed", errorCode: "UNAVAILABLE", failureClass: "exhausted" });
    for (const [path, body] of [
      [`/v1/runs/${id}/cancel`, {}],
      ["/v1/runs/cancel", { trigger: "github.pull_request.opened" }],
      [`/v1/runs/${failed}/retry`, undefined],
      ["/v1/runs/retry", { errorCode: "UNAVAILABLE" }],
    ] as const) {
      expect(await call(path, tok.viewer, body)).toEqual({
        status: 403,
        json: { error: { code: "FORBIDDEN", message: "your role may not do this" } },
      });
    }
    expect((await runRow(id))?.status).toBe("queued");
    expect(await admin`select 1 from agent_runs where retry_of = ${failed}`).toHaveLength(0);
  });

  it("without an audit signer the api changes nothing (503)", async () => {
    const unsigned = await buildApiServer({ database: db, log });
    servers.push(unsigned);
    const url = await unsigned.listen({ port: 0, host: "127.0.0.1" });
    const id = await insertRun(A);
    const failed = await insertRun(A, { status: "failed", errorCode: "UNAVAILABLE", failureClass: "exhausted" });
    expect((await call(`/v1/runs/${id}/cancel`, tok.admin, {}, url)).status).toBe(503);
    expect((await call(`/v1/runs/${failed}/retry`, tok.admin, undefined, url)).status).toBe(503);
    expect((await runRow(id))?.status).toBe("queued");
    expect(await admin`select 1 from agent_runs where retry_of = ${failed}`).toHaveLength(0);
  });
});
