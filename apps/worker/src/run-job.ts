/**
 * The run processor: a `{runId}` job → claim the run by id (the workspace, Skill version and trigger come from the
 * row; any workspace id in the job is a tracing hint, never used) → execute the pinned Skill under a renewed lease →
 * finish the run. The claim itself may hand the run back to the dispatcher (its workspace runs its cap, a resource it
 * needs is throttled, it is not due yet): the job then ends at once and holds no slot. Failure policy (docs/failures.md):
 *  - a guard denial: already audited by the executor; the run fails with the guard's code (class `guard`: a redrive
 *    needs a new Skill version);
 *  - a throttle (`ThrottledError`: the workspace's model key answered 429/529, its GitHub installation or Slack team
 *    is rate limited, the Skill's producer answered its callback 429/503 with a Retry-After): the slot is released at
 *    once — the run is given back with its journal, due after the provider's retry-after, and (model key,
 *    integration) that resource is gated for the workspace's other runs until then; it is not an attempt. Throttled
 *    more than `maxDeferrals` times, it fails with the throttle's code;
 *  - the integration is gone (`IntegrationGoneError`): the integration is marked revoked, its other queued runs fail
 *    once, the change is audited, and this run fails with INTEGRATION_GONE;
 *  - a transient infrastructure error (database, GitHub 5xx, Redis) with attempts left: the run is given back to the
 *    dispatcher with a backoff (steps kept; the next claim replays them);
 *  - anything else, or the last attempt: a `run.failed` audit event, the run `failed` with the error's code;
 *  - cancelled by a human: the lease check answers RUN_CANCELLED at the next step boundary; no further effect; the run
 *    finishes `cancelled`;
 *  - a lost lease: another worker holds the run now; this one stops writing (Postgres would refuse it anyway);
 *  - a gated tool with no decision yet (`ApprovalPendingError`, the manifest's `approval`): the approval is recorded
 *    (one per run and step), `approval.requested` audited, the Approve / Deny message posted to the Skill's Slack
 *    channel (none configured: the api alone), and the run parked — `waiting_approval`, no lease, no slot, its journal
 *    kept. A decision hands it back to the dispatcher; the next claim replays the journal to the gated step and finds
 *    the decision (audited there: `approval.granted|denied|expired` with the actor). Denied or expired: no effect, the
 *    run finishes `denied` (APPROVAL_DENIED / APPROVAL_EXPIRED).
 */
import { UnrecoverableError } from "bullmq";
import {
  approvalMessage,
  IntegrationGoneError,
  InternalError,
  isPraxaError,
  LeaseLostError,
  RunCancelledError,
  ThrottledError,
  manifestHash,
  newId,
  parseSkillManifest,
  SkillPausedError,
  type ApprovalId,
  type AuditEventDraft,
  type RunId,
  type SkillId,
  type SkillManifest,
  type WorkspaceId,
} from "@praxa/core";
import { contextFromTraceparent, SpanStatusCode, withActiveSpan, type Logger, type Span } from "@praxa/observability";
import {
  approvalForStep,
  claimRunWithContext,
  deferRun,
  finishRun,
  markIntegrationGone,
  parkForApproval,
  renewRunLease,
  requestApproval,
  withWorkspace,
  type FailureClass,
  type RunLease,
} from "@praxa/db";
import {
  ApprovalDeniedError,
  ApprovalPendingError,
  BUILTIN_TOOLS,
  executeRun,
  isGuardDenial,
  ModelUnavailableError,
  type AnyTool,
  type ApprovalDecisionRecord,
  type ApprovalHook,
  type PendingApproval,
  type RunResult,
  type ToolEnvironment,
} from "@praxa/runtime";
import { BUILTIN_SKILLS, resolveSkill } from "@praxa/skills";
import { createRunStore, type RunStorageDeps } from "./run-journal-db.js";
import { selectModelProvider, type ProviderFactory } from "./model-selection.js";
import { openRunPayload, openSubagentTask } from "./subagent-task.js";
import { createToolEnvironment, runGithubScope, type ToolEnvironmentDeps } from "./tool-environment.js";
import { recordRunMetrics, withModelMetrics } from "./run-metrics.js";
import { ManifestHashMismatchError } from "./worker-errors.js";

export interface RunJobDeps extends RunStorageDeps, Omit<ToolEnvironmentDeps, "maxSubagentDepth"> {
  readonly holder: string;
  readonly leaseSeconds: number;
  /** Claims of a run in all (a throttle's claims excluded) before a transient failure is final. Default 5. */
  readonly maxAttempts?: number;
  /** Throttles of one run before it fails with the throttle's code. Default 100. */
  readonly maxDeferrals?: number;
  /** First backoff of a transient failure (doubled per attempt, with jitter, at most 5 min). Default 2 000 ms. */
  readonly backoffBaseMs?: number;
  /** Called when this job gave a slot back or handed a run back: the dispatcher may have work now. */
  readonly onSlotFreed?: () => void;
  readonly log: Logger;
  readonly providerFactory: ProviderFactory | null;
  readonly tools?: readonly AnyTool[];
}

export type RunJobOutcome =
  | {
      readonly runId: RunId;
      readonly status: "not_claimable" | "lease_lost" | "not_yet" | "gated" | "capped" | "cancelled";
    }
  | { readonly runId: RunId; readonly status: "waiting_approval"; readonly approvalId: ApprovalId }
  | { readonly runId: RunId; readonly status: "deferred"; readonly code: string; readonly due: Date }
  | {
      readonly runId: RunId;
      readonly status: "succeeded" | "skipped" | "failed" | "denied";
      readonly code?: string;
      readonly verdict?: string;
    };

const TOOL_MAP = (tools: readonly AnyTool[]): ReadonlyMap<string, AnyTool> => new Map(tools.map((t) => [t.name, t]));

/**
 * Pinned manifests, parsed and checked against their recorded hash once per process: keyed by the hash AND the stored
 * text, so a row whose manifest no longer matches its hash is parsed (and refused) again, never served from here.
 */
const manifests = new Map<string, SkillManifest>();
function pinnedManifest(raw: unknown, recordedHash: string): SkillManifest {
  const key = `${recordedHash}\n${JSON.stringify(raw)}`;
  const hit = manifests.get(key);
  if (hit) return hit;
  const manifest = parseSkillManifest(raw);
  if (manifestHash(manifest) !== recordedHash)
    throw new ManifestHashMismatchError("the pinned manifest does not match its recorded hash");
  if (manifests.size >= 256) manifests.clear();
  manifests.set(key, manifest);
  return manifest;
}

/** Backoff before the next claim after a transient failure: base · 2^(attempt−1), half of it jittered, ≤ 5 min. */
export function transientBackoffMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const exp = Math.min(300_000, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

export async function processRunJob(deps: RunJobDeps, runId: RunId): Promise<RunJobOutcome> {
  const claimedAt = Date.now();
  const claim = await claimRunWithContext(deps.database, runId, deps.holder, deps.leaseSeconds);
  if (claim.outcome !== "claimed") {
    if (claim.outcome === "not_claimable")
      deps.log.info({ runId, code: "RUN_NOT_CLAIMABLE" }, "run not claimable (finished, or held by a live lease)");
    else {
      deps.log.info(
        { runId, workspaceId: claim.workspaceId, code: `RUN_${claim.outcome.toUpperCase()}` },
        "run handed back to the dispatcher",
      );
      deps.onSlotFreed?.();
    }
    return { runId, status: claim.outcome };
  }
  const claimed = claim.run;
  const maxAttempts = deps.maxAttempts ?? 5;
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
          // Cancelled: the run goes on to its next step boundary, where the same check stops it and it finishes
          // `cancelled`. Anything else: the lease is not ours any more.
          if (err instanceof RunCancelledError) return;
          lost = true;
          deps.log.warn({ runId, code: isPraxaError(err) ? err.code : "RENEW_FAILED" }, "lease renewal failed");
        },
      );
    },
    Math.max(1_000, (deps.leaseSeconds * 1000) / 3),
  );
  renew.unref();
  const t0 = Date.now();
  const ctx = claim.context;
  // One transaction: what the run held back (read steps, telemetry), its sealed step content purged, finished.
  const finish = async (
    status: "succeeded" | "skipped" | "failed",
    code: string | null,
    failureClass: FailureClass | null = null,
  ) => store.finish({ status, errorCode: code, failureClass });
  const store = createRunStore(deps, ws, lease, { steps: ctx.steps, publicKey: ctx.publicKey });
  const recorder = store.recorder;
  // The run's span continues the trace ingest began (its traceparent is on the run row, returned with the claim); it
  // starts at the claim and ends with the run, and the executor's model and tool calls are its children.
  const runSpan: Span | undefined = deps.tracer?.startSpan(
    "praxa.run",
    { startTime: claimedAt },
    contextFromTraceparent(ctx.traceparent),
  );
  let spanCode: string | undefined;
  let skillId: SkillId | null = null;
  let manifestHashHex = "";
  let ctxIntegration: string | null = null;
  let skillSlug: string | null = null; // metrics: the Skill label
  let waitMs: number | null = null;
  let env: ToolEnvironment | null = null;
  let pinned: SkillManifest | null = null;
  /** An approval event of this run (its step and manifest, like every run event). */
  const approvalEvent = (
    kind: "approval.requested" | "approval.granted" | "approval.denied" | "approval.expired",
    step: number,
    input: AuditEventDraft["input"],
    output: AuditEventDraft["output"],
  ): AuditEventDraft => ({
    auditEventId: newId("auditEvent"),
    kind,
    skillId: claimed.skillId as SkillId,
    runId,
    trigger: claimed.trigger,
    input,
    reasoning: [],
    alternatives: [],
    confidence: null,
    output,
    tools_used: [],
    duration_ms: Date.now() - t0,
    occurred_at: new Date().toISOString(),
    manifest_hash: ctx.manifestHash,
    step,
  });
  // The executor asks, inside a gated tool's step, for the decision on it (lease-checked), and reports what it acts on.
  const approvals: ApprovalHook = {
    async decision(step): Promise<ApprovalDecisionRecord | null> {
      const a = await withWorkspace(deps.database, ws, (s) => approvalForStep(s, lease, step));
      return a
        ? {
            approvalId: a.approval_id,
            status: a.status,
            decidedByMember: a.decided_by_member,
            decidedVia: a.decided_via,
          }
        : null;
    },
    async decided(step, tool, d) {
      if (d.status === "pending") return;
      await recorder.audit(
        approvalEvent(
          `approval.${d.status}`,
          step,
          { approval_id: d.approvalId, tool, actor_member_id: d.decidedByMember, via: d.decidedVia },
          { status: d.status },
        ),
      );
    },
  };
  try {
    skillId = claimed.skillId as SkillId;
    manifestHashHex = ctx.manifestHash;
    ctxIntegration = ctx.integrationId;
    [skillSlug, waitMs] = [ctx.skillSlug, ctx.waitMs];
    if (ctx.skillStatus === "paused") throw new SkillPausedError("this Skill is paused; a human must resume it");
    const manifest = pinnedManifest(ctx.manifest, ctx.manifestHash);
    pinned = manifest;
    const skill = resolveSkill(ctx.skillSlug, manifest);
    const depth = ctx.depth;
    const provider = withModelMetrics(await selectModelProvider(deps, ws, lease, manifest, skill, ctx.llmCredentials));
    // A sub-agent's task (its parent model's words) is opened under this run's lease, held in memory for the run only.
    const task =
      ctx.source === "subagent"
        ? await withWorkspace(deps.database, ws, (s) => openSubagentTask(deps.provider, s, lease))
        : null;
    // A declarative Skill's producer payload (the fields it declared, sealed at ingest), opened for this run only.
    const payload =
      ctx.source === "trigger" && manifest.declarative
        ? await withWorkspace(deps.database, ws, (s) => openRunPayload(deps.provider, s, lease))
        : null;
    const input = payload === null ? ctx.input : { ...ctx.input, payload };
    const runEnv = createToolEnvironment(
      { ...deps, maxSubagentDepth: manifest.subAgents.maxDepth },
      ws,
      lease,
      runGithubScope(
        { integration_id: ctx.integrationId, input: ctx.input },
        manifest,
        skill.githubPermissions,
        ctx.githubInstallations,
      ),
      claimed.skillId,
    );
    env = runEnv;
    const run = (): Promise<RunResult> =>
      executeRun({
        runId,
        workspaceId: ws,
        skillId: claimed.skillId as SkillId,
        trigger: claimed.trigger,
        input,
        manifest,
        manifestHash: ctx.manifestHash,
        depth,
        skill,
        subAgentSkills: BUILTIN_SKILLS,
        task,
        provider,
        tools: TOOL_MAP(deps.tools ?? BUILTIN_TOOLS),
        env: runEnv,
        journal: store.journal,
        recorder,
        approvals,
      });
    const result: RunResult = await (runSpan ? withActiveSpan(runSpan, run) : run());
    const status = result.status === "skipped" ? "skipped" : "succeeded";
    await finish(status, status === "skipped" ? (result.skipReason ?? null) : null);
    recordRunMetrics(skillSlug, status, waitMs, t0);
    deps.onSlotFreed?.();
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
  } catch (caught) {
    let err = caught;
    if (err instanceof ApprovalPendingError && pinned?.approval && env && !lost) {
      await recorder.flush().catch(() => undefined);
      const pending = err.pending;
      try {
        const approvalId = await parkForHuman(deps, ws, lease, pinned, env, pending, (kind, step, input, output) =>
          recorder.audit(approvalEvent(kind, step, input, output)),
        );
        deps.onSlotFreed?.();
        deps.log.info(
          { runId, workspaceId: ws, code: "APPROVAL_PENDING", step: pending.step, approvalId },
          "waiting for a human's approval: run parked, no slot held",
        );
        return { runId, status: "waiting_approval", approvalId };
      } catch (parkErr) {
        // Cancelled meanwhile: finished `cancelled` below, like any cancelled run. Anything else (the lease went, the
        // database failed): the lease expires, the run is handed back, and its retry asks for the same approval.
        if (!(parkErr instanceof RunCancelledError)) {
          deps.log.warn(
            { runId, code: isPraxaError(parkErr) ? parkErr.code : "APPROVAL_PARK_FAILED" },
            "could not park the run for its approval",
          );
          deps.onSlotFreed?.();
          return { runId, status: "lease_lost" };
        }
        err = parkErr;
      }
    }
    const code = isPraxaError(err) ? err.code : "INTERNAL";
    spanCode = /^[A-Z][A-Z0-9_]{1,63}$/.test(code) ? code : "INTERNAL";
    if (err instanceof RunCancelledError) {
      // A human cancelled it: the lease check refused the next step, so no effect followed. Finish it `cancelled`
      // (its sealed step content purged with it); `run.cancelled` was audited when it was asked for.
      await recorder.flush().catch(() => undefined);
      await withWorkspace(deps.database, ws, (s) => finishRun(s, lease, "cancelled", null)).catch((e: unknown) =>
        deps.log.warn({ runId, code: isPraxaError(e) ? e.code : "FINISH_FAILED" }, "could not finish a cancelled run"),
      );
      recordRunMetrics(skillSlug, "cancelled", waitMs, t0);
      deps.onSlotFreed?.();
      deps.log.info({ runId, workspaceId: ws, code: "RUN_CANCELLED" }, "run cancelled at a step boundary");
      return { runId, status: "cancelled" };
    }
    if (err instanceof ApprovalDeniedError) {
      // Audited by the executor's hook (approval.denied|expired, with the actor); the tool never ran.
      await store.finish({ status: "denied", errorCode: err.code, failureClass: null });
      recordRunMetrics(skillSlug, "denied", waitMs, t0);
      deps.onSlotFreed?.();
      deps.log.info({ runId, workspaceId: ws, code: err.code }, "run denied: the gated tool did not act");
      return { runId, status: "denied", code: err.code };
    }
    if (err instanceof LeaseLostError || lost) {
      deps.log.warn({ runId, code: "LEASE_LOST" }, "lease lost: another worker holds this run");
      return { runId, status: "lease_lost" };
    }
    if (err instanceof ThrottledError && claimed.deferrals < (deps.maxDeferrals ?? 100)) {
      await recorder.flush().catch(() => undefined);
      // A run with no recorded integration (made before runs recorded one) is delayed without a gate; so is one whose
      // producer asked to wait (its callback URL is the Skill's own, not a resource the workspace's runs share).
      const gate =
        err.resource === "model"
          ? ("model" as const)
          : err.resource !== "callback" && ctxIntegration
            ? ("integration" as const)
            : null;
      const due = await withWorkspace(deps.database, ws, (s) =>
        deferRun(s, lease, err.retryAfterMs, { resource: gate, code: err.code }),
      );
      deps.onSlotFreed?.();
      deps.log.info(
        { runId, workspaceId: ws, code: err.code, resource: err.resource, retryAfterMs: err.retryAfterMs },
        "throttled: slot released, run delayed (its resource gated, unless a producer asked)",
      );
      return { runId, status: "deferred", code: err.code, due };
    }
    if (err instanceof IntegrationGoneError && ctxIntegration) {
      const others = await withWorkspace(deps.database, ws, (s) => markIntegrationGone(s, lease));
      await recorder
        .audit({
          auditEventId: newId("auditEvent"),
          kind: "integration.changed",
          skillId: null,
          runId: null,
          trigger: `integration.gone`,
          input: { integration_id: ctxIntegration, resource: err.resource, found_by_run: runId },
          reasoning: ["the integration's provider refused it as gone (uninstalled or revoked)"],
          alternatives: [],
          confidence: null,
          output: { status: "revoked", code: "INTEGRATION_GONE", runs_failed: others + 1 },
          tools_used: [],
          duration_ms: 0,
          occurred_at: new Date().toISOString(),
        })
        .catch((auditErr: unknown) =>
          deps.log.error(
            { runId, code: isPraxaError(auditErr) ? auditErr.code : "AUDIT_FAILED" },
            "could not audit the integration's removal",
          ),
        );
      deps.log.warn(
        { runId, workspaceId: ws, code: "INTEGRATION_GONE", resource: err.resource, otherRunsFailed: others },
        "integration gone: marked revoked, its queued runs failed once",
      );
    }
    // A model 5xx has already been retried in the provider (with backoff): it is final here, as before.
    const transient =
      isPraxaError(err) && err.retryable && !(err instanceof ThrottledError) && !(err instanceof ModelUnavailableError);
    if (transient && claimed.attempt < maxAttempts) {
      await recorder.flush().catch(() => undefined);
      const delay = transientBackoffMs(claimed.attempt, deps.backoffBaseMs ?? 2_000);
      const due = await withWorkspace(deps.database, ws, (s) => deferRun(s, lease, delay));
      deps.onSlotFreed?.();
      deps.log.warn({ runId, code, attempt: claimed.attempt }, "transient failure: run given back for a retry");
      return { runId, status: "deferred", code, due };
    }
    const failureClass: FailureClass = isGuardDenial(err)
      ? "guard"
      : err instanceof ThrottledError
        ? "throttled"
        : err instanceof IntegrationGoneError
          ? "integration_gone"
          : transient || err instanceof ModelUnavailableError
            ? "exhausted"
            : "permanent";
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
    await finish("failed", /^[A-Z][A-Z0-9_]{1,63}$/.test(code) ? code : "INTERNAL", failureClass);
    recordRunMetrics(skillSlug, "failed", waitMs, t0);
    deps.onSlotFreed?.();
    deps.log.warn({ runId, workspaceId: ws, code, failureClass }, "run failed");
    if (!isPraxaError(err)) throw new UnrecoverableError(code);
    return { runId, status: "failed", code };
  } finally {
    clearInterval(renew);
    if (runSpan) {
      if (spanCode) {
        runSpan.setAttribute("code", spanCode);
        runSpan.setStatus({ code: SpanStatusCode.ERROR });
      }
      runSpan.end();
    }
  }
}

/**
 * A gated tool waits for a human: flush what the run holds, record the approval (one per run and step), audit
 * `approval.requested`, post Approve / Deny to the Skill's Slack channel (idempotent: a marker per approval; no channel
 * or no Slack: the api alone), then park the run under its lease. Returns the approval's id.
 */
async function parkForHuman(
  deps: RunJobDeps,
  ws: WorkspaceId,
  lease: RunLease,
  manifest: SkillManifest,
  env: ToolEnvironment,
  pending: PendingApproval,
  audit: (
    kind: "approval.requested",
    step: number,
    input: AuditEventDraft["input"],
    output: AuditEventDraft["output"],
  ) => Promise<void>,
): Promise<ApprovalId> {
  const terms = manifest.approval;
  if (!terms) throw new InternalError("a gated tool in a manifest without approval terms");
  const channel = terms.slackChannel ?? null;
  const a = await withWorkspace(deps.database, ws, (s) =>
    requestApproval(s, lease, {
      approvalId: newId("approval"),
      step: pending.step,
      tool: pending.tool,
      expiresAfterMinutes: terms.expiresAfterMinutes,
      roles: terms.roles,
      slackChannel: channel,
    }),
  );
  await audit(
    "approval.requested",
    pending.step,
    { approval_id: a.approval_id, tool: pending.tool, roles: [...terms.roles], slack_channel: channel },
    { status: "pending", expires_at: a.expires_at.toISOString() },
  );
  let ts = a.slack_ts;
  if (channel !== null && ts === null) {
    try {
      const team = await env.slackTeam();
      const message = approvalMessage({
        approvalId: a.approval_id,
        skillName: manifest.name,
        tool: pending.tool,
        verdict: pending.verdict,
        confidence: pending.confidence,
        expiresAt: a.expires_at,
      });
      const posted = await (
        await env.slack(team)
      ).postMessage({ channel, text: message.text, blocks: message.blocks, marker: `praxa-approval:${a.approval_id}` });
      ts = posted.ts;
    } catch (err) {
      // The approval stands without its message: it is listed in the api, where a member decides.
      deps.log.warn(
        { runId: lease.runId, code: isPraxaError(err) ? err.code : "SLACK_POST_FAILED" },
        "could not post the approval message; the approval is in the api",
      );
    }
  }
  await withWorkspace(deps.database, ws, (s) => parkForApproval(s, lease, a.approval_id, ts));
  return a.approval_id;
}
