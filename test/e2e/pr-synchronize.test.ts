/**
 * `synchronize`: after a review, a push is reviewed on its own commits only (GitHub's compare between the previous
 * head and the new one), and a comment already on the PR is never made again — by a redelivery or by a re-run.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startWorker } from "@praxa/worker";
import { addedPatch, startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

let h: WorkerHarness;
let worker: Awaited<ReturnType<typeof startWorker>>;
const C1 = "1".repeat(40);
const C2 = "2".repeat(40);
const fileA = { filename: "src/a.ts", patch: addedPatch(["// TODO: handle refunds", "export const a = 1;"]) };
const fileB = { filename: "src/b.ts", patch: addedPatch(["export const b = 2;", "console.log(b);"]) };

beforeAll(async () => {
  h = await startWorkerHarness();
  worker = await startWorker(h.env);
});
afterAll(async () => {
  await worker?.close();
  await h?.close();
});

describe("synchronize", () => {
  it("reviews only the pushed commits; never repeats a comment; a redelivery adds nothing", async () => {
    const opened = await h.createPrRun({
      number: 91,
      headSha: C1,
      files: [fileA],
      commits: [
        { sha: "0".repeat(40), files: [] },
        { sha: C1, files: [fileA] },
      ],
    });
    await h.enqueueRun(opened);
    expect((await h.waitForRun(opened)).status).toBe("succeeded");
    expect(h.gh.sandbox.reviews("acme", "shop", 91)[0]?.comments.map((c) => `${c.path}:${c.line}`)).toEqual([
      "src/a.ts:1",
    ]);

    // A push: commit C2 adds b.ts; the PR now shows both files.
    const pr = h.gh.sandbox.pullRequest("acme", "shop", 91)!;
    pr.headSha = C2;
    pr.files = [fileA, fileB];
    pr.commits = [...(pr.commits ?? []), { sha: C2, files: [fileB] }];
    const input = {
      repo: "acme/shop",
      prNumber: 91,
      headSha: C2,
      beforeSha: C1,
      baseRef: "main",
      draft: false,
      authorIsBot: false,
    };
    const sync = await h.createPrRun(
      { number: 91, headSha: C2, files: [fileA, fileB], commits: pr.commits },
      { trigger: "github.pull_request.synchronize", input },
    );
    await h.enqueueRun(sync);
    expect((await h.waitForRun(sync)).status).toBe("succeeded");
    const second = h.gh.sandbox.reviews("acme", "shop", 91)[1];
    expect(second?.comments.map((c) => `${c.path}:${c.line}`)).toEqual(["src/b.ts:2"]);

    // The same job again (a redelivery reaching the worker): the run is finished — nothing new.
    await h.queues.get("runs").remove(sync);
    await h.enqueueRun(sync);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(h.gh.sandbox.reviews("acme", "shop", 91)).toHaveLength(2);

    // A re-run of the same push (a new run): its review repeats no comment already on the PR.
    const rerun = await h.createPrRun(
      { number: 91, headSha: C2, files: [fileA, fileB], commits: pr.commits },
      { trigger: "github.pull_request.synchronize", input },
    );
    await h.enqueueRun(rerun);
    expect((await h.waitForRun(rerun)).status).toBe("succeeded");
    expect(h.gh.sandbox.reviews("acme", "shop", 91)[2]?.comments).toEqual([]);
    const [step] = await h.admin<
      { result: { skippedRepeats: number } }[]
    >`select result from run_steps where run_id = ${rerun} and kind = 'tool.github.comment.pr'`;
    expect(step?.result.skippedRepeats).toBe(1);
  });
});
