/**
 * The run store's write schedule (issue #20), against the real database: a read's completion is held, then committed
 * together with the next effect's `started` mark BEFORE the effect runs; the effect's completion is committed as soon
 * as it returns; what is still held is written with the run's end, in the same transaction as finish_run. A lease lost
 * before an effect refuses its `started` mark, and the effect never runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import postgres from "postgres";
import { LeaseLostError, newId, type RunId } from "@praxa/core";
import type { KeyProvider } from "@praxa/crypto";
import {
  claimRunWithContext,
  createDatabase,
  createTestDatabase,
  seedWorkspaceFixture,
  type AuditWriter,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createRunStore } from "@praxa/worker";

let tdb: TestDatabase;
let admin: postgres.Sql;
let worker: Database;
let A: WorkspaceFixture;

// Neither is touched by unsealed steps without audit events.
const untouchable = new Proxy(
  {},
  {
    get: () => {
      throw new Error("touched");
    },
  },
);

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 3 });
});
afterAll(async () => {
  await worker?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

async function claimedRun() {
  const runId = newId("run") as RunId;
  await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input)
              values (${A.workspaceId}, ${runId}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github', ${admin.json({ repo: "octo/hello" })})`;
  const claim = await claimRunWithContext(worker, runId, "test-holder", 30);
  if (claim.outcome !== "claimed") throw new Error(`not claimed: ${claim.outcome}`);
  const store = createRunStore(
    { database: worker, provider: untouchable as KeyProvider, auditWriter: untouchable as AuditWriter },
    A.workspaceId,
    claim.run.lease,
    { steps: claim.context.steps, publicKey: claim.context.publicKey },
  );
  return { runId, store };
}

const steps = (runId: string) =>
  admin<{ idx: number; status: string }[]>`select idx, status from run_steps where run_id = ${runId} order by idx`.then(
    (rows) => rows.map((r) => ({ ...r })),
  );
// Only a replay parses a recorded result; nothing here replays.
const schema = { parse: (v: unknown) => v } as never;
const read = { kind: "tool.github.read.diff", sealed: false, schema } as const;
const effect = { kind: "tool.github.comment.pr", sealed: false, schema, effect: true } as const;

describe("the run store's write schedule", () => {
  it("reads are committed with the next effect's started mark, before the effect; the rest with the run's end", async () => {
    const { runId, store } = await claimedRun();
    await store.journal.step(0, { ...read, key: "tool:read:0" }, async () => ({ diff: "x" }));
    expect(await steps(runId)).toEqual([]); // held
    let seenByEffect: { idx: number; status: string }[] = [];
    await store.journal.step(1, { ...effect, key: "tool:comment:1" }, async () => {
      await store.recorder.assertLease();
      seenByEffect = await steps(runId); // what another connection sees while the effect happens
      return { posted: true };
    });
    expect(seenByEffect).toEqual([
      { idx: 0, status: "completed" },
      { idx: 1, status: "started" },
    ]);
    expect(await steps(runId)).toEqual([
      { idx: 0, status: "completed" },
      { idx: 1, status: "completed" },
    ]);
    await store.journal.step(2, { ...read, key: "tool:read:2" }, async () => ({ more: 1 }));
    await store.recorder.telemetry({ tool_name: "github.read.diff", ms: 1, code: null, iter: 0 });
    await store.finish({ status: "succeeded", errorCode: null, failureClass: null });
    expect(await steps(runId)).toEqual([
      { idx: 0, status: "completed" },
      { idx: 1, status: "completed" },
      { idx: 2, status: "completed" },
    ]);
    const [run] = await admin<{ status: string; events: number }[]>`
      select status, (select count(*)::int from agent_run_events e where e.run_id = r.id) as events
        from agent_runs r where id = ${runId}`;
    expect(run).toEqual({ status: "succeeded", events: 1 });
  });

  it("a lease lost before an effect: its started mark is refused and the effect never runs", async () => {
    const { runId, store } = await claimedRun();
    await store.journal.step(0, { ...read, key: "tool:read:0" }, async () => ({ diff: "x" }));
    await admin`update agent_runs set lease_token = gen_random_uuid() where id = ${runId}`;
    let ran = false;
    await expect(
      store.journal.step(1, { ...effect, key: "tool:comment:1" }, async () => {
        ran = true;
        return {};
      }),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect(ran).toBe(false);
    expect(await steps(runId)).toEqual([]);
    // Outside an effect that was just marked, the lease check goes to Postgres.
    await expect(store.recorder.assertLease()).rejects.toBeInstanceOf(LeaseLostError);
  });
});
