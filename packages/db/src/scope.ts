/**
 * The query layer's tenant wall. `withWorkspace(database, workspaceId, fn)` opens a transaction, sets
 * `app.workspace_id` with `set_config(…, true)` (transaction-local: `SET LOCAL` cannot take a bound parameter), and
 * hands `fn` a scope. Row-level security in Postgres is the first wall; this is the second, typed one:
 *  - a scope used after its transaction ended, or a call without one → WorkspaceScopeError;
 *  - an entity of another workspace handed to a scoped call → WorkspaceScopeError before any SQL is sent;
 *  - Postgres's row-level-security refusal → WorkspaceScopeError (a missing grant stays a PermissionDeniedError).
 */
import type { SQL } from "drizzle-orm";
import { sql as dsql } from "drizzle-orm";
import type { TransactionSql } from "postgres";
import { WorkspaceScopeError, parseId, type WorkspaceId } from "@praxa/core";
import type { Database, Drizzle } from "./client.js";
import { mapDatabaseError } from "./pg-errors.js";

type Tx = Parameters<Parameters<Drizzle["transaction"]>[0]>[0];

const SET_SCOPE_SQL = "select set_config('app.workspace_id', $1, true)";

/**
 * The postgres.js transaction under a drizzle one (drizzle's postgres-js session keeps it as `client`), or undefined if
 * a drizzle version stops exposing it — then prepared execution falls back to drizzle's own.
 */
function rawTransaction(tx: Tx): TransactionSql | undefined {
  const client = (tx._.session as unknown as { client?: unknown }).client;
  return typeof client === "function" && typeof (client as { unsafe?: unknown }).unsafe === "function"
    ? (client as TransactionSql)
    : undefined;
}

/**
 * Run `text` (a constant statement with $1…$n placeholders; values only ever as `params`) as a named prepared
 * statement of the transaction's connection. drizzle sends raw SQL unnamed, and postgres.js describes an unnamed
 * statement with parameters before binding it: two round trips per query, and drizzle's query building on every
 * call. Prepared, the statement is described once per connection and costs one round trip afterwards.
 */
async function executePrepared(tx: Tx, text: string, params: readonly unknown[]): Promise<Record<string, unknown>[]> {
  const raw = rawTransaction(tx);
  if (raw)
    return [...((await raw.unsafe(text, params as never[], { prepare: true })) as Iterable<Record<string, unknown>>)];
  const parts = text.split(/\$(\d+)/);
  const query = dsql.join(
    parts.map((part, i) => (i % 2 === 0 ? dsql.raw(part) : dsql`${dsql.param(params[Number(part) - 1])}`)),
  );
  return [...((await tx.execute(query)) as Iterable<Record<string, unknown>>)];
}

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
    if (!this.#tx) throw new WorkspaceScopeError("workspace scope used after its transaction ended");
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

  /**
   * Run `text` — a constant statement with $1…$n placeholders, every value in `params` — as a prepared statement of
   * this connection: one round trip (after the first) instead of two, and no query building. For hot paths.
   */
  async executePrepared(text: string, params: readonly unknown[]): Promise<Record<string, unknown>[]> {
    try {
      return await executePrepared(this.db, text, params);
    } catch (err) {
      throw mapDatabaseError(err);
    }
  }

  /** Refuse, before any SQL is sent, an entity that belongs to another workspace. */
  assertOwned(entity: WorkspaceOwned): void {
    const ws = "workspaceId" in entity ? entity.workspaceId : entity.workspace_id;
    if (ws !== this.workspaceId) throw new WorkspaceScopeError("entity belongs to another workspace than the scope");
  }

  /** @internal */
  end(): void {
    this.#tx = undefined;
  }
}

/** The scope a scoped call was given, or WorkspaceScopeError if it has none (or a dead one). */
export function requireScope(scope: WorkspaceScope | undefined | null): WorkspaceScope {
  if (!scope || !scope.active) throw new WorkspaceScopeError("this query needs a workspace scope (withWorkspace)");
  return scope;
}

/**
 * Run `fn` in a scope of `ws` inside the open transaction `tx`: `app.workspace_id` is set first and the scope ended
 * after, whatever `fn` did.
 */
async function inScope<T>(tx: Tx, ws: WorkspaceId, fn: (scope: WorkspaceScope) => Promise<T>): Promise<T> {
  const scope = new WorkspaceScope(tx, ws);
  try {
    const raw = rawTransaction(tx);
    if (!raw) {
      await tx.execute(dsql`select set_config('app.workspace_id', ${ws}, true)`);
      return await fn(scope);
    }
    // Handed to the connection now (`execute()` does not wait for a `then`), before the callback can send anything:
    // postgres.js runs a transaction's statements in the order it was handed them, so every statement of `fn` runs
    // in this scope — and the first one travels with it (pipelined) instead of waiting a round trip for it. Awaited
    // at the end; if it failed, every later statement failed with it and postgres.js reports this first error.
    const setScope = raw.unsafe(SET_SCOPE_SQL, [ws], { prepare: true }).execute();
    const settled = setScope.then(
      () => undefined,
      (err: unknown) => err,
    );
    const result = await fn(scope);
    const failed = await settled;
    if (failed !== undefined) throw failed;
    return result;
  } finally {
    scope.end();
  }
}

export async function withWorkspace<T>(
  database: Database,
  workspaceId: string,
  fn: (scope: WorkspaceScope) => Promise<T>,
): Promise<T> {
  const ws = parseId("workspace", workspaceId);
  try {
    return await database.db.transaction((tx) => inScope(tx, ws, fn));
  } catch (err) {
    throw mapDatabaseError(err);
  }
}

/** What `withWorkspacesInTurn` hands its callback: the two ways into one workspace at a time. */
export interface WorkspaceTurns {
  /**
   * Set `app.workspace_id` to the workspace, run `f` with a scope of it, end the scope before returning. Entries may
   * not overlap each other or a `send` (WorkspaceScopeError).
   */
  enter<T>(workspaceId: string, f: (scope: WorkspaceScope) => Promise<T>): Promise<T>;
  /**
   * Hand one prepared statement (constant `text`, values only in `params`) to the transaction's connection in the
   * workspace's scope, without waiting for the answers of what was handed before: the scope switch is handed just
   * before it, and postgres.js runs a transaction's statements in the order they were handed, so the statement runs
   * in that workspace whatever comes after it. Resolves with its rows. Several sends in a row travel together
   * (pipelined); every one of them must be awaited (or settled) by the caller.
   */
  send(workspaceId: string, text: string, params: readonly unknown[]): Promise<Record<string, unknown>[]>;
}

/**
 * One transaction that visits several workspaces in turn (`enter`, `send`): row-level security sees exactly one
 * workspace at any moment, as in `withWorkspace`, and `fn` gets no handle on the transaction itself, so nothing runs
 * outside a workspace it named. Everything commits together or not at all. For work that is much cheaper committed
 * together: the audit writer's group commit.
 */
export async function withWorkspacesInTurn<T>(
  database: Database,
  fn: (turns: WorkspaceTurns) => Promise<T>,
): Promise<T> {
  try {
    return await database.db.transaction(async (tx) => {
      let open = false;
      let finished = false;
      /** The workspace the last handed scope switch named (a send skips a switch to the same one). */
      let current: WorkspaceId | null = null;
      const check = (workspaceId: string, what: string): WorkspaceId => {
        const ws = parseId("workspace", workspaceId);
        if (finished) throw new WorkspaceScopeError(`workspace ${what} after its transaction ended`);
        if (open)
          throw new WorkspaceScopeError(
            `a workspace was ${what} while another one is still entered in the same transaction`,
          );
        return ws;
      };
      const turns: WorkspaceTurns = {
        async enter(workspaceId, f) {
          const ws = check(workspaceId, "entered");
          open = true;
          current = ws;
          try {
            return await inScope(tx, ws, f);
          } finally {
            open = false;
          }
        },
        async send(workspaceId, text, params) {
          const ws = check(workspaceId, "sent to");
          const raw = rawTransaction(tx);
          try {
            if (!raw) {
              current = ws;
              await tx.execute(dsql`select set_config('app.workspace_id', ${ws}, true)`);
              return await executePrepared(tx, text, params);
            }
            // Both handed now, in order (see inScope); the switch's own failure aborts the transaction, and with it the statement.
            const switched = current === ws ? null : raw.unsafe(SET_SCOPE_SQL, [ws], { prepare: true }).execute();
            current = ws;
            const rows = raw.unsafe(text, params as never[], { prepare: true }).execute();
            const [sw, answer] = await Promise.allSettled([switched, rows]);
            if (sw.status === "rejected") throw sw.reason;
            if (answer.status === "rejected") throw answer.reason;
            return [...(answer.value as Iterable<Record<string, unknown>>)];
          } catch (err) {
            throw mapDatabaseError(err);
          }
        },
      };
      try {
        return await fn(turns);
      } finally {
        finished = true;
      }
    });
  } catch (err) {
    throw mapDatabaseError(err);
  }
}
