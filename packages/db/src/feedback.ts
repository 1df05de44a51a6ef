/**
 * Feedback on a Skill's action (migrations/0014). Ingest records Slack button clicks and `/praxa accept|reject` PR
 * comments through its definer functions — the workspace is the installation's, the run must be that workspace's, and
 * the delivery is recorded once; the api inserts in the caller's scope, where row-level security and the composite
 * foreign key (workspace, run, skill) keep it to the caller's own runs. Folding verdicts into the rate happens in SQL.
 */
import { eq, sql as dsql } from "drizzle-orm";
import { z } from "zod";
import { InternalError, WorkspaceScopeError, type FeedbackVerdict, type RunId } from "@praxa/core";
import type { Database } from "./client.js";
import { agentRuns, skillFeedback } from "./schema.js";
import { requireScope, type WorkspaceScope } from "./scope.js";
import { queryRows } from "./typed-query.js";

const FeedbackOutcomeRow = z.object({
  outcome: z.enum(["recorded", "duplicate", "unknown_installation", "run_not_found"]),
  workspace_id: z.string().nullable(),
  run_id: z.string().nullable(),
});
export type FeedbackOutcome = z.infer<typeof FeedbackOutcomeRow>;

export interface FeedbackDelivery {
  readonly deliveryId: string;
  readonly bodySha256: string;
}

export interface FeedbackActor {
  readonly id: string;
  readonly isBot: boolean;
}

function single(rows: FeedbackOutcome[]): FeedbackOutcome {
  const row = rows[0];
  if (!row) throw new InternalError("feedback function returned no row");
  return row;
}

/** Ingest: a Slack button click on the answer of run `runId`, in the workspace of Slack team `teamId`. */
export async function recordSlackFeedback(
  database: Database,
  delivery: FeedbackDelivery,
  teamId: string,
  runId: string,
  verdict: FeedbackVerdict,
  actor: FeedbackActor,
): Promise<FeedbackOutcome> {
  return single(
    await queryRows(
      database,
      FeedbackOutcomeRow,
      dsql`select * from public.ingest_record_feedback('slack', ${delivery.deliveryId}, ${delivery.bodySha256}, ${teamId}, ${runId}, ${verdict}, ${actor.id}, ${actor.isBot})`,
    ),
  );
}

/** Ingest: `/praxa accept|reject` on PR `prNumber` of `repo`; the PR's latest succeeded pull_request run gets it. */
export async function recordPullRequestFeedback(
  database: Database,
  delivery: FeedbackDelivery,
  installationId: string,
  repo: string,
  prNumber: number,
  verdict: FeedbackVerdict,
  actor: FeedbackActor,
): Promise<FeedbackOutcome> {
  return single(
    await queryRows(
      database,
      FeedbackOutcomeRow,
      dsql`select * from public.ingest_record_pr_feedback(${delivery.deliveryId}, ${delivery.bodySha256}, ${installationId}, ${repo}, ${prNumber}, ${verdict}, ${actor.id}, ${actor.isBot})`,
    ),
  );
}

/** Api: a member's verdict on a run of the scope's workspace (a run of another workspace is "not found"). */
export async function recordApiFeedback(
  scope: WorkspaceScope,
  runId: RunId,
  verdict: FeedbackVerdict,
  actor: FeedbackActor,
): Promise<{ skillId: string }> {
  const s = requireScope(scope);
  const [run] = await s.db.select({ skillId: agentRuns.skillId }).from(agentRuns).where(eq(agentRuns.id, runId));
  if (!run) throw new WorkspaceScopeError("no such run in this workspace");
  await s.db.insert(skillFeedback).values({
    workspaceId: s.workspaceId,
    runId,
    skillId: run.skillId,
    verdict,
    source: "api",
    actorId: actor.id,
    actorIsBot: actor.isBot,
  });
  return { skillId: run.skillId };
}
