/**
 * OpenTelemetry bootstrap: a no-op unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set. When set, traces are exported over
 * OTLP/HTTP in batches, always through the filtering exporter (telemetry-exporter.ts): only `praxa.*` spans, only
 * `{tool_name, ms, code, iter}` attributes, no events (spans are read-only once ended, so filtering happens at export).
 */
import { trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createFilteringSpanExporter } from './telemetry-exporter.js';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

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
  const base = options.exporter ?? new OTLPTraceExporter({ url: new URL('/v1/traces', options.otlpEndpoint).toString() });
  // Not optional: whatever the destination, spans leave only through the whitelist filter.
  const exporter = createFilteringSpanExporter(base);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [options.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)],
  });
  provider.register();
  return {
    enabled: true,
    tracer: trace.getTracer(options.serviceName),
    shutdown: async () => {
      await provider.shutdown();
      trace.disable(); // a later start in the same process registers afresh
    },
  };
}
