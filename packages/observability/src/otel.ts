/**
 * OpenTelemetry bootstrap: a no-op unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set. When set, traces are exported over
 * OTLP/HTTP in batches. Attributes are restricted to the telemetry whitelist by the exporter Praxa installs (the
 * worker adds the filtering exporter; spans are read-only once ended, so filtering happens at export).
 */
import { trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export interface TelemetryOptions {
  readonly serviceName: string;
  readonly otlpEndpoint?: string | undefined;
  /** Wraps the OTLP exporter (e.g. to filter attributes to the whitelist). */
  readonly wrapExporter?: (exporter: SpanExporter) => SpanExporter;
}

export interface Telemetry {
  readonly enabled: boolean;
  readonly tracer: Tracer;
  shutdown(): Promise<void>;
}

export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (!options.otlpEndpoint) {
    return { enabled: false, tracer: trace.getTracer(options.serviceName), shutdown: async () => {} };
  }
  const base = new OTLPTraceExporter({ url: new URL('/v1/traces', options.otlpEndpoint).toString() });
  const exporter = options.wrapExporter ? options.wrapExporter(base) : base;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  provider.register();
  return { enabled: true, tracer: trace.getTracer(options.serviceName), shutdown: () => provider.shutdown() };
}
