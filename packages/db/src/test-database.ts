/**
 * A fresh, migrated database per test suite (or per demo), dropped afterwards, so suites run in parallel and never
 * touch the demo's database. Roles are cluster-wide and shared; the bootstrap tolerates concurrent creators.
 * Connects as an admin (a role with CREATEDB and CREATEROLE); login roles authenticate as the server allows
 * (trust on loopback here; set passwords in other environments).
 */
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { migrate } from "./migrate.js";
import type { LoginRole } from "./roles.js";

export const DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase {
  readonly name: string;
  /** The admin (migrator) URL for this database. */
  readonly adminUrl: string;
  /** The URL each app role logs in with. */
  readonly roleUrl: (role: LoginRole) => string;
  drop(): Promise<void>;
}

export function databaseUrl(base: string, options: { database?: string; user?: string }): string {
  const url = new URL(base);
  if (options.database !== undefined) url.pathname = `/${options.database}`;
  if (options.user !== undefined) {
    url.username = options.user;
    url.password = "";
  }
  return url.toString();
}

/** Create `name` if it does not exist (for the demo); returns whether it was created. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<boolean> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error("database names are lower-case identifiers");
  const sql = postgres(databaseUrl(adminUrl, { database: "postgres" }), { max: 1, onnotice: () => {} });
  try {
    const exists = await sql`select 1 from pg_database where datname = ${name}`;
    if (exists.length > 0) return false;
    try {
      await sql.unsafe(`CREATE DATABASE ${name}`);
    } catch (err) {
      if ((err as { code?: string }).code === "42P04") return false; // created concurrently
      throw err;
    }
    return true;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function createTestDatabase(
  options: { adminUrl?: string; prefix?: string; migrationsDir?: string } = {},
): Promise<TestDatabase> {
  const admin = options.adminUrl ?? process.env.PRAXA_TEST_ADMIN_URL ?? DEFAULT_ADMIN_URL;
  const name = `${options.prefix ?? "praxa_test"}_${randomBytes(6).toString("hex")}`;
  await ensureDatabase(admin, name);
  const adminUrl = databaseUrl(admin, { database: name });
  const drop = async (): Promise<void> => {
    const sql = postgres(databaseUrl(admin, { database: "postgres" }), { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await sql.end({ timeout: 5 });
    }
  };
  try {
    // `pnpm mutation` (scripts/mutation/sql-mutations.mjs) runs the security suites against deliberately broken copies
    // of the migrations; only test databases ever read this variable.
    const dir = options.migrationsDir ?? process.env.PRAXA_TEST_MIGRATIONS_DIR;
    await migrate(adminUrl, dir ? { dir } : {});
  } catch (err) {
    await drop();
    throw err;
  }
  return { name, adminUrl, roleUrl: (role) => databaseUrl(adminUrl, { user: role }), drop };
}
