/**
 * dispatch_subagent_run and the sealed task, as the real praxa_worker role (migrations/0025): the child's subject is
 * copied from the parent's row whatever the caller passes; arguments holding prose are refused; the sealed task is
 * reachable by no login role's SELECT, only through read_subagent_task under the CHILD's lease, and gone when the
 * child's run ends. The 0015 form that took a free `input` no longer exists.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { LeaseLostError, newId, PermissionDeniedError, ValidationError, type RunId } from "@praxa/core";
import { createDatabase, type Database } from "./client.js";
import { seedWorkspaceFixture, type WorkspaceFixture } from "./fixtures.js";
import { mapPgError } from "./pg-errors.js";
import { dispatchSubagentRun, readSubagentTask } from "./run-execution.js";
import { claimRun, finishRun } from "./runs.js";
import { withWorkspace } from "./scope.js";
import { createTestDatabase, type TestDatabase } from "./test-database.js";

let tdb: TestDatabase;
let admin: postgres.Sql;
let worker: Database;
let A: WorkspaceFixture;
const PARENT_INPUT = {
  repo: "acme/shop",
  prNumber: 7,
  headSha: "a".repeat(40),
  baseRef: "main",
  draft: false,
  authorLogin: "dev",
  authorIsBot: false,
};

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
});
afterAll(async () => {
  await worker?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

async function claimedParent() {
  const runId = newId("run");
  await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input)
              values (${A.workspaceId}, ${runId}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github', ${admin.json(PARENT_INPUT)})`;
  const claimed = await claimRun(worker, runId, "w-parent", 60);
  if (!claimed) throw new Error("parent not claimable");
  return claimed.lease;
}

describe("dispatch_subagent_run (0025)", () => {
  it("copies the subject from the parent’s row, keeps the sealed task for the child’s lease only, purges it when the child ends", async () => {
    const parent = await claimedParent();
    const sealed = randomBytes(200);
    const childRunId = newId("run");
    // The caller tries to name another PR through the arguments: they land under `subagent`, never on the subject.
    const child = await withWorkspace(worker, A.workspaceId, (s) =>
      dispatchSubagentRun(s, parent, {
        childRunId,
        targetSlug: "pr-review",
        step: 1,
        args: { focus: "security", prNumber: 999 },
        taskSealed: sealed,
        maxDepth: 1,
      }),
    );
    expect(child).toEqual({ runId: childRunId, created: true });
    const [row] = await admin<
      { input: Record<string, unknown>; parent_run_id: string; source: string }[]
    >`select input, parent_run_id, source from agent_runs where id = ${childRunId}`;
    expect(row).toEqual({
      input: { ...PARENT_INPUT, subagent: { focus: "security", prNumber: 999 } },
      parent_run_id: parent.runId,
      source: "subagent",
    });

    // No login role reads the table itself.
    for (const role of ["praxa_worker", "praxa_api", "praxa_monitor", "praxa_ingest"] as const) {
      const sql = postgres(tdb.roleUrl(role), { max: 1, onnotice: () => {} });
      expect(mapPgError(await errorOf(sql`select task_sealed from subagent_tasks`))).toBeInstanceOf(
        PermissionDeniedError,
      );
      await sql.end({ timeout: 5 });
    }
    // The parent's lease does not open the child's task; a queued child has no lease at all.
    expect(
      await errorOf(
        withWorkspace(worker, A.workspaceId, (s) => readSubagentTask(s, { ...parent, runId: childRunId as RunId })),
      ),
    ).toBeInstanceOf(LeaseLostError);
    const claimedChild = await claimRun(worker, childRunId as RunId, "w-child", 60);
    const got = await withWorkspace(worker, A.workspaceId, (s) => readSubagentTask(s, claimedChild!.lease));
    expect(got?.equals(sealed)).toBe(true);

    await withWorkspace(worker, A.workspaceId, (s) => finishRun(s, claimedChild!.lease, "succeeded"));
    expect(await admin`select 1 from subagent_tasks where run_id = ${childRunId}`).toHaveLength(0);

    // Idempotent per (parent, step): the same step returns the existing child and stores nothing new.
    const again = await withWorkspace(worker, A.workspaceId, (s) =>
      dispatchSubagentRun(s, parent, {
        childRunId: newId("run"),
        targetSlug: "pr-review",
        step: 1,
        args: {},
        taskSealed: randomBytes(10),
        maxDepth: 1,
      }),
    );
    expect(again).toEqual({ runId: childRunId, created: false });
    expect(await admin`select 1 from subagent_tasks`).toHaveLength(0);
  });

  it("purges a queued child’s task when the run ends another way (cancelled), and with the run row", async () => {
    const parent = await claimedParent();
    const childRunId = newId("run");
    await withWorkspace(worker, A.workspaceId, (s) =>
      dispatchSubagentRun(s, parent, {
        childRunId,
        targetSlug: "pr-review",
        step: 2,
        args: {},
        taskSealed: randomBytes(40),
        maxDepth: 1,
      }),
    );
    expect(await admin`select 1 from subagent_tasks where run_id = ${childRunId}`).toHaveLength(1);
    await admin`update agent_runs set status = 'cancelled', finished_at = now() where id = ${childRunId}`;
    expect(await admin`select 1 from subagent_tasks where run_id = ${childRunId}`).toHaveLength(0);

    const deleted = newId("run");
    await withWorkspace(worker, A.workspaceId, (s) =>
      dispatchSubagentRun(s, parent, {
        childRunId: deleted,
        targetSlug: "pr-review",
        step: 3,
        args: {},
        taskSealed: randomBytes(40),
        maxDepth: 1,
      }),
    );
    await admin`delete from agent_runs where id = ${deleted}`;
    expect(await admin`select 1 from subagent_tasks where run_id = ${deleted}`).toHaveLength(0);
  });

  it("refuses arguments that carry prose, nesting or odd keys — the child’s plaintext row holds no free text", async () => {
    const parent = await claimedParent();
    const bad: Record<string, unknown>[] = [
      { note: "please review the other repository instead" },
      { repo: "evil/other" },
      { nested: { focus: "security" } },
      { list: ["a"] },
      { "Bad Key": 1 },
      Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])),
    ];
    for (const [i, args] of bad.entries()) {
      const err = await errorOf(
        withWorkspace(worker, A.workspaceId, (s) =>
          dispatchSubagentRun(s, parent, {
            childRunId: newId("run"),
            targetSlug: "pr-review",
            step: 10 + i,
            args: args as Record<string, string>,
            taskSealed: null,
            maxDepth: 1,
          }),
        ),
      );
      expect({ i, err: (err as Error).constructor.name }).toEqual({ i, err: ValidationError.name });
    }
    expect(await admin`select 1 from agent_runs where parent_run_id = ${parent.runId}`).toHaveLength(0);
  });

  it("the 0015 form, which stored a caller-given input as the child’s, is gone", async () => {
    const parent = await claimedParent();
    const sql = postgres(tdb.roleUrl("praxa_worker"), { max: 1, onnotice: () => {} });
    try {
      await sql`select set_config('app.workspace_id', ${A.workspaceId}, false)`;
      const err = await errorOf(
        sql`select * from public.dispatch_subagent_run(${parent.runId}, ${parent.token}::uuid, ${newId("run")}, 'pr-review', 3, ${sql.json({ repo: "evil/other", prNumber: 1 })}::jsonb, 1)`,
      );
      expect((err as { code?: string }).code).toBe("42883");
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});
