export * from './logger.js';
export * from './otel.js';
export * from './redact.js';
export * from './run-process.js';
export * from './telemetry-exporter.js';
export type { DestinationStream } from 'pino';
export type { SpanExporter, ReadableSpan } from '@opentelemetry/sdk-trace';
export { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
export type { Tracer } from '@opentelemetry/api';
