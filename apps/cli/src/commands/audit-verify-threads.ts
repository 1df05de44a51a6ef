/**
 * `audit verify --full` on every core. Full verification is bound by one Ed25519 signature check per event, so the
 * chain is cut into contiguous parts (core's splitChainVerification), one per thread: this thread verifies the
 * first while worker threads verify the rest, and the parts' answers combine into exactly the answer one pass over
 * the whole chain would give — the same first bad seq and reason (combineChainVerifications).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { combineChainVerifications, splitChainVerification, verifyChain, type AuditKeyset, type ChainVerification, type StoredChainEvent, type VerifyChainOptions } from '@praxa/core';
import type { ChainPartJob } from './audit-verify-worker.js';

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

function runPart(url: URL, job: ChainPartJob): Promise<ChainVerification> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(url);
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      fn();
      void worker.terminate();
    };
    worker.once('message', (result: ChainVerification) => finish(() => resolve(result)));
    worker.once('error', (err) => finish(() => reject(err)));
    worker.once('exit', (code) => finish(() => reject(new Error(`a verification thread exited (${code}) before answering`))));
    worker.postMessage(job);
  });
}

export async function verifyChainOnThreads(events: readonly StoredChainEvent[], keyset: AuditKeyset, options: VerifyChainOptions, threadOptions: ThreadOptions = {}): Promise<ThreadedVerification> {
  const threads = threadOptions.threads ?? Math.min(availableParallelism(), Math.floor(events.length / MIN_EVENTS_PER_THREAD));
  const parts = splitChainVerification(events, options, threads);
  if (parts.length <= 1) return { result: verifyChain(events, keyset, options), threads: 1 };
  const url = threadOptions.workerUrl ?? new URL('./audit-verify-worker.js', import.meta.url);
  const [first, ...rest] = parts;
  const others = rest.map((p) => runPart(url, { events: events.slice(p.start, p.end), keyset, options: p.options }));
  // This thread takes the first part meanwhile; a failing thread fails the verification (no answer is made up).
  let own: ChainVerification;
  try {
    own = verifyChain(events.slice(first!.start, first!.end), keyset, first!.options);
  } catch (err) {
    await Promise.allSettled(others);
    throw err;
  }
  const results = [own, ...(await Promise.all(others))];
  return { result: combineChainVerifications(parts, results, options), threads: parts.length };
}
