/**
 * The run processor: a `{runId}` job → claim the run by id (the workspace, Skill version and trigger come from the
 * row; any workspace id in the job is a tracing hint, never used) → execute the pinned Skill under a renewed lease →
 * finish the run. Failure policy:
 *  - a guard denial: already audited by the executor; the run fails with the guard's code;
 *  - a transient infrastructure error (database, GitHub 5xx, Redis) with attempts left: the run is released (queued,
 *    steps kept) and the error rethrown so BullMQ retries with backoff — the retry replays recorded steps;
 *  - anything else, or the last attempt: a `run.failed` audit event, the run `failed` with the error's code;
 *  - a lost lease: another worker holds the run now; this one stops writing (Postgres would refuse it anyway).
 * Model errors have already been retried by the provider (honouring retry-after), so they are final here.
 */
import { UnrecoverableError } from "bullmq";
import {
  isPraxaError,
  LeaseLostError,
  manifestHash,
  newId,
  parseSkillManifest,
  SkillPausedError,
  type RunId,
  type SkillId,
} from "@praxa/core";
import type { Logger } from "@praxa/observability";
import {
  claimRun,
  eq,
  finishRun,
  schema,
  purgeRunStepContent,
  readRunContext,
  releaseRun,
  renewRunLease,
  withWorkspace,
  type ClaimedRun,
  type Database,
} from "@praxa/db";
import {
  BUILTIN_TOOLS,
  executeRun,
  isGuardDenial,
  ModelRateLimitedError,
  ModelUnavailableError,
  type AnyTool,
  type RunResult,
} from "@praxa/runtime";
import { BUILTIN_SKILLS, builtinSkill } from "@praxa/skills";
import { createRunJournal, createRunRecorder, type RunStorageDeps } from "./run-journal-db.js";
import { selectModelProvider, type ProviderFactory } from "./model-selection.js";
import { openSubagentTask } from "./subagent-task.js";
import { createToolEnvironment, runGithubScope, type ToolEnvironmentDeps } from "./tool-environment.js";
import { ManifestHashMismatchError } from "./worker-errors.js";

export interface RunJobDeps extends RunStorageDeps, Omit<ToolEnvironmentDeps, "maxSubagentDepth"> {
  readonly holder: string;
  readonly leaseSeconds: number;
  readonly log: Logger;
  readonly providerFactory: ProviderFactory | null;
  readonly tools?: readonly AnyTool[];
}

export type RunJobOutcome =
  | { readonly runId: RunId; readonly status: "not_claimable" | "lease_lost" }
  | {
      readonly runId: RunId;
      readonly status: "succeeded" | "skipped" | "failed";
      readonly code?: string;
      readonly verdict?: string;
    };

const TOOL_MAP = (tools: readonly AnyTool[]): ReadonlyMap<string, AnyTool> => new Map(tools.map((t) => [t.name, t]));

async function runDepth(database: Database, claimed: ClaimedRun, parent: string | null): Promise<number> {
  let depth = 0;
  let cursor = parent;
  while (cursor !== null && depth < 6) {
    depth += 1;
    const id: string = cursor;
    const rows = await withWorkspace(database, claimed.workspaceId, (s) =>
      s.db.select({ parent: schema.agentRuns.parentRunId }).from(schema.agentRuns).where(eq(schema.agentRuns.id, id)),
    );
    cursor = rows[0]?.parent ?? null;
  }
  return depth;
}

export async function processRunJob(
  deps: RunJobDeps,
  runId: RunId,
  attempt: { made: number; max: number },
): Promise<RunJobOutcome> {
  const claimed = await claimRun(deps.database, runId, deps.holder, deps.leaseSeconds);
  if (!claimed) {
    deps.log.info({ runId, code: "RUN_NOT_CLAIMABLE" }, "run not claimable (finished, or held by a live lease)");
    return { runId, status: "not_claimable" };
  }
  const ws = claimed.workspaceId;
  let lease = claimed.lease;
  let lost = false;
  const renew = setInterval(
    () => {
      withWorkspace(deps.database, ws, (s) => renewRunLease(s, lease, deps.leaseSeconds)).then(
        (l) => {
          lease = { ...lease, expiresAt: l.expiresAt };
        },
        (err: unknown) => {
          lost = true;
          deps.log.warn({ runId, code: isPraxaError(err) ? err.code : "RENEW_FAILED" }, "lease renewal failed");
        },
      );
    },
    Math.max(1_000, (deps.leaseSeconds * 1000) / 3),
  );
  renew.unref();
  const t0 = Date.now();
  const finish = async (status: "succeeded" | "skipped" | "failed", code: string | null) => {
    await recorder.flush();
    await withWorkspace(deps.database, ws, async (s) => {
      await purgeRunStepContent(s, lease);
      await finishRun(s, lease, status, code);
    });
  };
  const recorder = createRunRecorder(deps, ws, lease);
  let skillId: SkillId | null = null;
  let manifestHashHex = "";
  try {
    const ctx = await withWorkspace(deps.database, ws, (s) => readRunContext(s, runId));
    skillId = claimed.skillId as SkillId;
    manifestHashHex = ctx.manifest_hash;
    if (ctx.skill_status === "paused") throw new SkillPausedError("this Skill is paused; a human must resume it");
    const manifest = parseSkillManifest(ctx.manifest);
    if (manifestHash(manifest) !== ctx.manifest_hash)
      throw new ManifestHashMismatchError("the pinned manifest does not match its recorded hash");
    const skill = builtinSkill(ctx.skill_slug);
    const depth = await runDepth(deps.database, claimed, ctx.parent_run_id);
    const provider = await selectModelProvider(deps, ws, lease, manifest, skill);
    // A sub-agent's task (its parent model's words) is opened under this run's lease, held in memory for the run only.
    const task =
      ctx.source === "subagent"
        ? await withWorkspace(deps.database, ws, (s) => openSubagentTask(deps.provider, s, lease))
        : null;
    const result: RunResult = await executeRun({
      runId,
      workspaceId: ws,
      skillId,
      trigger: claimed.trigger,
      input: ctx.input,
      manifest,
      manifestHash: ctx.manifest_hash,
      depth,
      skill,
      subAgentSkills: BUILTIN_SKILLS,
      task,
      provider,
      tools: TOOL_MAP(deps.tools ?? BUILTIN_TOOLS),
      env: createToolEnvironment(
        { ...deps, maxSubagentDepth: manifest.subAgents.maxDepth },
        ws,
        lease,
        runGithubScope(ctx, manifest, skill.githubPermissions),
      ),
      journal: createRunJournal(deps, ws, lease),
      recorder,
    });
    const status = result.status === "skipped" ? "skipped" : "succeeded";
    await finish(status, status === "skipped" ? (result.skipReason ?? null) : null);
    deps.log.info(
      {
        runId,
        workspaceId: ws,
        code: status === "skipped" ? result.skipReason : "RUN_SUCCEEDED",
        ms: Date.now() - t0,
        modelCalls: result.modelCalls,
      },
      "run finished",
    );
    return { runId, status, ...(result.verdict ? { verdict: result.verdict } : {}) };
  } catch (err) {
    const code = isPraxaError(err) ? err.code : "INTERNAL";
    if (err instanceof LeaseLostError || lost) {
      deps.log.warn({ runId, code: "LEASE_LOST" }, "lease lost: another worker holds this run");
      return { runId, status: "lease_lost" };
    }
    const modelFinal = err instanceof ModelUnavailableError || err instanceof ModelRateLimitedError;
    const transient = isPraxaError(err) && err.retryable && !modelFinal;
    if (transient && attempt.made + 1 < attempt.max) {
      await recorder.flush().catch(() => undefined);
      await withWorkspace(deps.database, ws, (s) => releaseRun(s, lease)).catch(() => undefined);
      deps.log.warn({ runId, code, attempt: attempt.made + 1 }, "transient failure: run released for a retry");
      throw err;
    }
    if (!isGuardDenial(err) && skillId !== null && manifestHashHex !== "") {
      await recorder
        .audit({
          auditEventId: newId("auditEvent"),
          kind: "run.failed",
          skillId,
          runId,
          trigger: claimed.trigger,
          input: {},
          reasoning: [isPraxaError(err) ? err.message : "internal error"],
          alternatives: [],
          confidence: null,
          output: { code },
          tools_used: [],
          duration_ms: Date.now() - t0,
          occurred_at: new Date().toISOString(),
          manifest_hash: manifestHashHex,
          step: 0,
        })
        .catch((auditErr: unknown) =>
          deps.log.error(
            { runId, code: isPraxaError(auditErr) ? auditErr.code : "AUDIT_FAILED" },
            "could not audit the failure",
          ),
        );
    }
    await finish("failed", /^[A-Z][A-Z0-9_]{1,63}$/.test(code) ? code : "INTERNAL");
    deps.log.warn({ runId, workspaceId: ws, code }, "run failed");
    if (!isPraxaError(err)) throw new UnrecoverableError(code);
    return { runId, status: "failed", code };
  } finally {
    clearInterval(renew);
  }
}
