/**
 * The production export path on the wire: `startTelemetry` with an OTLP endpoint (the real OTLP/HTTP exporter, batched,
 * behind the filtering exporter) into the testkit's loopback OTLP receiver. What arrives is only `praxa.*` spans with
 * whitelisted attributes, parent/child links intact, a trace continued from a stored traceparent, and no byte of the
 * canary. The receiver's protobuf decoder is checked against OpenTelemetry's own protobuf serializer.
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { decodeOtlpProtobuf, startOtlpReceiver, type OtlpReceiver } from "@praxa/testkit";
import { startTelemetry } from "./otel.js";
import { contextFromTraceparent, startChildSpan, traceparentOf, withActiveSpan } from "./trace-context.js";

const CANARY = "CANARY-otlp-wire-4b7d";
let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe("OTLP export on the wire", () => {
  it("exports praxa spans only, whitelisted attributes only, a trace continued from a traceparent, no canary", async () => {
    receiver = await startOtlpReceiver();
    const ingest = startTelemetry({ serviceName: "praxa-ingest", otlpEndpoint: receiver.url });
    const worker = startTelemetry({ serviceName: "praxa-worker", otlpEndpoint: receiver.url });
    const request = ingest.tracer.startSpan("praxa.ingest.request", { attributes: { body: CANARY, ms: 3 } });
    startChildSpan(ingest.tracer, "praxa.ingest.commit", request).end();
    ingest.tracer.startSpan(`GET /x?${CANARY}`).end();
    const traceparent = traceparentOf(request);
    request.end();
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

    // The worker, elsewhere, continues from the stored traceparent; a child started in its active context is its child.
    const run = worker.tracer.startSpan("praxa.run", {}, contextFromTraceparent(traceparent));
    await withActiveSpan(run, async () => {
      await Promise.resolve();
      const call = worker.tracer.startSpan("praxa.tool.call", {
        attributes: { tool_name: "github.comment.pr", ms: 5, code: null as unknown as string, prompt: CANARY },
      });
      call.recordException(new Error(CANARY));
      call.end();
    });
    run.end();
    await ingest.shutdown();
    await worker.shutdown();

    const spans = receiver.spans();
    expect(spans.map((s) => `${s.service} ${s.name}`).sort()).toEqual([
      "praxa-ingest praxa.ingest.commit",
      "praxa-ingest praxa.ingest.request",
      "praxa-worker praxa.run",
      "praxa-worker praxa.tool.call",
    ]);
    const by = (name: string) => spans.find((s) => s.name === name) as (typeof spans)[number];
    const root = by("praxa.ingest.request");
    expect(root.parentSpanId).toBeNull();
    expect(root.attributes).toEqual({ ms: 3 });
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([root.traceId]));
    expect(by("praxa.ingest.commit").parentSpanId).toBe(root.spanId);
    expect(by("praxa.run").parentSpanId).toBe(root.spanId);
    expect(by("praxa.tool.call").parentSpanId).toBe(by("praxa.run").spanId);
    expect(by("praxa.tool.call").attributes).toEqual({ tool_name: "github.comment.pr", ms: 5 });
    expect(by("praxa.tool.call").events).toBe(0);
    const wire = Buffer.concat(receiver.bodies());
    expect(wire.length).toBeGreaterThan(0);
    expect(wire.includes(CANARY)).toBe(false);
  });

  it("a malformed or absent traceparent starts a new trace", () => {
    for (const tp of [
      null,
      undefined,
      "",
      "01-" + "a".repeat(32) + "-" + "b".repeat(16) + "-01",
      "00-" + "0".repeat(32) + "-" + "b".repeat(16) + "-01",
    ]) {
      const provider = new TracerProvider();
      const span = provider.getTracer("t").startSpan("praxa.run", {}, contextFromTraceparent(tp));
      expect(span.spanContext().traceId).not.toBe("a".repeat(32));
      expect((span as unknown as { parentSpanContext?: unknown }).parentSpanContext).toBeUndefined();
    }
  });

  it("the receiver decodes OTLP/protobuf as OpenTelemetry's own serializer writes it", async () => {
    const memory = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] });
    const tracer = provider.getTracer("t");
    const parent = tracer.startSpan("praxa.run");
    const child = startChildSpan(tracer, "praxa.model.call", parent, {
      attributes: { tool_name: "model", ms: 7.5, iter: 2 },
    });
    child.end();
    parent.end();
    const bytes = Buffer.from(ProtobufTraceSerializer.serializeRequest(memory.getFinishedSpans()) as Uint8Array);
    const decoded = decodeOtlpProtobuf(bytes);
    const c = decoded.find((s) => s.name === "praxa.model.call");
    expect(c).toMatchObject({
      traceId: parent.spanContext().traceId,
      spanId: child.spanContext().spanId,
      parentSpanId: parent.spanContext().spanId,
      attributes: { tool_name: "model", ms: 7.5, iter: 2 },
    });
    expect(decoded.find((s) => s.name === "praxa.run")?.parentSpanId).toBeNull();
    await provider.shutdown();
  });
});
