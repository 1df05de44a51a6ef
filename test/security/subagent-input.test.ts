/**
 * Sub-agent inputs (security review, finding 6). A scripted model (the real Anthropic SDK against the loopback
 * Messages API) running pr-review on acme/shop dispatches a pr-review sub-agent:
 *  - naming another repository in its arguments → refused with SUBAGENT_SUBJECT_FOREIGN (a guard denial, audited),
 *    before any child exists — the model never chooses what a child acts on;
 *  - with arguments the child's declared input refuses (free text in them) → SUBAGENT_INPUT_INVALID, no child;
 *  - with a task carrying a canary and a valid focus → the child runs on the PARENT's pull request (its input is the
 *    parent's subject plus `subagent: {focus}`), its model reads the task (opened under the child's lease), and once
 *    the runs end the canary is in no table (plain text or hex), not in GET /v1/runs or /v1/runs/:id, not in the
 *    worker's logs, not in Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { buildApiServer } from "@praxa/api";
import { mintApiTokenMaterial, type RunId } from "@praxa/core";
import { createDatabase, type Database } from "@praxa/db";
import { createLogger } from "@praxa/observability";
import { createAnthropicProvider, withModelRetries } from "@praxa/runtime";
import { PR_REVIEW_MANIFEST } from "@praxa/skills";
import { reply, startAnthropicServer, type AnthropicServer, type ScriptedRequest } from "@praxa/testkit";
import { startWorker } from "@praxa/worker";
import { addedPatch, APPROVING_DECISION, startWorkerHarness, type WorkerHarness } from "../e2e/worker-harness.js";

const API_KEY = `sk-ant-api03-${"s".repeat(40)}`;
const CANARY = `CANARY-${randomUUID()}`;
const CANARY_HEX = Buffer.from(CANARY, "utf8").toString("hex");
const MANIFEST = {
  ...PR_REVIEW_MANIFEST,
  triggers: [...PR_REVIEW_MANIFEST.triggers, "subagent.dispatch"],
  tools: [...PR_REVIEW_MANIFEST.tools, "subagent.dispatch"],
  subAgents: { allowed: ["pr-review"], maxDepth: 1 },
};
const CHILD_MARK = "The Skill that dispatched this run asks";

let h: WorkerHarness;
let anthropic: AnthropicServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let apiDb: Database;
let api: FastifyInstance;
let apiBase: string;
let apiToken: string;
const logLines: string[] = [];
/** What the parent's model asks for on its first turn (each test sets it). */
let parentDispatch: unknown = null;

function firstUserText(r: ScriptedRequest): string {
  const m = (r.body.messages as { content: unknown }[])[0];
  const c = m?.content;
  return typeof c === "string" ? c : JSON.stringify(c);
}

beforeAll(async () => {
  h = await startWorkerHarness({ manifest: MANIFEST, extraEnv: { LOG_LEVEL: "debug" } });
  anthropic = await startAnthropicServer({ apiKey: API_KEY });
  await h.storeAnthropicKey(API_KEY);
  // One script for parent and child: the child's first message carries its parent's task.
  anthropic.setScript((r) => {
    const turns = (r.body.messages as unknown[]).length;
    if (firstUserText(r).includes(CHILD_MARK))
      return turns === 1
        ? reply.toolUse({ name: "github_read_diff", input: {} })
        : reply.toolUse({ name: "record_decision", input: APPROVING_DECISION });
    return turns === 1
      ? reply.toolUse({ name: "subagent_dispatch", input: parentDispatch })
      : reply.toolUse({ name: "record_decision", input: APPROVING_DECISION });
  });
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(chunk.toString("utf8"));
      cb();
    },
  });
  worker = await startWorker(h.env, {
    logDestination: destination,
    providerFactory: (json) =>
      withModelRetries(
        createAnthropicProvider({ apiKey: (JSON.parse(json) as { apiKey: string }).apiKey, baseURL: anthropic.url }),
        { maxAttempts: 1 },
      ),
  });
  apiDb = createDatabase(h.tdb.roleUrl("praxa_api"), { max: 2 });
  api = await buildApiServer({ database: apiDb, log: createLogger({ name: "api-test", level: "trace", destination }) });
  apiBase = await api.listen({ port: 0, host: "127.0.0.1" });
  const m = mintApiTokenMaterial(h.ws.workspaceId);
  await h.admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
                values (${h.ws.workspaceId}, ${m.tokenId}, ${h.ws.memberId}, 'human', 'test', ${m.secretSha256}, now() + interval '1 hour')`;
  apiToken = m.token;
});
afterAll(async () => {
  await worker?.close();
  await api?.close();
  await apiDb?.close();
  await anthropic?.close();
  await h?.close();
});

async function children(parent: RunId): Promise<{ id: RunId; input: Record<string, unknown> }[]> {
  return h.admin<
    { id: RunId; input: Record<string, unknown> }[]
  >`select id, input from agent_runs where parent_run_id = ${parent}`;
}

async function deniedCodes(runId: RunId): Promise<unknown[]> {
  const rows = await h.admin<
    { canonical: Buffer }[]
  >`select canonical from audit_events where run_id = ${runId} and kind = 'guard.denied'`;
  return rows.map((r) => (JSON.parse(r.canonical.toString("utf8")) as { output: unknown }).output);
}

/** Every row of every table of ours, as text (the admin role bypasses row-level security). */
async function everyTableAsText(): Promise<string> {
  const tables = await h.admin<{ t: string }[]>`
    select format('%I.%I', table_schema, table_name) as t from information_schema.tables
     where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`;
  expect(tables.map((t) => t.t)).toContain("public.subagent_tasks");
  const parts: string[] = [];
  for (const { t } of tables) {
    const rows = await h.admin.unsafe<{ row: string }[]>(`select x::text as row from ${t} x`);
    parts.push(...rows.map((r) => r.row));
  }
  return parts.join("\n");
}

async function get(path: string): Promise<string> {
  const res = await fetch(apiBase + path, { headers: { authorization: `Bearer ${apiToken}` } });
  expect(res.status).toBe(200);
  return res.text();
}

describe("sub-agent inputs: the child’s subject is its parent’s, its schema is checked, its task is sealed", () => {
  it("a dispatch naming another repository is refused with a typed, audited guard error; no child exists", async () => {
    parentDispatch = {
      skill: "pr-review",
      task: `Look at this too ${CANARY}`,
      input: { repo: "evil/other", prNumber: 1 },
    };
    const parent = await h.createPrRun({ number: 61, files: [{ filename: "src/a.ts", patch: addedPatch(["x"]) }] });
    await h.enqueueRun(parent);
    expect(await h.waitForRun(parent)).toEqual({ status: "failed", error_code: "SUBAGENT_SUBJECT_FOREIGN" });
    expect(await children(parent)).toEqual([]);
    expect(await deniedCodes(parent)).toEqual([{ code: "SUBAGENT_SUBJECT_FOREIGN", tool: "subagent.dispatch" }]);
    expect(h.gh.sandbox.reviews("evil", "other", 1)).toHaveLength(0);
  });

  it("arguments the child Skill’s declared input refuses are refused before the child is created", async () => {
    parentDispatch = { skill: "pr-review", input: { focus: "everything", notes: `free text ${CANARY}` } };
    const parent = await h.createPrRun({ number: 62, files: [{ filename: "src/a.ts", patch: addedPatch(["x"]) }] });
    await h.enqueueRun(parent);
    expect(await h.waitForRun(parent)).toEqual({ status: "failed", error_code: "SUBAGENT_INPUT_INVALID" });
    expect(await children(parent)).toEqual([]);
    expect(await deniedCodes(parent)).toEqual([{ code: "SUBAGENT_INPUT_INVALID", tool: "subagent.dispatch" }]);
  });

  it("a valid dispatch: the child reviews the parent’s PR, reads the task, and the task is stored nowhere in plain text", async () => {
    // Restating the parent's own repository is harmless: it is dropped, the subject comes from the parent's row.
    parentDispatch = {
      skill: "pr-review",
      task: `Check the refund path ${CANARY}`,
      input: { focus: "security", repo: "acme/shop" },
    };
    const parent = await h.createPrRun({
      number: 63,
      files: [{ filename: "src/payments/refund.ts", patch: addedPatch(["refund()"]) }],
    });
    await h.enqueueRun(parent);
    expect(await h.waitForRun(parent)).toEqual({ status: "succeeded", error_code: null });
    const kids = await children(parent);
    expect(kids).toHaveLength(1);
    const child = kids[0]!;
    const [parentRow] = await h.admin<
      { input: Record<string, unknown> }[]
    >`select input from agent_runs where id = ${parent}`;
    expect(child.input).toEqual({ ...parentRow!.input, subagent: { focus: "security" } });
    expect(await h.waitForRun(child.id)).toEqual({ status: "succeeded", error_code: null });

    // The child acted on the parent's PR, and its model was given the task (opened under the child's lease).
    expect(h.gh.sandbox.reviews("acme", "shop", 63)).toHaveLength(2);
    const childRequests = anthropic.messageRequests.filter((r) => firstUserText(r).includes(CHILD_MARK));
    expect(childRequests.length).toBeGreaterThan(0);
    expect(firstUserText(childRequests[0]!)).toContain(CANARY);
    expect(firstUserText(childRequests[0]!)).toContain("Weigh security first.");
    expect(firstUserText(childRequests[0]!)).toContain("#63 in acme/shop");

    // After the runs end: the sealed task is purged, and the canary is nowhere at rest, in the api or in the logs.
    expect(await h.admin`select 1 from subagent_tasks`).toHaveLength(0);
    const everything = await everyTableAsText();
    expect(everything).toContain(child.id);
    expect(everything).not.toContain(CANARY);
    expect(everything).not.toContain(CANARY_HEX);
    const list = await get("/v1/runs?limit=200");
    expect(list).toContain(child.id);
    expect(list).not.toContain(CANARY);
    expect(await get(`/v1/runs/${child.id}`)).not.toContain(CANARY);
    expect(logLines.join("")).toContain(child.id);
    expect(logLines.join("")).not.toContain(CANARY);
    for (const k of await h.redis.keys(`${h.env.PRAXA_QUEUE_PREFIX}:*`)) {
      const type = await h.redis.type(k);
      const dump =
        type === "hash"
          ? JSON.stringify(await h.redis.hgetall(k))
          : type === "string"
            ? ((await h.redis.get(k)) ?? "")
            : "";
      expect(dump).not.toContain(CANARY);
    }
  });
});
