/**
 * OpenTelemetry bootstrap: a no-op unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set. When set, traces are exported over
 * OTLP/HTTP in batches, always through the filtering exporter (telemetry-exporter.ts): only `praxa.*` spans, only
 * `{tool_name, ms, code, iter}` attributes, no events (spans are read-only once ended, so filtering happens at export).
 */
import { context, propagation, trace, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, SimpleSpanProcessor, TracerProvider, type SpanExporter } from "@opentelemetry/sdk-trace";
import { createFilteringSpanExporter } from "./telemetry-exporter.js";

export interface TelemetryOptions {
  readonly serviceName: string;
  readonly otlpEndpoint?: string | undefined;
  /** Export to this instead of OTLP (tests: an in-memory exporter). Always behind the filtering exporter. */
  readonly exporter?: SpanExporter;
}

export interface Telemetry {
  readonly enabled: boolean;
  readonly tracer: Tracer;
  shutdown(): Promise<void>;
}

export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (!options.otlpEndpoint && !options.exporter) {
    return { enabled: false, tracer: trace.getTracer(options.serviceName), shutdown: async () => {} };
  }
  const base =
    options.exporter ?? new OTLPTraceExporter({ url: new URL("/v1/traces", options.otlpEndpoint).toString() });
  // Not optional: whatever the destination, spans leave only through the whitelist filter.
  const exporter = createFilteringSpanExporter(base);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": options.serviceName }),
    spanProcessors: [options.exporter ? new SimpleSpanProcessor({ exporter }) : new BatchSpanProcessor({ exporter })],
  });
  // What NodeTracerProvider.register() did before the 3.x line folded sdk-trace-node into sdk-trace: parent/child spans
  // across awaits (AsyncLocalStorage), W3C trace context and baggage propagation. Those are process-wide and shared by
  // every app started in this process (the demo, end-to-end tests), so they are registered once and released with the
  // last; each app keeps its own provider (its service name, its exporter) and takes its tracer from it.
  acquireGlobals();
  let shut = false;
  return {
    enabled: true,
    tracer: provider.getTracer(options.serviceName),
    shutdown: async () => {
      if (shut) return;
      shut = true;
      await provider.shutdown();
      releaseGlobals();
    },
  };
}

let globalUsers = 0;
function acquireGlobals(): void {
  if (globalUsers++ > 0) return;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
}
function releaseGlobals(): void {
  if (--globalUsers > 0) return;
  // a later start in the same process registers afresh
  propagation.disable();
  context.disable();
}
