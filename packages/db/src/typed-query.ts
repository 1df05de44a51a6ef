/**
 * Calls to our SQL functions with their rows parsed by zod (the database is a boundary too) and database errors
 * mapped to typed ones — once, here, for every module of this package.
 */
import type { SQL } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "./client.js";
import { mapDatabaseError } from "./pg-errors.js";
import { requireScope, type WorkspaceScope } from "./scope.js";

/** Outside any scope (definer functions that take their workspace from a row or argument). */
export async function queryRows<T extends z.ZodType>(database: Database, schema: T, query: SQL): Promise<z.infer<T>[]> {
  let rows: unknown;
  try {
    rows = await database.db.execute(query);
  } catch (err) {
    throw mapDatabaseError(err);
  }
  return z.array(schema).parse([...(rows as Iterable<unknown>)]);
}

/** In the caller's workspace scope and transaction. */
export async function queryScopedRows<T extends z.ZodType>(
  scope: WorkspaceScope,
  schema: T,
  query: SQL,
): Promise<z.infer<T>[]> {
  return z.array(schema).parse(await requireScope(scope).execute(query));
}
