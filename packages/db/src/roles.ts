/**
 * The cluster-wide roles. Created by an idempotent bootstrap that needs only CREATEROLE (managed Postgres such as RDS
 * has no superuser) and tolerates a concurrent creator: test databases migrate in parallel, and a role created by
 * another session between our check and our CREATE is not an error (SQLSTATE 42710, or 23505/XX000 from the
 * catalog's unique index when both commit at once).
 */
import type { Sql } from "postgres";

export const NOLOGIN_ROLES = ["praxa_owner", "praxa_definer", "praxa_vault_owner", "praxa_lifecycle"] as const;
export const LOGIN_ROLES = ["praxa_ingest", "praxa_worker", "praxa_monitor", "praxa_api"] as const;
export type LoginRole = (typeof LOGIN_ROLES)[number];
export const ALL_ROLES = [...NOLOGIN_ROLES, ...LOGIN_ROLES] as const;

const TOLERATED = new Set(["42710", "23505", "XX000"]);

function pgCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string"
    ? err.code
    : undefined;
}

async function tolerate(run: () => Promise<unknown>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await run();
      return;
    } catch (err) {
      const code = pgCode(err);
      if (code === "42710" || code === "23505") return; // someone else created it
      if (code !== undefined && TOLERATED.has(code) && attempt < 3) continue; // "tuple concurrently updated": retry
      throw err;
    }
  }
}

/**
 * Create the roles if missing and make their attributes what the design says. Login roles get no password here:
 * set one (or use IAM auth) per environment; locally the server trusts loopback.
 */
export async function bootstrapRoles(sql: Sql): Promise<void> {
  const existing = new Set(
    (await sql<{ rolname: string }[]>`select rolname from pg_catalog.pg_roles where rolname like 'praxa\_%'`).map(
      (r) => r.rolname,
    ),
  );
  for (const role of NOLOGIN_ROLES) {
    if (!existing.has(role))
      await tolerate(() =>
        sql.unsafe(`CREATE ROLE ${role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT`),
      );
  }
  for (const role of LOGIN_ROLES) {
    if (!existing.has(role))
      await tolerate(() =>
        sql.unsafe(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT`),
      );
  }
  const [me] = await sql<
    { superuser: boolean; name: string }[]
  >`select rolsuper as superuser, current_user as name from pg_catalog.pg_roles where rolname = current_user`;
  if (me && !me.superuser) {
    // A CREATEROLE migrator (RDS) must be a member of the roles it creates objects as or hands them to.
    for (const role of ["praxa_owner", "praxa_definer", "praxa_vault_owner", "praxa_lifecycle"]) {
      await tolerate(() => sql.unsafe(`GRANT ${role} TO "${me.name.replace(/"/g, '""')}"`));
    }
  }
}
