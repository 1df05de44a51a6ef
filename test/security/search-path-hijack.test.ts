/**
 * search_path hijack: objects planted in a schema that comes first on the caller's search_path — a shadow table, a
 * shadow gen_random_uuid(), a temp table — must not change what a SECURITY DEFINER function does, because each one
 * runs with `search_path = pg_catalog, pg_temp` and schema-qualified names.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import postgres from "postgres";
import { newId } from "@praxa/core";
import { createTestDatabase, seedWorkspaceFixture, type TestDatabase, type WorkspaceFixture } from "@praxa/db";

let tdb: TestDatabase;
let admin: postgres.Sql;
let worker: postgres.Sql;
let A: WorkspaceFixture;
const PLANTED = "00000000-0000-4000-8000-000000000bad";

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  // The attacker's schema, writable and first on the path. (Created by the admin here: the app roles cannot create
  // schemas at all, which is the first defence; this test proves the second.)
  await admin.unsafe(`
    create schema evil;
    grant usage, create on schema evil to praxa_worker;
    create table evil.agent_runs (like public.agent_runs);
    grant all on evil.agent_runs to praxa_worker;
    create function evil.gen_random_uuid() returns uuid language sql as $$ select '${PLANTED}'::uuid $$;
    create function evil.clock_timestamp() returns timestamptz language sql as $$ select 'epoch'::timestamptz $$;
    create function evil.current_setting(text, boolean) returns text language sql as $$ select '${A.workspaceId}' $$;
    grant execute on all functions in schema evil to praxa_worker;`);
  worker = postgres(tdb.roleUrl("praxa_worker"), { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await worker?.end({ timeout: 5 });
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

describe("SECURITY DEFINER functions ignore the caller’s search_path", () => {
  it("claim_run uses the real table and the real gen_random_uuid()", async () => {
    const runId = newId("run");
    await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${A.workspaceId}, ${runId}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github')`;
    const rows = await worker.begin(async (tx) => {
      await tx.unsafe(`set local search_path = evil, public, pg_catalog`);
      await tx.unsafe(`create temp table agent_runs (like public.agent_runs)`);
      return tx<{ lease_token: string; workspace_id: string }[]>`select * from public.claim_run(${runId}, 'w', 30)`;
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.workspace_id).toBe(A.workspaceId);
    expect(rows[0]?.lease_token).not.toBe(PLANTED);
    const [real] = await admin<
      { status: string; lease_token: string }[]
    >`select status, lease_token::text from public.agent_runs where id = ${runId}`;
    expect(real?.status).toBe("running");
    expect(real?.lease_token).toBe(rows[0]?.lease_token);
    const [shadow] = await admin<{ n: number }[]>`select count(*)::int as n from evil.agent_runs`;
    expect(shadow?.n).toBe(0);
  });

  it("the lease check cannot be fooled by a shadow current_setting() or clock", async () => {
    const runId = newId("run");
    await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${A.workspaceId}, ${runId}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github')`;
    const [claim] = await worker<
      { lease_token: string }[]
    >`select lease_token::text from public.claim_run(${runId}, 'w', 30)`;
    await admin`update agent_runs set lease_expires_at = now() - interval '1 second' where id = ${runId}`;
    // The shadow clock says 1970, and the shadow current_setting() claims workspace A for an unscoped call.
    const err = await worker
      .begin(async (tx) => {
        await tx.unsafe(`set local search_path = evil, public, pg_catalog`);
        await tx`select public.assert_run_lease(${runId}, ${claim?.lease_token ?? ""}::uuid)`;
      })
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toMatch(/^PX[LS]01$/);
  });
});
