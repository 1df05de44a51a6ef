/**
 * A database handle for one app role: a postgres.js pool and drizzle over it. Each app connects as its own role
 * (INGEST_DATABASE_URL, WORKER_DATABASE_URL, …); nothing here reads the environment.
 */
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres, { type Sql } from "postgres";
import * as schema from "./schema.js";

export type Schema = typeof schema;
export type Drizzle = PostgresJsDatabase<Schema>;

export interface Database {
  readonly sql: Sql;
  readonly db: Drizzle;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  readonly max?: number;
  readonly applicationName?: string;
  readonly idleTimeoutSeconds?: number;
}

export function createDatabase(url: string, options: DatabaseOptions = {}): Database {
  const sql = postgres(url, {
    max: options.max ?? 10,
    idle_timeout: options.idleTimeoutSeconds ?? 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? "praxa" },
  });
  const db = drizzle(sql, { schema });
  return { sql, db, close: () => sql.end({ timeout: 5 }) };
}
