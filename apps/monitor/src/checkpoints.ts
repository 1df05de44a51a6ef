/**
 * Time-based audit checkpoints: on a fleet-wide schedule, each workspace whose chain grew since its newest checkpoint
 * gets a signed checkpoint over its whole chain (appenders also sign one every N events; this bounds how long a quiet
 * workspace's newest events go uncovered). Signed by the key provider's checkpoint key (KMS in production).
 */
import { checkpointsDue, createCheckpoint, withWorkspace, type CheckpointSigner, type Database } from "@praxa/db";
import type { Logger } from "@praxa/observability";

export interface CheckpointDeps {
  readonly database: Database;
  readonly log: Logger;
  readonly now: () => number;
  readonly checkpointSigner: CheckpointSigner;
  readonly batch: number;
}

export async function checkpointPass(deps: CheckpointDeps): Promise<{ due: number; created: number }> {
  const due = await checkpointsDue(deps.database, deps.batch);
  let created = 0;
  for (const d of due) {
    const cp = await withWorkspace(deps.database, d.workspace_id, (scope) =>
      createCheckpoint(scope, deps.checkpointSigner, new Date(deps.now())),
    );
    if (cp) created++;
  }
  if (due.length > 0) deps.log.info({ due: due.length, created, code: "CHECKPOINTS" }, "time-based checkpoints");
  return { due: due.length, created };
}
