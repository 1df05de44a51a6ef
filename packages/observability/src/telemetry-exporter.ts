/**
 * The filtering span exporter: every span leaving a Praxa process carries only `{tool_name, ms, code, iter}`.
 * Ended spans are read-only, so a span processor cannot strip them; filtering happens here, at export, by building a
 * new span from the original: attributes filtered through the telemetry whitelist (core), no events (so no
 * `recordException` text), no links, a status without its message, and only spans Praxa itself names (`praxa.*`) —
 * an instrumentation library's span (whose name may carry a URL path or a query) is dropped whole.
 */
import type { ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { filterTelemetry } from "@praxa/core";

export const PRAXA_SPAN_PREFIX = "praxa.";

export function filterSpan(span: ReadableSpan): ReadableSpan | null {
  if (!span.name.startsWith(PRAXA_SPAN_PREFIX) || !/^praxa\.[a-z_.]{1,64}$/.test(span.name)) return null;
  const attributes = filterTelemetry(span.attributes);
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => span.spanContext(),
    ...(span.parentSpanContext ? { parentSpanContext: span.parentSpanContext } : {}),
    startTime: span.startTime,
    endTime: span.endTime,
    status: { code: span.status.code },
    attributes: Object.fromEntries(
      Object.entries(attributes).filter((e): e is [string, string | number] => e[1] !== null && e[1] !== undefined),
    ),
    links: [],
    events: [],
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

export function createFilteringSpanExporter(inner: SpanExporter): SpanExporter {
  return {
    export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
      const kept = spans.map(filterSpan).filter((s): s is ReadableSpan => s !== null);
      if (kept.length === 0) {
        resultCallback({ code: 0 });
        return;
      }
      inner.export(kept, resultCallback);
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}
