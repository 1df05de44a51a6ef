/**
 * A run queued before its Skill paused, reaching a worker after: refused with `SkillPausedError` before anything else —
 * no model call (no telemetry row, no step), no GitHub call, nothing posted — and once the Skill is resumed, the next
 * run of it works. The real worker, in-process, against the real Postgres, Redis and the sandbox GitHub.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startWorker } from "@praxa/worker";
import { addedPatch, startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

let h: WorkerHarness;
let worker: Awaited<ReturnType<typeof startWorker>>;

beforeAll(async () => {
  h = await startWorkerHarness();
  worker = await startWorker(h.env);
});
afterAll(async () => {
  await worker?.close();
  await h?.close();
});

describe("worker: a paused Skill", () => {
  it("a queued run reaching a worker → SKILL_PAUSED, no model call, nothing posted; after a resume the next run works", async () => {
    const pr = {
      number: 4100,
      title: "Queued before the pause",
      files: [{ filename: "src/payments/fee.ts", patch: addedPatch(["export const fee = 3;"]) }],
    };
    const runId = await h.createPrRun(pr);
    // The monitor paused the Skill after ingest queued the run.
    await h.admin`update skills set status = 'paused', paused_at = now(), paused_reason = 'acceptance below threshold', paused_by = 'monitor' where id = ${h.ws.skillId}`;
    const githubCallsBefore = Object.values(h.gh.calls).reduce((a, b) => a + b, 0);
    await h.enqueueRun(runId);
    expect(await h.waitForRun(runId)).toEqual({ status: "failed", error_code: "SKILL_PAUSED" });
    const [telemetry] = await h.admin<
      { n: number }[]
    >`select count(*)::int as n from agent_run_events where run_id = ${runId}`;
    const [steps] = await h.admin<{ n: number }[]>`select count(*)::int as n from run_steps where run_id = ${runId}`;
    expect({ telemetry: telemetry?.n, steps: steps?.n }).toEqual({ telemetry: 0, steps: 0 });
    expect(Object.values(h.gh.calls).reduce((a, b) => a + b, 0)).toBe(githubCallsBefore);
    expect(h.gh.sandbox.reviews("acme", "shop", 4100)).toHaveLength(0);

    // Resumed (as the superuser stands in for api_resume_skill here): the next run of the Skill is reviewed.
    await h.admin`update skills set status = 'active', paused_at = null, paused_reason = null, paused_by = null where id = ${h.ws.skillId}`;
    const next = await h.createPrRun({ ...pr, number: 4101 });
    await h.enqueueRun(next);
    expect(await h.waitForRun(next)).toEqual({ status: "succeeded", error_code: null });
  });
});
