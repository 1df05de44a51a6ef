/**
 * The memory and sub-agent tools through the worker, driven by a scripted model (the real Anthropic SDK against the
 * loopback Messages API): memory.write lands in the Skill's own namespace (the model names a key, never a namespace);
 * subagent.dispatch creates a child run of an allowed Skill of the same workspace and enqueues it (the child's own
 * guards then apply); a dispatch to a Skill the manifest does not list → SUBAGENT_NOT_ALLOWED, audited.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { manifestHash, newId } from "@praxa/core";
import { createAnthropicProvider, withModelRetries } from "@praxa/runtime";
import { PR_REVIEW_MANIFEST, SLACK_ANSWER_MANIFEST } from "@praxa/skills";
import { reply, startAnthropicServer, type AnthropicServer } from "@praxa/testkit";
import { startWorker } from "@praxa/worker";
import type postgres from "postgres";
import { startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

const API_KEY = `sk-ant-api03-${"t".repeat(40)}`;
const MANIFEST = {
  ...SLACK_ANSWER_MANIFEST,
  tools: [...SLACK_ANSWER_MANIFEST.tools, "memory.write", "subagent.dispatch"],
  subAgents: { allowed: ["pr-review"], maxDepth: 1 },
};
let h: WorkerHarness;
let anthropic: AnthropicServer;
let worker: Awaited<ReturnType<typeof startWorker>>;

beforeAll(async () => {
  h = await startWorkerHarness({ manifest: MANIFEST });
  anthropic = await startAnthropicServer({ apiKey: API_KEY });
  await h.storeAnthropicKey(API_KEY);
  const prSkill = newId("skill");
  await h.admin`insert into skills (workspace_id, id, slug, name) values (${h.ws.workspaceId}, ${prSkill}, 'pr-review', 'PR review')`;
  await h.admin`insert into skill_versions (workspace_id, id, skill_id, version, manifest, manifest_hash)
    values (${h.ws.workspaceId}, ${newId("skillVersion")}, ${prSkill}, 1, ${h.admin.json(PR_REVIEW_MANIFEST as unknown as postgres.JSONValue)}, ${manifestHash(PR_REVIEW_MANIFEST)})`;
  worker = await startWorker(h.env, {
    providerFactory: (json) =>
      withModelRetries(
        createAnthropicProvider({ apiKey: (JSON.parse(json) as { apiKey: string }).apiKey, baseURL: anthropic.url }),
        { maxAttempts: 1 },
      ),
  });
});
afterAll(async () => {
  await worker?.close();
  await anthropic?.close();
  await h?.close();
});

describe("memory and sub-agent tools", () => {
  it("writes memory in the Skill’s namespace, dispatches an allowed sub-agent once, refuses one not listed", async () => {
    anthropic.reset([
      reply.toolUse({ name: "memory_write", input: { key: "last-question", value: { text: "vpn" } } }),
      reply.toolUse({ name: "subagent_dispatch", input: { skill: "pr-review", input: { focus: "tests" } } }),
      reply.toolUse({ name: "subagent_dispatch", input: { skill: "deploy-prod", input: {} } }),
    ]);
    const runId = newId("run");
    await h.admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, input)
      values (${h.ws.workspaceId}, ${runId}, ${h.ws.skillId}, ${h.ws.skillVersionId}, 'slack.app_mention', 'slack', ${h.admin.json({ teamId: "T0PRAXA01", channel: "C0PRAXA01", messageTs: "1.1", threadTs: "1.1", userId: "U1" })})`;
    await h.enqueueRun(runId);
    expect(await h.waitForRun(runId)).toEqual({ status: "failed", error_code: "SUBAGENT_NOT_ALLOWED" });

    const facts = await h.admin<
      { namespace: string; value: unknown }[]
    >`select namespace, value from memory_facts where key = 'last-question'`;
    expect(facts).toEqual([{ namespace: "faq", value: { text: "vpn" } }]);

    const children = await h.admin<{ id: string; source: string; trigger: string; skill_slug: string }[]>`
      select r.id, r.source, r.trigger, s.slug as skill_slug from agent_runs r join skills s on s.id = r.skill_id where r.parent_run_id = ${runId}`;
    expect(children).toHaveLength(1);
    expect(children[0]).toMatchObject({ source: "subagent", trigger: "subagent.dispatch", skill_slug: "pr-review" });
    // The child ran under its own manifest's guards: pr-review does not accept dispatch, so it is refused there too.
    expect(await h.waitForRun(children[0]!.id as never)).toEqual({
      status: "failed",
      error_code: "TRIGGER_NOT_ALLOWED",
    });

    const [denied] = await h.admin<
      { canonical: Buffer }[]
    >`select canonical from audit_events where run_id = ${runId} and kind = 'guard.denied'`;
    expect(JSON.parse(denied!.canonical.toString())).toMatchObject({
      output: { code: "SUBAGENT_NOT_ALLOWED", tool: "subagent.dispatch" },
    });
  });
});
