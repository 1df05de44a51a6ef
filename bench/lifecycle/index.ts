/**
 * bench/lifecycle — the retention sweep's cost on a large chain, against a plain DELETE of the same rows in the same run.
 *  - a workspace's chain of BENCH_LIFECYCLE_CHAIN events (default 200,000; hashes only, as a checkpoint reads them), the
 *    older half past its 90-day window, with a checkpoint every 1,000 events as appenders leave it (the stored
 *    frontiers); the cut removes the old half:
 *      ours:     `cutAuditChain` as the monitor — sign a checkpoint at the cut (from the latest frontier below it),
 *                then `lifecycle_apply_retention` (window re-checked, the removed hashes copied into
 *                audit_retention_cuts, the events deleted as praxa_lifecycle through the audit triggers);
 *      baseline: the same rows of an identical second chain DELETEd by the superuser with the triggers off — what
 *                removing them costs with no proof kept and no check made.
 *  - the steady state: the next day's sweep, cutting the next 1,000 events, the same two ways.
 *  Rounds alternate the two (BENCH_ROUNDS, default 1: each round needs a fresh chain).
 *  Partitioning is not used: a time partition holds every workspace's events of its period, and each workspace has its
 *  own window (1–3650 days), so a partition could be dropped only once every workspace in it has expired — see the
 *  figures this prints for what a DELETE of a cut costs instead.
 */
import { createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import postgres from "postgres";
import {
  createCheckpoint,
  createDatabase,
  createTestDatabase,
  cutAuditChain,
  registerAuditKey,
  seedWorkspaceFixture,
  withWorkspace,
  type WorkspaceFixture,
} from "@praxa/db";

const CHAIN = Number(process.env.BENCH_LIFECYCLE_CHAIN ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const EVERY = 1_000;
const DAY = 1_000;

const tdb = await createTestDatabase({ prefix: "praxa_bench_lifecycle" });
const admin = postgres(tdb.adminUrl, { max: 2, onnotice: () => {} });
const worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
const monitor = createDatabase(tdb.roleUrl("praxa_monitor"), { max: 2 });
const key = generateKeyPairSync("ed25519");
const cpSigner = { keyId: "bench-lifecycle-cp", sign: async (m: Uint8Array) => sign(null, m, key.privateKey) };
await registerAuditKey(worker, {
  keyId: cpSigner.keyId,
  purpose: "checkpoint",
  algorithm: "ed25519",
  spki: createPublicKey(key.privateKey).export({ format: "der", type: "spki" }),
});

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

/** A chain of CHAIN events, the first `old` of them 100 days old, with a checkpoint every EVERY events. */
async function chain(label: string, old: number, idSpace: number): Promise<WorkspaceFixture> {
  const f = await seedWorkspaceFixture(tdb.adminUrl, label, { auditChain: false });
  for (let from = 1; from <= CHAIN; from += EVERY) {
    const to = Math.min(CHAIN, from + EVERY - 1);
    await admin`insert into audit_events (workspace_id, seq, id, kind, trigger, occurred_at, prev_hash, hash, key_id, signature, canonical)
      select ${f.workspaceId}, g, 'ae_' || ${String(idSpace)} || lpad(to_hex(g), 25, '0'), 'skill.action', 'bench.trigger',
             case when g <= ${old} then now() - interval '100 days' else now() end,
             encode(sha256(int8send(g - 1)), 'hex'), encode(sha256(int8send(g)), 'hex'), 'bench-ev', 's', '\\x00'::bytea
        from generate_series(${from}::bigint, ${to}::bigint) g`;
    await admin`insert into audit_chain_heads (workspace_id, seq, head_hash) values (${f.workspaceId}, ${to}, encode(sha256(int8send(${to}::bigint)), 'hex'))
      on conflict (workspace_id) do update set seq = excluded.seq, head_hash = excluded.head_hash`;
    await withWorkspace(worker, f.workspaceId, (s) => createCheckpoint(s, cpSigner));
  }
  await admin`vacuum analyze audit_events`;
  return f;
}

/** Make events (from, to] old (the next day's expiry), as the superuser with the triggers off. */
async function expire(f: WorkspaceFixture, from: number, to: number): Promise<void> {
  await admin.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`update audit_events set occurred_at = now() - interval '100 days' where workspace_id = ${f.workspaceId} and seq > ${from} and seq <= ${to}`;
  });
}

async function plainDelete(f: WorkspaceFixture, from: number, to: number): Promise<number> {
  const t = performance.now();
  await admin.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`delete from audit_events where workspace_id = ${f.workspaceId} and seq > ${from} and seq <= ${to}`;
  });
  return performance.now() - t;
}

async function ourCut(f: WorkspaceFixture, through: number): Promise<number> {
  const t = performance.now();
  const removed = await cutAuditChain(monitor, f.workspaceId, through, cpSigner);
  const ms = performance.now() - t;
  if (removed <= 0) throw new Error("the cut removed nothing");
  return ms;
}

const times = { bigOurs: [] as number[], bigBase: [] as number[], dayOurs: [] as number[], dayBase: [] as number[] };
const half = Math.floor(CHAIN / 2);
for (let r = 0; r < ROUNDS; r++) {
  if (r >= 4) throw new Error("at most 4 rounds (id spaces 0-7)");
  const a = await chain(`ours-${r}`, half, 2 * r);
  const b = await seedWorkspaceFixture(tdb.adminUrl, `base-${r}`, { auditChain: false });
  // The baseline chain: the same rows under another workspace (ids made unique by their first character).
  await admin.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`insert into audit_events (workspace_id, seq, id, kind, trigger, occurred_at, prev_hash, hash, key_id, signature, canonical)
      select ${b.workspaceId}, seq, 'ae_' || ${String(2 * r + 1)} || substr(id, 5), kind, trigger, occurred_at, prev_hash, hash, key_id, signature, canonical
        from audit_events where workspace_id = ${a.workspaceId}`;
  });
  await admin`vacuum analyze audit_events`;
  times.bigOurs.push(await ourCut(a, half));
  times.bigBase.push(await plainDelete(b, 0, half));
  await expire(a, half, half + DAY);
  await expire(b, half, half + DAY);
  times.dayOurs.push(await ourCut(a, half + DAY));
  times.dayBase.push(await plainDelete(b, half, half + DAY));
}
const big = { ours: median(times.bigOurs), base: median(times.bigBase) };
const day = { ours: median(times.dayOurs), base: median(times.dayBase) };
console.log(
  `cut of ${half} events from a ${CHAIN}-event chain (checkpoint at the cut signed, hashes kept, deleted through the triggers): ${big.ours.toFixed(0)} ms; a plain DELETE of the same rows: ${big.base.toFixed(0)} ms (${(big.ours / big.base).toFixed(2)}×); per event ${((big.ours * 1000) / half).toFixed(1)} µs`,
);
console.log(
  `the next day's cut of ${DAY} events: ${day.ours.toFixed(1)} ms; a plain DELETE: ${day.base.toFixed(1)} ms (${(day.ours / day.base).toFixed(2)}×)`,
);
const [size] = await admin<{ kept: string; events: string }[]>`
  select pg_size_pretty(sum(pg_column_size(leaf_hashes))::bigint) as kept,
         pg_size_pretty(pg_total_relation_size('audit_events')) as events from audit_retention_cuts`;
console.log(`kept for the proofs: ${size?.kept} of hashes (audit_events with its indexes: ${size?.events})`);
console.log(
  JSON.stringify({
    bench: "lifecycle",
    ratio: Number((big.ours / big.base).toFixed(3)),
    unit: "× a plain DELETE of the cut (lower is better)",
    ours: Math.round(big.ours),
    baseline: Math.round(big.base),
  }),
);
await Promise.all([worker.close(), monitor.close(), admin.end({ timeout: 5 })]);
await tdb.drop();
