/**
 * The W3C `traceparent` of a span, and a parent context from one — how a run's trace crosses from ingest to the worker
 * through the run row (never through the job). Only ids and flags: `00-<trace id>-<span id>-<flags>`.
 */
import {
  context,
  isSpanContextValid,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
} from "@opentelemetry/api";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span's traceparent, or null when it records nothing (telemetry off, or not sampled: nothing to continue). */
export function traceparentOf(span: Span): string | null {
  const sc = span.spanContext();
  if (!isSpanContextValid(sc) || (sc.traceFlags & TraceFlags.SAMPLED) === 0) return null;
  return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags.toString(16).padStart(2, "0")}`;
}

/** A context whose (remote) parent is the given traceparent; the root context when there is none or it is malformed. */
export function contextFromTraceparent(traceparent: string | null | undefined): Context {
  const m = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!m) return ROOT_CONTEXT;
  const sc = {
    traceId: m[1] as string,
    spanId: m[2] as string,
    traceFlags: parseInt(m[3] as string, 16),
    isRemote: true,
  };
  return isSpanContextValid(sc) ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/** Start a span as a child of `parent` (a span, or a context), without making it active. */
export function startChildSpan(tracer: Tracer, name: string, parent: Span | Context, options: SpanOptions = {}): Span {
  const ctx = "spanContext" in parent ? trace.setSpan(context.active(), parent) : parent;
  return tracer.startSpan(name, options, ctx);
}

/** Run `fn` with `span` active (children started inside, across awaits, are its children). */
export function withActiveSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}
