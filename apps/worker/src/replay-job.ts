/**
 * The `replay` job: replay one recorded decision for a request the api (or the operator CLI) recorded. The job
 * carries only the request id. The worker claims it under a lease of its own (`replay_claim`: workspace, event and the
 * event's signed bytes from the rows), reads the run row and the pinned manifest in the workspace's scope, re-fetches
 * the decision's inputs read-only as the bot (replay-environment.ts — the one secret it may open is the bot token of
 * the run's Slack team, under this lease), re-makes the decision on the offline model (`replayDecision`, the same core
 * the CLI's report comes from) and stores the report under the lease. A request that cannot be replayed at all (not a
 * decision, its event cut by retention, its run gone) is stored `failed` with a code; a passing outage is given back
 * and retried by the queue.
 */
import {
  isPraxaError,
  parseAuditEventBody,
  ReplayNotPossibleError,
  type ReplayInputCheck,
  type ReplayReport,
} from "@praxa/core";
import { and, claimReplay, eq, finishReplay, schema, withWorkspace, type ClaimedReplay } from "@praxa/db";
import type { Logger } from "@praxa/observability";
import { parseJobData, UnrecoverableError, type Job } from "@praxa/queue";
import { replayDecision } from "@praxa/skills";
import { createReplayEnvironment, type ReplayEnvironmentDeps } from "./replay-environment.js";

export interface ReplayJobDeps extends ReplayEnvironmentDeps {
  readonly holder: string;
  readonly log: Logger;
  readonly leaseSeconds?: number;
}

export type ReplayJobResult =
  | { readonly outcome: ReplayReport["outcome"]; readonly replayId: string }
  | { readonly outcome: "failed"; readonly replayId: string; readonly code: string }
  | { readonly outcome: "not_claimable"; readonly replayId: string };

async function replayClaimed(deps: ReplayJobDeps, c: ClaimedReplay): Promise<ReplayReport> {
  if (c.canonical === null)
    throw new ReplayNotPossibleError("the audit event is no longer stored (cut by retention)", {
      details: { eventId: c.eventId },
    });
  const record = parseAuditEventBody(JSON.parse(c.canonical.toString("utf8")));
  if (record.kind !== "skill.action" || record.runId === null || record.skillId === null)
    throw new ReplayNotPossibleError("only skill.action events are decisions that can be replayed");
  const { runId, skillId } = record;
  const loaded = await withWorkspace(deps.database, c.workspaceId, async (s) => {
    const r = schema.agentRuns;
    const [run] = await s.db
      .select({ trigger: r.trigger, input: r.input, integrationId: r.integrationId })
      .from(r)
      .where(eq(r.id, runId));
    const [skill] = await s.db
      .select({ slug: schema.skills.slug })
      .from(schema.skills)
      .where(eq(schema.skills.id, skillId));
    const v = schema.skillVersions;
    const [version] = await s.db
      .select({ manifest: v.manifest })
      .from(v)
      .where(and(eq(v.skillId, skillId), eq(v.manifestHash, record.manifest_hash ?? "")));
    return { run, skill, version };
  });
  if (!loaded.run || !loaded.skill)
    throw new ReplayNotPossibleError("the run or the Skill of this decision no longer exists", {
      details: { runId },
    });
  const runInput = (loaded.run.input ?? {}) as Record<string, unknown>;
  const findings: ReplayInputCheck[] = [];
  const env = createReplayEnvironment(
    deps,
    {
      workspaceId: c.workspaceId,
      lease: c.lease,
      runId,
      integrationId: loaded.run.integrationId,
      runInput,
      decidedAt: new Date(record.occurred_at),
      recordStep: record.step ?? 0,
    },
    findings,
  );
  return replayDecision({
    eventId: c.eventId,
    workspaceId: c.workspaceId,
    record,
    skillSlug: loaded.skill.slug,
    storedManifest: loaded.version?.manifest ?? null,
    run: { trigger: loaded.run.trigger, input: runInput },
    env,
    findings: () => findings,
  });
}

/** Retry only what says it may be retried, and what we do not know (a database blip). */
function retryable(err: unknown): boolean {
  return isPraxaError(err) ? err.retryable : true;
}

export async function runReplayJob(
  deps: ReplayJobDeps,
  replayId: string,
  attempt: { readonly final: boolean },
): Promise<ReplayJobResult> {
  const c = await claimReplay(deps.database, replayId, deps.holder, deps.leaseSeconds ?? 120);
  if (!c) return { outcome: "not_claimable", replayId };
  const ctx = { replayId, workspaceId: c.workspaceId, eventId: c.eventId, attempt: c.attempt };
  let report: ReplayReport;
  try {
    report = await replayClaimed(deps, c);
  } catch (err) {
    const again = retryable(err) && !attempt.final;
    const code = isPraxaError(err) ? err.code : "INTERNAL";
    await withWorkspace(deps.database, c.workspaceId, (scope) =>
      finishReplay(scope, c.lease, { status: again ? "queued" : "failed", errorCode: code }),
    ).catch((finishErr: unknown) =>
      deps.log.warn(
        { ...ctx, code: "REPLAY_FINISH_FAILED", err: finishErr },
        "could not record the replay's failure; its lease will expire",
      ),
    );
    deps.log.warn({ ...ctx, code, retry: again }, again ? "replay failed; will retry" : "replay failed");
    if (again) throw err;
    return { outcome: "failed", replayId, code };
  }
  await withWorkspace(deps.database, c.workspaceId, (scope) =>
    finishReplay(scope, c.lease, { status: "done", report }),
  );
  deps.log.info({ ...ctx, code: "REPLAY_DONE", outcome: report.outcome }, "replay done");
  return { outcome: report.outcome, replayId };
}

/** The BullMQ processor for the `replays` queue (wired in main.ts); job data parsed against the catalog. */
export function createReplayProcessor(deps: ReplayJobDeps): (job: Job) => Promise<ReplayJobResult> {
  return async (job) => {
    const { replayId } = parseJobData("replay", job.data);
    const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    try {
      return await runReplayJob(deps, replayId, { final });
    } catch (err) {
      if (isPraxaError(err) && !err.retryable) throw new UnrecoverableError(err.code);
      throw err;
    }
  };
}
