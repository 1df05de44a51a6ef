/**
 * The catalog test: security properties read from Postgres's own catalog, so it needs no update when tables,
 * functions or roles are added — a new table without FORCE RLS, a definer function without a fixed search_path, a
 * login role that gained BYPASSRLS or TRUNCATE: each fails here by name.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { readFileSync, writeFileSync } from "node:fs";
import postgres from "postgres";
import { createTestDatabase, LOGIN_ROLES, ALL_ROLES, type TestDatabase } from "./index.js";

let tdb: TestDatabase;
let sql: postgres.Sql;
const OUR_SCHEMAS_SQL = `n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and n.nspname not like 'pg\\_temp\\_%' and n.nspname not like 'pg\\_toast\\_temp\\_%'`;

beforeAll(async () => {
  tdb = await createTestDatabase();
  sql = postgres(tdb.adminUrl, { max: 2, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await tdb?.drop();
});

describe("catalog: row-level security", () => {
  it("every table of ours, in every schema (migration bookkeeping and vault included), has RLS enabled and FORCED", async () => {
    const rows = await sql.unsafe<{ table: string; rls: boolean; forced: boolean }[]>(`
      select n.nspname || '.' || c.relname as table, c.relrowsecurity as rls, c.relforcerowsecurity as forced
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where c.relkind in ('r', 'p') and ${OUR_SCHEMAS_SQL}
       order by 1`);
    expect(rows.length).toBeGreaterThanOrEqual(10);
    expect(rows.map((r) => r.table)).toEqual(
      expect.arrayContaining(["praxa_migrations.applied", "vault.secrets", "public.agent_runs"]),
    );
    expect(rows.filter((r) => !r.rls || !r.forced).map((r) => r.table)).toEqual([]);
  });

  it("the migration bookkeeping is granted to no app role", async () => {
    const rows = await sql<{ grantee: string }[]>`
      select grantee from information_schema.role_table_grants where table_schema = 'praxa_migrations'
         and grantee = any(${[...LOGIN_ROLES, "PUBLIC"]})`;
    expect(rows).toEqual([]);
  });

  it("no policy for a login app role is USING (true) or WITH CHECK (true)", async () => {
    const rows = await sql<{ policy: string }[]>`
      select schemaname || '.' || tablename || '.' || policyname as policy from pg_policies
       where roles && ${LOGIN_ROLES}::name[] and (coalesce(qual, '') in ('true', '') or with_check = 'true')`;
    expect(rows.map((r) => r.policy)).toEqual([]);
  });

  it("no view lacks security_invoker", async () => {
    const rows = await sql.unsafe<{ view: string }[]>(`
      select n.nspname || '.' || c.relname as view from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where c.relkind in ('v', 'm') and ${OUR_SCHEMAS_SQL}
         and not coalesce('security_invoker=true' = any(c.reloptions) or 'security_invoker=on' = any(c.reloptions), false)`);
    expect(rows.map((r) => r.view)).toEqual([]);
  });
});

describe("catalog: roles", () => {
  it("login app roles are not superuser, not BYPASSRLS, cannot create roles or databases", async () => {
    const rows = await sql<
      {
        rolname: string;
        rolsuper: boolean;
        rolbypassrls: boolean;
        rolcreaterole: boolean;
        rolcreatedb: boolean;
        rolcanlogin: boolean;
      }[]
    >`
      select rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin from pg_roles where rolname = any(${[...LOGIN_ROLES]})`;
    expect(rows.map((r) => r.rolname).sort()).toEqual([...LOGIN_ROLES].sort());
    for (const r of rows)
      expect({ ...r, rolcanlogin: true }).toEqual({
        rolname: r.rolname,
        rolsuper: false,
        rolbypassrls: false,
        rolcreaterole: false,
        rolcreatedb: false,
        rolcanlogin: true,
      });
  });

  it("no praxa role has BYPASSRLS or superuser", async () => {
    const rows = await sql<
      { rolname: string }[]
    >`select rolname from pg_roles where rolname like 'praxa\\_%' and (rolbypassrls or rolsuper)`;
    expect(rows).toEqual([]);
  });

  it("login app roles own nothing: no table, function, schema or type", async () => {
    const rows = await sql<{ what: string }[]>`
      select 'relation ' || c.relname as what from pg_class c join pg_roles r on r.oid = c.relowner where r.rolname = any(${[...LOGIN_ROLES]})
      union all select 'function ' || p.proname from pg_proc p join pg_roles r on r.oid = p.proowner where r.rolname = any(${[...LOGIN_ROLES]})
      union all select 'schema ' || n.nspname from pg_namespace n join pg_roles r on r.oid = n.nspowner where r.rolname = any(${[...LOGIN_ROLES]})
      union all select 'type ' || t.typname from pg_type t join pg_roles r on r.oid = t.typowner where r.rolname = any(${[...LOGIN_ROLES]})`;
    expect(rows).toEqual([]);
  });

  it("no login app role holds TRUNCATE on any table", async () => {
    const rows = await sql.unsafe<{ grant: string }[]>(`
      select r.rolname || ' on ' || n.nspname || '.' || c.relname as grant
        from pg_class c join pg_namespace n on n.oid = c.relnamespace cross join pg_roles r
       where c.relkind in ('r', 'p') and ${OUR_SCHEMAS_SQL} and r.rolname in (${LOGIN_ROLES.map((r) => `'${r}'`).join(",")})
         and has_table_privilege(r.oid, c.oid, 'TRUNCATE')`);
    expect(rows.map((r) => r.grant)).toEqual([]);
  });

  it("no login app role is a member of another praxa role", async () => {
    const rows = await sql<{ edge: string }[]>`
      select m.rolname || ' in ' || g.rolname as edge from pg_auth_members a
        join pg_roles m on m.oid = a.member join pg_roles g on g.oid = a.roleid
       where m.rolname = any(${[...LOGIN_ROLES]})`;
    expect(rows).toEqual([]);
  });

  it("every praxa role exists", async () => {
    const rows = await sql<{ rolname: string }[]>`select rolname from pg_roles where rolname = any(${[...ALL_ROLES]})`;
    expect(rows.map((r) => r.rolname).sort()).toEqual([...ALL_ROLES].sort());
  });
});

describe("catalog: SECURITY DEFINER functions", () => {
  it("each has a fixed search_path, is owned by praxa_definer (or, for the lifecycle_* functions that delete, praxa_lifecycle), and is not executable by PUBLIC", async () => {
    const rows = await sql.unsafe<{ fn: string; owner: string; config: string[] | null; public_exec: boolean }[]>(`
      select p.oid::regprocedure::text as fn, r.rolname as owner, p.proconfig as config,
             has_function_privilege('public', p.oid, 'EXECUTE') as public_exec
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_roles r on r.oid = p.proowner
       where p.prosecdef and ${OUR_SCHEMAS_SQL}`);
    expect(rows.length).toBeGreaterThanOrEqual(10);
    // praxa_lifecycle owns only the public.lifecycle_* functions: inside them current_user is the one role the audit
    // triggers let delete (retention and erasure, 0033).
    const bad = rows.filter(
      (r) =>
        !(r.owner === "praxa_definer" || (r.owner === "praxa_lifecycle" && r.fn.startsWith("lifecycle_"))) ||
        r.public_exec ||
        !(r.config ?? []).some((c) => /^search_path=pg_catalog, ?pg_temp$/.test(c)),
    );
    expect(bad).toEqual([]);
  });

  it("praxa_definer owns the definer functions and nothing else", async () => {
    const rows = await sql<{ what: string }[]>`
      select 'relation ' || c.relname as what from pg_class c join pg_roles r on r.oid = c.relowner where r.rolname = 'praxa_definer'
      union all select 'schema ' || n.nspname from pg_namespace n join pg_roles r on r.oid = n.nspowner where r.rolname = 'praxa_definer'
      union all select 'non-definer function ' || p.proname from pg_proc p join pg_roles r on r.oid = p.proowner where r.rolname = 'praxa_definer' and not p.prosecdef`;
    expect(rows).toEqual([]);
  });

  it("no function of ours is executable by PUBLIC", async () => {
    const rows = await sql.unsafe<{ fn: string }[]>(`
      select p.oid::regprocedure::text as fn from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where ${OUR_SCHEMAS_SQL} and n.nspname <> 'praxa_migrations' and has_function_privilege('public', p.oid, 'EXECUTE')
         and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')`);
    expect(rows.map((r) => r.fn)).toEqual([]);
  });

  it("praxa_definer and praxa_lifecycle hold CREATE on no schema once migrations have run (migrate.ts lends it only inside a migration)", async () => {
    const rows = await sql.unsafe<{ schema: string }[]>(`
      select n.nspname as schema from pg_namespace n
       where ${OUR_SCHEMAS_SQL} and (has_schema_privilege('praxa_definer', n.oid, 'CREATE') or has_schema_privilege('praxa_lifecycle', n.oid, 'CREATE'))`);
    expect(rows.map((r) => r.schema)).toEqual([]);
  });
});

/**
 * Each login role's whole grant set — tables, columns, functions, schemas, sequences, the database — read from the
 * catalog's ACLs and compared with the reviewed list in `login-role-grants.txt`. A grant added by a migration fails
 * here until the list is updated in the same change, so widening a role is always a visible, reviewed diff.
 * Regenerate after a deliberate change: `PRAXA_WRITE_GRANTS=1 pnpm test packages/db/src/catalog.test.ts`.
 */
const GRANTS_FILE = new URL("./login-role-grants.txt", import.meta.url);

async function loginRoleGrants(): Promise<string[]> {
  const roles = LOGIN_ROLES.map((r) => `'${r}'`).join(",");
  const rows = await sql.unsafe<{ line: string }[]>(`
    with acl as (
      select n.nspname || '.' || c.relname as object,
             case c.relkind when 'S' then 'sequence' when 'v' then 'view' when 'm' then 'view' else 'table' end as kind,
             (aclexplode(c.relacl)).grantee as grantee, (aclexplode(c.relacl)).privilege_type as privilege
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where c.relkind in ('r', 'p', 'v', 'm', 'S') and ${OUR_SCHEMAS_SQL}
    ), cols as (
      select n.nspname || '.' || c.relname as object, a.attname as col,
             (aclexplode(a.attacl)).grantee as grantee, (aclexplode(a.attacl)).privilege_type as privilege
        from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
       where a.attacl is not null and not a.attisdropped and ${OUR_SCHEMAS_SQL}
    ), fns as (
      select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' as object,
             (aclexplode(p.proacl)).grantee as grantee, (aclexplode(p.proacl)).privilege_type as privilege
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace where ${OUR_SCHEMAS_SQL}
    ), schemas as (
      select n.nspname as object, (aclexplode(n.nspacl)).grantee as grantee, (aclexplode(n.nspacl)).privilege_type as privilege
        from pg_namespace n where ${OUR_SCHEMAS_SQL}
    ), db as (
      select 'database' as object, (aclexplode(d.datacl)).grantee as grantee, (aclexplode(d.datacl)).privilege_type as privilege
        from pg_database d where d.datname = current_database()
    )
    select r.rolname || ' ' || g.privilege || ' ' || g.kind || ' ' || g.object as line
      from (select grantee, privilege, kind, object from acl
            union all select grantee, privilege || '(' || string_agg(col, ', ' order by col) || ')', 'columns', object from cols group by 1, privilege, 3, object
            union all select grantee, privilege, 'function', object from fns
            union all select grantee, privilege, 'schema', object from schemas
            union all select grantee, privilege, 'database', object from db) g
      join pg_roles r on r.oid = g.grantee
     where r.rolname in (${roles})
     order by 1`);
  return rows.map((r) => r.line);
}

describe("catalog: each login role holds exactly the reviewed grants", () => {
  it("matches login-role-grants.txt line for line", async () => {
    const actual = await loginRoleGrants();
    if (process.env.PRAXA_WRITE_GRANTS === "1") {
      const header =
        "# Every grant each login role holds, read from the catalog by catalog.test.ts. Reviewed: change it only with the migration\n# that changes a grant (regenerate: PRAXA_WRITE_GRANTS=1 pnpm test packages/db/src/catalog.test.ts).\n";
      writeFileSync(GRANTS_FILE, header + actual.join("\n") + "\n");
    }
    const reviewed = readFileSync(GRANTS_FILE, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith("#"));
    // Readable either way: what a migration granted beyond the list, and what the list names that is gone.
    expect({
      granted_but_not_reviewed: actual.filter((l) => !reviewed.includes(l)),
      reviewed_but_not_granted: reviewed.filter((l) => !actual.includes(l)),
    }).toEqual({
      granted_but_not_reviewed: [],
      reviewed_but_not_granted: [],
    });
    expect(actual.length).toBeGreaterThan(40);
  });

  it("the api holds none of the grants it never used (finding 8): members, memory, Skills", () => {
    const reviewed = readFileSync(GRANTS_FILE, "utf8");
    for (const banned of [
      /^praxa_api (INSERT|UPDATE|DELETE)\S* (table|columns) public\.workspace_members$/m,
      /^praxa_api \S+ (table|columns) public\.memory_facts$/m,
      /^praxa_api (INSERT|UPDATE)\S* (table|columns) public\.skills$/m,
      /^praxa_api INSERT table public\.skill_versions$/m,
    ]) {
      expect({ banned: banned.source, found: banned.test(reviewed) }).toEqual({ banned: banned.source, found: false });
    }
  });
});
