/**
 * The quality monitor's database side (migrations/0014), on the real Postgres: feedback folds into the rate exactly as
 * the rules say (latest verdict per human per action, bots never, last `window` decided actions); a pause happens once
 * however many monitors race; the database alone decides who may move a Skill from paused to active; notifications are
 * claimed under a lease like runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import postgres from "postgres";
import {
  hashTokenSecret,
  LeaseLostError,
  manifestHash,
  mintApiTokenMaterial,
  newId,
  PermissionDeniedError,
  WorkspaceScopeError,
  type RunId,
} from "@praxa/core";
import {
  acceptancePass,
  checkpointsDue,
  claimNotification,
  createDatabase,
  createTestDatabase,
  finishNotification,
  listOpenNotifications,
  mapPgError,
  notificationSecret,
  pauseSkillByAdmin,
  pauseSkillForAcceptance,
  recordApiFeedback,
  recordPullRequestFeedback,
  recordSlackFeedback,
  resumeSkillByAdmin,
  sampleManifest,
  seedWorkspaceFixture,
  withWorkspace,
  type Database,
  type PresentedToken,
  type TestDatabase,
  type WorkspaceFixture,
} from "./index.js";

let tdb: TestDatabase;
let admin: postgres.Sql;
let monitor: Database;
let monitor2: Database;
let worker: Database;
let api: Database;
let ingest: Database;
let A: WorkspaceFixture;
let B: WorkspaceFixture;

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 2, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B", { installationId: "7777001" });
  monitor = createDatabase(tdb.roleUrl("praxa_monitor"), { max: 3 });
  monitor2 = createDatabase(tdb.roleUrl("praxa_monitor"), { max: 3 });
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
  api = createDatabase(tdb.roleUrl("praxa_api"), { max: 2 });
  ingest = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 2 });
});
afterAll(async () => {
  await Promise.all([
    monitor?.close(),
    monitor2?.close(),
    worker?.close(),
    api?.close(),
    ingest?.close(),
    admin?.end({ timeout: 5 }),
  ]);
  await tdb?.drop();
});

/** A fresh Skill in `f`'s workspace with its own manifest (acceptance settings, notify channels). */
async function newSkill(
  f: WorkspaceFixture,
  acceptance = { threshold: 0.7, window: 10, minSamples: 5 },
  notify: ("slack" | "email" | "pagerduty")[] = ["email"],
): Promise<{ skillId: string; versionId: string }> {
  const skillId = newId("skill");
  const versionId = newId("skillVersion");
  const manifest = sampleManifest({ slug: `s-${skillId.slice(-10)}`, acceptance, notify });
  await admin`insert into skills (workspace_id, id, slug, name) values (${f.workspaceId}, ${skillId}, ${manifest.slug}, 'Monitored skill')`;
  await admin`insert into skill_versions (workspace_id, id, skill_id, version, manifest, manifest_hash) values (${f.workspaceId}, ${versionId}, ${skillId}, 1, ${admin.json(manifest as never)}, ${manifestHash(manifest)})`;
  return { skillId, versionId };
}

async function newRun(
  f: WorkspaceFixture,
  s: { skillId: string; versionId: string },
  input: Record<string, unknown> = {},
  status = "succeeded",
): Promise<RunId> {
  const id = newId("run");
  await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input, status)
              values (${f.workspaceId}, ${id}, ${s.skillId}, ${s.versionId}, 'github.pull_request.opened', 'github', ${admin.json(input as never)}, ${status})`;
  return id;
}

async function feedback(
  f: WorkspaceFixture,
  runId: string,
  skillId: string,
  verdict: "accepted" | "rejected",
  actor = "U1",
  isBot = false,
  source = "slack",
): Promise<void> {
  await admin`insert into skill_feedback (workspace_id, run_id, skill_id, verdict, source, actor_id, actor_is_bot) values (${f.workspaceId}, ${runId}, ${skillId}, ${verdict}, ${source}, ${actor}, ${isBot})`;
}

async function status(skillId: string): Promise<string | undefined> {
  const [row] = await admin<{ status: string }[]>`select status from skills where id = ${skillId}`;
  return row?.status;
}

async function humanToken(
  f: WorkspaceFixture,
  role: "admin" | "viewer" | "owner",
  kind: "human" | "automation" = "human",
): Promise<PresentedToken> {
  const memberId = newId("member");
  await admin`insert into workspace_members (workspace_id, id, email, role) values (${f.workspaceId}, ${memberId}, ${`${memberId}@example.com`}, ${role})`;
  const m = mintApiTokenMaterial(f.workspaceId);
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${f.workspaceId}, ${m.tokenId}, ${memberId}, ${kind}, 't', ${m.secretSha256}, now() + interval '1 hour')`;
  return { tokenId: m.tokenId, secretSha256: m.secretSha256 };
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("feedback → the rolling acceptance rate", () => {
  it("counts the latest verdict of each human per action; a bot’s never; a tie is rejected", async () => {
    const s = await newSkill(A, { threshold: 0.5, window: 10, minSamples: 1 });
    const r1 = await newRun(A, s);
    const r2 = await newRun(A, s);
    const r3 = await newRun(A, s);
    await feedback(A, r1, s.skillId, "rejected", "U1");
    await feedback(A, r1, s.skillId, "accepted", "U1"); // U1 changed their mind: accepted
    await feedback(A, r2, s.skillId, "accepted", "U1");
    await feedback(A, r2, s.skillId, "rejected", "U2"); // 1:1 → a tie counts as rejected
    await feedback(A, r3, s.skillId, "accepted", "B0T", true); // a bot: recorded, never counted
    const [row] = (await acceptancePass(monitor, 10_000)).filter((r) => r.skill_id === s.skillId);
    expect(row).toMatchObject({ decided: 2, accepted: 1, rate: 0.5, threshold: 0.5, window_size: 10, below: false });
    const [votes] = await admin<
      { votes: Record<string, string> }[]
    >`select votes from skill_action_verdicts where run_id = ${r1}`;
    expect(votes?.votes).toEqual({ "slack:U1": "accepted" });
    expect((await admin`select 1 from skill_action_verdicts where run_id = ${r3}`).length).toBe(0);
    const [fbCount] = await admin<
      { n: number }[]
    >`select count(*)::int as n from skill_feedback where run_id = ${r3} and actor_is_bot`;
    expect(fbCount?.n).toBe(1);
  });

  it("looks only at the last `window` decided actions, keeps a sample per change, and flags below-threshold with minSamples", async () => {
    const s = await newSkill(A, { threshold: 0.7, window: 4, minSamples: 4 });
    for (let i = 0; i < 4; i++) await feedback(A, await newRun(A, s), s.skillId, "accepted");
    let [row] = (await acceptancePass(monitor, 10_000)).filter((r) => r.skill_id === s.skillId);
    expect(row).toMatchObject({ decided: 4, accepted: 4, rate: 1, below: false });
    // Three rejections push three acceptances out of the window: 1/4 accepted.
    for (let i = 0; i < 3; i++) await feedback(A, await newRun(A, s), s.skillId, "rejected");
    [row] = (await acceptancePass(monitor, 10_000)).filter((r) => r.skill_id === s.skillId);
    expect(row).toMatchObject({ decided: 4, accepted: 1, rate: 0.25, below: true, status: "active" });
    // Nothing changed → the next pass does not see it again… except that an active Skill below stays marked.
    const again = (await acceptancePass(monitor, 10_000)).filter((r) => r.skill_id === s.skillId);
    expect(again).toHaveLength(1);
    const samples = await admin<
      { decided: number; accepted: number }[]
    >`select decided, accepted from skill_acceptance_samples where skill_id = ${s.skillId} order by id`;
    expect(samples).toEqual([
      { decided: 4, accepted: 4 },
      { decided: 4, accepted: 1 },
    ]);
  });

  it("below minSamples nothing is flagged, however bad", async () => {
    const s = await newSkill(A, { threshold: 0.9, window: 50, minSamples: 20 });
    for (let i = 0; i < 19; i++) await feedback(A, await newRun(A, s), s.skillId, "rejected");
    const [row] = (await acceptancePass(monitor, 10_000)).filter((r) => r.skill_id === s.skillId);
    expect(row).toMatchObject({ decided: 19, accepted: 0, below: false });
    expect(await withWorkspace(monitor, A.workspaceId, (sc) => pauseSkillForAcceptance(sc, s.skillId))).toMatchObject({
      paused: false,
    });
  });
});

describe("self-pause", () => {
  it("two monitors racing → one pause, one notification per configured channel the manifest names", async () => {
    const s = await newSkill(A, { threshold: 0.7, window: 20, minSamples: 20 }, ["email", "pagerduty"]);
    // Channels: the fixture's email channel + a second email; a Slack channel exists but the manifest does not name slack.
    const member = A.memberId;
    const ncEmail2 = newId("notificationChannel");
    await admin`insert into notification_channels (workspace_id, id, kind, target, created_by) values (${A.workspaceId}, ${ncEmail2}, 'email', 'oncall@example.com', ${member})`;
    const ncPd = newId("notificationChannel");
    await admin`insert into notification_channels (workspace_id, id, kind, target, vault_name, fingerprint, created_by) values (${A.workspaceId}, ${ncPd}, 'pagerduty', 'PagerDuty …wxyz', 'notify/pagerduty/x', 'wxyz', ${member})`;
    for (let i = 0; i < 20; i++)
      await feedback(A, await newRun(A, s), s.skillId, i < 6 ? "accepted" : "rejected", `U${i % 3}`);
    const results = await Promise.all(
      [monitor, monitor2, monitor, monitor2].map((db) =>
        withWorkspace(db, A.workspaceId, (sc) => pauseSkillForAcceptance(sc, s.skillId)),
      ),
    );
    const winners = results.filter((r) => r.paused);
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ rate: 0.3, threshold: 0.7, decided: 20, accepted: 6 });
    expect(winners[0]?.reason).toBe(
      "acceptance rate 0.3 over the last 20 decided actions is below the published threshold 0.7",
    );
    expect(await status(s.skillId)).toBe("paused");
    const notes = await admin<
      { channel_id: string; kind: string; status: string }[]
    >`select channel_id, kind, status from notifications where skill_id = ${s.skillId} order by channel_id`;
    expect(notes.map((n) => n.channel_id).sort()).toEqual([A.notificationChannelId, ncEmail2, ncPd].sort());
    expect(notes.every((n) => n.status === "pending")).toBe(true);
    expect(winners[0]?.notification_ids.sort()).toEqual(
      (await admin<{ id: string }[]>`select id from notifications where skill_id = ${s.skillId}`)
        .map((r) => r.id)
        .sort(),
    );
    const [pauses] = await admin<
      { n: number }[]
    >`select count(*)::int as n from skill_pauses where skill_id = ${s.skillId}`;
    expect(pauses?.n).toBe(1);
    await admin`update notification_channels set disabled_at = now() where id in (${ncEmail2}, ${ncPd})`;
  });

  it("positive feedback after the pause → still paused; nothing resumes it", async () => {
    const s = await newSkill(A, { threshold: 0.7, window: 5, minSamples: 5 });
    for (let i = 0; i < 5; i++) await feedback(A, await newRun(A, s), s.skillId, "rejected");
    expect(await withWorkspace(monitor, A.workspaceId, (sc) => pauseSkillForAcceptance(sc, s.skillId))).toMatchObject({
      paused: true,
      rate: 0,
    });
    for (let i = 0; i < 10; i++) await feedback(A, await newRun(A, s), s.skillId, "accepted");
    const [row] = (await acceptancePass(monitor, 10_000)).filter((r) => r.skill_id === s.skillId);
    expect(row).toMatchObject({ rate: 1, status: "paused", below: false });
    expect(await withWorkspace(monitor, A.workspaceId, (sc) => pauseSkillForAcceptance(sc, s.skillId))).toMatchObject({
      paused: false,
    });
    expect(await status(s.skillId)).toBe("paused");
  });

  it("a pause in another workspace’s scope is refused", async () => {
    const s = await newSkill(A);
    expect(
      await errorOf(withWorkspace(monitor, B.workspaceId, (sc) => pauseSkillForAcceptance(sc, s.skillId))),
    ).toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("only a human admin, through the api, resumes", () => {
  let paused: { skillId: string; versionId: string };
  beforeAll(async () => {
    paused = await newSkill(A, { threshold: 0.7, window: 5, minSamples: 5 }, ["email"]);
    for (let i = 0; i < 5; i++) await feedback(A, await newRun(A, paused), paused.skillId, "rejected");
    await withWorkspace(monitor, A.workspaceId, (sc) => pauseSkillForAcceptance(sc, paused.skillId));
    expect(await status(paused.skillId)).toBe("paused");
  });

  it("a plain UPDATE … SET status = active as praxa_monitor, praxa_worker, praxa_api or praxa_ingest → refused by the database", async () => {
    for (const role of ["praxa_monitor", "praxa_worker", "praxa_api", "praxa_ingest"] as const) {
      const sql = postgres(tdb.roleUrl(role), { max: 1, onnotice: () => {} });
      try {
        const err = await errorOf(
          sql.begin(async (tx) => {
            await tx`select set_config('app.workspace_id', ${A.workspaceId}, true)`;
            await tx`update skills set status = 'active', paused_at = null where id = ${paused.skillId}`;
          }),
        );
        expect({ role, err: mapPgError(err).constructor.name }).toEqual({ role, err: PermissionDeniedError.name });
      } finally {
        await sql.end({ timeout: 5 });
      }
    }
    expect(await status(paused.skillId)).toBe("paused");
  });

  it("even as praxa_definer (SET ROLE) with the resume marker set, outside the api’s resume → refused by the trigger; the owner sees no row", async () => {
    const attempt = (role: string) =>
      admin.begin(async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        await tx`select set_config('app.resume_skill', ${paused.skillId}, true)`;
        return (await tx`update skills set status = 'active', paused_at = null where id = ${paused.skillId}`).count;
      });
    const err = await errorOf(attempt("praxa_definer"));
    expect({
      code: (err as { code?: string } | undefined)?.code,
      msg: String((err as Error | undefined)?.message),
    }).toEqual({ code: "42501", msg: "only a human admin resumes a paused Skill, through the api" });
    expect(await attempt("praxa_owner")).toBe(0); // FORCE RLS binds the owner, who has no policy
    expect(await status(paused.skillId)).toBe("paused");
  });

  it("a viewer’s token, an automation admin token, or another workspace’s admin → PermissionDenied; a human admin → active, once", async () => {
    const viewer = await humanToken(A, "viewer");
    const automation = await humanToken(A, "admin", "automation");
    const otherAdmin = await humanToken(B, "admin");
    for (const t of [viewer, automation, otherAdmin]) {
      expect(
        await errorOf(
          withWorkspace(api, A.workspaceId, (sc) => resumeSkillByAdmin(sc, paused.skillId, t, "looks fine")),
        ),
      ).toBeInstanceOf(PermissionDeniedError);
    }
    // A right token id with a wrong secret is refused too.
    const human = await humanToken(A, "admin");
    expect(
      await errorOf(
        withWorkspace(api, A.workspaceId, (sc) =>
          resumeSkillByAdmin(sc, paused.skillId, { ...human, secretSha256: hashTokenSecret("nope") }, "x"),
        ),
      ),
    ).toBeInstanceOf(PermissionDeniedError);
    expect(await status(paused.skillId)).toBe("paused");
    const done = await withWorkspace(api, A.workspaceId, (sc) =>
      resumeSkillByAdmin(sc, paused.skillId, human, "reviewed the last 5 rejections: fixed the prompt"),
    );
    expect(done.resumed).toBe(true);
    expect(done.notification_ids).toHaveLength(1); // the email channel told of the pause is told of the resume
    expect(await status(paused.skillId)).toBe("active");
    const [pause] = await admin<
      { resumed_by: string; resume_reason: string }[]
    >`select resumed_by, resume_reason from skill_pauses where skill_id = ${paused.skillId}`;
    expect(pause?.resume_reason).toBe("reviewed the last 5 rejections: fixed the prompt");
    expect(pause?.resumed_by).toMatch(/^mb_/);
    expect(
      await withWorkspace(api, A.workspaceId, (sc) => resumeSkillByAdmin(sc, paused.skillId, human, "again")),
    ).toMatchObject({ resumed: false });
    // The window restarts at the resume: the old rejections no longer count, and one new one is below minSamples.
    await feedback(A, await newRun(A, paused), paused.skillId, "rejected");
    const [row] = (await acceptancePass(monitor, 10_000)).filter((r) => r.skill_id === paused.skillId);
    expect(row).toMatchObject({ status: "active", decided: 1, accepted: 0, below: false });
    expect(
      await withWorkspace(monitor, A.workspaceId, (sc) => pauseSkillForAcceptance(sc, paused.skillId)),
    ).toMatchObject({ paused: false });
    expect(await status(paused.skillId)).toBe("active");
  });

  it("a manual pause needs an admin (an automation admin may); a viewer may not", async () => {
    const s = await newSkill(A);
    expect(
      await errorOf(
        withWorkspace(api, A.workspaceId, async (sc) =>
          pauseSkillByAdmin(sc, s.skillId, await humanToken(A, "viewer"), "x"),
        ),
      ),
    ).toBeInstanceOf(PermissionDeniedError);
    const auto = await humanToken(A, "admin", "automation");
    expect(
      await withWorkspace(api, A.workspaceId, (sc) => pauseSkillByAdmin(sc, s.skillId, auto, "incident 42")),
    ).toMatchObject({ paused: true });
    expect(
      await withWorkspace(api, A.workspaceId, (sc) => pauseSkillByAdmin(sc, s.skillId, auto, "again")),
    ).toMatchObject({ paused: false });
    expect(await status(s.skillId)).toBe("paused");
  });
});

describe("feedback entry points", () => {
  it("ingest: a Slack click is recorded once, only for a run of the team’s own workspace", async () => {
    await admin`insert into integrations (workspace_id, id, provider, external_id) values (${A.workspaceId}, ${newId("integration")}, 'slack', 'TAAAA0001')`;
    const s = await newSkill(A);
    const runA = await newRun(A, s);
    const bSkill = await newSkill(B);
    const runB = await newRun(B, bSkill);
    const d = (id: string) => ({
      deliveryId: id,
      bodySha256: id
        .padEnd(64, "0")
        .slice(0, 64)
        .replace(/[^0-9a-f]/g, "a"),
    });
    expect(
      await recordSlackFeedback(ingest, d("a1"), "TAAAA0001", runA, "accepted", { id: "U9", isBot: false }),
    ).toMatchObject({ outcome: "recorded", workspace_id: A.workspaceId, run_id: runA });
    expect(
      await recordSlackFeedback(ingest, d("a1"), "TAAAA0001", runA, "accepted", { id: "U9", isBot: false }),
    ).toMatchObject({ outcome: "duplicate" });
    expect(
      await recordSlackFeedback(ingest, d("b2"), "TAAAA0001", runB, "rejected", { id: "U9", isBot: false }),
    ).toMatchObject({ outcome: "run_not_found" });
    expect(
      await recordSlackFeedback(ingest, d("c3"), "TNOPE0001", runA, "rejected", { id: "U9", isBot: false }),
    ).toMatchObject({ outcome: "unknown_installation" });
    const rows = await admin<{ run_id: string }[]>`select run_id from skill_feedback where actor_id = 'U9'`;
    expect(rows.map((r) => r.run_id)).toEqual([runA]);
  });

  it("ingest: a PR comment maps to the PR’s latest succeeded pull_request run", async () => {
    const s = await newSkill(B);
    const older = await newRun(B, s, { repo: "octo/pay", prNumber: 9 });
    const latest = await newRun(B, s, { repo: "octo/pay", prNumber: 9 });
    await newRun(B, s, { repo: "octo/pay", prNumber: 9 }, "skipped");
    await newRun(B, s, { repo: "octo/pay", prNumber: 10 });
    const r = await recordPullRequestFeedback(
      ingest,
      { deliveryId: "gh-1", bodySha256: "e".repeat(64) },
      B.installationId,
      "octo/pay",
      9,
      "rejected",
      { id: "5551", isBot: false },
    );
    expect(r).toMatchObject({ outcome: "recorded", run_id: latest });
    expect(older).not.toBe(latest);
    expect(
      await recordPullRequestFeedback(
        ingest,
        { deliveryId: "gh-2", bodySha256: "f".repeat(64) },
        B.installationId,
        "octo/pay",
        404,
        "rejected",
        { id: "5551", isBot: false },
      ),
    ).toMatchObject({ outcome: "run_not_found" });
    expect(
      await recordPullRequestFeedback(
        ingest,
        { deliveryId: "gh-2", bodySha256: "f".repeat(64) },
        B.installationId,
        "octo/pay",
        404,
        "rejected",
        { id: "5551", isBot: false },
      ),
    ).toMatchObject({ outcome: "duplicate" });
  });

  it("api: feedback on a run of the caller’s workspace; another workspace’s run is not found", async () => {
    const s = await newSkill(A);
    const runA = await newRun(A, s);
    expect(
      await withWorkspace(api, A.workspaceId, (sc) =>
        recordApiFeedback(sc, runA, "accepted", { id: A.memberId, isBot: false }),
      ),
    ).toEqual({ skillId: s.skillId });
    expect(
      await errorOf(
        withWorkspace(api, B.workspaceId, (sc) =>
          recordApiFeedback(sc, runA, "accepted", { id: B.memberId, isBot: false }),
        ),
      ),
    ).toBeInstanceOf(WorkspaceScopeError);
    // The api may insert feedback but never rewrite it, nor write the folded figures.
    const sql = postgres(tdb.roleUrl("praxa_api"), { max: 1, onnotice: () => {} });
    try {
      for (const stmt of [
        "update skill_feedback set verdict = verdict",
        `insert into skill_acceptance (workspace_id, skill_id) values ('${A.workspaceId}', '${s.skillId}')`,
        "update skill_action_verdicts set accepted_votes = 100",
      ]) {
        const err = await errorOf(
          sql.begin(async (tx) => {
            await tx`select set_config('app.workspace_id', ${A.workspaceId}, true)`;
            await tx.unsafe(stmt);
          }),
        );
        expect({ stmt, err: mapPgError(err).constructor.name }).toEqual({ stmt, err: PermissionDeniedError.name });
      }
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});

describe("notifications under a lease", () => {
  it("claimed once; its secret read only under the lease and in its workspace; outcomes recorded; the reconciler sees what is open", async () => {
    const s = await newSkill(B, { threshold: 0.7, window: 5, minSamples: 5 }, ["pagerduty"]);
    const nc = newId("notificationChannel");
    await admin`insert into notification_channels (workspace_id, id, kind, target, vault_name, fingerprint, created_by) values (${B.workspaceId}, ${nc}, 'pagerduty', 'PagerDuty …abcd', 'notify/pagerduty/t1', 'abcd', ${B.memberId})`;
    await admin`insert into vault.secrets (workspace_id, name, provider, purpose, ciphertext, key_id) values (${B.workspaceId}, 'notify/pagerduty/t1', 'pagerduty', 'routing_key', ${Buffer.alloc(40, 7)}, 'wk_test0000001')`;
    for (let i = 0; i < 5; i++) await feedback(B, await newRun(B, s), s.skillId, "rejected");
    const pause = await withWorkspace(monitor, B.workspaceId, (sc) => pauseSkillForAcceptance(sc, s.skillId));
    const [id] = pause.notification_ids;
    if (!id) throw new Error("no notification");
    const claimed = await claimNotification(worker, id, "w1", 30);
    expect(claimed).toMatchObject({
      workspaceId: B.workspaceId,
      kind: "pagerduty",
      event: "skill.paused",
      attempt: 1,
      skill: { id: s.skillId },
      pause: { cause: "acceptance", rate: 0, threshold: 0.7, incidentKey: pause.incident_key },
    });
    expect(await claimNotification(worker, id, "w2", 30)).toBeNull();
    const secret = await withWorkspace(worker, B.workspaceId, (sc) => notificationSecret(sc, claimed!.lease));
    expect(secret?.ciphertext.equals(Buffer.alloc(40, 7))).toBe(true);
    expect(
      await errorOf(withWorkspace(worker, A.workspaceId, (sc) => notificationSecret(sc, claimed!.lease))),
    ).toBeInstanceOf(WorkspaceScopeError);
    expect(
      await errorOf(
        withWorkspace(worker, B.workspaceId, (sc) =>
          notificationSecret(sc, { ...claimed!.lease, token: crypto.randomUUID() }),
        ),
      ),
    ).toBeInstanceOf(LeaseLostError);
    await withWorkspace(worker, B.workspaceId, (sc) => finishNotification(sc, claimed!.lease, "retry", "UNAVAILABLE"));
    await admin`update notifications set updated_at = now() - interval '1 minute' where id = ${id}`;
    expect((await listOpenNotifications(monitor, 10, 100)).map((n) => n.notification_id)).toContain(id);
    const again = await claimNotification(worker, id, "w2", 30);
    expect(again?.attempt).toBe(2);
    // The first holder's lease is gone.
    expect(
      await errorOf(withWorkspace(worker, B.workspaceId, (sc) => finishNotification(sc, claimed!.lease, "delivered"))),
    ).toBeInstanceOf(LeaseLostError);
    await withWorkspace(worker, B.workspaceId, (sc) => finishNotification(sc, again!.lease, "delivered"));
    const [row] = await admin<
      { status: string; attempts: number; last_error_code: string | null }[]
    >`select status, attempts, last_error_code from notifications where id = ${id}`;
    expect(row).toEqual({ status: "delivered", attempts: 2, last_error_code: null });
    expect(await claimNotification(worker, id, "w3", 30)).toBeNull();
    expect((await listOpenNotifications(monitor, 0, 100)).map((n) => n.notification_id)).not.toContain(id);
  });

  it("checkpoints are due where the chain grew past the newest checkpoint", async () => {
    const due = await checkpointsDue(monitor, 100);
    // The fixtures each have one event and a checkpoint at tree_size 1: nothing due for them.
    expect(due.map((d) => d.workspace_id)).not.toContain(A.workspaceId);
    await admin`update audit_chain_heads set seq = 2 where workspace_id = ${A.workspaceId}`;
    expect((await checkpointsDue(monitor, 100)).find((d) => d.workspace_id === A.workspaceId)).toMatchObject({
      head_seq: 2,
      checkpointed: 1,
    });
    await admin`update audit_chain_heads set seq = 1 where workspace_id = ${A.workspaceId}`;
  });
});
