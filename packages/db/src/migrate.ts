/**
 * Forward-only SQL migrations from `packages/db/migrations`, applied in name order, each in its own transaction, each
 * recorded with its SHA-256 so an edited migration is refused rather than silently skipped. Idempotent: applying twice
 * changes nothing. Concurrent migrators of one database serialize on an advisory lock.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { InternalError } from "@praxa/core";
import { bootstrapRoles } from "./roles.js";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../migrations/", import.meta.url));

export interface Migration {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((name) => {
      const sql = readFileSync(`${dir}/${name}`, "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

export interface MigrateResult {
  readonly applied: readonly string[];
  readonly alreadyApplied: number;
}

/** Apply pending migrations to the database at `adminUrl` (a role with CREATEROLE that may act as praxa_owner). */
export interface MigrateOptions {
  readonly onNotice?: (message: string) => void;
  /** Where the migrations are read from (default: this package's). The SQL mutation run points it at edited copies. */
  readonly dir?: string;
}

export async function migrate(adminUrl: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const sql = postgres(adminUrl, {
    max: 1,
    onnotice: (n) => options.onNotice?.(String(n.message)),
    connection: { application_name: "praxa-migrate" },
  });
  try {
    await bootstrapRoles(sql);
    const migrations = readMigrations(options.dir);
    return await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtext('praxa.migrate'))`;
      await tx.unsafe(`
        CREATE SCHEMA IF NOT EXISTS praxa_migrations;
        REVOKE ALL ON SCHEMA praxa_migrations FROM PUBLIC;
        CREATE TABLE IF NOT EXISTS praxa_migrations.applied (
          name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
        REVOKE ALL ON praxa_migrations.applied FROM PUBLIC;
        ALTER TABLE praxa_migrations.applied ENABLE ROW LEVEL SECURITY;
        ALTER TABLE praxa_migrations.applied FORCE ROW LEVEL SECURITY;`);
      // Like every table of ours, the bookkeeping has row-level security, forced. Its one policy names praxa_owner,
      // whose members are the migrators (a superuser bypasses RLS; a CREATEROLE migrator on RDS is made a member by
      // bootstrapRoles); no app role holds a grant on it, so for them the policy is moot and the table unreachable.
      await tx.unsafe(`
        DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policies WHERE schemaname = 'praxa_migrations' AND tablename = 'applied'
                                                                AND policyname = 'applied_migrator') THEN
            CREATE POLICY applied_migrator ON praxa_migrations.applied AS PERMISSIVE FOR ALL TO praxa_owner USING (true) WITH CHECK (true);
          END IF;
        END $$;`);
      const done = new Map(
        (await tx<{ name: string; checksum: string }[]>`select name, checksum from praxa_migrations.applied`).map(
          (r) => [r.name, r.checksum],
        ),
      );
      const applied: string[] = [];
      for (const m of migrations) {
        const prior = done.get(m.name);
        if (prior !== undefined) {
          if (prior !== m.checksum)
            throw new InternalError(`migration ${m.name} was edited after it was applied; add a new migration instead`);
          continue;
        }
        await tx.savepoint(async (sp) => {
          // Handing a function to praxa_definer (ALTER FUNCTION … OWNER TO) needs the new owner to hold CREATE on the
          // function's schema. A superuser skips that check; a managed-Postgres administrator (RDS) does not. The
          // definer holds CREATE only while a migration runs, inside its transaction, and never after it. The same for
          // praxa_lifecycle, which owns the retention and erasure functions (the audit triggers let only it delete).
          const schemas = await sp<
            { name: string }[]
          >`select nspname as name from pg_catalog.pg_namespace where nspname in ('public', 'app') order by 1`;
          for (const s of schemas)
            await sp.unsafe(`GRANT CREATE ON SCHEMA ${s.name} TO praxa_definer, praxa_lifecycle`);
          await sp.unsafe(m.sql);
          await sp`reset role`;
          const after = await sp<
            { name: string }[]
          >`select nspname as name from pg_catalog.pg_namespace where nspname in ('public', 'app') order by 1`;
          for (const s of after)
            await sp.unsafe(`REVOKE CREATE ON SCHEMA ${s.name} FROM praxa_definer, praxa_lifecycle`);
          await sp`insert into praxa_migrations.applied (name, checksum) values (${m.name}, ${m.checksum})`;
        });
        applied.push(m.name);
      }
      return { applied, alreadyApplied: done.size };
    });
  } finally {
    await sql.end({ timeout: 5 });
  }
}
