/**
 * `audit verify --full` on every core. Full verification is bound by one Ed25519 signature check per event, so a list
 * of rows (a whole export, or one page of a streamed chain) is cut into contiguous parts (core's
 * splitChainVerification), one per thread: this thread verifies the first while worker threads verify the rest, and the
 * parts' answers combine into exactly the answer one pass over the list would give — the same first bad seq and reason
 * (combineChainVerifications). The worker threads of a pool live as long as the pool: a streamed chain reuses them for
 * every page.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import {
  combineChainVerifications,
  splitChainVerification,
  verifyChain,
  type AuditKeyset,
  type ChainVerification,
  type StoredChainEvent,
  type VerifyChainOptions,
} from "@praxa/core";
import type { ChainPartJob } from "./audit-verify-worker.js";

/** Below this many events per thread, starting a thread costs more than it saves. */
const MIN_EVENTS_PER_THREAD = 2_000;

export interface ThreadedVerification {
  readonly result: ChainVerification;
  /** How many threads verified parts of the chain (1: it was verified here, in one pass). */
  readonly threads: number;
}

export interface ThreadOptions {
  /** Threads to use; by default every core, if the chain is long enough to pay for them. Given, it is used as is. */
  readonly threads?: number;
  /** The worker script (tests point at the compiled one). */
  readonly workerUrl?: URL;
}

/** How many threads verify a chain of `events` rows: `threads` if given, else every core the length pays for. */
export function threadsFor(events: number, threads?: number): number {
  return Math.max(1, threads ?? Math.min(availableParallelism(), Math.floor(events / MIN_EVENTS_PER_THREAD)));
}

interface PendingJob {
  readonly resolve: (r: ChainVerification) => void;
  readonly reject: (e: unknown) => void;
}

/** One worker thread, one job at a time; a thread that fails or exits fails the job it holds (no answer is made up). */
class PartThread {
  readonly #worker: Worker;
  #pending: PendingJob | undefined;
  #dead: unknown;

  constructor(url: URL) {
    this.#worker = new Worker(url);
    this.#worker.on("message", (result: ChainVerification) => this.#settle((p) => p.resolve(result)));
    this.#worker.on("error", (err) => {
      this.#dead = err;
      this.#settle((p) => p.reject(err));
    });
    this.#worker.on("exit", (code) => {
      this.#dead ??= new Error(`a verification thread exited (${code}) before answering`);
      this.#settle((p) => p.reject(this.#dead));
    });
  }

  run(job: ChainPartJob): Promise<ChainVerification> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    if (this.#pending !== undefined) return Promise.reject(new Error("a verification thread is busy"));
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    this.#dead ??= new Error("the verification pool is closed");
    await this.#worker.terminate();
  }

  #settle(fn: (p: PendingJob) => void): void {
    const p = this.#pending;
    this.#pending = undefined;
    if (p !== undefined) fn(p);
  }
}

export interface VerifierPool {
  readonly threads: number;
  /** Verify `events` with `options` on every thread of the pool: the answer one `verifyChain` pass would give. */
  verify(events: readonly StoredChainEvent[], options: VerifyChainOptions): Promise<ChainVerification>;
  close(): Promise<void>;
}

/** `threads` threads: this one and `threads − 1` workers (none for 1). */
export function createVerifierPool(threads: number, keyset: AuditKeyset, workerUrl?: URL): VerifierPool {
  const url = workerUrl ?? new URL("./audit-verify-worker.js", import.meta.url);
  const workers = Array.from({ length: Math.max(0, threads - 1) }, () => new PartThread(url));
  return {
    threads: workers.length + 1,
    async verify(events, options) {
      const parts = splitChainVerification(events, options, workers.length + 1);
      if (parts.length <= 1) return verifyChain(events, keyset, options);
      const [first, ...rest] = parts;
      const others = rest.map((p, i) =>
        (workers[i] as PartThread).run({ events: events.slice(p.start, p.end), keyset, options: p.options }),
      );
      // This thread takes the first part meanwhile.
      let own: ChainVerification;
      try {
        own = verifyChain(events.slice(first!.start, first!.end), keyset, first!.options);
      } catch (err) {
        await Promise.allSettled(others);
        throw err;
      }
      const results = [own, ...(await Promise.all(others))];
      return combineChainVerifications(parts, results, options);
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}

/** A whole list at once (an export file): a pool for the one list. */
export async function verifyChainOnThreads(
  events: readonly StoredChainEvent[],
  keyset: AuditKeyset,
  options: VerifyChainOptions,
  threadOptions: ThreadOptions = {},
): Promise<ThreadedVerification> {
  const threads = threadsFor(events.length, threadOptions.threads);
  const parts = splitChainVerification(events, options, threads);
  if (parts.length <= 1) return { result: verifyChain(events, keyset, options), threads: 1 };
  const pool = createVerifierPool(parts.length, keyset, threadOptions.workerUrl);
  try {
    return { result: await pool.verify(events, options), threads: parts.length };
  } finally {
    await pool.close();
  }
}
