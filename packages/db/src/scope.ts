/**
 * The query layer's tenant wall. `withWorkspace(database, workspaceId, fn)` opens a transaction, sets
 * `app.workspace_id` with `set_config(…, true)` (transaction-local: `SET LOCAL` cannot take a bound parameter), and
 * hands `fn` a scope. Row-level security in Postgres is the first wall; this is the second, typed one:
 *  - a scope used after its transaction ended, or a call without one → WorkspaceScopeError;
 *  - an entity of another workspace handed to a scoped call → WorkspaceScopeError before any SQL is sent;
 *  - Postgres's row-level-security refusal → WorkspaceScopeError (a missing grant stays a PermissionDeniedError).
 */
import type { SQL } from 'drizzle-orm';
import { sql as dsql } from 'drizzle-orm';
import { WorkspaceScopeError, parseId, type WorkspaceId } from '@praxa/core';
import type { Database, Drizzle } from './client.js';
import { mapDatabaseError } from './pg-errors.js';

type Tx = Parameters<Parameters<Drizzle['transaction']>[0]>[0];

/** Anything that says which workspace it belongs to. */
export type WorkspaceOwned = { readonly workspaceId: string } | { readonly workspace_id: string };

export class WorkspaceScope {
  #tx: Tx | undefined;
  readonly workspaceId: WorkspaceId;

  constructor(tx: Tx, workspaceId: WorkspaceId) {
    this.#tx = tx;
    this.workspaceId = workspaceId;
  }

  /** The scoped drizzle transaction. Throws once the scope's transaction has ended. */
  get db(): Tx {
    if (!this.#tx) throw new WorkspaceScopeError('workspace scope used after its transaction ended');
    return this.#tx;
  }

  get active(): boolean {
    return this.#tx !== undefined;
  }

  /** Run raw SQL in the scope; rows come back untyped — parse them with zod at the call site. */
  async execute(query: SQL): Promise<Record<string, unknown>[]> {
    try {
      const rows = await this.db.execute(query);
      return [...(rows as Iterable<Record<string, unknown>>)];
    } catch (err) {
      throw mapDatabaseError(err);
    }
  }

  /** Refuse, before any SQL is sent, an entity that belongs to another workspace. */
  assertOwned(entity: WorkspaceOwned): void {
    const ws = 'workspaceId' in entity ? entity.workspaceId : entity.workspace_id;
    if (ws !== this.workspaceId) throw new WorkspaceScopeError('entity belongs to another workspace than the scope');
  }

  /** @internal */
  end(): void {
    this.#tx = undefined;
  }
}

/** The scope a scoped call was given, or WorkspaceScopeError if it has none (or a dead one). */
export function requireScope(scope: WorkspaceScope | undefined | null): WorkspaceScope {
  if (!scope || !scope.active) throw new WorkspaceScopeError('this query needs a workspace scope (withWorkspace)');
  return scope;
}

export async function withWorkspace<T>(database: Database, workspaceId: string, fn: (scope: WorkspaceScope) => Promise<T>): Promise<T> {
  const ws = parseId('workspace', workspaceId);
  let scope: WorkspaceScope | undefined;
  try {
    return await database.db.transaction(async (tx) => {
      await tx.execute(dsql`select set_config('app.workspace_id', ${ws}, true)`);
      scope = new WorkspaceScope(tx, ws);
      return await fn(scope);
    });
  } catch (err) {
    throw mapDatabaseError(err);
  } finally {
    scope?.end();
  }
}
