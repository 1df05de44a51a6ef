/**
 * Retries and throttling for any `ModelProvider`, in one place.
 *
 * **The workspace's quota is never slept on in the job.** A 429 (`ModelRateLimitedError`: Anthropic
 * `rate_limit_error`, Bedrock `ThrottlingException`, Vertex `RESOURCE_EXHAUSTED`) or an overload (`ModelUnavailableError`
 * with `overloaded`: Anthropic's 529 / `overloaded_error`, also mid-stream) is thrown at once — after exactly one
 * request — as a `ThrottledError` (core) `{resource: "model", retryAfterMs, code}`, so the worker can give the run back
 * (journal kept), delay it and gate the key's other runs, holding no worker slot meanwhile:
 *
 * | answer | `code`               | `retryAfterMs`                                                                          |
 * | ------ | -------------------- | --------------------------------------------------------------------------------------- |
 * | 429    | `MODEL_RATE_LIMITED` | the server's `retry-after-ms` / `retry-after`, capped at 15 min; none given: **30 s**   |
 * | 529    | `MODEL_OVERLOADED`   | the server's `retry-after-ms` / `retry-after`, capped at 15 min; none given: **10 s**   |
 *
 * 30 s for a 429 without a hint: Anthropic's limits are per minute (a token bucket refilling continuously), so half a
 * window frees real capacity; Bedrock and Vertex never send `retry-after` and their quotas are per minute too. 10 s for
 * an overload: it is the provider's capacity, not the key's quota, and clears faster. 15 min cap: a longer `retry-after`
 * is more likely a misreading than a plan, and the worker may ask again then (and gate meanwhile).
 *
 * **Other transient failures keep short in-process retries** (they are brief and not the tenant's quota): another
 * `ModelUnavailableError` (5xx, network, timeout) is retried with exponential backoff and jitter, honouring the
 * server's `retry-after` (capped at `maxRetryAfterMs`), up to `maxAttempts` calls in all; after the last attempt it is
 * thrown as it is (`MODEL_UNAVAILABLE`). Anything else (a refused request, an invalid answer) is thrown at once.
 *
 * Delay before retry n (n = 1, 2, …): the server's `retryAfterMs` when it gave one (capped at `maxRetryAfterMs`),
 * otherwise "equal jitter": half of `min(maxDelayMs, baseDelayMs · 2^(n-1))` plus a random part of the other half.
 * `sleep` and `random` are injectable so tests assert the attempts and the delays asked for without waiting.
 * A cancelled `signal` stops retrying (and interrupts a sleep).
 */
import { ThrottledError } from "@praxa/core";
import { ModelRateLimitedError, ModelUnavailableError } from "./model-errors.js";
import type { ModelProvider, ModelRequest, ModelResponse } from "./model-provider.js";

export interface ModelRetryOptions {
  /** Calls in all, the first included. Default 4. */
  readonly maxAttempts?: number;
  /** Default 1 000 ms. */
  readonly baseDelayMs?: number;
  /** Cap of the computed backoff. Default 30 000 ms. */
  readonly maxDelayMs?: number;
  /** Cap of a server-given retry-after on an in-process retry (5xx). Default 60 000 ms. */
  readonly maxRetryAfterMs?: number;
  /** Cap of a `ThrottledError`'s `retryAfterMs` (429 / 529). Default 900 000 ms (15 min). */
  readonly maxThrottleMs?: number;
  /** `retryAfterMs` of a 429 that named no retry-after. Default 30 000 ms. */
  readonly rateLimitedDefaultMs?: number;
  /** `retryAfterMs` of a 529 / overload that named no retry-after. Default 10 000 ms. */
  readonly overloadedDefaultMs?: number;
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
  maxThrottleMs: 15 * 60_000,
  rateLimitedDefaultMs: 30_000,
  overloadedDefaultMs: 10_000,
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

/**
 * The `ThrottledError` a 429 or an overload becomes (see the module header), or `null` for any other error. Its
 * message is a fixed string; `details` keep the status and the API's error type (from the model error), never text.
 */
export function modelThrottle(err: unknown, options: ModelRetryOptions = {}): ThrottledError | null {
  if (!(err instanceof ModelRateLimitedError) && !(err instanceof ModelUnavailableError && err.overloaded)) return null;
  const rateLimited = err instanceof ModelRateLimitedError;
  const fallback = rateLimited
    ? (options.rateLimitedDefaultMs ?? DEFAULT_MODEL_RETRY.rateLimitedDefaultMs)
    : (options.overloadedDefaultMs ?? DEFAULT_MODEL_RETRY.overloadedDefaultMs);
  const cap = options.maxThrottleMs ?? DEFAULT_MODEL_RETRY.maxThrottleMs;
  return new ThrottledError(
    rateLimited
      ? "the model provider is rate limiting this workspace's key"
      : "the model provider is overloaded; the run waits for it",
    {
      resource: "model",
      retryAfterMs: Math.min(Math.max(0, err.retryAfterMs ?? fallback), cap),
      code: rateLimited ? "MODEL_RATE_LIMITED" : "MODEL_OVERLOADED",
      // Status and error type only (the model error's details); ThrottledError adds resource and the capped delay.
      details: { ...err.details, retryAfterGiven: err.retryAfterMs !== null },
      cause: err,
    },
  );
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
          // The tenant's quota (or the provider's overload): never slept on here — the worker gives the run back.
          const throttled = modelThrottle(err, options);
          if (throttled !== null) throw throttled;
          if (!(err instanceof ModelUnavailableError) || attempt >= maxAttempts || aborted(signal)) throw err;
          const delayMs = retryDelayMs(err, attempt, options);
          options.onRetry?.({ attempt, delayMs, code: err.code });
          await sleep(delayMs, signal);
          if (aborted(signal)) throw err;
        }
      }
    },
  };
}
