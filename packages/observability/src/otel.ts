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
  // across awaits (AsyncLocalStorage), W3C trace context and baggage propagation, then the provider itself.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  trace.setGlobalTracerProvider(provider);
  return {
    enabled: true,
    tracer: trace.getTracer(options.serviceName),
    shutdown: async () => {
      await provider.shutdown();
      // a later start in the same process registers afresh
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}
