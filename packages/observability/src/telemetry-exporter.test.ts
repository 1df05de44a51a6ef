/**
 * The filtering span exporter on its own (security row 5): real OpenTelemetry spans from a real tracer provider, the
 * exporter between them and an in-memory exporter. Only `praxa.*` spans leave, with only whitelisted attributes, no
 * events, no links and no status message; a batch with nothing left is answered success without reaching the inner
 * exporter; shutdown and flush reach it.
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from "@opentelemetry/sdk-trace";
import { createFilteringSpanExporter, filterSpan, PRAXA_SPAN_PREFIX } from "./telemetry-exporter.js";

const CANARY = "CANARY-span-content-7c1e";

function harness() {
  const inner = new InMemorySpanExporter();
  const provider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: createFilteringSpanExporter(inner) })],
  });
  return { inner, provider, tracer: provider.getTracer("test") };
}
let open: TracerProvider | undefined;
afterEach(async () => {
  await open?.shutdown();
  open = undefined;
});

describe("filtering span exporter", () => {
  it("exports a praxa span with whitelisted attributes only — no events, links or status message", () => {
    const { inner, provider, tracer } = harness();
    open = provider;
    const parent = tracer.startSpan("praxa.run");
    const span = tracer.startSpan("praxa.tool.call", {
      attributes: {
        tool_name: "github.read.diff",
        ms: 4,
        iter: 1,
        code: "TOOL_NOT_ALLOWED",
        prompt: CANARY,
        "http.url": CANARY,
      },
    });
    span.addEvent(CANARY, { text: CANARY });
    span.recordException(new Error(CANARY));
    span.addLink({ context: parent.spanContext(), attributes: { why: CANARY } });
    span.setStatus({ code: SpanStatusCode.ERROR, message: CANARY });
    span.end();
    parent.end();
    const spans = inner.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(["praxa.tool.call", "praxa.run"]);
    const [s] = spans as [ReadableSpan];
    expect(s.attributes).toEqual({ tool_name: "github.read.diff", ms: 4, iter: 1, code: "TOOL_NOT_ALLOWED" });
    expect(s.events).toEqual([]);
    expect(s.links).toEqual([]);
    expect(s.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(s.droppedAttributesCount + s.droppedEventsCount + s.droppedLinksCount).toBe(0);
    expect(s.spanContext()).toEqual(span.spanContext());
    expect(JSON.stringify(spans, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain(CANARY);
  });

  it("drops spans not named praxa.* and names praxa.* spans only by the narrow pattern", () => {
    const { inner, provider, tracer } = harness();
    open = provider;
    for (const name of [
      "GET /v1/runs?token=x",
      "praxa",
      "praxa.",
      "praxa.Run",
      `praxa.${"a".repeat(65)}`,
      `praxa.run ${CANARY}`,
      "xpraxa.run",
      "praxa.run/1",
      `praxa.GET /v1/runs?token=${CANARY} praxa.done`,
    ])
      tracer.startSpan(name).end();
    tracer.startSpan(`praxa.${"a".repeat(64)}`).end();
    tracer.startSpan("praxa.model.call").end();
    expect(inner.getFinishedSpans().map((s) => s.name)).toEqual([`praxa.${"a".repeat(64)}`, "praxa.model.call"]);
    expect(PRAXA_SPAN_PREFIX).toBe("praxa.");
  });

  it("keeps the parent context, times and resource of the original span", () => {
    const { inner, provider, tracer } = harness();
    open = provider;
    const parent = tracer.startSpan("praxa.run");
    const child = tracer.startSpan("praxa.step", {}, trace.setSpan(context.active(), parent));
    child.end();
    parent.end();
    const [step, run] = inner.getFinishedSpans() as [ReadableSpan, ReadableSpan];
    expect(step.name).toBe("praxa.step");
    expect(run.parentSpanContext).toBeUndefined();
    expect("parentSpanContext" in run).toBe(false);
    expect(step.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(step.ended).toBe(true);
    expect(step.duration).toEqual(expect.any(Array));
    expect(step.instrumentationScope.name).toBe("test");
  });

  it("answers an all-dropped batch itself and passes shutdown and flush to the inner exporter", async () => {
    const calls: string[] = [];
    const inner: SpanExporter = {
      export: (spans, cb) => {
        calls.push(`export:${spans.length}`);
        cb({ code: 0 });
      },
      shutdown: async () => void calls.push("shutdown"),
      forceFlush: async () => void calls.push("flush"),
    };
    const exporter = createFilteringSpanExporter(inner);
    const { provider, tracer } = harness();
    open = provider;
    const foreign = tracer.startSpan("http.get") as unknown as ReadableSpan;
    (foreign as unknown as { end(): void }).end();
    const results: number[] = [];
    exporter.export([foreign], (r) => results.push(r.code));
    expect(results).toEqual([0]);
    expect(calls).toEqual([]);
    const mine = tracer.startSpan("praxa.run") as unknown as ReadableSpan;
    (mine as unknown as { end(): void }).end();
    exporter.export([foreign, mine], (r) => results.push(r.code));
    expect(calls).toEqual(["export:1"]);
    await exporter.forceFlush?.();
    await exporter.shutdown();
    expect(calls).toEqual(["export:1", "flush", "shutdown"]);
    expect(filterSpan(foreign)).toBeNull();
    // An inner exporter without forceFlush: the filter still answers a promise.
    const bare = createFilteringSpanExporter({ export: (_s, cb) => cb({ code: 0 }), shutdown: async () => undefined });
    const flushed = bare.forceFlush?.();
    expect(flushed).toBeInstanceOf(Promise);
    await flushed;
  });

  it("drops null and undefined attribute values of a span made outside the SDK", () => {
    const { inner, provider, tracer } = harness();
    open = provider;
    tracer.startSpan("praxa.run").end();
    const [real] = inner.getFinishedSpans() as [ReadableSpan];
    const handMade = {
      ...real,
      name: "praxa.run",
      spanContext: () => real.spanContext(),
      attributes: { code: null, ms: 2, iter: undefined, tool_name: "model" },
    } as unknown as ReadableSpan;
    expect(filterSpan(handMade)?.attributes).toStrictEqual({ ms: 2, tool_name: "model" });
  });
});
