import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import postgres from "postgres";
import { LeaseLostError, newId, WorkspaceScopeError, type RunId } from "@praxa/core";
import {
  assertRunLease,
  claimRun,
  createDatabase,
  dispatchSubagentRun,
  createRunsForDelivery,
  createTestDatabase,
  finishRun,
  handBackRun,
  listStaleRuns,
  recordRunStep,
  resolveInstallation,
  seedWorkspaceFixture,
  subscribedSkills,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "./index.js";

let tdb: TestDatabase;
let admin: postgres.Sql;
let worker: Database;
let ingest: Database;
let monitor: Database;
let A: WorkspaceFixture;
let B: WorkspaceFixture;

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
  ingest = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 2 });
  monitor = createDatabase(tdb.roleUrl("praxa_monitor"), { max: 2 });
});
afterAll(async () => {
  await Promise.all([worker?.close(), ingest?.close(), monitor?.close(), admin?.end({ timeout: 5 })]);
  await tdb?.drop();
});

async function newQueuedRun(f: WorkspaceFixture): Promise<RunId> {
  const id = newId("run");
  await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${f.workspaceId}, ${id}, ${f.skillId}, ${f.skillVersionId}, 'github.pull_request.opened', 'github')`;
  return id;
}

describe("claim_run and the fencing token", () => {
  it("derives the workspace from the run row and hands out a lease", async () => {
    const runId = await newQueuedRun(B);
    const claimed = await claimRun(worker, runId, "worker-1", 30);
    expect(claimed?.workspaceId).toBe(B.workspaceId);
    expect(claimed?.skillVersionId).toBe(B.skillVersionId);
    expect(claimed?.attempt).toBe(1);
    // A second claim while the lease lives gets nothing.
    expect(await claimRun(worker, runId, "worker-2", 30)).toBeNull();
  });

  it("after lease expiry a second claim takes the run over, and the first holder’s step write is refused", async () => {
    const runId = await newQueuedRun(A);
    const first = await claimRun(worker, runId, "worker-1", 5);
    if (!first) throw new Error("claim failed");
    await withWorkspace(worker, A.workspaceId, (s) =>
      recordRunStep(s, first.lease, {
        idx: 0,
        kind: "model.call",
        idempotencyKey: `${runId}:0`,
        status: "completed",
        result: { ok: 1 },
      }),
    );
    // Expire the lease (as if the worker stalled past it).
    await admin`update agent_runs set lease_expires_at = now() - interval '1 second' where id = ${runId}`;
    const second = await claimRun(worker, runId, "worker-2", 30);
    expect(second?.attempt).toBe(2);
    expect(second?.lease.token).not.toBe(first.lease.token);
    let err: unknown;
    try {
      await withWorkspace(worker, A.workspaceId, (s) =>
        recordRunStep(s, first.lease, { idx: 1, kind: "tool.call", idempotencyKey: `${runId}:1`, status: "completed" }),
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LeaseLostError);
    await expect(withWorkspace(worker, A.workspaceId, (s) => assertRunLease(s, first.lease))).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    await expect(
      withWorkspace(worker, A.workspaceId, (s) => finishRun(s, first.lease, "succeeded")),
    ).rejects.toBeInstanceOf(LeaseLostError);
    // The new holder replays the completed step instead of redoing it, and can finish the run.
    const replay = await withWorkspace(worker, A.workspaceId, (s) =>
      recordRunStep(s, second!.lease, {
        idx: 0,
        kind: "model.call",
        idempotencyKey: `${runId}:0`,
        status: "completed",
        result: { ok: 2 },
      }),
    );
    expect(replay).toMatchObject({ replayed: true, result: { ok: 1 } });
    await withWorkspace(worker, A.workspaceId, (s) => finishRun(s, second!.lease, "succeeded"));
    const [row] = await admin<
      { status: string; lease_token: string | null }[]
    >`select status, lease_token from agent_runs where id = ${runId}`;
    expect(row).toEqual({ status: "succeeded", lease_token: null });
  });

  it("a lease presented from another workspace’s scope is refused", async () => {
    const runId = await newQueuedRun(A);
    const claimed = await claimRun(worker, runId, "w", 30);
    await expect(withWorkspace(worker, B.workspaceId, (s) => assertRunLease(s, claimed!.lease))).rejects.toBeInstanceOf(
      WorkspaceScopeError,
    );
  });
});

describe("reconciler functions", () => {
  it("lists dispatched runs past the grace period and hands back expired leases; undispatched runs are the dispatcher's", async () => {
    const queued = await newQueuedRun(A);
    await admin`update agent_runs set created_at = now() - interval '1 minute', dispatched_at = now() - interval '1 minute', dispatch_seq = 1 where id = ${queued}`;
    const waiting = await newQueuedRun(A);
    await admin`update agent_runs set created_at = now() - interval '1 minute' where id = ${waiting}`;
    const running = await newQueuedRun(B);
    await claimRun(worker, running, "w", 5);
    await admin`update agent_runs set lease_expires_at = now() - interval '1 second', created_at = now() - interval '1 minute' where id = ${running}`;
    const stale = await listStaleRuns(monitor, 10, 100);
    expect(stale.map((s) => s.run_id)).toEqual(expect.arrayContaining([queued, running]));
    expect(stale.map((s) => s.run_id)).not.toContain(waiting);
    expect(stale.find((s) => s.run_id === queued)?.dispatch_seq).toBe(1);
    expect(await handBackRun(monitor, running)).toBe(true);
    expect(await handBackRun(monitor, running)).toBe(false);
    expect(await handBackRun(monitor, queued)).toBe(false);
  });
});

describe("ingest functions", () => {
  it("resolves an installation and records a delivery once, by delivery id and by body digest", async () => {
    const inst = await resolveInstallation(ingest, "github", A.installationId);
    expect(inst?.workspace_id).toBe(A.workspaceId);
    expect(await resolveInstallation(ingest, "github", "999999999999")).toBeNull();
    const skills = await subscribedSkills(ingest, A.workspaceId, "github.pull_request.opened");
    expect(skills.map((s) => s.skill_id)).toEqual([A.skillId]);
    expect(await subscribedSkills(ingest, A.workspaceId, "slack.app_mention")).toEqual([]);
    const digest = "b".repeat(64);
    const runId = newId("run");
    const first = await createRunsForDelivery(ingest, {
      source: "github",
      deliveryId: "d-1",
      bodySha256: digest,
      workspaceId: A.workspaceId,
      trigger: "github.pull_request.opened",
      input: { repo: "octo/hello", prNumber: 7 },
      runs: [{ runId, skillId: A.skillId }],
    });
    expect(first).toMatchObject({ run_ids: [runId], statuses: ["queued"], duplicate: false });
    const again = await createRunsForDelivery(ingest, {
      source: "github",
      deliveryId: "d-1",
      bodySha256: digest,
      workspaceId: A.workspaceId,
      trigger: "github.pull_request.opened",
      input: {},
      runs: [{ runId: newId("run"), skillId: A.skillId }],
    });
    expect(again).toMatchObject({ run_ids: [runId], statuses: ["queued"], duplicate: true });
    const replayedBody = await createRunsForDelivery(ingest, {
      source: "github",
      deliveryId: "d-2-fresh",
      bodySha256: digest,
      workspaceId: A.workspaceId,
      trigger: "github.pull_request.opened",
      input: {},
      runs: [{ runId: newId("run"), skillId: A.skillId }],
    });
    expect(replayedBody.duplicate).toBe(true);
    const [n] = await admin<
      { n: number }[]
    >`select count(*)::int as n from agent_runs where source_delivery_id in ('d-1', 'd-2-fresh')`;
    expect(n?.n).toBe(1);
  });

  it("a duplicate is never answered with another workspace’s runs (GitHub body digest; signed producers per Skill)", async () => {
    const digest = "e".repeat(64);
    const runA = newId("run");
    const a = await createRunsForDelivery(ingest, {
      source: "github",
      deliveryId: "gh-a",
      bodySha256: digest,
      workspaceId: A.workspaceId,
      trigger: "github.pull_request.opened",
      input: {},
      runs: [{ runId: runA, skillId: A.skillId }],
      integrationId: A.integrationId,
    });
    expect(a).toMatchObject({ run_ids: [runA], statuses: ["queued"], duplicate: false });
    // The same body under a fresh delivery id, resolved to workspace B: a replay — but B is never told A's run id.
    const b = await createRunsForDelivery(ingest, {
      source: "github",
      deliveryId: "gh-b",
      bodySha256: digest,
      workspaceId: B.workspaceId,
      trigger: "github.pull_request.opened",
      input: {},
      runs: [{ runId: newId("run"), skillId: B.skillId }],
      integrationId: B.integrationId,
    });
    expect(b).toMatchObject({ run_ids: [], statuses: [], duplicate: true });
    // The same delivery id from an unresolved installation: nothing named either.
    expect(
      await createRunsForDelivery(ingest, {
        source: "github",
        deliveryId: "gh-a",
        bodySha256: "f".repeat(64),
        workspaceId: null,
        trigger: "ignored.event",
        input: {},
        runs: [],
      }),
    ).toMatchObject({ run_ids: [], statuses: [], duplicate: true });

    // Signed producers: identical bodies to two Skills are two deliveries; the same Skill twice under two ids is two.
    const body = "1".repeat(64);
    const t = (skill: WorkspaceFixture, id: string) =>
      createRunsForDelivery(ingest, {
        source: "trigger",
        deliveryId: `${skill.skillId}:${id}`,
        bodySha256: body,
        workspaceId: skill.workspaceId,
        trigger: "github.pull_request.opened",
        input: {},
        runs: [{ runId: newId("run"), skillId: skill.skillId }],
      });
    const ta = await t(A, "msg_1");
    const tb = await t(B, "msg_1");
    const ta2 = await t(A, "msg_2");
    expect([ta.duplicate, tb.duplicate, ta2.duplicate]).toEqual([false, false, false]);
    expect(new Set([...ta.run_ids, ...tb.run_ids, ...ta2.run_ids]).size).toBe(3);
    expect(await t(A, "msg_1")).toEqual({ ...ta, duplicate: true });
  });

  it("records the integration on the run; an integration of another workspace is refused", async () => {
    const runId = newId("run");
    await createRunsForDelivery(ingest, {
      source: "github",
      deliveryId: "gh-int",
      bodySha256: "2".repeat(64),
      workspaceId: A.workspaceId,
      trigger: "github.pull_request.opened",
      input: {},
      runs: [{ runId, skillId: A.skillId }],
      integrationId: A.integrationId,
    });
    expect(
      (await admin<{ integration_id: string }[]>`select integration_id from agent_runs where id = ${runId}`)[0]
        ?.integration_id,
    ).toBe(A.integrationId);
    await expect(
      createRunsForDelivery(ingest, {
        source: "github",
        deliveryId: "gh-int-x",
        bodySha256: "3".repeat(64),
        workspaceId: A.workspaceId,
        trigger: "github.pull_request.opened",
        input: {},
        runs: [{ runId: newId("run"), skillId: A.skillId }],
        integrationId: B.integrationId,
      }),
    ).rejects.toBeTruthy();
    expect(
      (
        await admin<{ n: number }[]>`select count(*)::int as n from webhook_deliveries where delivery_id = 'gh-int-x'`
      )[0]?.n,
    ).toBe(0);
  });

  it("a sub-agent run inherits the installation of its parent", async () => {
    const parent = newId("run");
    await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, integration_id) values (${A.workspaceId}, ${parent}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github', ${A.integrationId})`;
    const claimed = await claimRun(worker, parent, "w", 30);
    const child = await withWorkspace(worker, A.workspaceId, (s) =>
      dispatchSubagentRun(s, claimed!.lease, {
        childRunId: newId("run"),
        targetSlug: A.manifest.slug,
        step: 1,
        args: {},
        taskSealed: null,
        maxDepth: 2,
      }),
    );
    expect(
      (
        await admin<
          { integration_id: string | null }[]
        >`select integration_id from agent_runs where id = ${child.runId}`
      )[0]?.integration_id,
    ).toBe(A.integrationId);
  });

  it("refuses to create a run for a skill of another workspace or one not subscribed", async () => {
    await expect(
      createRunsForDelivery(ingest, {
        source: "github",
        deliveryId: "d-x",
        bodySha256: "c".repeat(64),
        workspaceId: A.workspaceId,
        trigger: "github.pull_request.opened",
        input: {},
        runs: [{ runId: newId("run"), skillId: B.skillId }],
      }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });

  it("a paused skill’s trigger is recorded as a skipped run", async () => {
    await admin`update skills set status = 'paused', paused_at = now(), paused_reason = 'test' where id = ${B.skillId}`;
    const runId = newId("run");
    const created = await createRunsForDelivery(ingest, {
      source: "github",
      deliveryId: "d-paused",
      bodySha256: "d".repeat(64),
      workspaceId: B.workspaceId,
      trigger: "github.pull_request.opened",
      input: {},
      runs: [{ runId, skillId: B.skillId }],
    });
    expect(created.statuses).toEqual(["skipped"]);
    const [row] = await admin<
      { status: string; skip_reason: string }[]
    >`select status, skip_reason from agent_runs where id = ${runId}`;
    expect(row).toEqual({ status: "skipped", skip_reason: "skill_paused" });
    await admin`update skills set status = 'active', paused_at = null, paused_reason = null where id = ${B.skillId}`;
  });
});
