/**
 * Ingest against the real Postgres and Redis: recorded GitHub and Slack payloads, signed the way each sender signs,
 * become runs and `{runId}` jobs exactly once; anything unsigned, altered, stale or replayed does not.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { sign as octokitSign } from "@octokit/webhooks-methods";
import { sampleManifest, seedWorkspaceFixture } from "@praxa/db";
import { fixture, GITHUB_SECRET, SLACK_SECRET, startHarness, type Harness, type Served } from "./test-harness.js";
import { slackSignature } from "./verify/slack-signature.js";

let h: Harness;
let app: Served;

beforeAll(async () => {
  h = await startHarness();
  app = await h.server();
});
afterAll(async () => h?.close());

async function github(
  event: string,
  body: Buffer | string,
  opts: { delivery?: string; secret?: string; signature?: string | null } = {},
) {
  const payload = typeof body === "string" ? body : body.toString("utf8");
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-github-event": event,
    "x-github-delivery": opts.delivery ?? randomUUID(),
  };
  const sig = opts.signature === undefined ? await octokitSign(opts.secret ?? GITHUB_SECRET, payload) : opts.signature;
  if (sig !== null) headers["x-hub-signature-256"] = sig;
  return app.inject({ method: "POST", url: "/webhooks/github", headers, payload });
}

function slack(body: Buffer | string, opts: { tsOffset?: number; retry?: string; secret?: string; url?: string } = {}) {
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const ts = String(Math.floor(Date.now() / 1000) + (opts.tsOffset ?? 0));
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-slack-request-timestamp": ts,
    "x-slack-signature": slackSignature(opts.secret ?? SLACK_SECRET, ts, raw),
  };
  if (opts.retry) headers["x-slack-retry-num"] = opts.retry;
  return app.inject({ method: "POST", url: opts.url ?? "/webhooks/slack/events", headers, payload: raw });
}

const prOpened = () => fixture("github/pull_request.opened.json");
const withChange = (buf: Buffer, change: (o: Record<string, unknown>) => void) => {
  const o = JSON.parse(buf.toString("utf8")) as Record<string, unknown>;
  change(o);
  return Buffer.from(JSON.stringify(o));
};

describe("GitHub webhooks", () => {
  it("a recorded pull_request.opened, signed with @octokit/webhooks-methods → 202, one queued run, one {runId} job", async () => {
    const before = await h.runCount();
    const res = await github("pull_request", prOpened());
    expect(res.statusCode).toBe(202);
    const { runIds } = res.json() as { runIds: string[] };
    expect(runIds).toHaveLength(1);
    expect(await h.runCount()).toBe(before + 1);
    const [run] = await h.admin<
      { workspace_id: string; status: string; trigger: string; input: Record<string, unknown> }[]
    >`select workspace_id, status, trigger, input from agent_runs where id = ${runIds[0] ?? ""}`;
    expect(run).toMatchObject({
      workspace_id: h.ws.workspaceId,
      status: "queued",
      trigger: "github.pull_request.opened",
    });
    // The input is the minimum the Skill needs, never the payload (no title, no body).
    expect(Object.keys(run?.input ?? {}).sort()).toEqual([
      "authorIsBot",
      "authorLogin",
      "baseRef",
      "beforeSha",
      "draft",
      "headSha",
      "prNumber",
      "repo",
    ]);
    const job = await h.queues.get("runs").getJob(`${runIds[0] ?? ""}.1`);
    expect(job?.data).toEqual({ runId: runIds[0] });
    expect(job?.opts.attempts).toBeGreaterThan(1);
  });

  it.each([
    [
      "one byte of the body changed",
      async () => {
        const b = prOpened();
        const sig = await octokitSign(GITHUB_SECRET, b.toString("utf8"));
        b[100] = (b[100] ?? 0) ^ 1;
        return github("pull_request", b, { signature: sig });
      },
    ],
    [
      "the body re-serialized with other whitespace",
      async () => {
        const b = prOpened();
        const sig = await octokitSign(GITHUB_SECRET, b.toString("utf8"));
        return github("pull_request", JSON.stringify(JSON.parse(b.toString("utf8"))), { signature: sig });
      },
    ],
    ["a wrong secret", () => github("pull_request", prOpened(), { secret: "not-the-secret-0123456789" })],
    ["no signature header", () => github("pull_request", prOpened(), { signature: null })],
    [
      "a sha1 signature",
      () => github("pull_request", prOpened(), { signature: "sha1=0000000000000000000000000000000000000000" }),
    ],
  ])("%s → 401 and no run", async (_label, send) => {
    const before = await h.runCount();
    const res = await send();
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({
      error: { code: "SIGNATURE_INVALID", message: "the signature is missing, invalid or stale" },
    });
    expect(await h.runCount()).toBe(before);
  });

  it("a redelivery answers the original runIds and creates nothing", async () => {
    const delivery = randomUUID();
    const body = withChange(prOpened(), (o) => {
      (o as { number: number }).number = 4242;
    });
    const first = await github("pull_request", body, { delivery });
    const before = await h.runCount();
    const again = await github("pull_request", body, { delivery });
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(await h.runCount()).toBe(before);
  });

  it("a captured body replayed under a fresh X-GitHub-Delivery starts no new run", async () => {
    const body = withChange(prOpened(), (o) => {
      (o as { number: number }).number = 4343;
    });
    const first = await github("pull_request", body);
    const before = await h.runCount();
    const replay = await github("pull_request", body, { delivery: randomUUID() });
    expect(replay.json()).toEqual(first.json());
    expect(await h.runCount()).toBe(before);
  });

  it("a replayed body is never answered with another workspace’s runs (the installation moved workspaces in between)", async () => {
    const body = withChange(prOpened(), (o) => {
      (o as { number: number }).number = 4444;
    });
    const first = await github("pull_request", body);
    const [firstRun] = (first.json() as { runIds: string[] }).runIds;
    expect(firstRun).toBeDefined();
    const [run] = await h.admin<
      { integration_id: string | null }[]
    >`select integration_id from agent_runs where id = ${firstRun ?? ""}`;
    expect(run?.integration_id).toBe(h.ws.integrationId);
    // The customer reconnects installation 1 to another workspace.
    const B = await seedWorkspaceFixture(h.tdb.adminUrl, "Moved", {
      manifest: sampleManifest({ triggers: ["github.pull_request.opened"] }),
    });
    const [orig] = await h.admin<
      { id: string; bot_identity: unknown; granted_scopes: string[] }[]
    >`select id, bot_identity, granted_scopes from integrations where provider = 'github' and external_id = '1'`;
    await h.admin`delete from integrations where provider = 'github' and external_id = '1'`;
    await h.admin`update integrations set external_id = '1' where id = ${B.integrationId}`;
    try {
      const before = await h.runCount();
      const replay = await github("pull_request", body, { delivery: randomUUID() });
      expect(replay.statusCode).toBe(202);
      expect(replay.json()).toEqual({ runIds: [] });
      expect(await h.runCount()).toBe(before);
    } finally {
      await h.admin`update integrations set external_id = ${B.installationId} where id = ${B.integrationId}`;
      await h.admin`insert into integrations (workspace_id, id, provider, external_id, bot_identity, granted_scopes) values (${h.ws.workspaceId}, ${orig!.id}, 'github', '1', ${h.admin.json(orig!.bot_identity as never)}, ${orig!.granted_scopes})`;
    }
  });

  it("ping is answered; closed PRs and other events start nothing", async () => {
    expect((await github("ping", fixture("github/ping.json"))).statusCode).toBe(200);
    const before = await h.runCount();
    expect((await github("pull_request", fixture("github/pull_request.closed.json"))).json()).toEqual({ runIds: [] });
    expect(
      (await github("pull_request_review_thread", fixture("github/pull_request_review_thread.resolved.json"))).json(),
    ).toEqual({ runIds: [] });
    expect(await h.runCount()).toBe(before);
  });

  it("synchronize and reopened map to their triggers", async () => {
    const sync = await github("pull_request", fixture("github/pull_request.synchronize.json"));
    const reopened = await github("pull_request", fixture("github/pull_request.reopened.json"));
    const ids = [...(sync.json() as { runIds: string[] }).runIds, ...(reopened.json() as { runIds: string[] }).runIds];
    const rows = await h.admin<
      { trigger: string }[]
    >`select trigger from agent_runs where id = any(${ids}) order by trigger`;
    expect(rows.map((r) => r.trigger)).toEqual(["github.pull_request.reopened", "github.pull_request.synchronize"]);
  });

  it("an unknown installation and our own app’s events start nothing, and the answer says no more than for any ignored event", async () => {
    const before = await h.runCount();
    const unknown = await github(
      "pull_request",
      withChange(prOpened(), (o) => {
        (o as { installation: { id: number } }).installation.id = 987654321;
      }),
    );
    const own = await github(
      "pull_request",
      withChange(prOpened(), (o) => {
        (o as { sender: { login: string; type: string } }).sender = { login: "praxa[bot]", type: "Bot" };
        (o as { number: number }).number = 77;
      }),
    );
    expect(unknown.statusCode).toBe(202);
    expect(unknown.json()).toEqual({ runIds: [] });
    expect(own.json()).toEqual({ runIds: [] });
    expect(await h.runCount()).toBe(before);
  });

  it("another bot’s PR reaches the Skill as a recorded run (the Skill decides to skip it)", async () => {
    const res = await github(
      "pull_request",
      withChange(prOpened(), (o) => {
        (o as { number: number }).number = 88;
        (o as { pull_request: { user: { login: string; type: string } } }).pull_request.user = {
          login: "dependabot[bot]",
          type: "Bot",
        };
        (o as { sender: { login: string; type: string } }).sender = { login: "dependabot[bot]", type: "Bot" };
      }),
    );
    const { runIds } = res.json() as { runIds: string[] };
    expect(runIds).toHaveLength(1);
    const [run] = await h.admin<
      { input: { authorIsBot: boolean } }[]
    >`select input from agent_runs where id = ${runIds[0] ?? ""}`;
    expect(run?.input.authorIsBot).toBe(true);
  });

  it("a body that is not JSON but correctly signed → 400 with the error envelope, and no run", async () => {
    const before = await h.runCount();
    const res = await github("pull_request", '{"action": "opened", ');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: "MALFORMED_BODY", message: "the body is not valid JSON" } });
    expect(await h.runCount()).toBe(before);
  });

  it("a body over the limit → 413 with the error envelope", async () => {
    const small = await h.server({ INGEST_BODY_LIMIT_BYTES: 2048 });
    const res = await small.inject({
      method: "POST",
      url: "/webhooks/github",
      headers: { "content-type": "application/json" },
      payload: prOpened(),
    });
    expect(res.statusCode).toBe(413);
    expect((res.json() as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
  });
});

describe("Slack events", () => {
  const mention = () => fixture("slack/event_callback.app_mention.json");

  it("url_verification is answered with the challenge", async () => {
    const res = await slack(fixture("slack/url_verification.json"));
    expect(res.statusCode).toBe(200);
    expect((res.json() as { challenge: string }).challenge).toBe(
      (JSON.parse(fixture("slack/url_verification.json").toString("utf8")) as { challenge: string }).challenge,
    );
  });

  it("an app_mention becomes one run; Slack’s retries and repeated event_ids collapse onto it", async () => {
    const first = await slack(mention());
    expect(first.statusCode).toBe(202);
    const { runIds } = first.json() as { runIds: string[] };
    expect(runIds).toHaveLength(1);
    const before = await h.runCount();
    expect((await slack(mention(), { retry: "1" })).json()).toEqual({ runIds });
    expect(
      (
        await slack(
          withChange(mention(), (o) => {
            (o as { event_time: number }).event_time += 5;
          }),
          { retry: "2" },
        )
      ).json(),
    ).toEqual({ runIds });
    expect(await h.runCount()).toBe(before);
    const [run] = await h.admin<
      { trigger: string; skill_id: string }[]
    >`select trigger, skill_id from agent_runs where id = ${runIds[0] ?? ""}`;
    expect(run).toEqual({ trigger: "slack.app_mention", skill_id: h.slackSkillId });
  });

  it("a DM becomes slack.message.im", async () => {
    const res = await slack(fixture("slack/event_callback.message.im.json"));
    expect(res.statusCode).toBe(202);
  });

  it("the bot’s own messages start nothing", async () => {
    const before = await h.runCount();
    const own = withChange(mention(), (o) => {
      const e = o as { event: Record<string, unknown>; event_id: string };
      e.event.user = "U00FAKEBOT02";
      e.event_id = "Ev0OWNBOT000";
    });
    expect((await slack(own)).json()).toEqual({ runIds: [] });
    expect(await h.runCount()).toBe(before);
  });

  it.each([
    ["older than 5 minutes", { tsOffset: -310 }],
    ["more than 5 minutes in the future", { tsOffset: 310 }],
    ["signed with the wrong secret", { secret: "wrong-slack-secret-0123456789" }],
  ])("a request %s → 401 and no run", async (_label, opts) => {
    const before = await h.runCount();
    const res = await slack(
      withChange(mention(), (o) => {
        (o as { event_id: string }).event_id = "Ev0STALE00001";
      }),
      opts,
    );
    expect(res.statusCode).toBe(401);
    expect(await h.runCount()).toBe(before);
  });

  it("interactions are verified first; a click on some other app’s button is acknowledged and changes nothing", async () => {
    const form = fixture("slack/block_actions.form-body.txt");
    const unsigned = await app.inject({
      method: "POST",
      url: "/webhooks/slack/interactions",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: form,
    });
    expect(unsigned.statusCode).toBe(401);
    const before = await h.admin<{ n: number }[]>`select count(*)::int as n from skill_feedback`;
    const signed = await slack(form, { url: "/webhooks/slack/interactions" });
    expect(signed.statusCode).toBe(200);
    expect(await h.admin<{ n: number }[]>`select count(*)::int as n from skill_feedback`).toEqual(before);
  });
});

describe("limits and health", () => {
  it("a burst over the workspace limit: every valid event is recorded, the excess delayed, none refused", async () => {
    // Earlier tests left dispatched runs no worker takes: lift the cap so the burst is dispatched on the spot.
    await h.admin`update fleet_settings set default_workspace_concurrency = 100000`;
    const limited = await h.server({ perSecond: 2 });
    const statuses: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const body = withChange(prOpened(), (o) => {
        (o as { number: number }).number = 9000 + i;
      });
      const payload = body.toString("utf8");
      const res = await limited.inject({
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
      statuses.push(res.statusCode);
      if (res.statusCode !== 202) throw new Error(JSON.stringify(res.json()));
      ids.push(...(res.json() as { runIds: string[] }).runIds);
    }
    expect(statuses).toEqual([202, 202, 202, 202, 202, 202]);
    expect(ids).toHaveLength(6);
    // Every run is committed without a delay (the limiter is asked after the commit); the excess jobs are delayed.
    const rows = await h.admin<
      { n: number; queued: number; not_before: number }[]
    >`select count(*)::int as n, count(*) filter (where status = 'queued')::int as queued, count(not_before)::int as not_before from agent_runs where id = any(${ids})`;
    expect(rows[0]).toEqual({ n: 6, queued: 6, not_before: 0 });
    const states = await Promise.all(ids.map(async (id) => (await h.queues.get("runs").getJob(`${id}.1`))?.getState()));
    expect(states.filter((s) => s === "delayed").length).toBeGreaterThanOrEqual(1);
    expect(states.filter((s) => s === "delayed" || s === "waiting")).toHaveLength(6);
  });

  it("traffic that fails verification is rate-limited per source; verified traffic is not", async () => {
    const strict = await h.server({ INGEST_UNVERIFIED_RATE_PER_MINUTE: 3 });
    const bad = () =>
      strict.inject({
        method: "POST",
        url: "/webhooks/github",
        remoteAddress: "203.0.113.9",
        headers: {
          "content-type": "application/json",
          "x-github-event": "ping",
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": "sha256=" + "0".repeat(64),
        },
        payload: "{}",
      });
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await bad()).statusCode);
    expect(codes).toEqual([401, 401, 401, 429, 429]);
    const payload = fixture("github/ping.json").toString("utf8");
    const good = await strict.inject({
      method: "POST",
      url: "/webhooks/github",
      remoteAddress: "203.0.113.9",
      headers: {
        "content-type": "application/json",
        "x-github-event": "ping",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": await octokitSign(GITHUB_SECRET, payload),
      },
      payload,
    });
    expect(good.statusCode).toBe(200);
  });

  it("/healthz and /readyz answer; unknown routes get the envelope", async () => {
    expect((await app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({ ok: true });
    expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/nope" })).json()).toEqual({
      error: { code: "NOT_FOUND", message: "no such route" },
    });
  });
});
