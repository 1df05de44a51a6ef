/**
 * Human approval end to end (issue #21, item 5): pr-review published with `approval: { tools: ["github.comment.pr"] }`
 * on the real worker, ingest and api, against the loopback GitHub and Slack (their real client libraries) and the
 * real Postgres and Redis. A PR run parks `waiting_approval` (no lease, no slot) and the Skill's Slack channel gets
 * Approve / Deny buttons carrying the approval id; a click by an unlinked user or by the bot is refused and the run
 * stays parked; a linked human admin's signed click resumes it and the review is posted exactly once. Through the api
 * an automation token is refused (403) and a human's denial ends the run `denied` with no review; an approval nobody
 * decides expires (the monitor's sweep) and the run ends `denied` with no review. Every decision is audited with its
 * actor.
 */
import { execFile } from "node:child_process";
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { FastifyInstance } from "fastify";
import { buildApiServer } from "@praxa/api";
import { encodeSlackBotTokenRecord, SLACK_BOT_TOKEN_PURPOSE, slackBotVaultName } from "@praxa/connectors";
import { mintApiTokenMaterial, newId, type RunId, type SkillManifest } from "@praxa/core";
import { sealCredential } from "@praxa/crypto";
import {
  createDatabase,
  expireApprovals,
  registerAuditKey,
  vaultPutSecret,
  withWorkspace,
  workspacePublicKey,
  type Database,
} from "@praxa/db";
import { startIngest } from "@praxa/ingest";
import { expireApprovalsPass } from "@praxa/monitor";
import { createLogger } from "@praxa/observability";
import { PR_REVIEW_MANIFEST } from "@praxa/skills";
import { startSlackServer, type SlackServer } from "@praxa/testkit";
import { startWorker } from "@praxa/worker";
import { addedPatch, startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

const cli = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));
const CHANNEL = "C0APPROVE1";
const TEAM = "T0PRAXA01";
const HUMAN = "U0HUMANADM1";
const SLACK_SECRET = "approval-e2e-slack-signing-0123";
const MANIFEST: SkillManifest = {
  ...PR_REVIEW_MANIFEST,
  approval: { tools: ["github.comment.pr"], slackChannel: CHANNEL, expiresAfterMinutes: 60, roles: ["owner", "admin"] },
};

let h: WorkerHarness;
let slack: SlackServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let ingest: { url: string; close: () => Promise<void> };
let apiServer: FastifyInstance;
let apiUrl: string;
let apiDb: Database;
let monitorDb: Database;
const tokens = { human: "", automation: "" };
let prNumber = 7000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

beforeAll(async () => {
  slack = await startSlackServer({
    clientId: "111.222",
    clientSecret: "slack-client-secret-0123456789",
    channels: [CHANNEL],
  });
  h = await startWorkerHarness({
    manifest: MANIFEST,
    extraEnv: {
      SLACK_CLIENT_ID: "111.222",
      SLACK_CLIENT_SECRET: "slack-client-secret-0123456789",
      SLACK_BASE_URL: slack.url,
    },
  });
  const bot = slack.installBot(["chat:write", "channels:history"]);
  apiDb = createDatabase(h.tdb.roleUrl("praxa_api"), { max: 2 });
  monitorDb = createDatabase(h.tdb.roleUrl("praxa_monitor"), { max: 1 });
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
  await h.admin`insert into integrations (workspace_id, id, provider, external_id, bot_identity, granted_scopes)
    values (${h.ws.workspaceId}, ${newId("integration")}, 'slack', ${TEAM}, ${h.admin.json({ kind: "slack_bot", user_id: slack.botUserId })}, ${["channels:history", "chat:write"]})`;
  for (const kind of ["human", "automation"] as const) {
    const m = mintApiTokenMaterial(h.ws.workspaceId);
    await h.admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
                  values (${h.ws.workspaceId}, ${m.tokenId}, ${h.ws.memberId}, ${kind}, 'approval-e2e', ${m.secretSha256}, now() + interval '1 hour')`;
    tokens[kind] = m.token;
  }
  const signing = generateKeyPairSync("ed25519");
  const keyId = `aek_approval_${randomUUID()}`;
  await registerAuditKey(apiDb, {
    keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: signing.publicKey.export({ format: "der", type: "spki" }),
  });
  apiServer = await buildApiServer({
    database: apiDb,
    log: createLogger({ name: "approval-e2e", level: "silent" }),
    auditSigner: { keyId, privateKey: signing.privateKey },
  });
  apiUrl = await apiServer.listen({ port: 0, host: "127.0.0.1" });
  const started = await startIngest({
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    INGEST_DATABASE_URL: h.tdb.roleUrl("praxa_ingest"),
    REDIS_URL: h.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    PRAXA_QUEUE_PREFIX: h.env.PRAXA_QUEUE_PREFIX,
    INGEST_PORT: String(await freePort()),
    INGEST_TRIGGER_KEY_FILE: join(mkdtempSync(join(tmpdir(), "praxa-approval-")), "trigger.key"),
    SLACK_SIGNING_SECRET: SLACK_SECRET,
  });
  ingest = { url: started.url.replace("0.0.0.0", "127.0.0.1"), close: started.close };
  worker = await startWorker(h.env);
  // The admin links their Slack user through the api (a human admin's token; audited).
  const linked = await apiCall("PUT", `/v1/members/${h.ws.memberId}/slack`, tokens.human, { slackUserId: HUMAN });
  expect(linked.status).toBe(200);
});
afterAll(async () => {
  await worker?.close();
  await ingest?.close();
  await apiServer?.close();
  await apiDb?.close();
  await monitorDb?.close();
  await h?.close();
  await slack?.close();
});

async function apiCall(method: string, path: string, token: string, body?: unknown): Promise<Response> {
  return fetch(`${apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** The CLI as a real process, with a token of the api answering it here. */
function praxa(args: readonly string[], apiToken: string) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      {
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          NODE_ENV: "test",
          LOG_LEVEL: "silent",
          PRAXA_API_URL: apiUrl,
          PRAXA_API_TOKEN: apiToken,
        },
        encoding: "utf8",
        timeout: 30_000,
      },
      (err, stdout, stderr) =>
        resolve({ status: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

/** A signed Slack interactivity request: a click on `actionId` with `value` by `user` of `team`. */
async function click(actionId: string, value: string, user: string, team = TEAM): Promise<Response> {
  const payload = {
    type: "block_actions",
    team: { id: team, domain: "acme" },
    user: { id: user, username: "someone", team_id: team },
    trigger_id: `${Date.now()}.${Math.floor(Math.random() * 1e9)}.0abc`,
    channel: { id: CHANNEL, name: "approvals" },
    actions: [{ action_id: actionId, block_id: "b1", type: "button", value, action_ts: "1769220166.113300" }],
  };
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const ts = String(Math.floor(Date.now() / 1000));
  return fetch(`${ingest.url}/webhooks/slack/interactions`, {
    method: "POST",
    body,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": ts,
      "x-slack-signature": `v0=${createHmac("sha256", SLACK_SECRET).update(`v0:${ts}:${body}`).digest("hex")}`,
    },
  });
}

async function statusOf(
  runId: RunId,
): Promise<{ status: string; lease_token: string | null; error_code: string | null }> {
  const [r] = await h.admin<
    { status: string; lease_token: string | null; error_code: string | null }[]
  >`select status, lease_token, error_code from agent_runs where id = ${runId}`;
  return r!;
}

async function waitForStatus(runId: RunId, status: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await statusOf(runId);
    if (r.status === status) return;
    if (Date.now() > until) throw new Error(`run ${runId} is ${r.status}, not ${status}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** A PR run that parks on its review: returns the run and its approval's id. */
async function parkedPrRun(): Promise<{ runId: RunId; approvalId: string; number: number }> {
  const number = prNumber++;
  const runId = await h.createPrRun({
    number,
    title: "Change checkout",
    files: [{ filename: "src/payments/checkout.ts", patch: addedPatch(["export const fee = 2;"]) }],
  });
  await h.enqueueRun(runId);
  await waitForStatus(runId, "waiting_approval");
  const [a] = await h.admin<
    { id: string; status: string; slack_ts: string | null }[]
  >`select id, status, slack_ts from run_approvals where run_id = ${runId}`;
  return { runId, approvalId: a!.id, number };
}

async function auditKinds(runId: RunId): Promise<{ kind: string; input: Record<string, unknown> }[]> {
  const rows = await h.admin<
    { canonical: Buffer }[]
  >`select canonical from audit_events where run_id = ${runId} order by seq`;
  return rows.map((r) => {
    const e = JSON.parse(r.canonical.toString()) as { kind: string; input: Record<string, unknown> };
    return { kind: e.kind, input: e.input };
  });
}

describe("approval: a gated review", () => {
  it("parks with no lease and Approve / Deny in the channel; a stranger's and the bot's clicks are refused; a linked admin's click → the review is posted once", async () => {
    const { runId, approvalId, number } = await parkedPrRun();
    expect(await statusOf(runId)).toMatchObject({ status: "waiting_approval", lease_token: null });
    expect(h.gh.sandbox.reviews("acme", "shop", number)).toHaveLength(0);
    // The message: in the Skill's channel, buttons carrying the approval id, the Skill's name and tool — no PR content.
    const message = slack.messages.find((m) => m.channel === CHANNEL && JSON.stringify(m.blocks).includes(approvalId));
    expect(message?.botId).toBeDefined();
    const actions = (message?.blocks as { type: string; elements?: { action_id?: string; value?: string }[] }[]).find(
      (b) => b.type === "actions",
    );
    expect(actions?.elements?.map((e) => [e.action_id, e.value])).toEqual([
      ["praxa_approval_grant", approvalId],
      ["praxa_approval_deny", approvalId],
    ]);
    expect(message?.text).toContain("PR review");
    expect(message?.text).toContain("github.comment.pr");
    expect(message?.text).not.toContain("checkout");
    const [row] = await h.admin<
      { slack_ts: string | null }[]
    >`select slack_ts from run_approvals where id = ${approvalId}`;
    expect(row?.slack_ts).toBe(message?.ts);

    // Refused: a user linked to no member, the bot itself, a click claiming another team. Slack gets its 200.
    for (const [user, team] of [
      ["U0STRANGER1", TEAM],
      [slack.botUserId, TEAM],
      [HUMAN, "T0OTHERTEAM"],
    ] as const) {
      const res = await click("praxa_approval_grant", approvalId, user, team);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { text: string }).text).toBe("Not accepted.");
    }
    expect(await statusOf(runId)).toMatchObject({ status: "waiting_approval", lease_token: null });
    expect(h.gh.sandbox.reviews("acme", "shop", number)).toHaveLength(0);

    const ok = await click("praxa_approval_grant", approvalId, HUMAN);
    expect(ok.status).toBe(200);
    expect(await h.waitForRun(runId)).toEqual({ status: "succeeded", error_code: null });
    expect(h.gh.sandbox.reviews("acme", "shop", number)).toHaveLength(1);
    // A second click changes nothing.
    expect(((await (await click("praxa_approval_grant", approvalId, HUMAN)).json()) as { text: string }).text).toBe(
      "Not accepted.",
    );
    const events = await auditKinds(runId);
    expect(events.map((e) => e.kind)).toEqual(["approval.requested", "approval.granted", "skill.action"]);
    expect(events[1]?.input).toMatchObject({
      approval_id: approvalId,
      tool: "github.comment.pr",
      actor_member_id: h.ws.memberId,
      via: "slack",
    });
    expect(h.gh.sandbox.reviews("acme", "shop", number)).toHaveLength(1);
  });

  it("through the api: an automation token is refused (403); a human admin's denial ends the run denied, no review", async () => {
    const { runId, approvalId, number } = await parkedPrRun();
    const refused = await apiCall("POST", `/v1/approvals/${approvalId}/grant`, tokens.automation, {});
    expect(refused.status).toBe(403);
    expect((await statusOf(runId)).status).toBe("waiting_approval");
    const listed = (await (await apiCall("GET", "/v1/approvals?status=pending", tokens.automation)).json()) as {
      approvals: { id: string }[];
    };
    expect(listed.approvals.map((a) => a.id)).toContain(approvalId);
    const denied = await apiCall("POST", `/v1/approvals/${approvalId}/deny`, tokens.human, { reason: "not today" });
    expect(denied.status).toBe(200);
    expect(await h.waitForRun(runId)).toEqual({ status: "denied", error_code: "APPROVAL_DENIED" });
    expect(h.gh.sandbox.reviews("acme", "shop", number)).toHaveLength(0);
    const events = await auditKinds(runId);
    expect(events.map((e) => e.kind)).toEqual(["approval.requested", "approval.denied"]);
    expect(events[1]?.input).toMatchObject({ actor_member_id: h.ws.memberId, via: "api" });
  });

  it("the CLI: approvals list shows it; an automation token cannot grant (exit 1); a human admin grants → one review", async () => {
    const { runId, approvalId, number } = await parkedPrRun();
    const list = await praxa(["approvals", "list", "--status", "pending", "--json"], tokens.automation);
    expect(list.status).toBe(0);
    expect((JSON.parse(list.stdout) as { approvals: { id: string }[] }).approvals.map((a) => a.id)).toContain(
      approvalId,
    );
    const refused = await praxa(["approvals", "grant", approvalId], tokens.automation);
    expect(refused.status).toBe(1);
    expect((await statusOf(runId)).status).toBe("waiting_approval");
    const granted = await praxa(["approvals", "grant", approvalId, "--reason", "reviewed", "--json"], tokens.human);
    expect(granted.status).toBe(0);
    expect(JSON.parse(granted.stdout)).toMatchObject({ approvalId, status: "granted", decidedBy: h.ws.memberId });
    expect(await h.waitForRun(runId)).toEqual({ status: "succeeded", error_code: null });
    expect(h.gh.sandbox.reviews("acme", "shop", number)).toHaveLength(1);
    const link = await praxa(["members", "link-slack", h.ws.memberId, HUMAN, "--json"], tokens.automation);
    expect(link.status).toBe(1);
  });

  it("nobody decides in time: the monitor's sweep expires it and the run ends denied (APPROVAL_EXPIRED), no review", async () => {
    const { runId, approvalId, number } = await parkedPrRun();
    expect((await expireApprovals(monitorDb, 100)).map((e) => e.approval_id)).not.toContain(approvalId);
    await h.admin`update run_approvals set expires_at = now() - interval '1 second' where id = ${approvalId}`;
    // The monitor's own pass (run in its reconcile job), on the monitor's role.
    const sweep = { database: monitorDb, log: createLogger({ name: "approval-e2e-monitor", level: "silent" }) };
    expect(await expireApprovalsPass(sweep)).toBe(1);
    expect(await h.waitForRun(runId)).toEqual({ status: "denied", error_code: "APPROVAL_EXPIRED" });
    expect(h.gh.sandbox.reviews("acme", "shop", number)).toHaveLength(0);
    const events = await auditKinds(runId);
    expect(events.map((e) => e.kind)).toEqual(["approval.requested", "approval.expired"]);
    expect(events[1]?.input).toMatchObject({ actor_member_id: null, via: "expiry" });
    // A late click is refused.
    expect(((await (await click("praxa_approval_grant", approvalId, HUMAN)).json()) as { text: string }).text).toBe(
      "Not accepted.",
    );
  });
});
