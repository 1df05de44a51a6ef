import { describe, expect, it } from "@jest/globals";
import { ThrottledError, ValidationError } from "@praxa/core";
import { ModelRateLimitedError, ModelUnavailableError } from "./model-errors.js";
import type { ModelProvider, ModelRequest, ModelResponse } from "./model-provider.js";
import { DEFAULT_MODEL_RETRY, retryDelayMs, sleepFor, withModelRetries } from "./with-model-retries.js";

const request: ModelRequest = {
  model: "m",
  system: "",
  messages: [{ role: "user", content: [{ type: "text", text: "x" }] }],
  tools: [],
  toolChoice: { type: "auto" },
  maxTokens: 10,
};
const ok: ModelResponse = {
  model: "m",
  content: [{ type: "text", text: "done" }],
  stopReason: "end_turn",
  usage: { inputTokens: 1, outputTokens: 1 },
};

/** A provider that fails with the given errors in turn, then answers. */
function scripted(failures: Error[]): ModelProvider & { calls: number } {
  const p = {
    kind: "anthropic" as const,
    label: "scripted",
    calls: 0,
    complete: async (): Promise<ModelResponse> => {
      const e = failures[p.calls];
      p.calls += 1;
      if (e) throw e;
      return ok;
    },
  };
  return p;
}

describe("withModelRetries", () => {
  it("retries unavailability in-process, reports each retry, then answers", async () => {
    const inner = scripted([
      new ModelUnavailableError("down", { status: 503, retryAfterMs: 2_000 }),
      new ModelUnavailableError("down", { status: 500 }),
    ]);
    const asked: number[] = [];
    const retries: unknown[] = [];
    const p = withModelRetries(inner, {
      sleep: async (ms) => void asked.push(ms),
      random: () => 1,
      onRetry: (i) => retries.push(i),
    });
    expect(await p.complete(request)).toBe(ok);
    expect(inner.calls).toBe(3);
    expect(asked).toEqual([2_000, 2_000]);
    expect(retries).toEqual([
      { attempt: 1, delayMs: 2_000, code: "MODEL_UNAVAILABLE" },
      { attempt: 2, delayMs: 2_000, code: "MODEL_UNAVAILABLE" },
    ]);
    expect(p.kind).toBe("anthropic");
    expect(p.label).toBe("scripted");
  });

  it("a rate limit is never slept on: ThrottledError(model, MODEL_RATE_LIMITED) after one call", async () => {
    const inner = scripted([new ModelRateLimitedError("rl", 7_000, { status: 429, type: "rate_limit_error" })]);
    const asked: number[] = [];
    const retries: unknown[] = [];
    const err = await withModelRetries(inner, {
      sleep: async (ms) => void asked.push(ms),
      onRetry: (i) => retries.push(i),
    })
      .complete(request)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottledError);
    expect(err).toMatchObject({
      code: "MODEL_RATE_LIMITED",
      resource: "model",
      retryAfterMs: 7_000,
      retryable: true,
      httpStatus: 429,
      details: { status: 429, type: "rate_limit_error", resource: "model", retryAfterMs: 7_000, retryAfterGiven: true },
    });
    expect(inner.calls).toBe(1);
    expect(asked).toEqual([]);
    expect(retries).toEqual([]);
  });

  it("an overload is never slept on either (MODEL_OVERLOADED); a plain 5xx is", async () => {
    const overloaded = scripted([new ModelUnavailableError("529", { status: 529, overloaded: true })]);
    const asked: number[] = [];
    const sleep = async (ms: number): Promise<void> => void asked.push(ms);
    const err = await withModelRetries(overloaded, { sleep })
      .complete(request)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottledError);
    expect(err).toMatchObject({
      code: "MODEL_OVERLOADED",
      resource: "model",
      retryAfterMs: DEFAULT_MODEL_RETRY.overloadedDefaultMs,
      details: { status: 529, retryAfterGiven: false },
    });
    expect(overloaded.calls).toBe(1);
    expect(asked).toEqual([]);
    const plain = scripted([new ModelUnavailableError("500", { status: 500 })]);
    expect(await withModelRetries(plain, { sleep, random: () => 0 }).complete(request)).toBe(ok);
    expect(plain.calls).toBe(2);
    expect(asked).toEqual([500]);
  });

  it("throttle delays: the server's, capped at 15 min; else 30 s (429) / 10 s (529); all configurable", async () => {
    const delayOf = async (e: Error, o = {}): Promise<unknown> =>
      withModelRetries(scripted([e]), o)
        .complete(request)
        .catch((x: unknown) => (x as ThrottledError).retryAfterMs);
    expect(DEFAULT_MODEL_RETRY).toMatchObject({
      maxThrottleMs: 900_000,
      rateLimitedDefaultMs: 30_000,
      overloadedDefaultMs: 10_000,
    });
    expect(await delayOf(new ModelRateLimitedError("rl", null))).toBe(30_000);
    expect(await delayOf(new ModelRateLimitedError("rl", 3_600_000))).toBe(900_000);
    expect(await delayOf(new ModelUnavailableError("529", { overloaded: true, retryAfterMs: 4_000 }))).toBe(4_000);
    expect(await delayOf(new ModelUnavailableError("529", { overloaded: true, retryAfterMs: 3_600_000 }))).toBe(
      900_000,
    );
    const o = { rateLimitedDefaultMs: 1, overloadedDefaultMs: 2, maxThrottleMs: 5 };
    expect(await delayOf(new ModelRateLimitedError("rl", null), o)).toBe(1);
    expect(await delayOf(new ModelUnavailableError("529", { overloaded: true }), o)).toBe(2);
    expect(await delayOf(new ModelRateLimitedError("rl", 60_000), o)).toBe(5);
  });

  it("throws anything else at once", async () => {
    const invalid = new ValidationError("bad answer");
    const inner = scripted([invalid]);
    const asked: number[] = [];
    await expect(withModelRetries(inner, { sleep: async (ms) => void asked.push(ms) }).complete(request)).rejects.toBe(
      invalid,
    );
    expect(inner.calls).toBe(1);
    expect(asked).toEqual([]);
  });

  it("gives up with the last typed error after maxAttempts", async () => {
    const last = new ModelUnavailableError("c", { status: 502 });
    const inner = scripted([
      new ModelUnavailableError("a"),
      new ModelUnavailableError("b"),
      last,
      new ModelUnavailableError("never"),
    ]);
    await expect(
      withModelRetries(inner, { maxAttempts: 3, sleep: async () => undefined }).complete(request),
    ).rejects.toBe(last);
    expect(inner.calls).toBe(3);
    const once = scripted([new ModelUnavailableError("a")]);
    await expect(
      withModelRetries(once, { maxAttempts: 1, sleep: async () => undefined }).complete(request),
    ).rejects.toBeInstanceOf(ModelUnavailableError);
    expect(once.calls).toBe(1);
    expect(() => withModelRetries(once, { maxAttempts: 0 })).toThrow(RangeError);
  });

  it("backoff: exponential, equal jitter, capped; retry-after honoured and capped", () => {
    const down = new ModelUnavailableError("down");
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(down, n, { random: () => 0 }))).toEqual([
      500, 1_000, 2_000, 4_000, 8_000, 15_000,
    ]);
    expect([1, 2, 3].map((n) => retryDelayMs(down, n, { random: () => 0.999999 }))).toEqual([1_000, 2_000, 4_000]);
    expect(retryDelayMs(down, 10, { random: () => 0, baseDelayMs: 100, maxDelayMs: 1_000 })).toBe(500);
    expect(retryDelayMs(new ModelRateLimitedError("rl", 90_000), 1)).toBe(60_000);
    expect(retryDelayMs(new ModelRateLimitedError("rl", 90_000), 1, { maxRetryAfterMs: 5_000 })).toBe(5_000);
    expect(retryDelayMs(new ModelUnavailableError("x", { retryAfterMs: 1234 }), 3)).toBe(1234);
  });

  it("the default sleep is interrupted by the signal", async () => {
    const ac = new AbortController();
    const pending = sleepFor(3_600_000, ac.signal);
    ac.abort();
    await expect(pending).resolves.toBeUndefined();
    await expect(sleepFor(3_600_000, ac.signal)).resolves.toBeUndefined();
  });
});
