/**
 * Replay: `pnpm praxa audit replay` reconstructs a recorded offline decision from its audit record — the CLI records a
 * request and a worker (running here) re-fetches the diff as the bot and checks it against the recorded hash — and
 * reproduces it exactly. An input that changed since (the PR's diff, or the run row's recorded input) is named, and
 * the replay fails.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startWorker } from "@praxa/worker";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { newId } from "@praxa/core";
import { addedPatch, startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

let h: WorkerHarness;
let worker: Awaited<ReturnType<typeof startWorker>>;
let env: Record<string, string>;
const CLI = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));

/** `pnpm praxa audit replay …` as an operator runs it: the compiled CLI in its own process. */
function replayAuditEvent(
  e: Record<string, string>,
  workspace: string,
  event: string,
): Promise<{ ok: boolean; lines: string[] }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, "audit", "replay", "--workspace", workspace, "--event", event], {
      env: { ...process.env, ...e },
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => resolve({ ok: code === 0, lines: out.split("\n").filter((l) => l.length > 0) }));
  });
}

beforeAll(async () => {
  h = await startWorkerHarness();
  worker = await startWorker(h.env);
  env = { ...h.env, DATABASE_URL: h.tdb.adminUrl, API_DATABASE_URL: h.tdb.roleUrl("praxa_api") };
});
afterAll(async () => {
  await worker?.close();
  await h?.close();
});

async function reviewed(number: number, lines: string[]): Promise<{ runId: string; eventId: string }> {
  const runId = await h.createPrRun({
    number,
    files: [{ filename: "src/billing/invoice.ts", patch: addedPatch(lines) }],
  });
  await h.enqueueRun(runId);
  expect((await h.waitForRun(runId)).status).toBe("succeeded");
  const [ev] = await h.admin<
    { id: string }[]
  >`select id from audit_events where run_id = ${runId} and kind = 'skill.action'`;
  return { runId, eventId: ev!.id };
}

describe("audit replay", () => {
  it("reproduces a recorded offline decision exactly from re-fetched inputs that match their hashes", async () => {
    const { eventId } = await reviewed(71, ["export const due = (d: Date) => d;", "console.log(due);"]);
    const r = await replayAuditEvent(env, h.ws.workspaceId, eventId);
    expect(r.lines.join("\n")).toContain("identical to the recorded decision");
    expect(r.lines.some((l) => /^step \d+ \(github\.read\.diff\): tool result matches its recorded hash/.test(l))).toBe(
      true,
    );
    expect(r.ok).toBe(true);
  });

  it("names the input that changed since: the PR’s diff re-fetched as the bot", async () => {
    const { eventId } = await reviewed(72, ["export const total = 1;"]);
    const pr = h.gh.sandbox.pullRequest("acme", "shop", 72)!;
    pr.files = [
      { filename: "src/billing/invoice.ts", patch: addedPatch(["export const total = 2; // edited after the review"]) },
    ];
    const r = await replayAuditEvent(env, h.ws.workspaceId, eventId);
    expect(r.ok).toBe(false);
    expect(r.lines.join("\n")).toMatch(/step \d+ \(github\.read\.diff\): tool result CHANGED/);
  });

  it("names the input that changed since: the run row’s recorded input", async () => {
    const { runId, eventId } = await reviewed(73, ["export const x = 3;"]);
    await h.admin`update agent_runs set input = jsonb_set(input, '{prNumber}', '999') where id = ${runId}`;
    const r = await replayAuditEvent(env, h.ws.workspaceId, eventId);
    expect(r.ok).toBe(false);
    expect(r.lines.join("\n")).toContain("input field `prNumber`: CHANGED");
  });

  // Last: from here on the workspace has two GitHub installations.
  it("re-fetches through the installation the run came through, not the workspace’s first (issue 16, finding 9)", async () => {
    h.gh.addInstallation({ id: 6161, account: "globex", permissions: { pull_requests: "write", contents: "read" } });
    const integrationId = newId("integration");
    await h.admin`insert into integrations (workspace_id, id, provider, external_id, bot_identity) values (${h.ws.workspaceId}, ${integrationId}, 'github', '6161', ${h.admin.json({ login: "praxa-sandbox[bot]" })})`;
    const headSha = "ab".repeat(20);
    h.gh.sandbox.addPullRequest({
      owner: "globex",
      repo: "app",
      number: 74,
      title: "Change",
      body: "",
      author: { login: "dev", type: "User" },
      headSha,
      baseRef: "main",
      files: [{ filename: "src/a.ts", patch: addedPatch(["export const a = 1;"]) }],
    });
    const runId = newId("run");
    const input = {
      repo: "globex/app",
      prNumber: 74,
      headSha,
      baseRef: "main",
      draft: false,
      authorLogin: "dev",
      authorIsBot: false,
    };
    await h.admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input, integration_id)
                  values (${h.ws.workspaceId}, ${runId}, ${h.ws.skillId}, ${h.ws.skillVersionId}, 'github.pull_request.opened', 'github', ${h.admin.json(input)}, ${integrationId})`;
    await h.enqueueRun(runId);
    expect((await h.waitForRun(runId)).status).toBe("succeeded");
    const [ev] = await h.admin<
      { id: string }[]
    >`select id from audit_events where run_id = ${runId} and kind = 'skill.action'`;
    const r = await replayAuditEvent(env, h.ws.workspaceId, ev!.id);
    expect(r.lines.join("\n")).toContain("identical to the recorded decision");
    expect(r.ok).toBe(true);
    const grant = h.gh.grants.at(-1);
    expect(grant).toMatchObject({
      installationId: 6161,
      repositories: ["app"],
      permissions: { contents: "read", pull_requests: "read" },
    });
  });
});
