/**
 * A workspace's own Skill end to end (issue 21): published through the api from examples/skills/deploy-triage.yaml
 * (audited, versioned, its hash pinned by every run) → a CI system's signed `deploy.failed` event at ingest → the
 * payload projected to the declared fields and sealed → the worker runs the Skill through the same executor as the
 * built-ins (offline rules here: no model key) → its Slack post at the loopback Slack, its signed callback at a
 * loopback receiver (through the egress guard, the range allowed for the test) → one `skill.action` audit event.
 * Fields the Skill does not declare never reach a table, a log line or a span; the fields it keeps are sealed and gone
 * when the run ends. A Skill with no offline rules and no key fails MODEL_REQUIRED; a model asking for a tool outside
 * the declared list is refused by the guard and audited.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHash, createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { readFileSync, mkdtempSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { buildApiServer } from "@praxa/api";
import { canonicalJson, mintApiTokenMaterial, newId, parseId, type RunId } from "@praxa/core";
import { encodeSlackBotTokenRecord, SLACK_BOT_TOKEN_PURPOSE, slackBotVaultName } from "@praxa/connectors";
import { sealCredential } from "@praxa/crypto";
import {
  createDatabase,
  registerIngestKey,
  vaultPutSecret,
  withWorkspace,
  workspacePublicKey,
  type Database,
} from "@praxa/db";
import {
  buildIngestServer,
  createUnverifiedLimiter,
  createWorkspaceLimiter,
  loadIngestTriggerKey,
  standardWebhookSignature,
} from "@praxa/ingest";
import { createLogger, InMemorySpanExporter } from "@praxa/observability";
import { enqueue } from "@praxa/queue";
import { readSkillYaml } from "@praxa/skills";
import { reply, startAnthropicServer, startSlackServer, type AnthropicServer, type SlackServer } from "@praxa/testkit";
import { createAnthropicProvider } from "@praxa/runtime";
import { startWorker } from "@praxa/worker";
import { startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

const CHANNEL = "C0DEPLOYS1";
const TEAM = "T0PRAXA01";
const API_KEY = "sk-ant-api03-declarative-test-key-0123456789";
const DROPPED = `CANARY-DROPPED-${randomUUID()}`;
const KEPT = `CANARY-KEPT-${randomUUID()}`;

let h: WorkerHarness;
let slack: SlackServer;
let anthropic: AnthropicServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let api: FastifyInstance;
let ingest: FastifyInstance;
let apiDb: Database;
let ingestDb: Database;
let apiUrl: string;
let ingestUrl: string;
let token: string;
let receiver: Server;
let receiverUrl: string;
const received: { headers: IncomingHttpHeaders; body: string; at: number }[] = [];
/** What the receiver answers next (then 204 once they are used up). */
const answers: { status: number; headers?: Record<string, string> }[] = [];
const logLines: string[] = [];
const spans = new InMemorySpanExporter();
const logSink = new Writable({
  write(chunk: Buffer, _enc, cb) {
    logLines.push(chunk.toString("utf8"));
    cb();
  },
});

beforeAll(async () => {
  slack = await startSlackServer({
    clientId: "111.222",
    clientSecret: "slack-client-secret-0123456789",
    channels: [CHANNEL],
  });
  anthropic = await startAnthropicServer({ apiKey: API_KEY });
  h = await startWorkerHarness({
    extraEnv: {
      SLACK_CLIENT_ID: "111.222",
      SLACK_CLIENT_SECRET: "slack-client-secret-0123456789",
      SLACK_BASE_URL: slack.url,
      // The callback receiver is on loopback: the operator's allow-list names it (empty by default).
      PRAXA_EGRESS_ALLOW_CIDRS: "127.0.0.1/32",
      LOG_LEVEL: "debug",
    },
    installationPermissions: { pull_requests: "write", contents: "read", issues: "write" },
  });
  // The workspace's Slack team: its bot token sealed in the vault, its install active.
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
  await h.admin`insert into integrations (workspace_id, id, provider, external_id, bot_identity, granted_scopes)
    values (${h.ws.workspaceId}, ${newId("integration")}, 'slack', ${TEAM}, ${h.admin.json({ kind: "slack_bot", user_id: slack.botUserId })}, ${["channels:history", "chat:write"]})`;

  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
      const answer = answers.shift() ?? { status: 204 };
      res.writeHead(answer.status, answer.headers).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const addr = receiver.address();
  receiverUrl = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/praxa/escalations`;

  api = await buildApiServer({
    database: apiDb,
    log: createLogger({ name: "declarative-api", level: "silent" }),
    auditSigner: { keyId: "aek_declarative_test", privateKey: generateKeyPairSync("ed25519").privateKey },
    enqueueReplay: async (replayId) => {
      await enqueue(h.queues, "replay", { replayId }, { jobId: replayId });
    },
  });
  apiUrl = await api.listen({ port: 0, host: "127.0.0.1" });
  ingestDb = createDatabase(h.tdb.roleUrl("praxa_ingest"), { max: 2 });
  const key = await loadIngestTriggerKey(join(mkdtempSync(join(tmpdir(), "praxa-ingest-")), "ingest-trigger.key"));
  await registerIngestKey(ingestDb, key.keyId, Buffer.from(key.publicKey));
  const prefix = h.env.PRAXA_QUEUE_PREFIX ?? "";
  ingest = await buildIngestServer({
    config: {
      GITHUB_WEBHOOK_SECRET: "unused-github-secret-0123",
      SLACK_SIGNING_SECRET: "unused-slack-secret-0123",
      INGEST_BODY_LIMIT_BYTES: 1 << 20,
      INGEST_UNVERIFIED_RATE_PER_MINUTE: 10_000,
      INGEST_TRUST_PROXY: false,
    },
    database: ingestDb,
    queues: h.queues,
    limiter: createWorkspaceLimiter(h.redis, prefix, 1000),
    log: createLogger({ name: "declarative-ingest", level: "debug", destination: logSink }),
    now: Date.now,
    githubAppId: undefined,
    triggerKey: key,
    unverifiedLimiter: createUnverifiedLimiter(h.redis, prefix, {
      perSourcePerMinute: 10_000,
      perSkillPerMinute: 10_000,
    }),
    ready: async () => ({ postgres: true, redis: true }),
  });
  ingestUrl = await ingest.listen({ port: 0, host: "127.0.0.1" });
  const m = mintApiTokenMaterial(h.ws.workspaceId);
  await h.admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${h.ws.workspaceId}, ${m.tokenId}, ${h.ws.memberId}, 'human', 't', ${m.secretSha256}, now() + interval '1 hour')`;
  token = m.token;
  worker = await startWorker(h.env, {
    logDestination: logSink,
    spanExporter: spans,
    providerFactory: (json) =>
      createAnthropicProvider({ apiKey: (JSON.parse(json) as { apiKey: string }).apiKey, baseURL: anthropic.url }),
  });
});
afterAll(async () => {
  await worker?.close();
  await api?.close();
  await ingest?.close();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  await Promise.all([apiDb?.close(), ingestDb?.close()]);
  await h?.close();
  await slack?.close();
  await anthropic?.close();
});

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** The example Skill, its callback pointed at the loopback receiver; the approval step left to its own suite. */
function deployTriage(edit: (doc: Record<string, unknown>) => void = () => {}): Record<string, unknown> {
  const doc = readSkillYaml(
    readFileSync(new URL("../../examples/skills/deploy-triage.yaml", import.meta.url), "utf8"),
  ) as Record<string, unknown>;
  doc["callback"] = { url: receiverUrl };
  delete doc["approval"];
  edit(doc);
  return doc;
}

async function sendEvent(
  skillId: string,
  secret: string,
  payload: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const id = `msg_${randomUUID()}`;
  const ts = String(Math.floor(Date.now() / 1000));
  const body = Buffer.from(JSON.stringify(payload));
  const res = await fetch(`${ingestUrl}/triggers/${skillId}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": ts,
      "webhook-signature": standardWebhookSignature(secret, id, ts, body),
    },
    body,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** The run an accepted event started (its first run id). */
function firstRunId(sent: { status: number; json: Record<string, unknown> }): RunId {
  expect(sent.status).toBe(202);
  return parseId("run", (sent.json["runIds"] as string[])[0]) as RunId;
}

let skillId = "";
let escalationEventId = "";

interface ReplayAnswer {
  status: string;
  report: {
    outcome: string;
    inputs: { name: string; status: string; note: string }[];
    decision: { status: string };
  } | null;
}
/** Ask the api for a replay of a decision, then read it until a worker has finished it. */
async function replay(eventId: string): Promise<ReplayAnswer> {
  const asked = await call("POST", `/v1/audit/events/${eventId}/replay`);
  expect(asked.status).toBe(202);
  const id = (asked.json["replay"] as { id: string }).id;
  for (;;) {
    const got = await call("GET", `/v1/audit/replays/${id}`);
    const r = got.json["replay"] as ReplayAnswer;
    if (r.status === "done" || r.status === "failed") return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
let triggerSecret = "";
let callbackSecret = "";

/** Every row of every table, as text (the admin role reads past row-level security). */
async function everyTableAsText(): Promise<string> {
  const tables = await h.admin<{ t: string }[]>`
    select format('%I.%I', table_schema, table_name) as t from information_schema.tables
     where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`;
  expect(tables.map((t) => t.t)).toContain("public.run_payloads");
  const parts: string[] = [];
  for (const { t } of tables) {
    const rows = await h.admin.unsafe<{ row: string }[]>(`select x::text as row from ${t} x`);
    parts.push(...rows.map((r) => r.row));
  }
  return parts.join("\n");
}

describe("a declarative Skill, from its document to its actions", () => {
  it("validates a document with errors that point at the field, and publishes nothing on a dry run", async () => {
    const bad = deployTriage((d) => {
      (d["actions"] as Record<string, unknown>)["notify"] = [{ slack: { channel: "general", text: "{{input.nope}}" } }];
    });
    const v = await call("POST", "/v1/skills/validate", { document: bad });
    expect(v.status).toBe(200);
    expect(v.json["valid"]).toBe(false);
    expect((v.json["issues"] as { path: string }[]).map((i) => i.path)).toEqual(["actions.notify.0.slack.channel"]);
    const badTemplate = deployTriage((d) => {
      (d["actions"] as Record<string, unknown>)["notify"] = [{ slack: { channel: CHANNEL, text: "{{input.nope}}" } }];
    });
    const v2 = await call("POST", "/v1/skills/validate", { document: badTemplate });
    expect(v2.json["issues"]).toEqual([
      {
        path: "actions.notify.0.slack.text",
        message:
          "{{input.nope}} names no declared input field (or decision.verdict|summary|confidence, skill.name, run.id)",
      },
    ]);
    // A read tool of an integration this workspace has installed (GitHub) is fine to add.
    const github = deployTriage((d) => {
      d["tools"] = [...(d["tools"] as string[]), "github.read.diff"];
    });
    expect((await call("POST", "/v1/skills/validate", { document: github })).json["issues"]).toEqual([]);
    const ok = await call("POST", "/v1/skills/validate", { document: deployTriage() });
    expect(ok.json).toMatchObject({ valid: true, issues: [] });
    expect(await h.admin`select 1 from skills where slug = 'deploy-triage'`).toHaveLength(0);
  });

  it("publishes the example: a Skill, its first version audited with its hash; the same document again is no new version", async () => {
    const created = await call("POST", "/v1/skills", { document: deployTriage() });
    expect(created.status).toBe(201);
    const version = created.json["version"] as { version: number; manifestHash: string; created: boolean };
    expect(version).toMatchObject({ version: 1, created: true });
    skillId = (created.json["skill"] as { id: string }).id;
    const again = await call("PUT", `/v1/skills/${skillId}`, { document: deployTriage() });
    expect(again.json["version"]).toMatchObject({ version: 1, created: false });
    expect((await call("POST", "/v1/skills", { document: deployTriage() })).status).toBe(409);
    const [ev] = await h.admin<{ canonical: Buffer }[]>`
      select canonical from audit_events where skill_id = ${skillId} and kind = 'skill.version.created'`;
    expect(JSON.parse(ev!.canonical.toString())).toMatchObject({
      output: { version: 1, manifest_hash: version.manifestHash },
      input: { actor_member_id: h.ws.memberId, slug: "deploy-triage" },
    });
    const secret = await call("POST", `/v1/skills/${skillId}/trigger-secrets`);
    expect(secret.status).toBe(201);
    triggerSecret = String(secret.json["secret"]);
    const cb = await call("POST", `/v1/skills/${skillId}/callback-secret`);
    expect(cb.status).toBe(201);
    callbackSecret = String(cb.json["secret"]);
    expect(callbackSecret).toMatch(/^whsec_/);
  });

  it("a signed deploy.failed → projected, sealed, run on the offline rules → Slack post and a signed callback; dropped fields nowhere", async () => {
    const payload = {
      type: "deploy.failed",
      service: "payments-api",
      environment: "production",
      failed_step: "migrate",
      attempt: 3,
      error_summary: `migration 0042 timed out ${KEPT}`,
      commit: { sha: "4f2a9c1", author: "dana", author_email: `${DROPPED}@example.com` },
      ci_token: DROPPED,
      logs_url: `https://ci.example.com/${DROPPED}`,
    };
    const sent = await sendEvent(skillId, triggerSecret, payload);
    expect(sent.status).toBe(202);
    const runId = firstRunId(sent);
    expect(await h.waitForRun(runId)).toEqual({ status: "succeeded", error_code: null });

    const [run] = await h.admin<
      { trigger: string; input: unknown }[]
    >`select trigger, input from agent_runs where id = ${runId}`;
    expect(run?.trigger).toBe("trigger.deploy.failed");
    expect(Object.keys(run?.input as object).sort()).toEqual(["type", "webhookId"]);

    // Escalate (production, attempt ≥ 2): the channel message, then the callback.
    const posts = slack.messages.filter((m) => m.channel === CHANNEL);
    expect(posts).toHaveLength(1);
    expect(posts[0]?.text).toContain("Escalating *payments-api* (production)");
    expect(posts[0]?.text).toContain("production deploy failed 3 times at migrate");
    expect(received).toHaveLength(1);
    const cb = received[0]!;
    const id = String(cb.headers["webhook-id"]);
    const ts = String(cb.headers["webhook-timestamp"]);
    const expected = createHmac("sha256", Buffer.from(callbackSecret.slice("whsec_".length), "base64"))
      .update(`${id}.${ts}.${cb.body}`)
      .digest("base64");
    expect(cb.headers["webhook-signature"]).toBe(`v1,${expected}`);
    expect(JSON.parse(cb.body)).toMatchObject({
      type: "praxa.decision",
      skill: "deploy-triage",
      run_id: runId,
      verdict: "escalate",
    });

    const [ev] = await h.admin<{ id: string; canonical: Buffer }[]>`
      select id, canonical from audit_events where run_id = ${runId} and kind = 'skill.action'`;
    escalationEventId = ev!.id;
    const record = JSON.parse(ev!.canonical.toString()) as Record<string, unknown>;
    expect(record).toMatchObject({
      trigger: "trigger.deploy.failed",
      input: {
        event_type: "deploy.failed",
        service: "payments-api",
        environment: "production",
        failed_step: "migrate",
      },
      output: { verdict: "escalate" },
      tools_used: ["slack.post_message", "webhook.callback"],
    });
    // What the Skill saw is exactly the declared fields: the digest of the projection, nothing more.
    const declared = {
      service: "payments-api",
      environment: "production",
      failed_step: "migrate",
      attempt: 3,
      error_summary: payload.error_summary,
      commit: { sha: "4f2a9c1", author: "dana" },
    };
    expect((record["input"] as Record<string, unknown>)["payload_sha256"]).toBe(
      createHash("sha256").update(canonicalJson(declared), "utf8").digest("hex"),
    );

    // Nothing the Skill did not declare was stored anywhere; what it kept was sealed and is gone with the run.
    const everything = await everyTableAsText();
    expect(everything).not.toContain(DROPPED);
    expect(everything).not.toContain(KEPT);
    expect(await h.admin`select 1 from run_payloads where run_id = ${runId}`).toHaveLength(0);
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join("")).not.toContain(DROPPED);
    expect(logLines.join("")).not.toContain(KEPT);
    const exported = JSON.stringify(spans.getFinishedSpans().map((s) => ({ n: s.name, a: s.attributes, e: s.events })));
    expect(exported).not.toContain(DROPPED);
    expect(exported).not.toContain(KEPT);
  });

  it("a preview deploy is ignored: no post, no callback; a malformed kept field is refused at ingest, naming the path", async () => {
    const before = { posts: slack.messages.length, callbacks: received.length };
    const sent = await sendEvent(skillId, triggerSecret, {
      type: "deploy.failed",
      service: "web",
      environment: "preview",
      failed_step: "build",
    });
    const runId = firstRunId(sent);
    expect(await h.waitForRun(runId)).toEqual({ status: "succeeded", error_code: null });
    expect(slack.messages.length).toBe(before.posts);
    expect(received.length).toBe(before.callbacks);

    const refused = await sendEvent(skillId, triggerSecret, {
      type: "deploy.failed",
      service: "web",
      environment: "prod-eu",
      failed_step: "build",
      attempt: "two",
    });
    expect(refused.status).toBe(422);
    expect(refused.json).toMatchObject({ error: { code: "PAYLOAD_INVALID" } });
    const message = (refused.json["error"] as { message: string }).message;
    expect(message).toContain("environment");
    expect(message).toContain("attempt");
    expect(message).not.toContain("prod-eu");
    // An event type the Skill does not subscribe to starts nothing and keeps nothing.
    const other = await sendEvent(skillId, triggerSecret, { type: "deploy.started", service: DROPPED });
    expect(other.status).toBe(202);
    expect(other.json["runIds"]).toEqual([]);
  });

  it("a producer that answers 503 with Retry-After is asked again after that delay, with the same webhook-id; the run is not failed, its Slack post not repeated", async () => {
    const before = { posts: slack.messages.length, callbacks: received.length };
    answers.push({ status: 503, headers: { "retry-after": "2" } });
    const sent = await sendEvent(skillId, triggerSecret, {
      type: "deploy.failed",
      service: "billing-api",
      environment: "production",
      failed_step: "migrate",
      attempt: 2,
    });
    const runId = firstRunId(sent);
    expect(await h.waitForRun(runId)).toEqual({ status: "succeeded", error_code: null });
    const attempts = received.slice(before.callbacks);
    expect(attempts).toHaveLength(2);
    expect(attempts[1]?.headers["webhook-id"]).toBe(attempts[0]?.headers["webhook-id"]);
    expect(JSON.parse(attempts[1]!.body)).toMatchObject({ run_id: runId, verdict: "escalate" });
    // Not before the producer's delay: the run was given back, due two seconds after its answer.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(2000);
    // The step before the callback was journaled: replayed, not repeated.
    expect(slack.messages.length).toBe(before.posts + 1);
    // A deferral, not an attempt used up.
    const [row] = await h.admin<{ attempt: number; deferrals: number }[]>`
      select attempt, deferrals from agent_runs where id = ${runId}`;
    expect(row).toEqual({ attempt: 1, deferrals: 1 });
    // The producer's delay holds back this run only: no gate closed for the workspace's other runs.
    expect(await h.admin`select 1 from run_gates where code = 'CALLBACK_THROTTLED'`).toHaveLength(0);
    expect(logLines.join("")).toMatch(new RegExp(`"runId":"${runId}"[^\\n]*"code":"CALLBACK_THROTTLED"`));
  });

  it("a producer that refuses the callback (400) fails the run with CALLBACK_REJECTED, asked once", async () => {
    const before = received.length;
    answers.push({ status: 400 });
    const sent = await sendEvent(skillId, triggerSecret, {
      type: "deploy.failed",
      service: "billing-api",
      environment: "production",
      failed_step: "deploy",
      attempt: 4,
    });
    const runId = firstRunId(sent);
    expect(await h.waitForRun(runId)).toEqual({ status: "failed", error_code: "CALLBACK_REJECTED" });
    expect(received.length).toBe(before + 1);
  });

  it("comments on the GitHub issue its document names from the input, as the installation's bot, once", async () => {
    const created = await call("POST", "/v1/skills", {
      document: {
        slug: "incident-notes",
        name: "Incident notes",
        triggers: ["trigger.incident.opened"],
        input: {
          type: "object",
          required: ["repo", "issue"],
          properties: { repo: { type: "string", maxLength: 100, audit: true }, issue: { type: "integer", minimum: 1 } },
        },
        instructions: "Note incidents on their tracking issue.",
        tools: ["github.comment.issue"],
        decision: { verdicts: [{ name: "note", description: "Leave a note" }] },
        actions: {
          note: [
            {
              githubComment: {
                repo: "{{input.repo}}",
                number: "{{input.issue}}",
                body: "Incident noted: {{decision.summary}} @everyone",
              },
            },
          ],
        },
        acceptance: { threshold: 0.5, window: 10, minSamples: 5 },
        offline: {
          rules: [],
          otherwise: { verdict: "note", confidence: 0.8, reasoning: "Always note.", summary: "on call paged" },
        },
      },
    });
    expect(created.status).toBe(201);
    const id = (created.json["skill"] as { id: string }).id;
    const secret = String((await call("POST", `/v1/skills/${id}/trigger-secrets`)).json["secret"]);
    const sent = await sendEvent(id, secret, { type: "incident.opened", repo: "acme/shop", issue: 7, pager: DROPPED });
    const runId = firstRunId(sent);
    expect(await h.waitForRun(runId)).toEqual({ status: "succeeded", error_code: null });
    const comments = h.gh.sandbox.issueComments("acme", "shop", 7);
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body).toContain("Incident noted: on call paged");
    expect(comments[0]?.body).toContain(`<!-- praxa:${runId}:`);
    expect(comments[0]?.user).toBe("praxa-sandbox[bot]");
  });

  it("replay: a decision whose payload fields were purged names each one it needs instead of guessing", async () => {
    const r = await replay(escalationEventId);
    expect(r.status).toBe("done");
    expect(r.report?.outcome).toBe("unavailable");
    expect(r.report?.decision.status).toBe("not_replayed");
    const unavailable = (r.report?.inputs ?? []).filter((i) => i.status === "unavailable").map((i) => i.name);
    // Declared but not kept by the audit event (not `audit: true`): purged at run end.
    expect(unavailable).toEqual(expect.arrayContaining(["attempt", "error_summary", "commit"]));
    expect(JSON.stringify(r.report)).not.toContain(KEPT);
  });

  it("replay: a Skill that keeps every field it decides on reproduces its decision on the offline rules", async () => {
    const doc = deployTriage((d) => {
      d["slug"] = "deploy-triage-audited";
      const props = (d["input"] as { properties: Record<string, Record<string, unknown>> }).properties;
      props["attempt"] = { ...props["attempt"], audit: true };
      delete props["error_summary"];
      delete props["commit"];
      d["tools"] = ["slack.post_message"];
      d["actions"] = { notify: [], ignore: [], escalate: [] };
      delete d["callback"];
    });
    const created = await call("POST", "/v1/skills", { document: doc });
    expect(created.status).toBe(201);
    const id = (created.json["skill"] as { id: string }).id;
    const secret = String((await call("POST", `/v1/skills/${id}/trigger-secrets`)).json["secret"]);
    const sent = await sendEvent(id, secret, {
      type: "deploy.failed",
      service: "api",
      environment: "production",
      failed_step: "deploy",
      attempt: 2,
    });
    const runId = firstRunId(sent);
    expect(await h.waitForRun(runId)).toEqual({ status: "succeeded", error_code: null });
    const [ev] = await h.admin<
      { id: string }[]
    >`select id from audit_events where run_id = ${runId} and kind = 'skill.action'`;
    const r = await replay(ev!.id);
    expect(r.status).toBe("done");
    expect(r.report?.outcome).toBe("reproduced");
    expect(r.report?.decision.status).toBe("identical");
    expect(r.report?.inputs.find((i) => i.name === "payload")?.status).toBe("matches");
  });

  it("the example as written: escalating waits for a human — granted, the callback goes once; denied, it never does", async () => {
    const created = await call("POST", "/v1/skills", {
      document: deployTriage((d) => {
        d["slug"] = "deploy-triage-gated";
        d["approval"] = {
          tools: ["webhook.callback"],
          slackChannel: CHANNEL,
          expiresAfterMinutes: 60,
          roles: ["owner", "admin"],
        };
      }),
    });
    expect(created.status).toBe(201);
    const id = (created.json["skill"] as { id: string }).id;
    const secret = String((await call("POST", `/v1/skills/${id}/trigger-secrets`)).json["secret"]);
    await call("POST", `/v1/skills/${id}/callback-secret`);
    const escalate = {
      type: "deploy.failed",
      service: "ledger",
      environment: "production",
      failed_step: "smoke",
      attempt: 2,
    };
    const parked = async (): Promise<{ runId: RunId; approvalId: string }> => {
      const sent = await sendEvent(id, secret, escalate);
      const runId = firstRunId(sent);
      for (;;) {
        const [row] = await h.admin<{ status: string }[]>`select status from agent_runs where id = ${runId}`;
        if (row?.status === "waiting_approval") break;
        expect(["queued", "running"]).toContain(row?.status);
        await new Promise((r) => setTimeout(r, 50));
      }
      const list = await call("GET", "/v1/approvals?status=pending");
      const approval = (list.json["approvals"] as { id: string; runId: string; tool: string }[]).find(
        (a) => a.runId === runId,
      );
      expect(approval?.tool).toBe("webhook.callback");
      return { runId, approvalId: approval?.id ?? "" };
    };
    const callbacksBefore = received.length;
    const first = await parked();
    // Parked: the Slack post (before the gated tool) went out; the callback did not; the approval message asks.
    expect(received.length).toBe(callbacksBefore);
    expect(slack.messages.filter((m) => m.channel === CHANNEL && m.text.includes("ledger"))).toHaveLength(1);
    const granted = await call("POST", `/v1/approvals/${first.approvalId}/grant`, { reason: "on-call agrees" });
    expect(granted.status).toBe(200);
    expect(await h.waitForRun(first.runId)).toEqual({ status: "succeeded", error_code: null });
    expect(received.length).toBe(callbacksBefore + 1);
    expect(JSON.parse(received.at(-1)!.body)).toMatchObject({ run_id: first.runId, verdict: "escalate" });
    // Resumed from its journal: the Slack post was not made twice.
    expect(slack.messages.filter((m) => m.channel === CHANNEL && m.text.includes("ledger"))).toHaveLength(1);
    const kinds = await h.admin<
      { kind: string }[]
    >`select kind from audit_events where run_id = ${first.runId} order by seq`;
    expect(kinds.map((k) => k.kind)).toEqual(["approval.requested", "approval.granted", "skill.action"]);

    const second = await parked();
    expect((await call("POST", `/v1/approvals/${second.approvalId}/deny`, { reason: "false alarm" })).status).toBe(200);
    expect(await h.waitForRun(second.runId)).toEqual({ status: "denied", error_code: "APPROVAL_DENIED" });
    expect(received.length).toBe(callbacksBefore + 1);
  });

  it("a Skill with no offline rules fails MODEL_REQUIRED when the workspace has no model key", async () => {
    const doc = deployTriage((d) => {
      d["slug"] = "deploy-triage-llm";
      delete d["offline"];
    });
    const created = await call("POST", "/v1/skills", { document: doc });
    expect(created.status).toBe(201);
    const id = (created.json["skill"] as { id: string }).id;
    const secret = String((await call("POST", `/v1/skills/${id}/trigger-secrets`)).json["secret"]);
    const sent = await sendEvent(id, secret, {
      type: "deploy.failed",
      service: "web",
      environment: "staging",
      failed_step: "x",
    });
    const runId = firstRunId(sent);
    expect(await h.waitForRun(runId)).toEqual({ status: "failed", error_code: "MODEL_REQUIRED" });
  });

  it("on a real model: a tool outside the declared list is refused by the guard before it runs, and audited", async () => {
    await h.storeAnthropicKey(API_KEY);
    anthropic.reset([reply.toolUse({ name: "github_read_diff", input: {} })]);
    const sent = await sendEvent(skillId, triggerSecret, {
      type: "deploy.failed",
      service: "web",
      environment: "staging",
      failed_step: "test",
    });
    const runId = firstRunId(sent);
    expect(await h.waitForRun(runId)).toEqual({ status: "failed", error_code: "TOOL_NOT_ALLOWED" });
    // Offered: only the decision tool (slack.post_message and webhook.callback are effects, never offered).
    expect(anthropic.messageRequests[0]?.tools).toEqual(["record_decision"]);
    expect(JSON.stringify(anthropic.messageRequests[0]?.body["system"])).toContain("You triage failed deploys");
    const [denied] = await h.admin<{ canonical: Buffer }[]>`
      select canonical from audit_events where run_id = ${runId} and kind = 'guard.denied'`;
    expect(JSON.parse(denied!.canonical.toString())).toMatchObject({
      output: { code: "TOOL_NOT_ALLOWED", tool: "github.read.diff" },
    });
  });
});
