/**
 * Outside answers classified by what they mean, end to end through the real worker (issue #19 items 3 and 7):
 *  - GitHub's secondary rate limit on the installation (403 + retry-after) is not a failure: the run is given back at
 *    once, delayed by GitHub's retry-after with the installation gated meanwhile, and succeeds afterwards;
 *  - the App uninstalled (the token request answers 404): the integration is marked revoked, its other waiting runs
 *    fail once with INTEGRATION_GONE instead of cycling through their attempts, and the change is audited
 *    (`integration.changed`) for the workspace to see.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startWorker } from "@praxa/worker";
import { addedPatch, INSTALLATION, startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

let h: WorkerHarness;
let worker: Awaited<ReturnType<typeof startWorker>> | undefined;

beforeAll(async () => {
  h = await startWorkerHarness({
    extraEnv: { WORKER_DISPATCH_POLL_MS: "100", LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent" },
  });
  worker = await startWorker(h.env);
});
afterAll(async () => {
  await worker?.close();
  await h?.close();
});

describe("GitHub's rate limit on the installation", () => {
  it("gives the run back with GitHub's retry-after and gates the installation; the run then succeeds", async () => {
    h.gh.failNext("repos", { kind: "secondary-rate-limit", retryAfterSeconds: 2 });
    const runId = await h.createPrRun({ number: 71, files: [{ filename: "src/a.ts", patch: addedPatch(["a"]) }] });
    expect(await h.waitForRun(runId, 60_000)).toEqual({ status: "succeeded", error_code: null });
    const [row] = await h.admin<
      { attempt: number; deferrals: number }[]
    >`select attempt, deferrals from agent_runs where id = ${runId}`;
    expect(row).toEqual({ attempt: 1, deferrals: 1 });
    const [gate] = await h.admin<
      { resource: string; code: string }[]
    >`select resource, code from run_gates where workspace_id = ${h.ws.workspaceId} and resource like 'integration:%'`;
    expect(gate).toEqual({ resource: `integration:${h.ws.integrationId}`, code: "GITHUB_RATE_LIMITED" });
    expect(h.gh.sandbox.reviews("acme", "shop", 71)).toHaveLength(1);
  }, 90_000);
});

describe("the App uninstalled", () => {
  it("fails the run and every other waiting run of the installation once, marks it revoked, and audits it", async () => {
    await worker?.close();
    worker = undefined;
    h.gh.removeInstallation(INSTALLATION);
    const ids = [];
    for (let i = 0; i < 4; i++)
      ids.push(
        await h.createPrRun({ number: 80 + i, files: [{ filename: `src/b${i}.ts`, patch: addedPatch(["b"]) }] }),
      );
    const tokenCallsBefore = h.gh.calls["POST /app/installations/:id/access_tokens"] ?? 0;
    worker = await startWorker({ ...h.env, WORKER_CONCURRENCY: "1" });
    for (const id of ids) expect(await h.waitForRun(id)).toEqual({ status: "failed", error_code: "INTEGRATION_GONE" });
    const rows = await h.admin<
      { attempt: number; failure_class: string }[]
    >`select attempt, failure_class from agent_runs where id = any(${ids})`;
    expect(rows.every((r) => r.failure_class === "integration_gone")).toBe(true);
    // Nobody cycled through attempts: one claim (the one that found it gone), the others failed without a claim.
    expect(rows.reduce((n, r) => n + r.attempt, 0)).toBe(1);
    expect((h.gh.calls["POST /app/installations/:id/access_tokens"] ?? 0) - tokenCallsBefore).toBe(1);
    const [integration] = await h.admin<
      { status: string }[]
    >`select status from integrations where id = ${h.ws.integrationId}`;
    expect(integration?.status).toBe("revoked");
    const audit = await h.admin<
      { trigger: string }[]
    >`select trigger from audit_events where workspace_id = ${h.ws.workspaceId} and kind = 'integration.changed'`;
    expect(audit.map((a) => a.trigger)).toEqual(["integration.gone"]);
  }, 90_000);
});
