/**
 * What the monitor observes for the metrics (packages/observability metrics.ts), read at each collection (a scrape of
 * `GET /metrics`, an OTLP push): per BullMQ queue the job counts by state and the age of the oldest waiting job; from
 * Postgres (`fleet_queue_depth()`, granted to praxa_monitor) the runs undispatched, dispatched and running and the
 * workspaces gated now. Queue names only as labels — no workspace, no job id.
 */
import { fleetQueueDepth, type Database } from "@praxa/db";
import {
  observeFleetDepth,
  observeQueueDepth,
  type FleetDepthSample,
  type QueueDepthSample,
} from "@praxa/observability";
import { JOB_CATALOG, type QueueName, type QueueSet } from "@praxa/queue";

/** Every queue of the catalog, once. */
const QUEUE_NAMES: readonly QueueName[] = [...new Set(Object.values(JOB_CATALOG).map((e) => e.queue))];

const STATES = ["waiting", "active", "delayed", "prioritized", "waiting-children", "failed"] as const;

async function sampleQueueDepth(queues: QueueSet, now: () => number): Promise<QueueDepthSample[]> {
  return Promise.all(
    QUEUE_NAMES.map(async (name) => {
      const q = queues.get(name);
      const [counts, oldest] = await Promise.all([q.getJobCounts(...STATES), q.getJobs(["wait"], 0, 0, true)]);
      const first = oldest[0];
      return {
        queue: name,
        counts,
        oldestWaitingAgeSeconds: first ? Math.max(0, (now() - first.timestamp) / 1000) : 0,
      };
    }),
  );
}

async function sampleFleetDepth(database: Database): Promise<FleetDepthSample> {
  const d = await fleetQueueDepth(database);
  return {
    undispatched: d.undispatched,
    dispatched: d.dispatched,
    running: d.running,
    gatedWorkspaces: d.gated_workspaces,
  };
}

/** Register the monitor's sources; the returned function unregisters them. */
export function observeMonitorMetrics(deps: {
  readonly queues: QueueSet;
  readonly database: Database;
  readonly now: () => number;
}): () => void {
  const stops = [
    observeQueueDepth(() => sampleQueueDepth(deps.queues, deps.now)),
    observeFleetDepth(() => sampleFleetDepth(deps.database)),
  ];
  return () => stops.forEach((stop) => stop());
}
