/**
 * Replay of a Slack answer, end to end through the api (the console's button): `POST /v1/audit/events/:id/replay`
 * records a request (audited as who asked) and queues a job; a worker claims it under a lease of its own, opens the
 * team's bot token under that lease only, re-reads the thread as the bot (the real WebClient against the loopback
 * Slack) as it stood at the decision, re-reads the memory facts, re-makes the decision on the offline model and stores
 * the report; `GET /v1/audit/replays/:id` returns it. The thread unchanged → reproduced; a question edited since →
 * the thread's step CHANGED (both hashes) and the edit named; the question deleted → the message named unavailable and
 * the decision not re-made; the whole thread gone → "no longer exists". Who may ask, and what the roles may not do.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync } from "node:crypto";
import type { FastifyInstance } from "fastify";
import postgres from "postgres";
import { mintApiTokenMaterial, newId, type ReplayReport, type RunId } from "@praxa/core";
import { encodeSlackBotTokenRecord, SLACK_BOT_TOKEN_PURPOSE, slackBotVaultName } from "@praxa/connectors";
import { sealCredential } from "@praxa/crypto";
import {
  createDatabase,
  registerAuditKey,
  vaultPutSecret,
  withWorkspace,
  workspacePublicKey,
  type Database,
} from "@praxa/db";
import { buildApiServer } from "@praxa/api";
import { createLogger } from "@praxa/observability";
import { enqueue } from "@praxa/queue";
import { SLACK_ANSWER_MANIFEST } from "@praxa/skills";
import { startSlackServer, type SlackServer } from "@praxa/testkit";
import { reconcileReplays } from "@praxa/monitor";
import { startWorker } from "@praxa/worker";
import { startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

const CHANNEL = "C0PRAXA01";
const TEAM = "T0PRAXA01";
let h: WorkerHarness;
let slack: SlackServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let apiDb: Database;
let app: FastifyInstance;
let base: string;
let integrationId: string;
const tokens: Record<"admin" | "viewer" | "automation", { token: string; tokenId: string; memberId: string }> =
  {} as never;

async function call(method: "GET" | "POST", path: string, token: string) {
  const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  slack = await startSlackServer({
    clientId: "111.222",
    clientSecret: "slack-client-secret-0123456789",
    channels: [CHANNEL],
  });
  h = await startWorkerHarness({
    manifest: SLACK_ANSWER_MANIFEST,
    extraEnv: {
      SLACK_CLIENT_ID: "111.222",
      SLACK_CLIENT_SECRET: "slack-client-secret-0123456789",
      SLACK_BASE_URL: slack.url,
    },
  });
  const bot = slack.installBot(["chat:write", "channels:history"]);
  apiDb = createDatabase(h.tdb.roleUrl("praxa_api"), { max: 2 });
  await withWorkspace(apiDb, h.ws.workspaceId, async (s) => {
    const pub = await workspacePublicKey(s);
    const sealed = await sealCredential(
      { keyId: pub!.keyId, publicKey: pub!.publicKey },
      { workspaceId: h.ws.workspaceId, provider: "slack", purpose: SLACK_BOT_TOKEN_PURPOSE },
      encodeSlackBotTokenRecord({ botToken: bot.botToken, refreshToken: null }),
    );
    await vaultPutSecret(s, {
      name: slackBotVaultName(TEAM),
      provider: "slack",
      purpose: SLACK_BOT_TOKEN_PURPOSE,
      ciphertext: Buffer.from(sealed),
      keyId: pub!.keyId,
    });
  });
  integrationId = newId("integration");
  await h.admin`insert into integrations (workspace_id, id, provider, external_id, bot_identity, granted_scopes)
    values (${h.ws.workspaceId}, ${integrationId}, 'slack', ${TEAM}, ${h.admin.json({ kind: "slack_bot", user_id: slack.botUserId })}, ${["channels:history", "chat:write"]})`;
  await h.admin`insert into memory_facts (workspace_id, id, namespace, key, value) values
    (${h.ws.workspaceId}, ${newId("memoryFact")}, 'faq', 'vpn-setup', ${h.admin.json({ text: "Install the WireGuard profile from the IT portal, then sign in with SSO." })}),
    (${h.ws.workspaceId}, ${newId("memoryFact")}, 'faq', 'expense-policy', ${h.admin.json({ text: "Expenses under 50 EUR need no receipt." })})`;
  worker = await startWorker(h.env);

  const k = generateKeyPairSync("ed25519");
  await registerAuditKey(apiDb, {
    keyId: "aek_replay_test",
    purpose: "event",
    algorithm: "ed25519",
    spki: k.publicKey.export({ format: "der", type: "spki" }),
  });
  app = await buildApiServer({
    database: apiDb,
    log: createLogger({ name: "audit-replay", level: "silent" }),
    auditSigner: { keyId: "aek_replay_test", privateKey: k.privateKey },
    enqueueReplay: async (replayId) => {
      await enqueue(h.queues, "replay", { replayId }, { jobId: replayId });
    },
  });
  base = await app.listen({ port: 0, host: "127.0.0.1" });
  const [viewer] = await h.admin<
    { id: string }[]
  >`select id from workspace_members where workspace_id = ${h.ws.workspaceId} and role = 'viewer'`;
  for (const [name, kind, memberId] of [
    ["admin", "human", h.ws.memberId],
    ["viewer", "human", viewer!.id],
    ["automation", "automation", h.ws.memberId],
  ] as const) {
    const m = mintApiTokenMaterial(h.ws.workspaceId);
    await h.admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
      values (${h.ws.workspaceId}, ${m.tokenId}, ${memberId}, ${kind}, ${name}, ${m.secretSha256}, now() + interval '1 day')`;
    tokens[name] = { token: m.token, tokenId: m.tokenId, memberId };
  }
});
afterAll(async () => {
  await app?.close();
  await worker?.close();
  await apiDb?.close();
  await h?.close();
  await slack?.close();
});

/** A question in the channel, answered by the Skill; the decision's audit event. */
async function answered(text: string): Promise<{ runId: RunId; ts: string; eventId: string }> {
  const ts = slack.postAsUser(CHANNEL, "U0HUMAN01", `<@U0PRAXABOT> ${text}`);
  const runId = newId("run");
  await h.admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input, integration_id)
    values (${h.ws.workspaceId}, ${runId}, ${h.ws.skillId}, ${h.ws.skillVersionId}, 'slack.app_mention', 'slack',
            ${h.admin.json({ teamId: TEAM, channel: CHANNEL, messageTs: ts, threadTs: ts, userId: "U0HUMAN01" })}, ${integrationId})`;
  await h.enqueueRun(runId);
  expect(await h.waitForRun(runId)).toEqual({ status: "succeeded", error_code: null });
  const [ev] = await h.admin<
    { id: string }[]
  >`select id from audit_events where run_id = ${runId} and kind = 'skill.action'`;
  return { runId, ts, eventId: ev!.id };
}

interface ReplayAnswer {
  id: string;
  status: string;
  outcome: string | null;
  errorCode: string | null;
  report: ReplayReport | null;
}

/** Ask through the api, then read the request until a worker has finished it. */
async function replay(eventId: string, who: keyof typeof tokens = "admin"): Promise<ReplayAnswer> {
  const asked = await call("POST", `/v1/audit/events/${eventId}/replay`, tokens[who].token);
  expect(asked.status).toBe(202);
  const id = (asked.json["replay"] as ReplayAnswer).id;
  for (;;) {
    const got = await call("GET", `/v1/audit/replays/${id}`, tokens[who].token);
    expect(got.status).toBe(200);
    const r = got.json["replay"] as ReplayAnswer;
    if (r.status === "done" || r.status === "failed") return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const step = (r: ReplayReport, tool: string) => r.steps.find((s) => s.tool === tool);

describe("replay of a Slack answer (api → worker → report)", () => {
  it("reproduces: the thread re-read as the bot, as it stood at the decision, matches its recorded hash", async () => {
    const { ts, eventId } = await answered("how do I set up the VPN?");
    // Said after the decision: not an input of it.
    slack.postAsUser(CHANNEL, "U0HUMAN02", "thanks, that worked", ts);
    const postsBefore = slack.calls["chat.postMessage"] ?? 0;
    const readsBefore = slack.calls["conversations.replies"] ?? 0;
    const r = await replay(eventId);
    expect(r.status).toBe("done");
    const report = r.report!;
    expect(report.lines.join("\n")).toContain("identical to the recorded decision");
    expect(report).toMatchObject({ ok: true, outcome: "reproduced", skillSlug: "slack-answer" });
    expect(step(report, "slack.read.thread")).toMatchObject({ status: "matches" });
    expect(step(report, "memory.read")).toMatchObject({ status: "matches" });
    expect(report.inputs.map((i) => [i.name, i.status])).toEqual(
      expect.arrayContaining([
        ["teamId", "matches"],
        ["channel", "matches"],
        ["threadTs", "matches"],
      ]),
    );
    // Read again as the bot; nothing posted.
    expect((slack.calls["conversations.replies"] ?? 0) - readsBefore).toBeGreaterThan(0);
    expect(slack.calls["chat.postMessage"] ?? 0).toBe(postsBefore);
    // Audited as who asked, in the request's transaction.
    const [asked] = await h.admin<
      { canonical: Buffer }[]
    >`select canonical from audit_events where workspace_id = ${h.ws.workspaceId} and kind = 'admin.audit_replay.requested' order by seq desc limit 1`;
    expect(JSON.parse(asked!.canonical.toString())).toMatchObject({
      input: {
        actor_member_id: tokens.admin.memberId,
        actor_token_id: tokens.admin.tokenId,
        target_id: eventId,
        replay_id: r.id,
      },
    });
    // The report holds no content of the thread or the facts.
    expect(JSON.stringify(report)).not.toContain("WireGuard");
    expect(JSON.stringify(report)).not.toContain("VPN");
  });

  it("names an input that changed since: the question edited after the decision → the thread's step CHANGED", async () => {
    const { ts, eventId } = await answered("how do I set up the VPN on my laptop?");
    slack.editAsUser(CHANNEL, ts, "<@U0PRAXABOT> what is the expense policy?");
    const r = await replay(eventId);
    const report = r.report!;
    expect(report).toMatchObject({ ok: false, outcome: "changed" });
    const thread = step(report, "slack.read.thread")!;
    expect(thread.status).toBe("changed");
    expect(thread.recordedHash).toMatch(/^[0-9a-f]{64}$/);
    expect(thread.currentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(thread.currentHash).not.toBe(thread.recordedHash);
    expect(report.lines.join("\n")).toMatch(/step \d+ \(slack\.read\.thread\): tool result CHANGED/);
    expect(report.lines.join("\n")).toContain(
      `the message ${ts} of the thread ${CHANNEL}/${ts} was edited after the decision`,
    );
  });

  it("names an input that can no longer be had: the question deleted → unavailable, the decision not re-made", async () => {
    const { ts, eventId } = await answered("how do I set up the VPN at home?");
    slack.deleteMessage(CHANNEL, ts); // the bot answered in the thread: Slack keeps a tombstone
    const r = await replay(eventId);
    const report = r.report!;
    expect(report).toMatchObject({ ok: false, outcome: "unavailable" });
    expect(report.decision.status).toBe("not_replayed");
    expect(step(report, "slack.read.thread")).toMatchObject({ status: "unavailable", currentHash: null });
    expect(report.lines.join("\n")).toContain(`the message ${ts} of the thread ${CHANNEL}/${ts} no longer exists`);
    expect(report.steps.filter((s) => s.status === "matches")).toEqual([]);
  });

  it("names a thread that no longer exists at all (thread_not_found)", async () => {
    const { ts, eventId } = await answered("how do I set up the VPN on my phone?");
    for (const m of slack.thread(CHANNEL, ts).reverse()) slack.deleteMessage(CHANNEL, m.ts);
    const r = await replay(eventId);
    expect(r.report).toMatchObject({ ok: false, outcome: "unavailable" });
    expect(r.report!.lines.join("\n")).toContain(`the thread ${CHANNEL}/${ts} no longer exists`);
  });

  it("a memory fact changed since: the memory step is CHANGED", async () => {
    const { eventId } = await answered("where are the expense receipts rules?");
    await h.admin`update memory_facts set value = ${h.admin.json({ text: "Expenses under 30 EUR need no receipt." })}
                   where workspace_id = ${h.ws.workspaceId} and key = 'expense-policy'`;
    const r = await replay(eventId);
    expect(step(r.report!, "memory.read")).toMatchObject({ status: "changed" });
    expect(step(r.report!, "slack.read.thread")).toMatchObject({ status: "matches" });
    expect(r.report!.outcome).toBe("changed");
  });
});

describe("the request row is the outbox", () => {
  it("a request whose job was lost is enqueued again by the monitor's reconciler, and a worker finishes it", async () => {
    const { eventId } = await answered("how do I set up the VPN on a new laptop?");
    const replayId = newId("auditReplay");
    // Committed, but its job never reached Redis.
    await h.admin`insert into audit_replays (workspace_id, id, event_id, requested_by_member, created_at)
      values (${h.ws.workspaceId}, ${replayId}, ${eventId}, ${tokens.admin.memberId}, now() - interval '10 minutes')`;
    const monitorDb = createDatabase(h.tdb.roleUrl("praxa_monitor"), { max: 1 });
    try {
      const pass = await reconcileReplays({
        database: monitorDb,
        queues: h.queues,
        log: createLogger({ name: "replay-outbox", level: "silent" }),
        graceSeconds: 60,
        batch: 100,
      });
      expect(pass.enqueued).toBeGreaterThanOrEqual(1);
    } finally {
      await monitorDb.close();
    }
    for (;;) {
      const got = await call("GET", `/v1/audit/replays/${replayId}`, tokens.admin.token);
      const r = got.json["replay"] as ReplayAnswer;
      if (r.status === "done") {
        expect(r.report).toMatchObject({ outcome: "reproduced" });
        break;
      }
      expect(r.status === "queued" || r.status === "running").toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
});

describe("who may replay", () => {
  it("a viewer may read a report but not make the bot read again; an automation token may ask", async () => {
    const { eventId } = await answered("how do I set up the VPN for a guest?");
    expect((await call("POST", `/v1/audit/events/${eventId}/replay`, tokens.viewer.token)).status).toBe(403);
    const byAutomation = await replay(eventId, "automation");
    expect(byAutomation.status).toBe("done");
    const read = await call("GET", `/v1/audit/replays/${byAutomation.id}`, tokens.viewer.token);
    expect(read.status).toBe(200);
  });

  it("an event that is not a decision is refused (409); an unknown one is 404", async () => {
    const [other] = await h.admin<
      { id: string }[]
    >`select id from audit_events where workspace_id = ${h.ws.workspaceId} and kind = 'admin.audit_replay.requested' limit 1`;
    const refused = await call("POST", `/v1/audit/events/${other!.id}/replay`, tokens.admin.token);
    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({ error: { code: "REPLAY_NOT_POSSIBLE" } });
    expect((await call("POST", `/v1/audit/events/${newId("auditEvent")}/replay`, tokens.admin.token)).status).toBe(404);
    expect((await call("GET", `/v1/audit/replays/${newId("auditReplay")}`, tokens.admin.token)).status).toBe(404);
  });

  it("least privilege in SQL: the api cannot open the bot token nor write a report; a replay lease opens only its run’s team", async () => {
    const { eventId } = await answered("how do I set up the VPN again?");
    const replayId = newId("auditReplay");
    const asApi = postgres(h.tdb.roleUrl("praxa_api"), { max: 1, onnotice: () => undefined });
    const asWorker = postgres(h.tdb.roleUrl("praxa_worker"), { max: 1, onnotice: () => undefined });
    try {
      await asApi.begin(async (tx) => {
        await tx`select set_config('app.workspace_id', ${h.ws.workspaceId}, true)`;
        await tx`insert into audit_replays (workspace_id, id, event_id) values (${h.ws.workspaceId}, ${replayId}, ${eventId})`;
      });
      // The api may not set a status or a report, nor call the worker's functions.
      await expect(
        asApi.begin(async (tx) => {
          await tx`select set_config('app.workspace_id', ${h.ws.workspaceId}, true)`;
          await tx`update audit_replays set status = 'done', outcome = 'reproduced', report = '{}' where id = ${replayId}`;
        }),
      ).rejects.toMatchObject({ code: "42501" });
      await expect(asApi`select * from public.replay_claim(${replayId}, 'api', 60)`).rejects.toMatchObject({
        code: "42501",
      });
      await expect(
        asApi`select * from public.replay_slack_secret(${replayId}, gen_random_uuid(), ${TEAM})`,
      ).rejects.toMatchObject({ code: "42501" });
      // The worker: a claimed replay opens its run's team only; a wrong token opens nothing.
      const [claim] = await asWorker<
        { lease_token: string; workspace_id: string }[]
      >`select * from public.replay_claim(${replayId}, 'test', 60)`;
      expect(claim?.workspace_id).toBe(h.ws.workspaceId);
      const secret = (team: string, token: string) =>
        asWorker.begin(async (tx) => {
          await tx`select set_config('app.workspace_id', ${h.ws.workspaceId}, true)`;
          return tx`select * from public.replay_slack_secret(${replayId}, ${token}::uuid, ${team})`;
        });
      expect(await secret(TEAM, claim!.lease_token)).toHaveLength(1);
      expect(await secret("T0OTHERTEAM", claim!.lease_token)).toHaveLength(0);
      await expect(secret(TEAM, "00000000-0000-4000-8000-000000000000")).rejects.toMatchObject({ code: "PXL01" });
      // The worker holds no grant on the table itself.
      await expect(
        asWorker.begin(async (tx) => {
          await tx`select set_config('app.workspace_id', ${h.ws.workspaceId}, true)`;
          return tx`select report from audit_replays`;
        }),
      ).rejects.toMatchObject({ code: "42501" });
    } finally {
      await asApi.end();
      await asWorker.end();
    }
  });
});
