/**
 * Feedback through ingest, over real HTTP against the real Postgres, from the recorded Slack and GitHub payloads:
 * a Helpful / Not helpful click and a member's `/praxa accept|reject` comment each become one verdict on the right run
 * of the right workspace; a bot's never counts; a stranger's, a replay's, and a foreign run's become nothing. And a
 * trigger for a paused Skill is recorded as a skipped run, with no job.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { sign as octokitSign } from "@octokit/webhooks-methods";
import { approvalMessage, newId, slackFeedbackButtons } from "@praxa/core";
import { fixture, GITHUB_SECRET, SLACK_SECRET, startHarness, type Harness, type Served } from "./test-harness.js";
import { slackSignature } from "./verify/slack-signature.js";

let h: Harness;
let app: Served;

beforeAll(async () => {
  h = await startHarness();
  app = await h.server();
});
afterAll(async () => h?.close());

async function succeededRun(
  skillId: string,
  input: Record<string, unknown>,
  workspaceId = h.ws.workspaceId,
): Promise<string> {
  const [v] = await h.admin<
    { id: string }[]
  >`select id from skill_versions where skill_id = ${skillId} order by version desc limit 1`;
  const id = newId("run");
  await h.admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input, status)
                values (${workspaceId}, ${id}, ${skillId}, ${v?.id ?? ""}, ${skillId === h.slackSkillId ? "slack.app_mention" : "github.pull_request.opened"}, 'slack', ${h.admin.json(input as never)}, 'succeeded')`;
  return id;
}

/** The recorded block_actions payload, its button turned into our feedback button for `runId`, form-encoded as Slack posts it. */
function clickBody(
  runId: string,
  which: 0 | 1,
  triggerId = `${Date.now()}.${Math.floor(Math.random() * 1e9)}.e675a0c0dacc24a1f7b84a7a426d1197`,
): Buffer {
  const payload = JSON.parse(fixture("slack/block_actions.json").toString("utf8")) as {
    actions: Record<string, unknown>[];
    trigger_id: string;
  };
  const button = slackFeedbackButtons(runId)[which];
  payload.actions = [{ ...payload.actions[0], action_id: button?.action_id, value: button?.value }];
  payload.trigger_id = triggerId;
  return Buffer.from(new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
}

function postInteraction(body: Buffer) {
  const ts = String(Math.floor(Date.now() / 1000));
  return app.inject({
    method: "POST",
    url: "/webhooks/slack/interactions",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": ts,
      "x-slack-signature": slackSignature(SLACK_SECRET, ts, body),
    },
    payload: body,
  });
}

/** The recorded issue_comment.created payload, on PR #prNumber, with `body` and the author changed as given. */
function comment(
  body: string,
  opts: { association?: string; type?: string; prNumber?: number; onPr?: boolean; userId?: number } = {},
): string {
  const p = JSON.parse(fixture("github/issue_comment.created.json").toString("utf8")) as {
    issue: Record<string, unknown>;
    comment: Record<string, unknown> & { user: Record<string, unknown> };
  };
  p.issue.number = opts.prNumber ?? 1;
  if (opts.onPr !== false)
    p.issue.pull_request = { url: "https://api.github.com/repos/Codertocat/Hello-World/pulls/1" };
  p.comment.body = body;
  p.comment.author_association = opts.association ?? "MEMBER";
  p.comment.user.type = opts.type ?? "User";
  if (opts.userId) p.comment.user.id = opts.userId;
  return JSON.stringify(p);
}

async function postComment(payload: string, delivery = randomUUID()) {
  return app.inject({
    method: "POST",
    url: "/webhooks/github",
    headers: {
      "content-type": "application/json",
      "x-github-event": "issue_comment",
      "x-github-delivery": delivery,
      "x-hub-signature-256": await octokitSign(GITHUB_SECRET, payload),
    },
    payload,
  });
}

const feedbackOf = (runId: string) =>
  h.admin<
    { verdict: string; source: string; actor_id: string; actor_is_bot: boolean }[]
  >`select verdict, source, actor_id, actor_is_bot from skill_feedback where run_id = ${runId} order by id`;

describe("Slack Helpful / Not helpful", () => {
  it("a click → 200 and one verdict by that Slack user on that run; the same click delivered again adds nothing", async () => {
    const runId = await succeededRun(h.slackSkillId, { channel: "C00FAKECHAN2" });
    const body = clickBody(runId, 1);
    expect((await postInteraction(body)).statusCode).toBe(200);
    expect((await postInteraction(body)).statusCode).toBe(200);
    expect(await feedbackOf(runId)).toEqual([
      { verdict: "rejected", source: "slack", actor_id: "U00FAKEUSER2", actor_is_bot: false },
    ]);
    expect((await postInteraction(clickBody(runId, 0))).statusCode).toBe(200);
    const [v] = await h.admin<
      { votes: Record<string, string> }[]
    >`select votes from skill_action_verdicts where run_id = ${runId}`;
    expect(v?.votes).toEqual({ "slack:U00FAKEUSER2": "accepted" }); // the latest verdict of this human counts
  });

  it("a run of another workspace, or a button value that is no run id, records nothing; unsigned → 401", async () => {
    const other = await seedOther();
    expect((await postInteraction(clickBody(other, 0))).statusCode).toBe(200);
    expect((await feedbackOf(other)).filter((f) => f.source === "slack")).toEqual([]); // (its fixture has an api verdict)
    expect((await postInteraction(clickBody("rn_notarunid" as string, 0))).statusCode).toBe(200);
    const body = clickBody(await succeededRun(h.slackSkillId, {}), 0);
    const unsigned = await app.inject({
      method: "POST",
      url: "/webhooks/slack/interactions",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: body,
    });
    expect(unsigned.statusCode).toBe(401);
  });

  it("a signed body that is not a form → 400", async () => {
    const body = Buffer.from('{"type":"block_actions"}');
    expect((await postInteraction(body)).statusCode).toBe(400);
  });
});

async function seedOther(): Promise<string> {
  const { seedWorkspaceFixture } = await import("@praxa/db");
  const other = await seedWorkspaceFixture(h.tdb.adminUrl, "Other", {
    installationId: String(900000 + Math.floor(Math.random() * 1000)),
  });
  await h.admin`update agent_runs set status = 'succeeded' where id = ${other.runId}`;
  return other.runId;
}

describe("/praxa accept and /praxa reject on a pull request", () => {
  it("a member’s comment → a verdict on the PR’s latest succeeded run, keyed by the GitHub user id", async () => {
    await succeededRun(h.ws.skillId, { repo: "Codertocat/Hello-World", prNumber: 1 });
    const latest = await succeededRun(h.ws.skillId, { repo: "Codertocat/Hello-World", prNumber: 1 });
    const res = await postComment(comment("/praxa reject\nThe migration is missing."));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ runIds: [], feedback: "recorded" });
    expect(await feedbackOf(latest)).toEqual([
      { verdict: "rejected", source: "github", actor_id: "21031067", actor_is_bot: false },
    ]);
    // The comment's text is kept nowhere.
    const [n] = await h.admin<
      { n: number }[]
    >`select count(*)::int as n from agent_runs where input::text like '%migration is missing%'`;
    expect(n?.n).toBe(0);
  });

  it("a Bot’s command is recorded as a bot’s and never counts; a non-member’s and an issue’s are ignored; a redelivery adds nothing", async () => {
    const runId = await succeededRun(h.ws.skillId, { repo: "Codertocat/Hello-World", prNumber: 2 });
    await postComment(comment("/praxa accept", { prNumber: 2, type: "Bot", userId: 41898282 }));
    expect(await feedbackOf(runId)).toEqual([
      { verdict: "accepted", source: "github", actor_id: "41898282", actor_is_bot: true },
    ]);
    expect((await h.admin`select 1 from skill_action_verdicts where run_id = ${runId}`).length).toBe(0);
    for (const association of ["CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "NONE"]) {
      expect((await postComment(comment("/praxa reject", { prNumber: 2, association, userId: 5 }))).json()).toEqual({
        runIds: [],
      });
    }
    await postComment(comment("/praxa reject", { prNumber: 2, onPr: false, userId: 6 }));
    expect(await feedbackOf(runId)).toHaveLength(1);
    const delivery = randomUUID();
    const member = comment("/praxa accept", { prNumber: 2, association: "OWNER", userId: 7 });
    expect((await postComment(member, delivery)).json()).toEqual({ runIds: [], feedback: "recorded" });
    expect((await postComment(member, delivery)).json()).toEqual({ runIds: [], feedback: "duplicate" });
    expect(await feedbackOf(runId)).toHaveLength(2);
  });

  it("a PR with no succeeded run says so; an ordinary comment is an ordinary event", async () => {
    expect((await postComment(comment("/praxa accept", { prNumber: 404 }))).json()).toEqual({
      runIds: [],
      feedback: "run_not_found",
    });
    const ordinary = await postComment(comment("thanks, looks good", { prNumber: 1 }));
    expect(ordinary.statusCode).toBe(202);
    expect(ordinary.json()).toEqual({ runIds: [] }); // no Skill subscribes to issue_comment here
  });
});

describe("while a Skill is paused", () => {
  it("its triggers are recorded as skipped runs, and no job is enqueued", async () => {
    await h.admin`update skills set status = 'paused', paused_at = now(), paused_reason = 'acceptance below threshold', paused_by = 'monitor' where id = ${h.ws.skillId}`;
    try {
      const p = JSON.parse(fixture("github/pull_request.opened.json").toString("utf8")) as { number: number };
      p.number = 777;
      const payload = JSON.stringify(p);
      const res = await app.inject({
        method: "POST",
        url: "/webhooks/github",
        headers: {
          "content-type": "application/json",
          "x-github-event": "pull_request",
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": await octokitSign(GITHUB_SECRET, payload),
        },
        payload,
      });
      expect(res.statusCode).toBe(202);
      const { runIds } = res.json() as { runIds: string[] };
      expect(runIds).toHaveLength(1);
      const [run] = await h.admin<
        { status: string; skip_reason: string }[]
      >`select status, skip_reason from agent_runs where id = ${runIds[0] ?? ""}`;
      expect(run).toEqual({ status: "skipped", skip_reason: "skill_paused" });
      expect(await h.queues.get("runs").getJob(runIds[0] ?? "")).toBeUndefined();
    } finally {
      await h.admin`update skills set status = 'active', paused_at = null, paused_reason = null, paused_by = null where id = ${h.ws.skillId}`;
    }
  });
});

describe("Slack Approve / Deny (the recorded block_actions payload)", () => {
  /** A parked run of the workspace with a pending approval any owner or admin may decide. */
  async function parked(): Promise<{ runId: string; approvalId: string }> {
    const runId = await succeededRun(h.ws.skillId, { repo: "octo/hello", prNumber: 9 });
    await h.admin`update agent_runs set status = 'waiting_approval', finished_at = null where id = ${runId}`;
    const approvalId = newId("approval");
    await h.admin`insert into run_approvals (workspace_id, id, run_id, skill_id, step, tool, roles, expires_at)
                  values (${h.ws.workspaceId}, ${approvalId}, ${runId}, ${h.ws.skillId}, 2, 'github.comment.pr', ${["owner", "admin"]}, now() + interval '1 hour')`;
    return { runId, approvalId };
  }
  function approvalClick(approvalId: string, which: 0 | 1): Buffer {
    const payload = JSON.parse(fixture("slack/block_actions.json").toString("utf8")) as {
      actions: Record<string, unknown>[];
    };
    const message = approvalMessage({
      approvalId,
      skillName: "PR review",
      tool: "github.comment.pr",
      verdict: null,
      confidence: null,
      expiresAt: new Date(),
    });
    const actions = message.blocks[1] as { elements: { action_id: string; value: string }[] };
    const button = actions.elements[which];
    payload.actions = [{ ...payload.actions[0], action_id: button?.action_id, value: button?.value }];
    return Buffer.from(new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
  }
  const state = async (approvalId: string) =>
    (
      await h.admin<
        { status: string; run_status: string; decided_by_member: string | null; decided_via: string | null }[]
      >`select a.status, r.status as run_status, a.decided_by_member, a.decided_via
          from run_approvals a join agent_runs r on r.id = a.run_id where a.id = ${approvalId}`
    )[0];

  it("a click by a Slack user linked to no member → 200 'Not accepted.', nothing changes; linked to the admin → decided", async () => {
    const { approvalId } = await parked();
    const body = approvalClick(approvalId, 1);
    const refused = await postInteraction(body);
    expect(refused.statusCode).toBe(200);
    expect(refused.json()).toEqual({ response_type: "ephemeral", text: "Not accepted." });
    expect(await state(approvalId)).toMatchObject({ status: "pending", run_status: "waiting_approval" });
    await h.admin`update workspace_members set slack_user_id = 'U00FAKEUSER2' where id = ${h.ws.memberId}`;
    try {
      const ok = await postInteraction(body);
      expect(ok.json()).toEqual({ response_type: "ephemeral", text: "Recorded: denied." });
      expect(await state(approvalId)).toEqual({
        status: "denied",
        run_status: "queued",
        decided_by_member: h.ws.memberId,
        decided_via: "slack",
      });
      // The same click again (a replay within the signature window): already decided, nothing changes.
      expect((await postInteraction(body)).json()).toEqual({ response_type: "ephemeral", text: "Not accepted." });
    } finally {
      await h.admin`update workspace_members set slack_user_id = null where id = ${h.ws.memberId}`;
    }
  });
});
