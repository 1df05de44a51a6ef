/**
 * The tenancy attack suite, generated from the catalog: every tenant table × every login app role that holds a grant
 * on it × every granted operation. Scoped to workspace A, the role tries to read, change, delete and create
 * workspace B's rows, and to point a composite foreign key at B's row. Each attack has its positive control — the
 * same role scoped to B does see and change B's rows — so every refusal is row-level security at work, not a missing
 * grant or an empty table. Every transaction is rolled back.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import postgres from "postgres";
import { randomBytes } from "node:crypto";
import { newId, WorkspaceScopeError } from "@praxa/core";
import {
  createTestDatabase,
  LOGIN_ROLES,
  mapPgError,
  seedWorkspaceFixture,
  type LoginRole,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";

type Op = "SELECT" | "INSERT" | "UPDATE" | "DELETE";
interface Grant {
  readonly table: string;
  readonly role: LoginRole;
  readonly op: Op;
  readonly column?: string;
}

let tdb: TestDatabase;
let admin: postgres.Sql;
const conns = new Map<LoginRole, postgres.Sql>();
let A: WorkspaceFixture;
let B: WorkspaceFixture;
let tenantTables: string[] = [];
let grants: Grant[] = [];

class Rollback extends Error {}

/** Run `fn` as `role` scoped to `ws` (or unscoped), always rolled back; returns fn's value or the mapped error. */
async function as<T>(
  role: LoginRole,
  ws: string | null,
  fn: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<{ value?: T; error?: unknown }> {
  const sql = conns.get(role);
  if (!sql) throw new Error(`no connection for ${role}`);
  let value: T | undefined;
  try {
    await sql.begin(async (tx) => {
      if (ws !== null) await tx`select set_config('app.workspace_id', ${ws}, true)`;
      value = await fn(tx);
      throw new Rollback();
    });
  } catch (err) {
    if (err instanceof Rollback) return { value: value as T };
    return { error: mapPgError(err) };
  }
  return { value: value as T };
}

/** SQL predicate selecting the fixture's rows in `table`. */
function rowsOf(table: string, f: WorkspaceFixture): string {
  if (table === "tenants") return `id = '${f.tenantId}'`;
  if (table === "workspaces") return `id = '${f.workspaceId}'`;
  return `workspace_id = '${f.workspaceId}'`;
}

/** A fresh row for `table` in workspace `ws`, whose references point at `parent`'s rows. */
const ROW_BUILDERS: Record<string, (ws: string, parent: WorkspaceFixture) => Record<string, unknown>> = {
  workspace_members: (ws) => ({
    workspace_id: ws,
    id: newId("member"),
    email: `${newId("member")}@example.com`,
    role: "viewer",
  }),
  integrations: (ws, p) => ({
    workspace_id: ws,
    id: newId("integration"),
    provider: "slack",
    external_id: `T${Date.now()}${Math.random()}`,
    installed_by: p.memberId,
  }),
  skills: (ws) => ({
    workspace_id: ws,
    id: newId("skill"),
    slug: `s-${Math.floor(Math.random() * 1e9)}`,
    name: "probe",
  }),
  skill_versions: (ws, p) => ({
    workspace_id: ws,
    id: newId("skillVersion"),
    skill_id: p.skillId,
    version: 99,
    manifest: {},
    manifest_hash: "a".repeat(64),
  }),
  agent_run_events: (ws, p) => ({ workspace_id: ws, run_id: p.runId, meta: { tool_name: "probe", ms: 1 } }),
  memory_facts: (ws) => ({
    workspace_id: ws,
    id: newId("memoryFact"),
    namespace: "faq",
    key: `k-${Math.random()}`,
    value: { v: 1 },
  }),
  trigger_secrets: (ws, p) => ({
    workspace_id: ws,
    id: newId("triggerSecret"),
    skill_id: p.skillId,
    ciphertext: Buffer.alloc(64, 1),
    key_id: p.ingestKeyId,
    created_by: p.memberId,
  }),
  console_sign_ins: (ws) => ({
    workspace_id: ws,
    state_sha256: randomBytes(32).toString("hex"),
    code_verifier: randomBytes(32).toString("base64url"),
    nonce: randomBytes(16).toString("hex"),
    return_to: "/runs",
    expires_at: new Date(Date.now() + 600_000),
  }),
  oauth_states: (ws, p) => ({
    workspace_id: ws,
    state_sha256: randomBytes(32).toString("hex"),
    provider: "github",
    member_id: p.memberId,
    expires_at: new Date(Date.now() + 600_000),
  }),
  llm_credentials: (ws, p) => ({
    workspace_id: ws,
    id: newId("credential"),
    provider: "anthropic",
    fingerprint: "wxyz",
    vault_name: `llm/anthropic/${Math.random()}`,
    created_by: p.memberId,
  }),
  skill_feedback: (ws, p) => ({
    workspace_id: ws,
    run_id: p.runId,
    skill_id: p.skillId,
    verdict: "rejected",
    source: "api",
    actor_id: p.memberId,
    actor_is_bot: false,
  }),
  notification_channels: (ws, p) => ({
    workspace_id: ws,
    id: newId("notificationChannel"),
    kind: "email",
    target: "probe@example.com",
    created_by: p.memberId,
  }),
  siem_subscriptions: (ws, p) => ({
    workspace_id: ws,
    id: newId("siemSubscription"),
    endpoint_url: "https://siem.example.com/probe",
    format: "jsonl",
    public_key: `whpk_${randomBytes(32).toString("base64")}`,
    created_by: p.memberId,
  }),
};

async function insertRow(tx: postgres.TransactionSql, table: string, row: Record<string, unknown>): Promise<number> {
  const cols = Object.keys(row);
  const values = cols.map((c) => row[c] as postgres.ParameterOrJSON<never>);
  const res = await tx.unsafe(
    `insert into ${table} (${cols.join(", ")}) values (${cols.map((_, i) => `$${i + 1}`).join(", ")})`,
    values,
  );
  return res.count;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 2, onnotice: () => {} });
  for (const role of LOGIN_ROLES) conns.set(role, postgres(tdb.roleUrl(role), { max: 2, onnotice: () => {} }));
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  // Tenant tables: every table with a policy scoped by app.current_workspace().
  tenantTables = (
    await admin<
      { tablename: string }[]
    >`select distinct tablename from pg_policies where schemaname = 'public' and qual like '%current_workspace%' order by 1`
  ).map((r) => r.tablename);
  const tableGrants = await admin<{ table_name: string; grantee: LoginRole; privilege_type: Op }[]>`
    select table_name, grantee, privilege_type from information_schema.role_table_grants
     where table_schema = 'public' and grantee = any(${[...LOGIN_ROLES]}) and privilege_type in ('SELECT','INSERT','UPDATE','DELETE')`;
  const columnUpdates = await admin<{ table_name: string; grantee: LoginRole; column_name: string }[]>`
    select table_name, grantee, min(column_name) as column_name from information_schema.column_privileges
     where table_schema = 'public' and grantee = any(${[...LOGIN_ROLES]}) and privilege_type = 'UPDATE' group by 1, 2`;
  grants = tableGrants
    .filter((g) => tenantTables.includes(g.table_name))
    .map((g) => ({ table: g.table_name, role: g.grantee, op: g.privilege_type }));
  // Column-level SELECT grants are attacked like table-level ones (count(*) needs only a column privilege).
  const columnSelects = await admin<{ table_name: string; grantee: LoginRole }[]>`
    select distinct table_name, grantee from information_schema.column_privileges
     where table_schema = 'public' and grantee = any(${[...LOGIN_ROLES]}) and privilege_type = 'SELECT'`;
  for (const c of columnSelects) {
    if (
      tenantTables.includes(c.table_name) &&
      !grants.some((g) => g.table === c.table_name && g.role === c.grantee && g.op === "SELECT")
    ) {
      grants.push({ table: c.table_name, role: c.grantee, op: "SELECT" });
    }
  }
  for (const c of columnUpdates) {
    if (!tenantTables.includes(c.table_name)) continue;
    grants = grants.filter((g) => !(g.table === c.table_name && g.role === c.grantee && g.op === "UPDATE"));
    grants.push({ table: c.table_name, role: c.grantee, op: "UPDATE", column: c.column_name });
  }
});

afterAll(async () => {
  for (const c of conns.values()) await c.end({ timeout: 5 });
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

describe("tenancy attack suite (generated from the catalog)", () => {
  it("covers every tenant table, and each has rows for both workspaces", async () => {
    expect(tenantTables).toEqual(
      expect.arrayContaining([
        "workspaces",
        "workspace_members",
        "integrations",
        "skills",
        "skill_versions",
        "agent_runs",
        "run_steps",
        "agent_run_events",
        "memory_facts",
      ]),
    );
    for (const t of [...tenantTables, "tenants"]) {
      for (const f of [A, B]) {
        const [row] = await admin.unsafe<{ n: number }[]>(`select count(*)::int as n from ${t} where ${rowsOf(t, f)}`);
        expect({ table: t, rows: (row?.n ?? 0) > 0 }).toEqual({ table: t, rows: true });
      }
    }
    expect(grants.length).toBeGreaterThan(15);
    // Every table a login role may INSERT into has a row builder, so a new table cannot dodge the INSERT attack.
    const insertTables = [...new Set(grants.filter((g) => g.op === "INSERT").map((g) => g.table))];
    expect(insertTables.filter((t) => !ROW_BUILDERS[t])).toEqual([]);
  });

  it("SELECT: scoped to A, B’s rows are invisible; no scope sees nothing; scoped to B they are visible", async () => {
    for (const g of grants.filter((x) => x.op === "SELECT")) {
      for (const t of g.table === "workspaces" ? ["workspaces", "tenants"] : [g.table]) {
        const count = (ws: string | null, f: WorkspaceFixture | null) =>
          as(
            g.role,
            ws,
            async (tx) =>
              (
                await tx.unsafe<{ n: number }[]>(
                  `select count(*)::int as n from ${t}${f ? ` where ${rowsOf(t, f)}` : ""}`,
                )
              )[0]?.n,
          );
        const label = `${g.role} SELECT ${t}`;
        expect({ label, attack: (await count(A.workspaceId, B)).value }).toEqual({ label, attack: 0 });
        expect({ label, unscoped: (await count(null, null)).value }).toEqual({ label, unscoped: 0 });
        expect({ label, emptyScope: (await count("", null)).value }).toEqual({ label, emptyScope: 0 });
        expect({ label, control: ((await count(B.workspaceId, B)).value ?? 0) > 0 }).toEqual({ label, control: true });
      }
    }
  });

  it("UPDATE: scoped to A, B’s rows are untouched; scoped to B the same statement changes them", async () => {
    const updates = grants.filter((x) => x.op === "UPDATE");
    expect(updates.length).toBeGreaterThan(0);
    for (const g of updates) {
      const column = g.column ?? "workspace_id";
      const run = (ws: string) =>
        as(
          g.role,
          ws,
          async (tx) =>
            (await tx.unsafe(`update ${g.table} set ${column} = ${column} where ${rowsOf(g.table, B)}`)).count,
        );
      const label = `${g.role} UPDATE ${g.table}.${column}`;
      expect({ label, attack: (await run(A.workspaceId)).value }).toEqual({ label, attack: 0 });
      expect({ label, control: ((await run(B.workspaceId)).value ?? 0) > 0 }).toEqual({ label, control: true });
    }
  });

  it("DELETE: scoped to A, B’s rows are untouched; scoped to B the same statement deletes them", async () => {
    const deletes = grants.filter((x) => x.op === "DELETE");
    expect(deletes.length).toBeGreaterThan(0);
    for (const g of deletes) {
      const run = (ws: string) =>
        as(g.role, ws, async (tx) => (await tx.unsafe(`delete from ${g.table} where ${rowsOf(g.table, B)}`)).count);
      const label = `${g.role} DELETE ${g.table}`;
      expect({ label, attack: (await run(A.workspaceId)).value }).toEqual({ label, attack: 0 });
      // Control: B's rows one at a time (a row other rows reference is held by its foreign keys, not by RLS).
      const [n] = await admin.unsafe<{ n: number }[]>(
        `select count(*)::int as n from ${g.table} where ${rowsOf(g.table, B)}`,
      );
      let deleted = 0;
      for (let k = 0; k < (n?.n ?? 0) && deleted === 0; k++) {
        const one = await as(
          g.role,
          B.workspaceId,
          async (tx) =>
            (
              await tx.unsafe(
                `delete from ${g.table} where ctid = (select ctid from ${g.table} where ${rowsOf(g.table, B)} order by ctid offset ${k} limit 1)`,
              )
            ).count,
        );
        deleted += one.value ?? 0;
      }
      expect({ label, control: deleted > 0 }).toEqual({ label, control: true });
    }
  });

  it("INSERT: scoped to A, a row with workspace_id = B is refused by RLS (WorkspaceScopeError); scoped to B it is accepted", async () => {
    for (const g of grants.filter((x) => x.op === "INSERT")) {
      const build = ROW_BUILDERS[g.table];
      if (!build) throw new Error(`no row builder for ${g.table}`);
      const label = `${g.role} INSERT ${g.table}`;
      const attack = await as(g.role, A.workspaceId, (tx) => insertRow(tx, g.table, build(B.workspaceId, B)));
      expect({ label, error: (attack.error as { code?: string } | undefined)?.code }).toEqual({
        label,
        error: "WORKSPACE_SCOPE",
      });
      expect(attack.error).toBeInstanceOf(WorkspaceScopeError);
      const control = await as(g.role, B.workspaceId, (tx) => insertRow(tx, g.table, build(B.workspaceId, B)));
      expect({ label, control: control.value, error: control.error }).toEqual({ label, control: 1, error: undefined });
    }
  });

  it("composite foreign keys: a row of A cannot point at B’s row; pointing at A’s row works", async () => {
    const fks = await admin<{ child: string; parent: string }[]>`
      select c.conrelid::regclass::text as child, c.confrelid::regclass::text as parent from pg_constraint c
       where c.contype = 'f' and c.connamespace = 'public'::regnamespace and array_length(c.conkey, 1) = 2
         and (select attname from pg_attribute where attrelid = c.conrelid and attnum = c.conkey[1]) = 'workspace_id'`;
    expect(fks.length).toBeGreaterThanOrEqual(6);
    const attacked = fks.filter(
      (fk) => ROW_BUILDERS[fk.child] && grants.some((g) => g.table === fk.child && g.op === "INSERT"),
    );
    expect(attacked.map((f) => f.child).sort()).toEqual(
      expect.arrayContaining(["agent_run_events", "notification_channels", "trigger_secrets"]),
    );
    for (const fk of attacked) {
      const g = grants.find((x) => x.table === fk.child && x.op === "INSERT");
      const build = ROW_BUILDERS[fk.child];
      if (!g || !build) continue;
      const label = `${g.role} INSERT ${fk.child} → ${fk.parent}`;
      const attack = await as(g.role, A.workspaceId, (tx) => insertRow(tx, fk.child, build(A.workspaceId, B)));
      expect({ label, error: (attack.error as { code?: string } | undefined)?.code }).toEqual({
        label,
        error: "WORKSPACE_SCOPE",
      });
      const control = await as(g.role, A.workspaceId, (tx) => insertRow(tx, fk.child, build(A.workspaceId, A)));
      expect({ label, control: control.value, error: control.error }).toEqual({ label, control: 1, error: undefined });
    }
  });

  it("platform tables (webhook_deliveries) are unreachable by every login role", async () => {
    for (const role of LOGIN_ROLES) {
      const r = await as(
        role,
        A.workspaceId,
        async (tx) => (await tx`select count(*)::int as n from webhook_deliveries`)[0]?.n,
      );
      expect({ role, code: (r.error as { code?: string } | undefined)?.code }).toEqual({
        role,
        code: "PERMISSION_DENIED",
      });
    }
  });
});
