/**
 * slack-answer end to end: a question in a Slack thread → a `{runId}` job → the worker reads the thread as the bot
 * (the real WebClient against the loopback Slack), reads the Skill's memory namespace, answers in the thread with
 * Helpful / Not helpful buttons carrying the run id, and records one audit event. A question no fact answers is
 * escalated. Facts of another namespace are never read.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { newId, type RunId } from "@praxa/core";
import { encodeSlackBotTokenRecord, SLACK_BOT_TOKEN_PURPOSE, slackBotVaultName } from "@praxa/connectors";
import { sealCredential } from "@praxa/crypto";
import { createDatabase, vaultPutSecret, withWorkspace, workspacePublicKey } from "@praxa/db";
import { SLACK_ANSWER_MANIFEST } from "@praxa/skills";
import { startSlackServer, type SlackServer } from "@praxa/testkit";
import { startWorker } from "@praxa/worker";
import { startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

const CHANNEL = "C0PRAXA01";
let h: WorkerHarness;
let slack: SlackServer;
let worker: Awaited<ReturnType<typeof startWorker>>;

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
  const api = createDatabase(h.tdb.roleUrl("praxa_api"), { max: 1 });
  await withWorkspace(api, h.ws.workspaceId, async (s) => {
    const pub = await workspacePublicKey(s);
    const sealed = await sealCredential(
      { keyId: pub!.keyId, publicKey: pub!.publicKey },
      { workspaceId: h.ws.workspaceId, provider: "slack", purpose: SLACK_BOT_TOKEN_PURPOSE },
      encodeSlackBotTokenRecord({ botToken: bot.botToken, refreshToken: null }),
    );
    await vaultPutSecret(s, {
      name: slackBotVaultName("T0PRAXA01"),
      provider: "slack",
      purpose: SLACK_BOT_TOKEN_PURPOSE,
      ciphertext: Buffer.from(sealed),
      keyId: pub!.keyId,
    });
  });
  await api.close();
  // The team's install, confirmed (a run gets a Slack bot token only for an active integration).
  await h.admin`insert into integrations (workspace_id, id, provider, external_id, bot_identity, granted_scopes)
    values (${h.ws.workspaceId}, ${newId("integration")}, 'slack', 'T0PRAXA01', ${h.admin.json({ kind: "slack_bot", user_id: slack.botUserId })}, ${["channels:history", "chat:write"]})`;
  await h.admin`insert into memory_facts (workspace_id, id, namespace, key, value) values
    (${h.ws.workspaceId}, ${newId("memoryFact")}, 'faq', 'vpn-setup', ${h.admin.json({ text: "Install the WireGuard profile from the IT portal, then sign in with SSO." })}),
    (${h.ws.workspaceId}, ${newId("memoryFact")}, 'faq', 'expense-policy', ${h.admin.json({ text: "Expenses under 50 EUR need no receipt." })}),
    (${h.ws.workspaceId}, ${newId("memoryFact")}, 'secrets', 'vpn-root-password', ${h.admin.json({ text: "NEVER-READ-THIS-NAMESPACE" })})`;
  worker = await startWorker(h.env);
});
afterAll(async () => {
  await worker?.close();
  await h?.close();
  await slack?.close();
});

async function mention(text: string): Promise<{ runId: RunId; ts: string }> {
  const ts = slack.postAsUser(CHANNEL, "U0HUMAN01", `<@U0PRAXABOT> ${text}`);
  const runId = newId("run");
  await h.admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input)
    values (${h.ws.workspaceId}, ${runId}, ${h.ws.skillId}, ${h.ws.skillVersionId}, 'slack.app_mention', 'slack',
            ${h.admin.json({ teamId: "T0PRAXA01", channel: CHANNEL, messageTs: ts, threadTs: ts, userId: "U0HUMAN01" })})`;
  await h.enqueueRun(runId);
  return { runId, ts };
}

describe("slack-answer", () => {
  it("answers in the thread from its namespace’s facts, with feedback buttons carrying the run id", async () => {
    const { runId, ts } = await mention("how do I set up the VPN?");
    expect(await h.waitForRun(runId)).toEqual({ status: "succeeded", error_code: null });
    const replies = slack.thread(CHANNEL, ts).filter((m) => m.botId !== undefined);
    expect(replies).toHaveLength(1);
    expect(replies[0]?.text).toContain("WireGuard");
    const actions = (
      replies[0]?.blocks as { type: string; elements?: { action_id?: string; value?: string }[] }[]
    ).find((b) => b.type === "actions");
    expect(actions?.elements?.map((e) => e.value)).toEqual([runId, runId]);
    const [ev] = await h.admin<{ canonical: Buffer }[]>`select canonical from audit_events where run_id = ${runId}`;
    expect(JSON.parse(ev!.canonical.toString())).toMatchObject({
      kind: "skill.action",
      output: { verdict: "answer", sources: ["vpn-setup"] },
      tools_used: ["slack.read.thread", "memory.read", "slack.post_message"],
    });
    expect(ev!.canonical.toString()).not.toContain("NEVER-READ-THIS-NAMESPACE");
  });

  it("escalates a question no fact answers", async () => {
    const { runId, ts } = await mention("what is the meaning of the quarterly roadmap offsite?");
    expect((await h.waitForRun(runId)).status).toBe("succeeded");
    const [ev] = await h.admin<{ canonical: Buffer }[]>`select canonical from audit_events where run_id = ${runId}`;
    expect(JSON.parse(ev!.canonical.toString())).toMatchObject({ output: { verdict: "escalate_human", sources: [] } });
    expect(slack.thread(CHANNEL, ts).filter((m) => m.botId !== undefined)).toHaveLength(1);
  });
});
