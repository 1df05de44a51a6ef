/**
 * Retries for any `ModelProvider`, in one place: `ModelRateLimitedError` and `ModelUnavailableError` are retried with
 * exponential backoff and jitter, honouring the server's `retry-after` (capped), up to `maxAttempts` calls in all;
 * anything else (a refused request, an invalid answer) is thrown at once. After the last attempt the last typed error
 * is thrown as it is, so the run fails with its `code` (`MODEL_RATE_LIMITED` / `MODEL_UNAVAILABLE`).
 *
 * Delay before retry n (n = 1, 2, …): the server's `retryAfterMs` when it gave one (capped at `maxRetryAfterMs`),
 * otherwise "equal jitter": half of `min(maxDelayMs, baseDelayMs · 2^(n-1))` plus a random part of the other half.
 * `sleep` and `random` are injectable so tests assert the attempts and the delays asked for without waiting.
 * A cancelled `signal` stops retrying (and interrupts a sleep).
 */
import { ModelRateLimitedError, ModelUnavailableError } from "./model-errors.js";
import type { ModelProvider, ModelRequest, ModelResponse } from "./model-provider.js";

export interface ModelRetryOptions {
  /** Calls in all, the first included. Default 4. */
  readonly maxAttempts?: number;
  /** Default 1 000 ms. */
  readonly baseDelayMs?: number;
  /** Cap of the computed backoff. Default 30 000 ms. */
  readonly maxDelayMs?: number;
  /** Cap of a server-given retry-after. Default 60 000 ms. */
  readonly maxRetryAfterMs?: number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** In [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  /** Called before each retry's sleep (for telemetry: the code and the delay, never content). */
  readonly onRetry?: (info: { readonly attempt: number; readonly delayMs: number; readonly code: string }) => void;
}

export const DEFAULT_MODEL_RETRY = {
  maxAttempts: 4,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
} as const;

export function sleepFor(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** The delay before retry `retry` (1-based) after `error`. */
export function retryDelayMs(
  error: ModelRateLimitedError | ModelUnavailableError,
  retry: number,
  options: ModelRetryOptions = {},
): number {
  const maxRetryAfterMs = options.maxRetryAfterMs ?? DEFAULT_MODEL_RETRY.maxRetryAfterMs;
  if (error.retryAfterMs !== null) return Math.min(Math.max(0, error.retryAfterMs), maxRetryAfterMs);
  const base = options.baseDelayMs ?? DEFAULT_MODEL_RETRY.baseDelayMs;
  const cap = options.maxDelayMs ?? DEFAULT_MODEL_RETRY.maxDelayMs;
  const exp = Math.min(cap, base * 2 ** (retry - 1));
  const random = options.random ?? Math.random;
  return Math.round(exp / 2 + random() * (exp / 2));
}

const aborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

export function withModelRetries(provider: ModelProvider, options: ModelRetryOptions = {}): ModelProvider {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MODEL_RETRY.maxAttempts;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError("maxAttempts must be an integer ≥ 1");
  const sleep = options.sleep ?? sleepFor;
  return {
    kind: provider.kind,
    label: provider.label,
    async complete(request: ModelRequest, signal?: AbortSignal): Promise<ModelResponse> {
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await provider.complete(request, signal);
        } catch (err) {
          const retryable = err instanceof ModelRateLimitedError || err instanceof ModelUnavailableError;
          if (!retryable || attempt >= maxAttempts || aborted(signal)) throw err;
          const delayMs = retryDelayMs(err, attempt, options);
          options.onRetry?.({ attempt, delayMs, code: err.code });
          await sleep(delayMs, signal);
          if (aborted(signal)) throw err;
        }
      }
    },
  };
}
