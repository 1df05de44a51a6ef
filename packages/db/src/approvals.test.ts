/**
 * Human approval in the database (migrations/0031), through the app roles' own connections: the worker records an
 * approval (idempotent per run and step) and parks its run — `waiting_approval`, no lease, neither dispatched nor
 * claimable, holding no cap slot; only a live human token of a member with one of the approval's roles decides in the
 * api (an automation token, a viewer, a foreign workspace: refused); in Slack only a linked member of the team's
 * workspace (the bot, a stranger, another team: refused, nothing changes); the worker can decide nothing; a decision
 * or the expiry hands the run back to the dispatcher; a parked run can be cancelled.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import postgres from "postgres";
import { newId, NotFoundError, PermissionDeniedError, type ApprovalId, type RunId } from "@praxa/core";
import {
  approvalForStep,
  cancelRuns,
  claimRunOutcome,
  createDatabase,
  createTestDatabase,
  decideApprovalByMember,
  decideApprovalFromSlack,
  dispatchRuns,
  expireApprovals,
  finishRun,
  fleetQueueDepth,
  linkMemberSlack,
  parkForApproval,
  requestApproval,
  seedWorkspaceFixture,
  setWorkspaceCap,
  withWorkspace,
  type ClaimedRun,
  type Database,
  type PresentedToken,
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
const TEAM_A = "T0APPROVEA";
const BOT_A = "U0BOTA0001";
let humanA: PresentedToken;
let automationA: PresentedToken;
let viewerA: PresentedToken;
let humanB: PresentedToken;
let viewerMemberA: string;

async function token(f: WorkspaceFixture, memberId: string, kind: "human" | "automation"): Promise<PresentedToken> {
  const secret = randomBytes(24).toString("hex");
  const secretSha256 = createHash("sha256").update(secret).digest("hex");
  const tokenId = newId("apiToken");
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
              values (${f.workspaceId}, ${tokenId}, ${memberId}, ${kind}, 'test', ${secretSha256}, now() + interval '1 day')`;
  return { tokenId, secretSha256 };
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  owner = createDatabase(tdb.adminUrl, { max: 1 });
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
  ingest = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 1 });
  api = createDatabase(tdb.roleUrl("praxa_api"), { max: 1 });
  monitor = createDatabase(tdb.roleUrl("praxa_monitor"), { max: 1 });
  await admin`insert into integrations (workspace_id, id, provider, external_id, bot_identity, granted_scopes)
              values (${A.workspaceId}, ${newId("integration")}, 'slack', ${TEAM_A}, ${admin.json({ kind: "slack_bot", user_id: BOT_A })}, ${["chat:write"]})`;
  const [viewer] = await admin<
    { id: string }[]
  >`select id from workspace_members where workspace_id = ${A.workspaceId} and role = 'viewer'`;
  viewerMemberA = viewer!.id;
  humanA = await token(A, A.memberId, "human");
  automationA = await token(A, A.memberId, "automation");
  viewerA = await token(A, viewerMemberA, "human");
  humanB = await token(B, B.memberId, "human");
  await withWorkspace(api, A.workspaceId, (s) => linkMemberSlack(s, A.memberId, "U0HUMANA01", humanA));
  await withWorkspace(api, A.workspaceId, (s) => linkMemberSlack(s, viewerMemberA, "U0VIEWERA1", humanA));
});
afterAll(async () => {
  await Promise.all([owner?.close(), worker?.close(), ingest?.close(), api?.close(), monitor?.close()]);
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});
beforeEach(async () => {
  await admin`update agent_runs set status = 'cancelled', dispatched_at = null, lease_token = null, lease_holder = null, lease_expires_at = null, finished_at = now()
              where status in ('queued', 'running', 'waiting_approval')`;
  await admin`delete from workspace_fleet`;
});

async function newRun(f: WorkspaceFixture): Promise<RunId> {
  const id = newId("run");
  await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, integration_id)
              values (${f.workspaceId}, ${id}, ${f.skillId}, ${f.skillVersionId}, 'github.pull_request.opened', 'github', ${f.integrationId})`;
  return id;
}

async function claimed(runId: RunId): Promise<ClaimedRun> {
  const c = await claimRunOutcome(worker, runId, "w", 30);
  if (c.outcome !== "claimed") throw new Error(`expected a claim, got ${c.outcome}`);
  return c.run;
}

async function runRow(runId: RunId) {
  const [r] = await admin<
    { status: string; lease_token: string | null; dispatched_at: Date | null; attempt: number }[]
  >`select status, lease_token, dispatched_at, attempt from agent_runs where id = ${runId}`;
  return r!;
}

/** A run of A parked on an approval of step 3 (tool github.comment.pr, roles given). */
async function parked(roles: readonly string[] = ["admin"], minutes = 60): Promise<{ runId: RunId; id: ApprovalId }> {
  const runId = await newRun(A);
  const c = await claimed(runId);
  const r = await withWorkspace(worker, A.workspaceId, (s) =>
    requestApproval(s, c.lease, {
      approvalId: newId("approval"),
      step: 3,
      tool: "github.comment.pr",
      expiresAfterMinutes: minutes,
      roles,
      slackChannel: "C0APPROVE1",
    }),
  );
  expect(
    await withWorkspace(worker, A.workspaceId, (s) => parkForApproval(s, c.lease, r.approval_id, "1700000000.000100")),
  ).toBe("pending");
  return { runId, id: r.approval_id };
}

describe("request and park (worker, under the lease)", () => {
  it("one approval per run and step: a second request returns the first; parking frees the lease and the slot", async () => {
    const runId = await newRun(A);
    const c = await claimed(runId);
    const ask = (approvalId: ApprovalId) =>
      withWorkspace(worker, A.workspaceId, (s) =>
        requestApproval(s, c.lease, {
          approvalId,
          step: 2,
          tool: "github.comment.pr",
          expiresAfterMinutes: 30,
          roles: ["admin", "owner"],
          slackChannel: null,
        }),
      );
    const first = await ask(newId("approval"));
    const second = await ask(newId("approval"));
    expect(first.created).toBe(true);
    expect(second).toMatchObject({ approval_id: first.approval_id, created: false, status: "pending" });
    expect(await withWorkspace(worker, A.workspaceId, (s) => approvalForStep(s, c.lease, 2))).toMatchObject({
      approval_id: first.approval_id,
      status: "pending",
      decided_by_member: null,
    });
    expect(await withWorkspace(worker, A.workspaceId, (s) => approvalForStep(s, c.lease, 9))).toBeNull();
    const before = (await runRow(runId)).attempt;
    await withWorkspace(worker, A.workspaceId, (s) => parkForApproval(s, c.lease, first.approval_id, null));
    const row = await runRow(runId);
    expect(row).toMatchObject({ status: "waiting_approval", lease_token: null, dispatched_at: null });
    expect(row.attempt).toBe(before - 1); // parking is not an attempt
    // The old lease is dead: nothing more is written under it.
    await expect(withWorkspace(worker, A.workspaceId, (s) => finishRun(s, c.lease, "succeeded"))).rejects.toMatchObject(
      { code: "LEASE_LOST" },
    );
  });

  it("a parked run is neither claimable nor dispatched, and holds no slot of its workspace's cap", async () => {
    const { runId } = await parked();
    expect((await claimRunOutcome(worker, runId, "w2", 30)).outcome).toBe("not_claimable");
    await setWorkspaceCap(owner, A.workspaceId, 1);
    const other = await newRun(A);
    const picked = await dispatchRuns(worker, 64);
    expect(picked.map((p) => p.run_id)).toContain(other);
    expect(picked.map((p) => p.run_id)).not.toContain(runId);
    expect((await claimRunOutcome(worker, other, "w3", 30)).outcome).toBe("claimed");
    const depth = await fleetQueueDepth(monitor);
    expect(depth.running).toBe(1);
  });

  it("the worker decides nothing: no grant on the deciding functions nor the table", async () => {
    const { id } = await parked();
    await expect(
      withWorkspace(worker, A.workspaceId, (s) => decideApprovalByMember(s, id, humanA, "granted", null)),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(decideApprovalFromSlack(worker, TEAM_A, "U0HUMANA01", id, "granted")).rejects.toBeInstanceOf(
      PermissionDeniedError,
    );
    await expect(expireApprovals(worker, 10)).rejects.toBeInstanceOf(PermissionDeniedError);
    const wsql = postgres(tdb.roleUrl("praxa_worker"), { max: 1, onnotice: () => {} });
    try {
      await expect(
        wsql.begin(async (tx) => {
          await tx`select set_config('app.workspace_id', ${A.workspaceId}, true)`;
          await tx`update run_approvals set status = 'granted' where id = ${id}`;
        }),
      ).rejects.toMatchObject({ code: "42501" });
    } finally {
      await wsql.end({ timeout: 5 });
    }
    const [a] = await admin<{ status: string }[]>`select status from run_approvals where id = ${id}`;
    expect(a?.status).toBe("pending");
  });
});

describe("deciding through the api (a human member with an allowed role)", () => {
  it("a human admin grants: the approval records who, the run goes back to the dispatcher (queued, undispatched)", async () => {
    const { runId, id } = await parked(["admin"]);
    const d = await withWorkspace(api, A.workspaceId, (s) => decideApprovalByMember(s, id, humanA, "granted", "ok"));
    expect(d).toMatchObject({ outcome: "granted", status: "granted", run_id: runId, member_id: A.memberId });
    expect(await runRow(runId)).toMatchObject({ status: "queued", dispatched_at: null });
    const again = await withWorkspace(api, A.workspaceId, (s) => decideApprovalByMember(s, id, humanA, "denied", null));
    expect(again).toMatchObject({ outcome: "already_decided", status: "granted" });
    const c = await claimed(runId);
    expect(await withWorkspace(worker, A.workspaceId, (s) => approvalForStep(s, c.lease, 3))).toMatchObject({
      status: "granted",
      decided_by_member: A.memberId,
      decided_via: "api",
      reason: "ok",
    });
  });

  it("an automation token, a viewer, another workspace's token: refused, nothing changes", async () => {
    const { runId, id } = await parked(["admin", "owner", "member"]);
    await expect(
      withWorkspace(api, A.workspaceId, (s) => decideApprovalByMember(s, id, automationA, "granted", null)),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(
      withWorkspace(api, A.workspaceId, (s) => decideApprovalByMember(s, id, viewerA, "granted", null)),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
    // B's human admin, in B's scope: A's approval does not exist there.
    await expect(
      withWorkspace(api, B.workspaceId, (s) => decideApprovalByMember(s, id, humanB, "granted", null)),
    ).rejects.toBeInstanceOf(NotFoundError);
    // B's token presented in A's scope: not a token of A.
    await expect(
      withWorkspace(api, A.workspaceId, (s) => decideApprovalByMember(s, id, humanB, "granted", null)),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
    expect((await runRow(runId)).status).toBe("waiting_approval");
    const [a] = await admin<{ status: string }[]>`select status from run_approvals where id = ${id}`;
    expect(a?.status).toBe("pending");
  });

  it("a role not among the approval's roles is refused (an admin on an owner-only approval)", async () => {
    const { id } = await parked(["owner"]);
    await expect(
      withWorkspace(api, A.workspaceId, (s) => decideApprovalByMember(s, id, humanA, "granted", null)),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
  });

  it("a denial hands the run back too; a cancelled parked run ends at once and waits for nothing", async () => {
    const { runId, id } = await parked();
    await withWorkspace(api, A.workspaceId, (s) => decideApprovalByMember(s, id, humanA, "denied", "too risky"));
    expect((await runRow(runId)).status).toBe("queued");
    const p2 = await parked();
    const [cancel] = await withWorkspace(api, A.workspaceId, (s) => cancelRuns(s, [p2.runId]));
    expect(cancel).toMatchObject({ outcome: "cancelled", prior_status: "waiting_approval" });
    expect((await runRow(p2.runId)).status).toBe("cancelled");
    const d = await withWorkspace(api, A.workspaceId, (s) => decideApprovalByMember(s, p2.id, humanA, "granted", null));
    expect(d.outcome).toBe("run_finished");
    expect((await runRow(p2.runId)).status).toBe("cancelled");
  });
});

describe("deciding from Slack (ingest)", () => {
  it("a linked admin's click grants; the bot, a stranger, a viewer, another team: refused and nothing changes", async () => {
    const { runId, id } = await parked(["admin"]);
    for (const [team, user, outcome] of [
      [TEAM_A, BOT_A, "refused"],
      [TEAM_A, "U0STRANGER", "refused"],
      [TEAM_A, "U0VIEWERA1", "refused"],
      ["T0OTHERTEAM", "U0HUMANA01", "unknown_installation"],
    ] as const) {
      expect((await decideApprovalFromSlack(ingest, team, user, id, "granted")).outcome).toBe(outcome);
    }
    expect((await runRow(runId)).status).toBe("waiting_approval");
    const ok = await decideApprovalFromSlack(ingest, TEAM_A, "U0HUMANA01", id, "granted");
    expect(ok).toMatchObject({ outcome: "granted", workspace_id: A.workspaceId, run_id: runId, member_id: A.memberId });
    expect((await runRow(runId)).status).toBe("queued");
    expect((await decideApprovalFromSlack(ingest, TEAM_A, "U0HUMANA01", id, "denied")).outcome).toBe("already_decided");
  });

  it("even the bot's own user linked to a member is refused", async () => {
    const { id } = await parked(["admin", "owner", "member"]);
    const m = newId("member");
    await admin`insert into workspace_members (workspace_id, id, email, role, slack_user_id) values (${A.workspaceId}, ${m}, 'bot@example.com', 'member', ${BOT_A})`;
    try {
      expect((await decideApprovalFromSlack(ingest, TEAM_A, BOT_A, id, "granted")).outcome).toBe("refused");
    } finally {
      await admin`update workspace_members set slack_user_id = null where id = ${m}`;
    }
  });

  it("an approval of another workspace is not found through this team", async () => {
    const runB = await newRun(B);
    const c = await claimRunOutcome(worker, runB, "w", 30);
    if (c.outcome !== "claimed") throw new Error("claim");
    const r = await withWorkspace(worker, B.workspaceId, (s) =>
      requestApproval(s, c.run.lease, {
        approvalId: newId("approval"),
        step: 1,
        tool: "github.comment.pr",
        expiresAfterMinutes: 5,
        roles: ["admin"],
        slackChannel: null,
      }),
    );
    expect((await decideApprovalFromSlack(ingest, TEAM_A, "U0HUMANA01", r.approval_id, "granted")).outcome).toBe(
      "not_found",
    );
  });
});

describe("expiry (monitor) and linking", () => {
  it("a pending approval past its time expires and its run goes back; a later click is refused as expired", async () => {
    const { runId, id } = await parked(["admin"], 1);
    expect((await expireApprovals(monitor, 100)).map((e) => e.approval_id)).not.toContain(id);
    await admin`update run_approvals set expires_at = now() - interval '1 second', requested_at = now() - interval '2 minutes' where id = ${id}`;
    const expired = await expireApprovals(monitor, 100);
    expect(expired).toContainEqual({ approval_id: id, workspace_id: A.workspaceId, run_id: runId });
    expect((await runRow(runId)).status).toBe("queued");
    const [a] = await admin<
      { status: string; decided_via: string; decided_by_member: string | null }[]
    >`select status, decided_via, decided_by_member from run_approvals where id = ${id}`;
    expect(a).toEqual({ status: "expired", decided_via: "expiry", decided_by_member: null });
    expect((await decideApprovalFromSlack(ingest, TEAM_A, "U0HUMANA01", id, "granted")).outcome).toBe(
      "already_decided",
    );
  });

  it("only a human owner or admin links a Slack user; a Slack user links to one member per workspace", async () => {
    await expect(
      withWorkspace(api, A.workspaceId, (s) => linkMemberSlack(s, viewerMemberA, "U0OTHER001", automationA)),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(
      withWorkspace(api, A.workspaceId, (s) => linkMemberSlack(s, viewerMemberA, "U0OTHER001", viewerA)),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(
      withWorkspace(api, A.workspaceId, (s) => linkMemberSlack(s, viewerMemberA, "U0HUMANA01", humanA)),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    const l = await withWorkspace(api, A.workspaceId, (s) => linkMemberSlack(s, viewerMemberA, "U0VIEWERA2", humanA));
    expect(l).toEqual({ member_id: viewerMemberA, actor_member_id: A.memberId, previous: "U0VIEWERA1" });
  });
});
