/**
 * Configuration as code through the whole pipeline: `.praxa.yaml` read as the bot from the default branch can narrow
 * the review (ignored paths, drafts opted in) but never widen the Skill — a file adding a tool is refused with a typed
 * error, reported on the PR, and the run proceeds under the published manifest. Its snapshot hash goes into the
 * audit event; another repository's runs carry none of it.
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

async function auditInputOf(runId: string): Promise<Record<string, unknown>> {
  const [ev] = await h.admin<
    { canonical: Buffer }[]
  >`select canonical from audit_events where run_id = ${runId} and kind = 'skill.action'`;
  return (JSON.parse(ev!.canonical.toString()) as { input: Record<string, unknown> }).input;
}

describe(".praxa.yaml", () => {
  it("a file that tries to add a tool → REPO_CONFIG_WIDENS_MANIFEST on the PR; the run proceeds under the published manifest", async () => {
    h.gh.sandbox.setBranchFile(
      "acme",
      "shop",
      "main",
      ".praxa.yaml",
      "version: 1\ntools: [github.read.diff, github.comment.pr, slack.post_message]\n",
    );
    const runId = await h.createPrRun({
      number: 81,
      files: [{ filename: "src/a.ts", patch: addedPatch(["export const a = 1;"]) }],
    });
    await h.enqueueRun(runId);
    expect((await h.waitForRun(runId)).status).toBe("succeeded");
    const [review] = h.gh.sandbox.reviews("acme", "shop", 81);
    expect(review?.body).toContain("REPO_CONFIG_WIDENS_MANIFEST");
    expect(review?.body).toContain("tool slack.post_message");
    expect(await auditInputOf(runId)).toMatchObject({ repoConfigSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const tools = await h.admin<
      { meta: { tool_name: string } }[]
    >`select meta from agent_run_events where run_id = ${runId}`;
    expect(tools.map((t) => t.meta.tool_name)).not.toContain("slack.post_message");

    // A push to the same PR under the same configuration: reviewed again, the problem not reported again.
    const again = await h.createPrRun(
      { number: 81, files: [{ filename: "src/a.ts", patch: addedPatch(["export const a = 2;"]) }] },
      { trigger: "github.pull_request.reopened" },
    );
    await h.enqueueRun(again);
    expect((await h.waitForRun(again)).status).toBe("succeeded");
    const reviews = h.gh.sandbox.reviews("acme", "shop", 81);
    expect(reviews).toHaveLength(2);
    expect(reviews[1]?.body).not.toContain("REPO_CONFIG_WIDENS_MANIFEST");
  });

  it("narrowing applies: ignored paths get no comments, drafts can be opted in; another repo is untouched", async () => {
    h.gh.sandbox.setBranchFile(
      "acme",
      "shop",
      "main",
      ".praxa.yaml",
      'version: 1\nreview:\n  ignore: ["src/generated/**"]\n  review_drafts: true\n',
    );
    const runId = await h.createPrRun({
      number: 82,
      draft: true,
      files: [
        { filename: "src/generated/api.ts", patch: addedPatch(['console.log("generated")']) },
        { filename: "src/generated/api.test.ts", patch: addedPatch(["test"]) },
      ],
    });
    await h.enqueueRun(runId);
    expect((await h.waitForRun(runId)).status).toBe("succeeded");
    const [review] = h.gh.sandbox.reviews("acme", "shop", 82);
    expect(review?.comments).toEqual([]);
    expect(review?.event).toBe("APPROVE");

    const other = await h.createPrRun({
      number: 83,
      repo: "other",
      draft: true,
      files: [{ filename: "src/generated/api.ts", patch: addedPatch(['console.log("x")']) }],
    });
    await h.enqueueRun(other);
    expect(await h.waitForRun(other)).toEqual({ status: "skipped", error_code: "DRAFT_PR" });
  });

  it("the snapshot hash differs per repository: a repo without the file records none", async () => {
    const runId = await h.createPrRun({
      number: 84,
      repo: "other",
      files: [{ filename: "README.md", patch: addedPatch(["hi"]) }],
    });
    await h.enqueueRun(runId);
    expect((await h.waitForRun(runId)).status).toBe("succeeded");
    expect(await auditInputOf(runId)).not.toHaveProperty("repoConfigSha256");
  });
});
