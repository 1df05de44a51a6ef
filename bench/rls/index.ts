/**
 * bench/rls — what forced row-level security costs on an indexed query.
 * 1M memory facts in 1k workspaces. "ours": the query as praxa_api inside withWorkspace (RLS adds the workspace
 * predicate; the transaction sets the scope). "baseline": the same query, with the workspace predicate written out, as
 * the admin, to whom RLS does not apply. Both alternate in rounds so machine noise hits both alike.
 * Target (issue #4): scoped ≤ 1.2× unscoped, i.e. ratio = baseline/ours ≥ 0.83.
 */
import postgres from "postgres";
import { createTestDatabase } from "@praxa/db";

const WORKSPACES = Number(process.env.BENCH_WORKSPACES ?? 1000);
const PER_WORKSPACE = Number(process.env.BENCH_PER_WORKSPACE ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 2000);

const tdb = await createTestDatabase({ prefix: "praxa_bench_rls" });
const admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
const api = postgres(tdb.roleUrl("praxa_api"), { max: 1, onnotice: () => {} });
try {
  const t0 = performance.now();
  await admin.unsafe(`
    insert into tenants (id, name) values ('tn_0' || substr(md5('bench'), 1, 25), 'bench');
    insert into workspaces (id, tenant_id, name)
      select 'ws_0' || substr(md5('ws' || w), 1, 25), 'tn_0' || substr(md5('bench'), 1, 25), 'w' || w from generate_series(1, ${WORKSPACES}) w;
    insert into memory_facts (workspace_id, id, namespace, key, value)
      select 'ws_0' || substr(md5('ws' || w), 1, 25), 'mf_0' || substr(md5('mf' || w || '-' || k), 1, 25), 'faq', 'k' || k, jsonb_build_object('n', k)
        from generate_series(1, ${WORKSPACES}) w, generate_series(1, ${PER_WORKSPACE}) k;
    analyze memory_facts;`);
  const rows = WORKSPACES * PER_WORKSPACE;
  console.log(
    `loaded ${rows.toLocaleString()} rows in ${WORKSPACES} workspaces in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const ws = (i: number) =>
    admin
      .unsafe<{ id: string }[]>(`select 'ws_0' || substr(md5('ws' || ${(i % WORKSPACES) + 1}), 1, 25) as id`)
      .then((r) => r[0]?.id ?? "");
  const workspaces = await Promise.all(Array.from({ length: 50 }, (_, i) => ws(i * 17)));

  const plan = await api.begin(async (tx) => {
    await tx`select set_config('app.workspace_id', ${workspaces[0] ?? ""}, true)`;
    return tx.unsafe(`explain select value from memory_facts where namespace = 'faq' and key = 'k42'`);
  });
  console.log("scoped plan:", plan.map((r) => Object.values(r)[0]).join(" | "));

  async function scoped(n: number): Promise<number> {
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const w = workspaces[i % workspaces.length] ?? "";
      await api.begin(async (tx) => {
        await tx`select set_config('app.workspace_id', ${w}, true)`;
        await tx`select value from memory_facts where namespace = 'faq' and key = ${"k" + ((i % PER_WORKSPACE) + 1)}`;
      });
    }
    return performance.now() - start;
  }
  async function unscoped(n: number): Promise<number> {
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const w = workspaces[i % workspaces.length] ?? "";
      await admin.begin(async (tx) => {
        await tx`select set_config('app.bench', ${w}, true)`; // the same round trips as the scoped path
        await tx`select value from memory_facts where workspace_id = ${w} and namespace = 'faq' and key = ${"k" + ((i % PER_WORKSPACE) + 1)}`;
      });
    }
    return performance.now() - start;
  }
  await scoped(200);
  await unscoped(200);
  let ours = 0;
  let base = 0;
  for (let r = 0; r < ROUNDS; r++) {
    base += await unscoped(QUERIES);
    ours += await scoped(QUERIES);
  }
  const total = ROUNDS * QUERIES;
  const oursUs = (ours * 1000) / total;
  const baseUs = (base * 1000) / total;
  console.log(
    `scoped (praxa_api, RLS): ${oursUs.toFixed(1)} µs/query; unscoped (admin, no RLS): ${baseUs.toFixed(1)} µs/query; scoped/unscoped = ${(oursUs / baseUs).toFixed(3)}×`,
  );
  console.log(
    JSON.stringify({
      bench: "rls",
      ratio: Number((baseUs / oursUs).toFixed(3)),
      unit: "µs/query (baseline/ours, higher is better)",
      ours: Number(oursUs.toFixed(1)),
      baseline: Number(baseUs.toFixed(1)),
      rows,
      workspaces: WORKSPACES,
    }),
  );
} finally {
  await api.end({ timeout: 5 });
  await admin.end({ timeout: 5 });
  await tdb.drop();
}
