/**
 * The worker end to end, in-process against the real Postgres, Redis and the sandbox GitHub (driven by Octokit):
 * a `{runId}` job → claim by id → guards → the offline model → tools as the bot → one review → a signed audit event
 * in a chain that verifies → telemetry rows carrying only {tool_name, ms, code, iter}.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPublicKey } from "node:crypto";
import { verifyChain } from "@praxa/core";
import { createDatabase, readAuditChain, readAuditKeyset, readRunEvents, withWorkspace } from "@praxa/db";
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

async function chainVerifies(): Promise<boolean> {
  const api = createDatabase(h.tdb.roleUrl("praxa_api"), { max: 1 });
  const chain = await withWorkspace(api, h.ws.workspaceId, (s) => readAuditChain(s)).finally(() => api.close());
  // The fixture's first event is signed by a fixture key registered like any other.
  const keyset = new Map(
    (await readAuditKeyset(h.workerDb))
      .filter((k) => k.purpose === "event")
      .map((k) => [k.keyId, createPublicKey({ key: k.spki, format: "der", type: "spki" })]),
  );
  const result = verifyChain(chain, keyset, { workspaceId: h.ws.workspaceId });
  return result.ok && chain.length > 5;
}

describe("worker: a pull request reviewed end to end", () => {
  it("a risky payments change without tests → request_changes with inline comments, one review, one audit event", async () => {
    const runId = await h.createPrRun({
      number: 1284,
      title: "Speed up checkout",
      files: [
        {
          filename: "src/payments/checkout.ts",
          patch: addedPatch([
            "export function charge(amount: number) {",
            "  console.log(amount);",
            "  return amount * 100;",
            "}",
          ]),
        },
      ],
    });
    await h.enqueueRun(runId);
    expect(await h.waitForRun(runId)).toEqual({ status: "succeeded", error_code: null });

    const reviews = h.gh.sandbox.reviews("acme", "shop", 1284);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]?.event).toBe("REQUEST_CHANGES");
    expect(reviews[0]?.body).toContain("offline (deterministic rules");
    expect(reviews[0]?.comments.map((c) => c.line)).toEqual([2]);

    const [ev] = await h.admin<
      { kind: string; canonical: Buffer }[]
    >`select kind, canonical from audit_events where run_id = ${runId}`;
    expect(ev?.kind).toBe("skill.action");
    const record = JSON.parse(ev!.canonical.toString("utf8")) as Record<string, unknown>;
    expect(record).toMatchObject({
      trigger: "github.pull_request.opened",
      input: { prNumber: 1284, repo: "acme/shop" },
      output: { verdict: "request_changes" },
      tools_used: ["github.read.diff", "github.comment.pr"],
      model: "offline-rules/1",
    });
    expect((record.alternatives as { action: string }[]).map((a) => a.action)).toEqual([
      "approve",
      "request_changes",
      "escalate_human",
    ]);

    const events = await withWorkspace(h.workerDb, h.ws.workspaceId, (s) => readRunEvents(s, runId));
    expect(events.map((e) => e.tool_name)).toEqual(["model", "github.read.diff", "model", "github.comment.pr"]);
    for (const e of events) expect(Object.keys(e).sort()).toEqual(["code", "iter", "ms", "tool_name"]);

    // Sealed step content (the diff, the model's turns) is purged once the run ends.
    const [sealed] = await h.admin<
      { n: number }[]
    >`select count(*)::int as n from run_steps where run_id = ${runId} and result_sealed is not null`;
    expect(sealed?.n).toBe(0);
  });

  it("author history in the repo: a first-timer in a risky directory is noted; a regular is not", async () => {
    h.gh.sandbox.addCommits("acme", "shop", [
      { author: "regular", paths: ["src/auth/session.ts"] },
      { author: "regular", paths: ["src/auth/login.ts"] },
    ]);
    const change = { filename: "src/auth/session.ts", patch: addedPatch(["export const ttl = 3600;"]) };
    const first = await h.createPrRun({ number: 14, author: { login: "newcomer", type: "User" }, files: [change] });
    const known = await h.createPrRun({ number: 15, author: { login: "regular", type: "User" }, files: [change] });
    await h.enqueueRun(first);
    await h.enqueueRun(known);
    await h.waitForRun(first);
    await h.waitForRun(known);
    expect(h.gh.sandbox.reviews("acme", "shop", 14)[0]?.body).toContain("Author has 0 prior commits in src/auth.");
    expect(h.gh.sandbox.reviews("acme", "shop", 15)[0]?.body).not.toContain("prior commits");
  });

  it("a docs-only change is approved; a draft PR is skipped without a model call", async () => {
    const docs = await h.createPrRun({
      number: 7,
      files: [{ filename: "docs/intro.md", patch: addedPatch(["# Intro", "Hello."]) }],
    });
    const draft = await h.createPrRun({
      number: 8,
      draft: true,
      files: [{ filename: "src/a.ts", patch: addedPatch(["x"]) }],
    });
    await h.enqueueRun(docs);
    await h.enqueueRun(draft);
    expect((await h.waitForRun(docs)).status).toBe("succeeded");
    expect(await h.waitForRun(draft)).toEqual({ status: "skipped", error_code: "DRAFT_PR" });
    expect(h.gh.sandbox.reviews("acme", "shop", 7)[0]?.event).toBe("APPROVE");
    expect(h.gh.sandbox.reviews("acme", "shop", 8)).toHaveLength(0);
    // Only the configuration step ran (a repository may opt drafts in): no model call, no tool.
    const steps = await h.admin<{ kind: string }[]>`select kind from run_steps where run_id = ${draft}`;
    expect(steps.map((x) => x.kind)).toEqual(["config.prepare"]);
  });

  it("a change without tests → request_changes; the same change with its test → approve", async () => {
    const code = {
      filename: "src/cart/discount.ts",
      patch: addedPatch(["export const discount = (p: number) => p * 0.9;"]),
    };
    const untested = await h.createPrRun({ number: 12, files: [code] });
    const tested = await h.createPrRun({
      number: 13,
      files: [code, { filename: "src/cart/discount.test.ts", patch: addedPatch(['it("discounts", () => {});']) }],
    });
    await h.enqueueRun(untested);
    await h.enqueueRun(tested);
    expect((await h.waitForRun(untested)).status).toBe("succeeded");
    expect((await h.waitForRun(tested)).status).toBe("succeeded");
    expect(h.gh.sandbox.reviews("acme", "shop", 12)[0]?.event).toBe("REQUEST_CHANGES");
    expect(h.gh.sandbox.reviews("acme", "shop", 12)[0]?.body).toContain("no test changed or added");
    expect(h.gh.sandbox.reviews("acme", "shop", 13)[0]?.event).toBe("APPROVE");
  });

  it("a trigger the manifest does not list → TRIGGER_NOT_ALLOWED, audited, and no model call at all", async () => {
    const runId = await h.createPrRun(
      { number: 9, files: [{ filename: "src/a.ts", patch: addedPatch(["x"]) }] },
      { trigger: "github.issue_comment.created" },
    );
    await h.enqueueRun(runId);
    expect(await h.waitForRun(runId)).toEqual({ status: "failed", error_code: "TRIGGER_NOT_ALLOWED" });
    const kinds = await h.admin<{ kind: string }[]>`select kind from audit_events where run_id = ${runId}`;
    expect(kinds.map((k) => k.kind)).toEqual(["guard.denied"]);
    const steps = await h.admin`select 1 from run_steps where run_id = ${runId}`;
    expect(steps).toHaveLength(0);
    const events = await withWorkspace(h.workerDb, h.ws.workspaceId, (s) => readRunEvents(s, runId));
    expect(events).toEqual([{ tool_name: "unknown", ms: 0, code: "TRIGGER_NOT_ALLOWED", iter: 0 }]);
  });

  it("a job carrying another workspace id as a hint runs as the run row’s workspace", async () => {
    const runId = await h.createPrRun({ number: 10, files: [{ filename: "README.md", patch: addedPatch(["hi"]) }] });
    await h.enqueueRun(runId, { workspaceId: "ws_01jzzzzzzzzzzzzzzzzzzzzzzz" });
    expect((await h.waitForRun(runId)).status).toBe("succeeded");
    const [ev] = await h.admin<
      { workspace_id: string }[]
    >`select workspace_id from audit_events where run_id = ${runId}`;
    expect(ev?.workspace_id).toBe(h.ws.workspaceId);
  });

  it("a second delivery of the same job after success changes nothing: no second review, no second audit event", async () => {
    const runId = await h.createPrRun({
      number: 11,
      files: [{ filename: "src/b.ts", patch: addedPatch(["const a = 1;"]) }],
    });
    await h.enqueueRun(runId);
    await h.waitForRun(runId);
    await h.queues.get("runs").remove(runId);
    await h.enqueueRun(runId);
    await new Promise((r) => setTimeout(r, 1500));
    expect(h.gh.sandbox.reviews("acme", "shop", 11)).toHaveLength(1);
    const evs = await h.admin`select 1 from audit_events where run_id = ${runId}`;
    expect(evs).toHaveLength(1);
  });

  it("the workspace chain still verifies with every event signed", async () => {
    expect(await chainVerifies()).toBe(true);
  });
});
