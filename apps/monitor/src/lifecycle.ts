/**
 * The data lifecycle sweep (issue #22), one job on the maintenance queue:
 *  - retention: each workspace whose audit chain has a prefix past its window gets a signed checkpoint at the cut and
 *    the prefix removed (its leaf hashes kept, 0033); a cut a SIEM subscription holds back (app.retention_floor) is
 *    logged `RETENTION_HELD` with the seqs, never forced; finished runs past the run window go with their rows;
 *  - erasure: requests past their grace period are executed (final checkpoint, objects under ws/<id>/, every row,
 *    secret and key, then the signed receipt), and one past its 7-day due time is reported `ERASURE_OVERDUE` at error
 *    level (the operators' alarm), once an hour while it stays overdue.
 */
import {
  runOneExport,
  applyRunRetention,
  cutAuditChain,
  erasuresDue,
  erasuresOverdue,
  executeErasure,
  retentionDue,
  runRetentionDue,
  type CheckpointSigner,
  type Database,
} from "@praxa/db";
import { isPraxaError, UnavailableError } from "@praxa/core";
import type { Logger } from "@praxa/observability";
import type { ObjectStoreBackend } from "@praxa/object-store";

export interface LifecycleDeps {
  readonly database: Database;
  readonly log: Logger;
  readonly now: () => number;
  readonly checkpointSigner: CheckpointSigner;
  /**
   * Where the workspaces' objects are (erasure deletes ws/<id>/, exports are written there). Absent (the store could not
   * be opened at boot): erasures fail and are retried — `ERASURE_OVERDUE` follows if it lasts — and exports wait.
   */
  readonly objects?: ObjectStoreBackend | undefined;
  /** Workspaces per pass (default 100). */
  readonly lifecycleBatch?: number;
}

export interface LifecycleFigures {
  readonly cuts: number;
  readonly eventsRemoved: number;
  readonly held: number;
  readonly runRows: number;
  readonly erased: number;
  readonly overdue: number;
}

export async function lifecyclePass(deps: LifecycleDeps): Promise<LifecycleFigures> {
  const batch = deps.lifecycleBatch ?? 100;
  let cuts = 0;
  let eventsRemoved = 0;
  let held = 0;
  let runRows = 0;
  let erased = 0;

  for (const due of await retentionDue(deps.database, batch)) {
    if (due.allowed === null || due.allowed < due.wanted) {
      held++;
      // Events a SIEM subscription has not delivered: retention waits (the customer is told by the SIEM status).
      deps.log.warn(
        { code: "RETENTION_HELD", workspace_id: due.workspace_id, wanted: due.wanted, allowed: due.allowed },
        "retention held back by an undelivered SIEM stream",
      );
    }
    if (due.allowed === null) continue;
    try {
      eventsRemoved += await cutAuditChain(
        deps.database,
        due.workspace_id,
        due.allowed,
        deps.checkpointSigner,
        new Date(deps.now()),
      );
      cuts++;
    } catch (err) {
      deps.log.error(
        { code: isPraxaError(err) ? err.code : "RETENTION_FAILED", workspace_id: due.workspace_id, err },
        "a retention cut failed",
      );
    }
  }

  // Run logs: every workspace the sweep can see (the function is cheap when nothing is due).
  for (const ws of await runRetentionDue(deps.database, batch)) {
    const counts = await applyRunRetention(deps.database, ws, 1000);
    runRows += Object.values(counts).reduce((a, b) => a + b, 0);
  }

  for (const due of await erasuresDue(deps.database, batch)) {
    try {
      await executeErasure(
        {
          database: deps.database,
          signer: deps.checkpointSigner,
          now: () => new Date(deps.now()),
          eraseObjects: (ws) => {
            if (!deps.objects) throw new UnavailableError("the object store is not available: the erasure waits");
            const store = deps.objects.forWorkspace({ workspaceId: ws });
            return store.deletePrefix(store.prefix);
          },
        },
        due,
      );
      erased++;
      deps.log.info({ code: "WORKSPACE_ERASED", erasure_id: due.id }, "workspace erased, receipt signed");
    } catch (err) {
      deps.log.error(
        { code: isPraxaError(err) ? err.code : "ERASURE_FAILED", erasure_id: due.id, err },
        "an erasure failed; retried next pass",
      );
    }
  }

  const overdue = await erasuresOverdue(deps.database);
  for (const o of overdue)
    deps.log.error(
      { code: "ERASURE_OVERDUE", erasure_id: o.id, due_by: o.due_by.toISOString() },
      "an erasure is past its 7-day due time",
    );

  const figures = { cuts, eventsRemoved, held, runRows, erased, overdue: overdue.length };
  if (cuts + held + runRows + erased + overdue.length > 0)
    deps.log.info({ ...figures, code: "LIFECYCLE" }, "lifecycle pass");
  return figures;
}

/**
 * The exports pass (every 10 seconds): write pending exports' archives — `data.json` and `audit.jsonl` (verifiable
 * offline with `praxa audit verify --file`) under `ws/<id>/exports/<export id>/` — at most `lifecycleBatch` a pass.
 */
export async function exportPass(deps: LifecycleDeps): Promise<{ exported: number; failed: number }> {
  let exported = 0;
  let failed = 0;
  const objects = deps.objects;
  if (!objects) return { exported, failed }; // exports wait for the store (OBJECT_STORE_UNAVAILABLE at boot)
  for (let i = 0; i < (deps.lifecycleBatch ?? 10); i++) {
    try {
      const id = await runOneExport({
        database: deps.database,
        put: async (ws, exportId, name, body, contentType) => {
          const store = objects.forWorkspace({ workspaceId: ws });
          const key = store.key("exports", exportId, name);
          await store.put(key, body, { contentType });
          return key;
        },
      });
      if (id === null) break;
      exported++;
      deps.log.info({ code: "WORKSPACE_EXPORTED", export_id: id }, "workspace export written");
    } catch (err) {
      failed++;
      deps.log.error({ code: isPraxaError(err) ? err.code : "EXPORT_FAILED", err }, "a workspace export failed");
    }
  }
  return { exported, failed };
}
