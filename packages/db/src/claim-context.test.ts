/**
 * claim_run_context (migrations/0029): claim_run's outcomes unchanged (a cap, a finished run), and — only for a run
 * claimed now — the context the worker used to read in three more transactions: the pinned manifest and its hash, the
 * run's depth, its recorded steps (sealed bytes intact), the installations it may act through, the workspace's public
 * key and model credentials. Everything is the claimed run's own workspace's.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import postgres from "postgres";
import { newId, type RunId } from "@praxa/core";
import { createDatabase, type Database } from "./client.js";
import { seedWorkspaceFixture, type WorkspaceFixture } from "./fixtures.js";
import { claimRunWithContext } from "./runs.js";
import { createTestDatabase, type TestDatabase } from "./test-database.js";

let tdb: TestDatabase;
let admin: postgres.Sql;
let worker: Database;
let A: WorkspaceFixture;
let B: WorkspaceFixture;

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
});
afterAll(async () => {
  await worker?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

async function queuedRun(
  ws: WorkspaceFixture,
  extra: { parent?: string; integration?: string | null } = {},
): Promise<RunId> {
  const id = newId("run") as RunId;
  await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input, parent_run_id, integration_id)
              values (${ws.workspaceId}, ${id}, ${ws.skillId}, ${ws.skillVersionId}, 'github.pull_request.opened', 'github',
                      ${admin.json({ repo: "octo/hello", prNumber: 7 })}, ${extra.parent ?? null}, ${extra.integration === undefined ? ws.integrationId : extra.integration})`;
  return id;
}

describe("claim_run_context", () => {
  it("claims as claim_run does and brings the run's context, its steps of an earlier attempt included", async () => {
    const parent = await queuedRun(A);
    const child = await queuedRun(A, { parent });
    // An earlier attempt's steps: a retry replays them (the sealed bytes come back as they were stored).
    const sealed = Buffer.from([0, 1, 2, 250, 255]);
    await admin`insert into run_steps (workspace_id, run_id, idx, kind, idempotency_key, status, result, result_sealed)
                values (${A.workspaceId}, ${child}, 0, 'config.prepare', 'config:prepare', 'completed', null, ${sealed}),
                       (${A.workspaceId}, ${child}, 1, 'tool.github.read.diff', 'tool:read:1', 'completed', ${admin.json({ n: 1 })}, null)`;
    const claim = await claimRunWithContext(worker, child, "holder-1", 30);
    if (claim.outcome !== "claimed") throw new Error(claim.outcome);
    expect(claim.run.workspaceId).toBe(A.workspaceId);
    expect(claim.run.attempt).toBe(1);
    const [v] = await admin<
      { manifest_hash: string }[]
    >`select manifest_hash from skill_versions where id = ${A.skillVersionId}`;
    const [k] = await admin<
      { key_id: string }[]
    >`select key_id from workspace_keys where workspace_id = ${A.workspaceId} and status = 'active'`;
    const creds = await admin<{ provider: string; vault_name: string }[]>`
      select provider, vault_name from llm_credentials where workspace_id = ${A.workspaceId} order by created_at desc, id desc`;
    const c = claim.context;
    expect(c.manifestHash).toBe(v?.manifest_hash);
    expect(c.skillStatus).toBe("active");
    expect(c.skillSlug).toBe(A.manifest.slug);
    expect(c.input).toEqual({ repo: "octo/hello", prNumber: 7 });
    expect(c.parentRunId).toBe(parent);
    expect(c.depth).toBe(1);
    expect(c.integrationId).toBe(A.integrationId);
    expect(c.githubInstallations).toEqual([A.installationId]);
    expect(c.publicKey?.keyId ?? null).toBe(k?.key_id ?? null);
    expect(c.llmCredentials).toEqual(creds.map((r) => ({ provider: r.provider, vaultName: r.vault_name })));
    expect(c.steps).toEqual([
      { idx: 0, idempotency_key: "config:prepare", status: "completed", result: null, result_sealed: sealed },
      { idx: 1, idempotency_key: "tool:read:1", status: "completed", result: { n: 1 }, result_sealed: null },
    ]);
    // Another workspace's installation is never named; a revoked one neither.
    await admin`update integrations set status = 'revoked' where id = ${A.integrationId}`;
    try {
      const again = await claimRunWithContext(worker, await queuedRun(A), "holder-1", 30);
      if (again.outcome !== "claimed") throw new Error(again.outcome);
      expect(again.context.githubInstallations).toEqual([]);
      expect(again.context.depth).toBe(0);
      expect(JSON.stringify(again.context)).not.toContain(B.installationId);
    } finally {
      await admin`update integrations set status = 'active' where id = ${A.integrationId}`;
    }
  });

  it("a run not claimed now gets no context: finished, held, or over its workspace's cap (handed back as before)", async () => {
    expect(await claimRunWithContext(worker, A.runId as RunId, "holder-2", 30)).toEqual({ outcome: "not_claimable" });
    const held = await queuedRun(B);
    expect((await claimRunWithContext(worker, held, "holder-2", 30)).outcome).toBe("claimed");
    expect(await claimRunWithContext(worker, held, "holder-3", 30)).toEqual({ outcome: "not_claimable" });
    await admin`insert into workspace_fleet (workspace_id, max_concurrency) values (${B.workspaceId}, 1)
                on conflict (workspace_id) do update set max_concurrency = 1`;
    const capped = await queuedRun(B);
    await admin`update agent_runs set dispatched_at = now(), dispatch_seq = 1 where id = ${capped}`;
    expect(await claimRunWithContext(worker, capped, "holder-2", 30)).toEqual({
      outcome: "capped",
      workspaceId: B.workspaceId,
    });
    const [row] = await admin<{ status: string; dispatched_at: Date | null; lease_token: string | null }[]>`
      select status, dispatched_at, lease_token from agent_runs where id = ${capped}`;
    expect(row).toEqual({ status: "queued", dispatched_at: null, lease_token: null });
  });
});
