/**
 * bench/siem's load, in a process of its own: the real delivery pass (`runSiemDelivery`: lease, stored records after
 * the cursor, batch recorded, Standard Webhooks v1a signature, egress guard, acknowledgement) run until the stream is
 * caught up. Prints one JSON line {events, batches, ms}.
 */
import type { SiemSubscriptionId } from "@praxa/core";
import { LocalKeyProvider } from "@praxa/crypto";
import { createDatabase } from "@praxa/db";
import { egressPolicy } from "@praxa/egress";
import { createLogger } from "@praxa/observability";
import { runSiemDelivery } from "@praxa/worker";

const database = createDatabase(process.env.BENCH_WORKER_DATABASE_URL ?? "", { max: 2 });
const provider = await LocalKeyProvider.open({ path: process.env.BENCH_KEY_FILE ?? "" });
const deps = {
  database,
  provider,
  holder: `bench:${process.pid}`,
  log: createLogger({ name: "bench-siem", level: "silent" }),
  siem: {
    egress: egressPolicy({ requireHttps: false, allowCidrs: "127.0.0.0/8" }),
    leaseSeconds: 30,
    retryBaseMs: 50,
    retryMaxMs: 500,
    maxFailingSeconds: 3600,
    maxBatchesPerPass: 1_000_000,
  },
};
const t0 = performance.now();
let events = 0;
let batches = 0;
for (;;) {
  const r = await runSiemDelivery(deps, (process.env.BENCH_SUBSCRIPTION ?? "") as SiemSubscriptionId);
  if ("events" in r) {
    events += r.events;
    batches += r.batches;
  }
  if (r.outcome === "caught_up") break;
  if (r.outcome !== "budget_spent") throw new Error(`delivery stopped: ${JSON.stringify(r)}`);
}
process.stdout.write(`${JSON.stringify({ events, batches, ms: performance.now() - t0 })}\n`);
await database.close();
