/**
 * At-least-once execution, exactly-once effects. A real worker process is SIGKILLed after GitHub stored its review but
 * before the worker recorded that step; a new worker takes the run over once the lease expires, replays the recorded
 * steps, finds its own review by the hidden marker instead of posting again, and completes the run: the PR has
 * exactly one review and the run exactly one audit event. The killed holder's late write (stale lease) is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { recordRunStep, withWorkspace } from "@praxa/db";
import { startWorker } from "@praxa/worker";
import { addedPatch, startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

const WORKER_MAIN = fileURLToPath(new URL("../../apps/worker/dist/main.js", import.meta.url));
let h: WorkerHarness;
let child: ChildProcess | undefined;
let second: Awaited<ReturnType<typeof startWorker>> | undefined;

beforeAll(async () => {
  h = await startWorkerHarness({ extraEnv: { WORKER_LEASE_SECONDS: "5", WORKER_STALLED_INTERVAL_MS: "2000" } });
});
afterAll(async () => {
  // Gone before the harness removes the Redis prefix, so it cannot write a key behind the sweep.
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child?.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }
  await second?.close();
  await h?.close();
});

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("SIGKILL between the comment and its record", () => {
  it("the run completes on another worker with exactly one review, and the dead holder is fenced off", async () => {
    h.gh.sandbox.holdReviewResponses = true;
    child = spawn(process.execPath, [WORKER_MAIN], {
      env: { ...process.env, ...h.env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const runId = await h.createPrRun({
      number: 31,
      files: [{ filename: "src/payments/pay.ts", patch: addedPatch(["export const pay = () => 1;"]) }],
    });
    await h.enqueueRun(runId);

    await until("GitHub to store the review", () => h.gh.sandbox.reviews("acme", "shop", 31).length === 1);
    const [held] = await h.admin<
      { token: string }[]
    >`select lease_token::text as token from agent_runs where id = ${runId}`;
    const [open] = await h.admin<
      { status: string }[]
    >`select status from run_steps where run_id = ${runId} and kind = 'tool.github.comment.pr'`;
    expect(open?.status).toBe("started"); // the effect happened; its record did not
    child.kill("SIGKILL");
    await new Promise((r) => child?.once("exit", r));
    expect(stderr).toBe("");
    h.gh.sandbox.holdReviewResponses = false;
    h.gh.sandbox.releaseHeld();

    await new Promise((r) => setTimeout(r, 5_500)); // the dead worker's lease (5 s) runs out
    second = await startWorker(h.env);
    expect(await h.waitForRun(runId, 30_000)).toEqual({ status: "succeeded", error_code: null });

    expect(h.gh.sandbox.reviews("acme", "shop", 31)).toHaveLength(1);
    const audit = await h.admin<{ kind: string }[]>`select kind from audit_events where run_id = ${runId}`;
    expect(audit.map((a) => a.kind)).toEqual(["skill.action"]);
    const [step] = await h.admin<
      { status: string; result: { reused: boolean } }[]
    >`select status, result from run_steps where run_id = ${runId} and kind = 'tool.github.comment.pr'`;
    expect(step).toMatchObject({ status: "completed", result: { reused: true } });

    // The killed holder's late write, with its old fencing token, is refused by Postgres.
    const late = withWorkspace(h.workerDb, h.ws.workspaceId, (s) =>
      recordRunStep(
        s,
        { runId, token: held!.token, expiresAt: new Date() },
        { idx: 99, kind: "tool.github.comment.pr", idempotencyKey: "late", status: "completed", result: {} },
      ),
    );
    await expect(late).rejects.toMatchObject({ code: "LEASE_LOST" });
    await second.close();
    second = undefined;
  }, 60_000);
});

describe("SIGTERM", () => {
  it("stops taking jobs, finishes the in-flight run within the grace period, and exits 0", async () => {
    h.gh.sandbox.holdReviewResponses = true;
    // One slot: while the held run occupies it, the worker cannot fetch the next job before it has seen SIGTERM.
    const proc = spawn(process.execPath, [WORKER_MAIN], {
      env: { ...process.env, ...h.env, WORKER_SHUTDOWN_GRACE_MS: "20000", WORKER_CONCURRENCY: "1" },
      stdio: ["ignore", "ignore", "ignore"],
    });
    const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
    const runId = await h.createPrRun({
      number: 32,
      files: [{ filename: "src/x.ts", patch: addedPatch(["export const x = 1;"]) }],
    });
    await h.enqueueRun(runId);
    await until(
      "the review to be stored (the run is in flight)",
      () => h.gh.sandbox.reviews("acme", "shop", 32).length === 1,
    );
    proc.kill("SIGTERM");
    const queued = await h.createPrRun({
      number: 33,
      files: [{ filename: "src/y.ts", patch: addedPatch(["export const y = 1;"]) }],
    });
    await h.enqueueRun(queued);
    await new Promise((r) => setTimeout(r, 1_000));
    h.gh.sandbox.holdReviewResponses = false;
    h.gh.sandbox.releaseHeld();
    expect(await exited).toBe(0);
    expect(await h.waitForRun(runId, 5_000)).toEqual({ status: "succeeded", error_code: null });
    // The job that arrived after SIGTERM was not taken: its run is still queued for the next worker.
    const [later] = await h.admin<{ status: string }[]>`select status from agent_runs where id = ${queued}`;
    expect(later?.status).toBe("queued");
  }, 60_000);
});
