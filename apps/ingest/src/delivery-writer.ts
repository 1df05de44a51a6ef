/**
 * Group commit for ingest's durable writes, as packages/db/src/audit-writer.ts groups audit appends. Each verified
 * request hands its delivery to `accept`; what has queued meanwhile is placed by one statement (`acceptDeliveries`:
 * one round trip, one transaction, one commit and its WAL flush for the whole batch), and each caller's promise
 * resolves only once that statement has committed — a request never answers 202 before its run rows are durable.
 *
 *  - Isolation: a batch is one statement, so if any delivery of it fails (a database error, a deadlock with another
 *    process's batch), nothing of it was stored; each delivery is then placed again alone, so only the one at fault
 *    fails, with its own error.
 *  - Order: deliveries are placed in the order `accept` was called; a duplicate of an earlier delivery of the same
 *    batch sees it (same transaction) and answers `duplicate`, as across batches.
 *  - Flow: at most `concurrency` batches are in flight (default 2: one committing while the next fills), each of at
 *    most `maxBatch` deliveries (default 64). Batches start on the next turn of the event loop (no timer, no waiting
 *    for more), so an idle ingest adds no latency to a lone request.
 */
import { UnavailableError } from "@praxa/core";
import { acceptDeliveries, type AcceptDeliveryInput, type AcceptedDelivery, type Database } from "@praxa/db";

export interface DeliveryWriterOptions {
  /** Batches in flight at once (default 2). */
  readonly concurrency?: number;
  /** Deliveries one batch takes at most (default 64). */
  readonly maxBatch?: number;
  /** Told of a batch that failed before its deliveries are placed one by one (for the log). Must not throw. */
  readonly onBatchError?: (err: unknown, deliveries: number) => void;
}

export interface DeliveryWriter {
  /** Record the delivery and create its runs; resolves once they are committed. */
  accept(input: AcceptDeliveryInput): Promise<AcceptedDelivery>;
  /** Refuse new deliveries (UnavailableError) and resolve once everything accepted is placed or has failed. */
  close(): Promise<void>;
}

interface Pending {
  readonly input: AcceptDeliveryInput;
  readonly resolve: (row: AcceptedDelivery) => void;
  readonly reject: (err: unknown) => void;
}

export function createDeliveryWriter(database: Database, options: DeliveryWriterOptions = {}): DeliveryWriter {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 2));
  const maxBatch = Math.max(1, Math.floor(options.maxBatch ?? 64));
  const queue: Pending[] = [];
  let inFlight = 0;
  let scheduled = false;
  let closed = false;
  const idle: (() => void)[] = [];

  const alone = async (p: Pending): Promise<void> => {
    try {
      const [row] = await acceptDeliveries(database, [p.input]);
      p.resolve(row as AcceptedDelivery);
    } catch (err) {
      p.reject(err);
    }
  };

  const flush = async (batch: Pending[]): Promise<void> => {
    if (batch.length === 1) return alone(batch[0] as Pending);
    let rows: AcceptedDelivery[];
    try {
      rows = await acceptDeliveries(
        database,
        batch.map((p) => p.input),
      );
    } catch (err) {
      options.onBatchError?.(err, batch.length);
      for (const p of batch) await alone(p);
      return;
    }
    for (const [i, p] of batch.entries()) p.resolve(rows[i] as AcceptedDelivery);
  };

  const pump = (): void => {
    scheduled = false;
    while (inFlight < concurrency && queue.length > 0) {
      // Share what is queued between the free slots, so a burst does not wait behind one large batch.
      const share = Math.min(maxBatch, Math.ceil(queue.length / (concurrency - inFlight)));
      const batch = queue.splice(0, share);
      inFlight++;
      void flush(batch).finally(() => {
        inFlight--;
        if (queue.length > 0) schedule();
        else if (inFlight === 0) for (const done of idle.splice(0)) done();
      });
    }
  };

  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(pump);
  };

  return {
    accept(input) {
      if (closed) return Promise.reject(new UnavailableError("ingest is shutting down"));
      return new Promise<AcceptedDelivery>((resolve, reject) => {
        queue.push({ input, resolve, reject });
        schedule();
      });
    },
    close() {
      closed = true;
      if (queue.length === 0 && inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
