/**
 * Migrating as a managed-Postgres administrator: a CREATEROLE login that is not a superuser (RDS has none), which
 * row-level security does bind. The migration bookkeeping has RLS forced (issue #16, finding 11); if its policy did
 * not let the migrator see its own rows, a second `migrate` would find nothing applied and run every migration again.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { databaseUrl } from "./test-database.js";
import { migrate, readMigrations } from "./index.js";

const ADMIN = process.env.PRAXA_TEST_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const suffix = randomBytes(5).toString("hex");
const migrator = `praxa_test_rds_admin_${suffix}`;
const database = `praxa_test_rds_${suffix}`;
let superuser: postgres.Sql;

beforeAll(async () => {
  superuser = postgres(databaseUrl(ADMIN, { database: "postgres" }), { max: 1, onnotice: () => {} });
  await superuser.unsafe(`CREATE ROLE ${migrator} LOGIN NOSUPERUSER CREATEROLE NOBYPASSRLS`);
  await superuser.unsafe(`CREATE DATABASE ${database} OWNER ${migrator}`);
});

afterAll(async () => {
  await superuser.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  // The praxa roles are cluster-wide and shared by every test database: only our migrator's memberships go.
  await superuser
    .unsafe(`REVOKE praxa_owner, praxa_definer, praxa_vault_owner FROM ${migrator}`)
    .catch(() => undefined);
  await superuser.unsafe(`DROP ROLE IF EXISTS ${migrator}`);
  await superuser.end({ timeout: 5 });
});

describe("migrate as a non-superuser administrator (RDS)", () => {
  it("applies every migration once, sees its own bookkeeping through forced RLS, and a second run applies nothing", async () => {
    const url = databaseUrl(ADMIN, { database, user: migrator });
    const all = readMigrations().map((m) => m.name);
    const first = await migrate(url);
    expect(first).toEqual({ applied: all, alreadyApplied: 0 });
    const second = await migrate(url);
    expect(second).toEqual({ applied: [], alreadyApplied: all.length });

    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const [table] = await sql<{ rls: boolean; forced: boolean; super: boolean }[]>`
        select c.relrowsecurity as rls, c.relforcerowsecurity as forced, (select rolsuper from pg_roles where rolname = current_user) as super
          from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'praxa_migrations' and c.relname = 'applied'`;
      expect(table).toEqual({ rls: true, forced: true, super: false });
    } finally {
      await sql.end({ timeout: 5 });
    }
    // As an app role the bookkeeping is out of reach altogether.
    const api = postgres(databaseUrl(ADMIN, { database, user: "praxa_api" }), { max: 1, onnotice: () => {} });
    try {
      await expect(api`select count(*) from praxa_migrations.applied`).rejects.toMatchObject({ code: "42501" });
    } finally {
      await api.end({ timeout: 5 });
    }
  });
});
