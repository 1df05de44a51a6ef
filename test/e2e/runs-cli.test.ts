/**
 * `praxa runs list|cancel|retry` and `praxa fleet set|cap` as a script sees them (the compiled CLI, a real process):
 * the runs verbs call the api in this process with the operator's own token (PRAXA_API_TOKEN), the fleet verbs the
 * database as the operator (DATABASE_URL). Exit codes follow the CLI's conventions — 0 done, 1 the api or the database
 * refused (a finished run, a guard denial, a viewer, an unknown workspace), 2 a usage error — and `--json` prints one
 * document on stdout.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import type { FastifyInstance } from "fastify";
import { buildApiServer } from "@praxa/api";
import { mintApiTokenMaterial, newId, type RunId } from "@praxa/core";
import {
  claimRun,
  createDatabase,
  createTestDatabase,
  finishRun,
  registerAuditKey,
  seedWorkspaceFixture,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createLogger } from "@praxa/observability";

const cli = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "praxa-runs-cli-"));
let tdb: TestDatabase;
let admin: postgres.Sql;
let db: Database;
let worker: Database;
let app: FastifyInstance;
let apiUrl: string;
let A: WorkspaceFixture;
const tok = { admin: "", viewer: "" };

async function token(f: WorkspaceFixture, role: "admin" | "viewer"): Promise<string> {
  const memberId = role === "admin" ? f.memberId : newId("member");
  if (role !== "admin")
    await admin`insert into workspace_members (workspace_id, id, email, role) values (${f.workspaceId}, ${memberId}, ${`${memberId}@example.com`}, ${role})`;
  const m = mintApiTokenMaterial(f.workspaceId);
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
              values (${f.workspaceId}, ${m.tokenId}, ${memberId}, 'human', 'cli', ${m.secretSha256}, now() + interval '1 hour')`;
  return m.token;
}

/** The CLI as a real process, asynchronously: the api answering it runs in this process. */
function praxa(args: readonly string[], apiToken = tok.admin) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      {
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          NODE_ENV: "test",
          LOG_LEVEL: "silent",
          PRAXA_API_URL: apiUrl,
          PRAXA_API_TOKEN: apiToken,
          DATABASE_URL: tdb.adminUrl,
          PRAXA_KEY_FILE: join(dir, "master.key"),
          PRAXA_AUDIT_SIGNING_KEY_FILE: join(dir, "audit-signing.key"),
        },
        encoding: "utf8",
        timeout: 30_000,
      },
      (err, stdout, stderr) =>
        resolve({ status: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
    );
  });
}
const json = (r: { stdout: string }): unknown => JSON.parse(r.stdout);

async function insertRun(
  f: WorkspaceFixture,
  status: "queued" | "failed",
  o: { trigger?: string; errorCode?: string; failureClass?: string } = {},
): Promise<RunId> {
  const id = newId("run");
  await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input, status, attempt,
                                      error_code, failure_class, finished_at)
              values (${f.workspaceId}, ${id}, ${f.skillId}, ${f.skillVersionId}, ${o.trigger ?? "github.pull_request.opened"},
                      'github', ${admin.json({ pr: 3 })}, ${status}, ${status === "failed" ? 5 : 0}, ${o.errorCode ?? null},
                      ${o.failureClass ?? null}, ${status === "failed" ? new Date() : null})`;
  return id;
}
const statusOf = async (id: string) =>
  (await admin<{ status: string }[]>`select status from agent_runs where id = ${id}`)[0]?.status;

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  db = createDatabase(tdb.roleUrl("praxa_api"), { max: 4 });
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 1 });
  const signing = generateKeyPairSync("ed25519");
  const keyId = `aek_runs_cli_${randomUUID()}`;
  await registerAuditKey(db, {
    keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: signing.publicKey.export({ format: "der", type: "spki" }),
  });
  app = await buildApiServer({
    database: db,
    log: createLogger({ name: "runs-cli", level: "silent" }),
    auditSigner: { keyId, privateKey: signing.privateKey },
  });
  apiUrl = await app.listen({ port: 0, host: "127.0.0.1" });
  tok.admin = await token(A, "admin");
  tok.viewer = await token(A, "viewer");
});

afterAll(async () => {
  await app?.close();
  await worker?.close();
  await db?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

describe("praxa runs", () => {
  it("list --status failed: the dead letters with their error code, attempts and failure class", async () => {
    const failed = await insertRun(A, "failed", { errorCode: "UNAVAILABLE", failureClass: "exhausted" });
    const r = await praxa(["runs", "list", "--status", "failed", "--json"]);
    expect(r.status).toBe(0);
    expect(json(r)).toEqual({
      runs: [
        expect.objectContaining({
          id: failed,
          status: "failed",
          errorCode: "UNAVAILABLE",
          attempt: 5,
          failureClass: "exhausted",
        }),
      ],
      next: null,
    });
    const human = await praxa(["runs", "list", "--status", "failed"]);
    expect(human.stdout).toContain(`${failed}  failed`);
    expect(human.stdout).toContain("UNAVAILABLE (exhausted)");
    expect((await praxa(["runs", "list", "--status", "lost"])).status).toBe(2);
  });

  it("cancel <run>: 0 and the outcome; a finished run exits 1 with RUN_FINISHED; a viewer exits 1; usage errors exit 2", async () => {
    const queued = await insertRun(A, "queued");
    expect((await praxa(["runs", "cancel", queued], tok.viewer)).stderr).toContain("praxa: FORBIDDEN");
    const ok = await praxa(["runs", "cancel", queued, "--reason", "wrong branch"]);
    expect({ status: ok.status, out: ok.stdout.trim() }).toEqual({ status: 0, out: `${queued}: cancelled (audited)` });
    expect(await statusOf(queued)).toBe("cancelled");

    const again = await praxa(["runs", "cancel", queued, "--json"]);
    expect(again.status).toBe(1);
    expect(json(again)).toEqual({ error: { code: "RUN_FINISHED", message: expect.stringContaining("(cancelled)") } });
    expect(again.stderr).toContain("praxa: RUN_FINISHED");

    expect((await praxa(["runs", "cancel"])).status).toBe(2); // neither a run nor a filter
    expect((await praxa(["runs", "cancel", queued, "--skill", A.skillId])).status).toBe(2); // both
    expect((await praxa(["runs", "cancel", "--status", "failed"])).status).toBe(2);
    expect((await praxa(["runs", "cancel", "not-a-run"])).status).toBe(2);
  });

  it("cancel by filter: the counts as JSON", async () => {
    const trigger = "github.pull_request.reopened";
    const ids = [await insertRun(A, "queued", { trigger }), await insertRun(A, "queued", { trigger })];
    const r = await praxa(["runs", "cancel", "--trigger", trigger, "--status", "queued,running", "--json"]);
    expect({ status: r.status, doc: json(r) }).toEqual({
      status: 0,
      doc: { cancelled: 2, cancelling: 0, matched: 2, more: false },
    });
    for (const id of ids) expect(await statusOf(id)).toBe("cancelled");
  });

  it("retry <run> and by filter; a guard denial exits 1 naming GUARD_DENIAL_NEEDS_NEW_VERSION", async () => {
    const failed = await insertRun(A, "failed", { errorCode: "INTERNAL", failureClass: "permanent" });
    const one = await praxa(["runs", "retry", failed, "--json"]);
    expect({ status: one.status, doc: json(one) }).toEqual({
      status: 0,
      doc: { run: { id: expect.stringMatching(/^rn_/), retryOf: failed } },
    });
    const twice = await praxa(["runs", "retry", failed]);
    expect(twice.status).toBe(1);
    expect(twice.stderr).toContain("praxa: RUN_ALREADY_RETRIED");

    const bulk = [
      await insertRun(A, "failed", { errorCode: "UPSTREAM_TIMEOUT", failureClass: "exhausted" }),
      await insertRun(A, "failed", { errorCode: "UPSTREAM_TIMEOUT", failureClass: "exhausted" }),
    ];
    const many = await praxa(["runs", "retry", "--error-code", "UPSTREAM_TIMEOUT"]);
    expect({ status: many.status, out: many.stdout.trim() }).toEqual({
      status: 0,
      out: expect.stringMatching(/^matched 2: 2 retried; refused 0 .*, 0 /),
    });
    for (const id of bulk)
      expect(await admin`select 1 from agent_runs where retry_of = ${id} and status = 'queued'`).toHaveLength(1);

    const denied = await insertRun(A, "queued");
    const claimed = await claimRun(worker, denied, "cli-test");
    await withWorkspace(worker, A.workspaceId, (s) =>
      finishRun(s, claimed!.lease, "failed", "TOOL_NOT_ALLOWED", "guard"),
    );
    const refused = await praxa(["runs", "retry", denied]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/praxa: GUARD_DENIAL_NEEDS_NEW_VERSION: a guard refused .* new Skill version/);
    expect((await praxa(["runs", "retry"])).status).toBe(2);
  });
});

describe("praxa fleet (the operator)", () => {
  const settings = async () =>
    (
      await admin<{ default_workspace_concurrency: number; dispatch_ahead: number }[]>`
        select default_workspace_concurrency, dispatch_ahead from fleet_settings`
    )[0];
  const capOf = async (ws: string) =>
    (
      await admin<
        { max_concurrency: number | null }[]
      >`select max_concurrency from workspace_fleet where workspace_id = ${ws}`
    )[0]?.max_concurrency;

  it("set: the default cap and the look-ahead, either alone", async () => {
    const r = await praxa(["fleet", "set", "--default-cap", "7", "--ahead", "32", "--json"]);
    expect({ status: r.status, doc: json(r) }).toEqual({
      status: 0,
      doc: { defaultWorkspaceConcurrency: 7, dispatchAhead: 32 },
    });
    expect(await settings()).toEqual({ default_workspace_concurrency: 7, dispatch_ahead: 32 });
    expect((await praxa(["fleet", "set", "--ahead", "16"])).status).toBe(0);
    expect(await settings()).toEqual({ default_workspace_concurrency: 7, dispatch_ahead: 16 });
    expect((await praxa(["fleet", "set"])).status).toBe(2);
    expect((await praxa(["fleet", "set", "--default-cap", "0"])).status).toBe(2);
    expect((await praxa(["fleet", "set", "--ahead", "1.5"])).status).toBe(2);
  });

  it("cap: a workspace's own cap (0 holds every run), then back to the default; an unknown workspace exits 1", async () => {
    const r = await praxa(["fleet", "cap", "--workspace", A.workspaceId, "--cap", "3", "--json"]);
    expect({ status: r.status, doc: json(r) }).toEqual({ status: 0, doc: { workspaceId: A.workspaceId, cap: 3 } });
    expect(await capOf(A.workspaceId)).toBe(3);
    expect((await praxa(["fleet", "cap", "--workspace", A.workspaceId, "--cap", "0"])).stdout).toContain(
      "every run held",
    );
    expect(await capOf(A.workspaceId)).toBe(0);
    expect((await praxa(["fleet", "cap", "--workspace", A.workspaceId, "--cap", "default"])).status).toBe(0);
    expect(await capOf(A.workspaceId)).toBeNull();
    expect((await praxa(["fleet", "cap", "--workspace", A.workspaceId, "--cap", "-1"])).status).toBe(2);
    const unknown = await praxa(["fleet", "cap", "--workspace", newId("workspace"), "--cap", "2"]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain("praxa: NOT_FOUND");
  });
});
