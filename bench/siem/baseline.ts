/**
 * bench/siem's baseline, in a process of its own: the same bytes posted by a plain loop — the very batch bodies the
 * stream sends (built from the same stored records with the same function, before the clock starts), POSTed one after
 * another with fetch (keep-alive), no database, no lease, no signature, no egress guard. Prints {events, batches, ms}.
 */
import { buildSiemBatch, type SiemStoredEvent } from "@praxa/connectors";
import postgres from "postgres";

const sql = postgres(process.env.BENCH_ADMIN_URL ?? "", { max: 1, onnotice: () => {} });
const rows = await sql<(SiemStoredEvent & { seq: string })[]>`
  select seq::text as seq, workspace_id, prev_hash, hash, key_id, signature, canonical, occurred_at
    from audit_events where workspace_id = ${process.env.BENCH_WORKSPACE ?? ""} order by seq`;
await sql.end({ timeout: 5 });
const events: SiemStoredEvent[] = rows.map((r) => ({ ...r, seq: Number(r.seq) }));
const perBatch = Number(process.env.BENCH_BATCH_EVENTS ?? 1000);
const bodies: Buffer[] = [];
for (let i = 0; i < events.length;) {
  const b = buildSiemBatch("jsonl", events.slice(i, i + perBatch), perBatch, 1024 * 1024);
  if (!b) break;
  bodies.push(b.body);
  i += b.count;
}
const url = process.env.BENCH_RECEIVER_URL ?? "";
const t0 = performance.now();
for (const body of bodies) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`baseline POST answered ${res.status}`);
}
process.stdout.write(
  `${JSON.stringify({ events: events.length, batches: bodies.length, ms: performance.now() - t0 })}\n`,
);
