/**
 * OpenTelemetry metrics: one MeterProvider per process, read two ways — scraped as Prometheus text at `GET /metrics`
 * on the internal health server (PRAXA_HEALTH_PORT, health-server.ts), and pushed over OTLP/HTTP every
 * `exportIntervalMs` when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
 *
 * Labels are closed by construction: the meter is never handed out; every instrument is recorded through one of the
 * functions below, each with a fixed set of label keys, and every label value passes `metricLabelValue` — a short
 * token (letters, digits, `_ . : / -`), never an id shaped like a TypeID (`ws_…`, `rn_…`: a prefix and 26 base32
 * characters), otherwise recorded as `other`. A View per provider keeps only the whitelisted keys as a second wall.
 * No workspace id, run id, Skill id or user content ever becomes a label.
 *
 * Per process, not per app: in-process tests that start several apps share one provider (each app's `startMetrics`
 * takes a reference; the last `shutdown` ends it). Before `startMetrics` (and after the last shutdown) every record
 * function is a no-op.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Attributes, Counter, Histogram, Meter, ObservableGauge } from "@opentelemetry/api";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  createAllowListAttributesProcessor,
  MeterProvider,
  PeriodicExportingMetricReader,
  type IMetricReader,
  type PushMetricExporter,
} from "@opentelemetry/sdk-metrics";

/** Every label key any Praxa metric may carry. */
export const METRIC_LABEL_KEYS = [
  "queue",
  "state",
  "skill",
  "outcome",
  "provider",
  "code",
  "route",
  "channel",
] as const;
export type MetricLabelKey = (typeof METRIC_LABEL_KEYS)[number];

const TOKEN = /^[A-Za-z0-9_.:/-]{1,64}$/;
/** A TypeID (`ws_01h…`): a lowercase prefix, `_`, 26 base32 characters — anywhere in the value. */
const TYPEID = /[a-z]{1,16}_[0-7][0-9a-hjkmnp-tv-z]{25}/i;
/** A UUID or any long run of hex: an id of some other shape. */
const LONG_HEX = /[0-9a-f]{16,}|[0-9a-f]{8}-[0-9a-f]{4}/i;

/** The one gate every label value goes through: a short token that is not an id, else `other`. */
export function metricLabelValue(value: unknown): string {
  if (typeof value !== "string" || !TOKEN.test(value) || TYPEID.test(value) || LONG_HEX.test(value)) return "other";
  return value;
}

/** An error code as a label: `UPPER_SNAKE` (the PraxaError codes), else `OTHER`. */
export function metricCode(code: unknown): string {
  return typeof code === "string" && /^[A-Z][A-Z0-9_]{1,63}$/.test(code) ? code : "OTHER";
}

function labels(raw: Partial<Record<MetricLabelKey, unknown>>): Attributes {
  const out: Attributes = {};
  for (const key of METRIC_LABEL_KEYS) {
    if (!(key in raw)) continue;
    out[key] = key === "code" ? metricCode(raw[key]) : metricLabelValue(raw[key]);
  }
  return out;
}

/** Histogram buckets in seconds, from a millisecond to ten minutes (runs, waits and model calls alike). */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export interface QueueDepthSample {
  readonly queue: string;
  /** Jobs per BullMQ state (waiting, active, delayed, prioritized, failed, …). */
  readonly counts: Readonly<Record<string, number>>;
  /** Seconds since the oldest waiting job was added; 0 when none waits. */
  readonly oldestWaitingAgeSeconds: number;
}

export interface FleetDepthSample {
  readonly undispatched: number;
  readonly dispatched: number;
  readonly running: number;
  readonly gatedWorkspaces: number;
}

export interface AuditBacklogSample {
  readonly queuedCalls: number;
  readonly queuedEvents: number;
  readonly heldCalls: number;
  readonly batchesInFlight: number;
}

/** What the observable gauges read at collection; each app registers the sources it owns. */
interface Sources {
  queues: Set<() => Promise<readonly QueueDepthSample[]>>;
  fleet: Set<() => Promise<FleetDepthSample>>;
  audit: Set<() => AuditBacklogSample>;
}

interface Instruments {
  readonly runWait: Histogram;
  readonly runDuration: Histogram;
  readonly modelLatency: Histogram;
  readonly modelErrors: Counter;
  readonly ingestRequests: Counter;
  readonly notifications: Counter;
}

interface Running {
  readonly provider: MeterProvider;
  readonly prometheus: PrometheusExporter;
  readonly instruments: Instruments;
  readonly sources: Sources;
  readonly pushing: boolean;
  refs: number;
}

let current: Running | null = null;

export interface MetricsOptions {
  readonly serviceName: string;
  /** OTLP/HTTP base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`); metrics go to `<it>/v1/metrics`. Unset: scrape only. */
  readonly otlpEndpoint?: string | undefined;
  /** Push interval of the OTLP reader (default 60 s, CloudWatch's resolution). */
  readonly exportIntervalMs?: number;
  /** Push here instead of OTLP (tests). */
  readonly exporter?: PushMetricExporter;
}

export interface Metrics {
  /** Whether an OTLP (or test) push exporter is attached besides the scrape endpoint. */
  readonly pushing: boolean;
  /** Push now (OTLP path); resolves when the exporter answered. */
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** A source that does not answer in time (Redis or Postgres away) is left out of this collection, never awaited. */
const SOURCE_TIMEOUT_MS = 2_000;
async function bounded<T>(work: Promise<T>): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), SOURCE_TIMEOUT_MS);
    timer.unref();
  });
  try {
    return await Promise.race([work.catch(() => null), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function createInstruments(meter: Meter, sources: Sources): Instruments {
  const histogram = (name: string, description: string) =>
    meter.createHistogram(name, { description, unit: "s", advice: { explicitBucketBoundaries: SECONDS_BUCKETS } });
  const queueDepth = meter.createObservableGauge("praxa_queue_depth", {
    description: "BullMQ jobs per queue and state (observed by the monitor)",
    unit: "{job}",
  });
  const oldestAge = meter.createObservableGauge("praxa_queue_oldest_waiting_age_seconds", {
    description: "Age of the oldest waiting job per queue (observed by the monitor)",
    unit: "s",
  });
  const runs = meter.createObservableGauge("praxa_runs", {
    description: "Runs by fleet state from Postgres (fleet_queue_depth): undispatched, dispatched, running",
    unit: "{run}",
  });
  const gated = meter.createObservableGauge("praxa_gated_workspaces", {
    description: "Workspaces with a throttled resource gated now (fleet_queue_depth)",
    unit: "{workspace}",
  });
  const audit = meter.createObservableGauge("praxa_audit_writer_pending", {
    description: "The audit writer's backlog: queued calls and events, held calls, batches in flight",
    unit: "{item}",
  });
  meter.addBatchObservableCallback(
    async (result) => {
      const observe = (gauge: ObservableGauge, value: number, attrs: Partial<Record<MetricLabelKey, unknown>>) =>
        result.observe(gauge, value, labels(attrs));
      for (const source of sources.queues) {
        const samples = await bounded(source());
        for (const s of samples ?? []) {
          for (const [state, n] of Object.entries(s.counts)) observe(queueDepth, n, { queue: s.queue, state });
          observe(oldestAge, s.oldestWaitingAgeSeconds, { queue: s.queue });
        }
      }
      for (const source of sources.fleet) {
        const f = await bounded(source());
        if (!f) continue;
        observe(runs, f.undispatched, { state: "undispatched" });
        observe(runs, f.dispatched, { state: "dispatched" });
        observe(runs, f.running, { state: "running" });
        observe(gated, f.gatedWorkspaces, {});
      }
      for (const source of sources.audit) {
        const a = source();
        observe(audit, a.queuedCalls, { state: "queued_calls" });
        observe(audit, a.queuedEvents, { state: "queued_events" });
        observe(audit, a.heldCalls, { state: "held_calls" });
        observe(audit, a.batchesInFlight, { state: "batches_in_flight" });
      }
    },
    [queueDepth, oldestAge, runs, gated, audit],
  );
  return {
    runWait: histogram("praxa_run_wait_seconds", "From a run's creation to its first claim (started_at − created_at)"),
    runDuration: histogram("praxa_run_duration_seconds", "A run's execution, claim to finish, by Skill and outcome"),
    modelLatency: histogram("praxa_model_call_duration_seconds", "One model call (retries included), by provider"),
    modelErrors: meter.createCounter("praxa_model_errors", {
      description: "Model calls that failed, by provider and error code",
      unit: "{call}",
    }),
    ingestRequests: meter.createCounter("praxa_ingest_requests", {
      description: "Ingest requests answered, by route, outcome (accepted | refused) and code",
      unit: "{request}",
    }),
    notifications: meter.createCounter("praxa_notifications", {
      description: "Notification deliveries, by channel and outcome",
      unit: "{notification}",
    }),
  };
}

/** Start (or join) the process's metrics. Scrape: `metricsHandler()`; push: OTLP when an endpoint is given. */
export function startMetrics(options: MetricsOptions): Metrics {
  if (current) {
    current.refs += 1;
  } else {
    const prometheus = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
    const readers: IMetricReader[] = [prometheus];
    const push =
      options.exporter ??
      (options.otlpEndpoint
        ? new OTLPMetricExporter({ url: new URL("/v1/metrics", options.otlpEndpoint).toString() })
        : undefined);
    if (push) {
      readers.push(
        new PeriodicExportingMetricReader({ exporter: push, exportIntervalMillis: options.exportIntervalMs ?? 60_000 }),
      );
    }
    const provider = new MeterProvider({
      resource: resourceFromAttributes({ "service.name": options.serviceName }),
      readers,
      // The second wall: whatever an instrument is handed, only whitelisted label keys leave the process.
      views: [
        { instrumentName: "*", attributesProcessors: [createAllowListAttributesProcessor([...METRIC_LABEL_KEYS])] },
      ],
    });
    const sources: Sources = { queues: new Set(), fleet: new Set(), audit: new Set() };
    current = {
      provider,
      prometheus,
      sources,
      instruments: createInstruments(provider.getMeter("praxa"), sources),
      pushing: push !== undefined,
      refs: 1,
    };
  }
  const running = current;
  let stopped = false;
  return {
    pushing: running.pushing,
    forceFlush: () => running.provider.forceFlush(),
    shutdown: async () => {
      if (stopped) return;
      stopped = true;
      running.refs -= 1;
      if (running.refs > 0) return;
      if (current === running) current = null;
      await running.provider.shutdown();
    },
  };
}

/** Serve the Prometheus text of the process's metrics; false when metrics are not started (the caller answers 404). */
export function serveMetrics(req: IncomingMessage, res: ServerResponse): boolean {
  if (!current) return false;
  current.prometheus.getMetricsRequestHandler(req, res);
  return true;
}

function register<T>(set: Set<T>, source: T): () => void {
  set.add(source);
  return () => set.delete(source);
}

/** The monitor: BullMQ queue depth and oldest waiting job, read at each collection. Returns an unregister function. */
export function observeQueueDepth(source: () => Promise<readonly QueueDepthSample[]>): () => void {
  return current ? register(current.sources.queues, source) : () => undefined;
}

/** The monitor: run states from Postgres (fleet_queue_depth), read at each collection. */
export function observeFleetDepth(source: () => Promise<FleetDepthSample>): () => void {
  return current ? register(current.sources.fleet, source) : () => undefined;
}

/** The worker: the audit writer's backlog (`pending()`), read at each collection. */
export function observeAuditBacklog(source: () => AuditBacklogSample): () => void {
  return current ? register(current.sources.audit, source) : () => undefined;
}

export type RunMetricOutcome = "succeeded" | "skipped" | "failed" | "cancelled" | "denied";

/** The worker, when a run finishes: its wait (created → first claim) and this claim's duration, both in ms. */
export function recordRunFinished(sample: {
  readonly skill: string;
  readonly outcome: RunMetricOutcome;
  readonly waitMs: number | null;
  readonly durationMs: number;
}): void {
  if (!current) return;
  const attrs = labels({ skill: sample.skill, outcome: sample.outcome });
  if (sample.waitMs !== null && Number.isFinite(sample.waitMs) && sample.waitMs >= 0)
    current.instruments.runWait.record(sample.waitMs / 1000, attrs);
  if (Number.isFinite(sample.durationMs) && sample.durationMs >= 0)
    current.instruments.runDuration.record(sample.durationMs / 1000, attrs);
}

/** One model call (after the provider's own retries): its latency, and its error code when it failed. */
export function recordModelCall(sample: {
  readonly provider: string;
  readonly durationMs: number;
  readonly errorCode?: string | null;
}): void {
  if (!current) return;
  const failed = sample.errorCode !== undefined && sample.errorCode !== null;
  current.instruments.modelLatency.record(
    Math.max(0, sample.durationMs) / 1000,
    labels({ provider: sample.provider, outcome: failed ? "error" : "ok" }),
  );
  if (failed) current.instruments.modelErrors.add(1, labels({ provider: sample.provider, code: sample.errorCode }));
}

/** Ingest: one answered request, by route pattern (never the URL), outcome and code. */
export function recordIngestRequest(sample: {
  readonly route: string;
  readonly outcome: "accepted" | "refused";
  readonly code: string;
}): void {
  current?.instruments.ingestRequests.add(1, labels(sample));
}

export type NotificationMetricOutcome = "sent" | "retry" | "failed" | "skipped";

/** The worker: one notification delivery attempt's outcome, by channel. */
export function recordNotification(sample: {
  readonly channel: string;
  readonly outcome: NotificationMetricOutcome;
}): void {
  current?.instruments.notifications.add(1, labels(sample));
}

/** For tests: the label gate applied to a whole record, as the record functions apply it. */
export function metricLabels(raw: Partial<Record<MetricLabelKey, unknown>>): Attributes {
  return labels(raw);
}
