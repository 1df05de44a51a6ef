/**
 * Fleet control in the database (migrations/0027): the dispatcher's fair order, the cap at claim, gates, deferral,
 * cancellation at the lease check, redrive, an integration gone, and ingest's on-the-spot dispatch. Every check is on
 * the rows, through the app roles' own connections.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import postgres from "postgres";
import { newId, RunCancelledError, type RunId } from "@praxa/core";
import {
  assertRunLease,
  cancelRuns,
  claimRunOutcome,
  createDatabase,
  createRunsForDelivery,
  createTestDatabase,
  deferRun,
  dispatchRuns,
  finishRun,
  fleetQueueDepth,
  markIntegrationGone,
  recordRunStep,
  retryRuns,
  seedWorkspaceFixture,
  setFleetSettings,
  setWorkspaceCap,
  withWorkspace,
  type ClaimedRun,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "./index.js";

let tdb: TestDatabase;
let admin: postgres.Sql;
let owner: Database;
let worker: Database;
let ingest: Database;
let api: Database;
let monitor: Database;
let A: WorkspaceFixture;
let B: WorkspaceFixture;
let C: WorkspaceFixture;

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  C = await seedWorkspaceFixture(tdb.adminUrl, "C");
  owner = createDatabase(tdb.adminUrl, { max: 1 });
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 3 });
  ingest = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 2 });
  api = createDatabase(tdb.roleUrl("praxa_api"), { max: 2 });
  monitor = createDatabase(tdb.roleUrl("praxa_monitor"), { max: 1 });
});
afterAll(async () => {
  await Promise.all([owner?.close(), worker?.close(), ingest?.close(), api?.close(), monitor?.close()]);
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

// Each test starts from a fleet with no open run.
beforeEach(async () => {
  await admin`update agent_runs set status = 'cancelled', dispatched_at = null, lease_token = null, lease_holder = null, lease_expires_at = null, finished_at = now()
              where status in ('queued', 'running')`;
  await admin`delete from run_gates`;
  await admin`delete from workspace_fleet`;
  await setFleetSettings(owner, { defaultWorkspaceConcurrency: 10, dispatchAhead: 64 });
});

async function queued(f: WorkspaceFixture, n: number, spacingMs = 1): Promise<RunId[]> {
  const ids: RunId[] = [];
  for (let i = 0; i < n; i++) {
    const id = newId("run");
    await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, integration_id, created_at)
                values (${f.workspaceId}, ${id}, ${f.skillId}, ${f.skillVersionId}, 'github.pull_request.opened', 'github', ${f.integrationId},
                        now() - interval '1 hour' + make_interval(secs => ${(i * spacingMs) / 1000}))`;
    ids.push(id);
  }
  return ids;
}

const wsOf = (f: WorkspaceFixture) => f.workspaceId;

async function claimed(runId: RunId, holder = "w"): Promise<ClaimedRun> {
  const c = await claimRunOutcome(worker, runId, holder, 30);
  if (c.outcome !== "claimed") throw new Error(`expected a claim, got ${c.outcome}`);
  return c.run;
}

describe("the dispatcher's fair order", () => {
  it("serves workspaces round-robin, oldest run first within each, however deep one workspace's backlog is", async () => {
    await queued(A, 50);
    const b = await queued(B, 2);
    const c = await queued(C, 1);
    await setFleetSettings(owner, { dispatchAhead: 6 });
    const picked = await dispatchRuns(worker, 100);
    const byWs = picked.map((p) => p.workspace_id);
    // Six slots of look-ahead: every workspace's first run, then every remaining workspace's second, …
    expect(byWs.filter((w) => w === wsOf(B))).toHaveLength(2);
    expect(byWs.filter((w) => w === wsOf(C))).toHaveLength(1);
    expect(byWs.filter((w) => w === wsOf(A))).toHaveLength(3);
    expect(picked.map((p) => p.run_id)).toEqual(expect.arrayContaining([...b, ...c]));
    expect(new Set(picked.map((p) => p.dispatch_seq))).toEqual(new Set([1]));
    // Queue priority: the workspace's runs in flight counting this one — B's and C's first run go ahead of A's third.
    expect(
      picked
        .filter((p) => p.workspace_id === A.workspaceId)
        .map((p) => p.priority)
        .sort(),
    ).toEqual([1, 2, 3]);
    expect(picked.find((p) => p.run_id === c[0])?.priority).toBe(1);
    // The look-ahead is full: nothing more until a worker takes one.
    expect(await dispatchRuns(worker, 100)).toEqual([]);
    await claimed(picked[0]!.run_id);
    expect(await dispatchRuns(worker, 100)).toHaveLength(1);
  });

  it("among equals, the workspace served longest ago goes first (a one-slot look-ahead alternates)", async () => {
    await queued(A, 10);
    await queued(B, 10);
    await setFleetSettings(owner, { dispatchAhead: 1 });
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      const [p] = await dispatchRuns(worker, 1);
      if (!p) throw new Error("nothing dispatched");
      order.push(p.workspace_id === wsOf(A) ? "A" : "B");
      const c = await claimed(p.run_id);
      await withWorkspace(worker, c.workspaceId, (s) => finishRun(s, c.lease, "succeeded"));
    }
    expect(order.join("")).toMatch(/^(AB){3}$|^(BA){3}$/);
  });

  it("passes of any size share out evenly: no workspace wins ties (two workspaces, 1–3 runs taken between passes)", async () => {
    await queued(A, 200);
    await queued(B, 200);
    await setFleetSettings(owner, { dispatchAhead: 16 });
    const waiting: { run_id: RunId; workspace_id: string }[] = [];
    const served = new Map<string, number>();
    for (let step = 0; step < 90; step++) {
      waiting.push(...(await dispatchRuns(worker, 64)));
      for (const p of waiting.splice(0, 1 + (step % 3))) {
        const c = await claimed(p.run_id);
        await withWorkspace(worker, c.workspaceId, (s) => finishRun(s, c.lease, "succeeded"));
        served.set(p.workspace_id, (served.get(p.workspace_id) ?? 0) + 1);
      }
    }
    const a = served.get(A.workspaceId) ?? 0;
    const b = served.get(B.workspaceId) ?? 0;
    expect(a + b).toBe(180);
    // A wall-clock "last served" stamped per pass let one workspace win every tie: 103 to 197 here.
    expect(Math.abs(a - b)).toBeLessThanOrEqual(16);
  });

  it("never dispatches beyond a workspace's cap (running + dispatched), and the operator's override wins", async () => {
    await queued(A, 20);
    await setWorkspaceCap(owner, A.workspaceId, 3);
    const first = await dispatchRuns(worker, 100);
    expect(first).toHaveLength(3);
    await claimed(first[0]!.run_id);
    expect(await dispatchRuns(worker, 100)).toEqual([]);
    await setWorkspaceCap(owner, A.workspaceId, null); // back to the fleet default (10)
    expect(await dispatchRuns(worker, 100)).toHaveLength(7);
  });

  it("waits for a run's not_before, and hands back a dead worker's expired lease in the same pass", async () => {
    const [later] = await queued(A, 1);
    await admin`update agent_runs set not_before = now() + interval '1 hour' where id = ${later!}`;
    expect(await dispatchRuns(worker, 10)).toEqual([]);
    const [dead] = await queued(B, 1);
    const c = await claimed(dead!, "dead-worker");
    await admin`update agent_runs set lease_expires_at = now() - interval '1 second' where id = ${c.runId}`;
    const picked = await dispatchRuns(worker, 10);
    expect(picked).toEqual([{ run_id: dead, workspace_id: B.workspaceId, dispatch_seq: 1, priority: 1 }]);
    // The dead worker's fencing token is refused from now on.
    await expect(withWorkspace(worker, B.workspaceId, (s) => assertRunLease(s, c.lease))).rejects.toMatchObject({
      code: "LEASE_LOST",
    });
  });

  it("one pass at a time: a concurrent pass waits for the one in progress and sees its result", async () => {
    await queued(A, 5);
    await setFleetSettings(owner, { dispatchAhead: 3 });
    const held = postgres(tdb.roleUrl("praxa_worker"), { max: 1, onnotice: () => {} });
    try {
      let second: Promise<unknown[]> | null = null;
      await held.begin(async (tx) => {
        expect(await tx`select * from public.dispatch_runs(2)`).toHaveLength(2); // holds the pass lock until commit
        second = dispatchRuns(worker, 10);
        const early = await Promise.race([
          second.then(() => "done"),
          new Promise((r) => setTimeout(() => r("waiting"), 300)),
        ]);
        expect(early).toBe("waiting");
      });
      // It counted the first pass's two dispatches: one slot of look-ahead left, not three.
      expect(await second).toHaveLength(1);
    } finally {
      await held.end({ timeout: 5 });
    }
  });
});

describe("the cap at claim", () => {
  it("refuses a claim beyond the cap and hands the run back to the dispatcher, whatever the jobs say", async () => {
    const ids = await queued(A, 4);
    await setWorkspaceCap(owner, A.workspaceId, 2);
    await claimed(ids[0]!);
    await claimed(ids[1]!);
    await admin`update agent_runs set dispatched_at = now(), dispatch_seq = 1 where id = ${ids[2]!}`;
    expect(await claimRunOutcome(worker, ids[2]!, "w", 30)).toEqual({ outcome: "capped", workspaceId: A.workspaceId });
    const [row] = await admin`select status, dispatched_at, attempt from agent_runs where id = ${ids[2]!}`;
    expect(row).toMatchObject({ status: "queued", dispatched_at: null, attempt: 0 });
    // Another workspace is not capped by A's cap.
    const [b] = await queued(B, 1);
    expect((await claimRunOutcome(worker, b!, "w", 30)).outcome).toBe("claimed");
  });

  it("holds under concurrent claims from many connections", async () => {
    const ids = await queued(A, 12);
    await setWorkspaceCap(owner, A.workspaceId, 3);
    const pools = Array.from({ length: 4 }, () => createDatabase(tdb.roleUrl("praxa_worker"), { max: 3 }));
    try {
      const outcomes = await Promise.all(ids.map((id, i) => claimRunOutcome(pools[i % 4]!, id, `w${i}`, 30)));
      expect(outcomes.filter((o) => o.outcome === "claimed")).toHaveLength(3);
      expect(outcomes.filter((o) => o.outcome === "capped")).toHaveLength(9);
    } finally {
      await Promise.all(pools.map((p) => p.close()));
    }
    const [n] =
      await admin`select count(*)::int as n from agent_runs where workspace_id = ${A.workspaceId} and status = 'running'`;
    expect(n?.n).toBe(3);
  });
});

describe("gates: a throttled resource waits for that workspace only", () => {
  it("a deferral with a model gate delays the run, is not an attempt, and holds the workspace's other runs", async () => {
    const ids = await queued(A, 3);
    const [b] = await queued(B, 1);
    const c = await claimed(ids[0]!);
    const due = await withWorkspace(worker, A.workspaceId, (s) =>
      deferRun(s, c.lease, 30_000, { resource: "model", code: "MODEL_RATE_LIMITED" }),
    );
    expect(due.getTime()).toBeGreaterThan(Date.now() + 20_000);
    const [row] = await admin`select status, attempt, deferrals, dispatched_at from agent_runs where id = ${ids[0]!}`;
    expect(row).toMatchObject({ status: "queued", attempt: 0, deferrals: 1, dispatched_at: null });
    // A's other runs are neither dispatched nor claimable; B's are.
    const picked = await dispatchRuns(worker, 10);
    expect(picked.map((p) => p.run_id)).toEqual([b]);
    const gated = await claimRunOutcome(worker, ids[1]!, "w", 30);
    expect(gated).toMatchObject({ outcome: "gated", workspaceId: A.workspaceId });
    const [gate] = await admin`select resource, code from run_gates where workspace_id = ${A.workspaceId}`;
    expect(gate).toEqual({ resource: "model", code: "MODEL_RATE_LIMITED" });
    // Once the gate has passed, A's runs flow again.
    await admin`update run_gates set until = now() - interval '1 second'`;
    await admin`update agent_runs set not_before = null where workspace_id = ${A.workspaceId}`;
    expect((await dispatchRuns(worker, 10)).map((p) => p.workspace_id)).toEqual([
      A.workspaceId,
      A.workspaceId,
      A.workspaceId,
    ]);
  });

  it("an integration gate holds only the runs through that integration", async () => {
    const ids = await queued(A, 2);
    const [noIntegration] = await queued(A, 1);
    await admin`update agent_runs set integration_id = null where id = ${noIntegration!}`;
    const c = await claimed(ids[0]!);
    await withWorkspace(worker, A.workspaceId, (s) =>
      deferRun(s, c.lease, 60_000, { resource: "integration", code: "THROTTLED" }),
    );
    const [gate] = await admin`select resource from run_gates where workspace_id = ${A.workspaceId}`;
    expect(gate?.resource).toBe(`integration:${A.integrationId}`);
    expect((await dispatchRuns(worker, 10)).map((p) => p.run_id)).toEqual([noIntegration]);
  });

  it("a plain deferral (a transient failure) keeps the attempt and sets no gate", async () => {
    const [id] = await queued(A, 1);
    const c = await claimed(id!);
    await withWorkspace(worker, A.workspaceId, (s) => deferRun(s, c.lease, 0));
    const [row] = await admin`select status, attempt, deferrals from agent_runs where id = ${id!}`;
    expect(row).toMatchObject({ status: "queued", attempt: 1, deferrals: 0 });
    expect(await admin`select * from run_gates`).toHaveLength(0);
    expect((await dispatchRuns(worker, 10))[0]).toMatchObject({ run_id: id, dispatch_seq: 1 });
  });
});

describe("cancel", () => {
  it("cancels a queued run at once; a running one at its next lease check; leaves a finished one", async () => {
    const [q, r, done] = await queued(A, 3);
    const held = await claimed(r!);
    const finished = await claimed(done!);
    await withWorkspace(worker, A.workspaceId, (s) => finishRun(s, finished.lease, "succeeded"));
    const out = await withWorkspace(api, A.workspaceId, (s) => cancelRuns(s, [q!, r!, done!]));
    const byId = new Map(out.map((o) => [o.run_id, o.outcome]));
    expect(byId.get(q!)).toBe("cancelled");
    expect(byId.get(r!)).toBe("cancelling");
    expect(byId.get(done!)).toBe("finished");
    expect((await claimRunOutcome(worker, q!, "w", 30)).outcome).toBe("not_claimable");
    // The next step boundary: a step write and an effect's lease check both answer "cancelled".
    await expect(withWorkspace(worker, A.workspaceId, (s) => assertRunLease(s, held.lease))).rejects.toBeInstanceOf(
      RunCancelledError,
    );
    await expect(
      withWorkspace(worker, A.workspaceId, (s) =>
        recordRunStep(s, held.lease, { idx: 1, kind: "tool.call", idempotencyKey: "k", status: "started" }),
      ),
    ).rejects.toBeInstanceOf(RunCancelledError);
    await withWorkspace(worker, A.workspaceId, (s) => finishRun(s, held.lease, "cancelled"));
    const again = await withWorkspace(api, A.workspaceId, (s) => cancelRuns(s, [r!]));
    expect(again[0]).toMatchObject({ outcome: "finished", prior_status: "cancelled" });
    const rows =
      await admin`select id, status, failure_class from agent_runs where id in ${admin([q!, r!, done!])} order by id`;
    expect(Object.fromEntries(rows.map((x) => [x.id, [x.status, x.failure_class]]))).toEqual({
      [q!]: ["cancelled", "cancelled"],
      [r!]: ["cancelled", "cancelled"],
      [done!]: ["succeeded", null],
    });
  });

  it("never touches another workspace's runs", async () => {
    const [b] = await queued(B, 1);
    expect(await withWorkspace(api, A.workspaceId, (s) => cancelRuns(s, [b!]))).toEqual([]);
    const [row] = await admin`select status from agent_runs where id = ${b!}`;
    expect(row?.status).toBe("queued");
  });

  it("a finish other than `cancelled` is refused once cancel was asked; a foreign token cannot finish it cancelled", async () => {
    const [r] = await queued(A, 1);
    const held = await claimed(r!);
    await withWorkspace(api, A.workspaceId, (s) => cancelRuns(s, [r!]));
    await expect(
      withWorkspace(worker, A.workspaceId, (s) => finishRun(s, held.lease, "succeeded")),
    ).rejects.toBeInstanceOf(RunCancelledError);
    await expect(
      withWorkspace(worker, A.workspaceId, (s) =>
        finishRun(s, { ...held.lease, token: "00000000-0000-4000-8000-000000000000" }, "cancelled"),
      ),
    ).rejects.toMatchObject({ code: "LEASE_LOST" });
  });
});

describe("redrive", () => {
  it("creates a new run linked to the failed one, with the same input, on the Skill's newest version", async () => {
    const [id] = await queued(A, 1);
    await admin`update agent_runs set input = ${admin.json({ repo: "octo/hello", prNumber: 7 })} where id = ${id!}`;
    const c = await claimed(id!);
    await withWorkspace(worker, A.workspaceId, (s) => finishRun(s, c.lease, "failed", "UNAVAILABLE", "exhausted"));
    const newRun = newId("run");
    const [out] = await withWorkspace(api, A.workspaceId, (s) => retryRuns(s, [{ runId: id!, newRunId: newRun }]));
    expect(out).toMatchObject({ run_id: id, outcome: "retried", new_run_id: newRun });
    const [row] =
      await admin`select status, retry_of, input, skill_version_id, dispatched_at from agent_runs where id = ${newRun}`;
    expect(row).toMatchObject({
      status: "queued",
      retry_of: id,
      input: { repo: "octo/hello", prNumber: 7 },
      skill_version_id: A.skillVersionId,
      dispatched_at: null,
    });
    // Only a failed run is redriven.
    const [again] = await withWorkspace(api, A.workspaceId, (s) =>
      retryRuns(s, [{ runId: newRun, newRunId: newId("run") }]),
    );
    expect(again?.outcome).toBe("not_failed");
  });

  it("a guard denial needs a new Skill version before it can be redriven", async () => {
    const [id] = await queued(A, 1);
    const c = await claimed(id!);
    await withWorkspace(worker, A.workspaceId, (s) => finishRun(s, c.lease, "failed", "TOOL_NOT_ALLOWED", "guard"));
    const [refused] = await withWorkspace(api, A.workspaceId, (s) =>
      retryRuns(s, [{ runId: id!, newRunId: newId("run") }]),
    );
    expect(refused?.outcome).toBe("needs_new_version");
    const v2 = newId("skillVersion");
    await admin`insert into skill_versions (workspace_id, id, skill_id, version, manifest, manifest_hash)
                select workspace_id, ${v2}, skill_id, 2, manifest, manifest_hash from skill_versions where id = ${A.skillVersionId}`;
    const newRun = newId("run");
    const [ok] = await withWorkspace(api, A.workspaceId, (s) => retryRuns(s, [{ runId: id!, newRunId: newRun }]));
    expect(ok?.outcome).toBe("retried");
    const [row] = await admin`select skill_version_id from agent_runs where id = ${newRun}`;
    expect(row?.skill_version_id).toBe(v2);
  });

  it("cannot redrive another workspace's run", async () => {
    const [b] = await queued(B, 1);
    const c = await claimed(b!);
    await withWorkspace(worker, B.workspaceId, (s) => finishRun(s, c.lease, "failed", "INTERNAL"));
    await expect(
      withWorkspace(api, A.workspaceId, (s) => retryRuns(s, [{ runId: b!, newRunId: newId("run") }])),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("an integration gone", () => {
  it("marks it revoked and fails its other queued runs once; runs through other integrations are untouched", async () => {
    const ids = await queued(A, 4);
    const [other] = await queued(B, 1);
    const c = await claimed(ids[0]!);
    const n = await withWorkspace(worker, A.workspaceId, (s) => markIntegrationGone(s, c.lease));
    expect(n).toBe(3);
    const rows =
      await admin`select status, error_code, failure_class from agent_runs where id in ${admin(ids.slice(1))}`;
    expect(
      rows.every(
        (r) => r.status === "failed" && r.error_code === "INTEGRATION_GONE" && r.failure_class === "integration_gone",
      ),
    ).toBe(true);
    const [integration] = await admin`select status from integrations where id = ${A.integrationId}`;
    expect(integration?.status).toBe("revoked");
    const [b] = await admin`select status from agent_runs where id = ${other!}`;
    expect(b?.status).toBe("queued");
    await admin`update integrations set status = 'active' where id = ${A.integrationId}`;
  });
});

describe("ingest dispatches on the spot only when it overtakes nobody", () => {
  const deliver = (f: WorkspaceFixture) =>
    createRunsForDelivery(ingest, {
      source: "github",
      deliveryId: newId("run"),
      bodySha256: newId("run")
        .padEnd(64, "0")
        .slice(0, 64)
        .replace(/[^0-9a-f]/g, "0"),
      workspaceId: f.workspaceId,
      trigger: "github.pull_request.opened",
      input: {},
      runs: [{ runId: newId("run"), skillId: f.skillId }],
      integrationId: f.integrationId,
    });

  it("an idle fleet: the run is dispatched in the same transaction (sequence 1, ingest adds its job)", async () => {
    const created = await deliver(A);
    expect(created.dispatch_seqs).toEqual([1]);
    const [row] =
      await admin`select dispatched_at is not null as d, dispatch_seq from agent_runs where id = ${created.run_ids[0]!}`;
    expect(row).toEqual({ d: true, dispatch_seq: 1 });
  });

  it("a workspace at its cap, with runs already waiting, or gated: the run waits for the dispatcher (0)", async () => {
    await setWorkspaceCap(owner, A.workspaceId, 1);
    expect((await deliver(A)).dispatch_seqs).toEqual([1]);
    expect((await deliver(A)).dispatch_seqs).toEqual([0]); // at its cap
    await setWorkspaceCap(owner, A.workspaceId, 10);
    expect((await deliver(A)).dispatch_seqs).toEqual([0]); // an older run of A is still waiting
    await admin`insert into run_gates (workspace_id, resource, until, code) values (${B.workspaceId}, 'model', now() + interval '1 minute', 'MODEL_RATE_LIMITED')`;
    expect((await deliver(B)).dispatch_seqs).toEqual([0]);
    expect((await deliver(C)).dispatch_seqs).toEqual([1]);
    // The look-ahead full: a workspace with runs in flight waits for a pass; one with nothing in flight goes at once.
    await setFleetSettings(owner, { dispatchAhead: 1 });
    expect((await deliver(C)).dispatch_seqs).toEqual([0]);
    await admin`update agent_runs set status = 'cancelled', dispatched_at = null, finished_at = now() where workspace_id = ${C.workspaceId} and status = 'queued'`;
    expect((await deliver(C)).dispatch_seqs).toEqual([1]);
    const depth = await fleetQueueDepth(monitor);
    expect(depth).toMatchObject({ undispatched: 3, dispatched: 2, running: 0, gated_workspaces: 1 });
  });
});
