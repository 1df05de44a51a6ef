/**
 * Maintenance runs once per fleet: two monitors both declare the schedules and both run a maintenance worker; there is
 * one scheduler of each kind, every scheduled job runs on exactly one of them, and the time-based checkpoint pass
 * checkpoints a workspace whose chain grew — once per size — signed by the checkpoint key. Real Redis and Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPublicKey, generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { newId } from "@praxa/core";
import postgres from "postgres";
import {
  appendAuditEvents,
  createDatabase,
  createTestDatabase,
  registerAuditKey,
  seedWorkspaceFixture,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createLogger } from "@praxa/observability";
import { createLocalObjectStore, type ObjectStoreBackend } from "@praxa/object-store";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createQueues,
  createRedis,
  redisReady,
  removeRedisPrefix,
  type QueueSet,
  type Redis,
  type Worker,
} from "@praxa/queue";
import {
  ACCEPTANCE_SCHEDULER_ID,
  CHECKPOINT_SCHEDULER_ID,
  EXPORTS_SCHEDULER_ID,
  LIFECYCLE_SCHEDULER_ID,
  RECONCILE_SCHEDULER_ID,
  SIEM_SWEEP_SCHEDULER_ID,
  scheduleMaintenance,
  startMaintenanceWorker,
  type MaintenanceDeps,
} from "@praxa/monitor";

let tdb: TestDatabase;
let ws: WorkspaceFixture;
let pools: Database[] = [];
let redis: Redis;
const workerConns: Redis[] = [];
let queues: QueueSet;
const prefix = `test-${randomUUID()}`;
const log = createLogger({ name: "maintenance-test", level: "silent" });
const events = generateKeyPairSync("ed25519");
const checkpoints = generateKeyPairSync("ed25519");
const eventSigner = { keyId: `ev-${randomUUID()}`, privateKey: events.privateKey };
const checkpointSigner = {
  keyId: `cp-${randomUUID()}`,
  sign: async (m: Uint8Array) => new Uint8Array(sign(null, m, checkpoints.privateKey)),
};

beforeAll(async () => {
  tdb = await createTestDatabase();
  ws = await seedWorkspaceFixture(tdb.adminUrl, "A");
  pools = [
    createDatabase(tdb.roleUrl("praxa_monitor"), { max: 2 }),
    createDatabase(tdb.roleUrl("praxa_monitor"), { max: 2 }),
  ];
  await registerAuditKey(pools[0] as Database, {
    keyId: eventSigner.keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: createPublicKey(events.privateKey).export({ format: "der", type: "spki" }),
  });
  await registerAuditKey(pools[0] as Database, {
    keyId: checkpointSigner.keyId,
    purpose: "checkpoint",
    algorithm: "ed25519",
    spki: createPublicKey(checkpoints.privateKey).export({ format: "der", type: "spki" }),
  });
  redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", "producer");
  await redisReady(redis);
  queues = createQueues(redis, prefix);
});
afterAll(async () => {
  await queues?.close();
  for (const c of workerConns) c.disconnect();
  if (redis) await removeRedisPrefix(redis, prefix);
  redis?.disconnect();
  for (const p of pools) await p.close();
  await tdb?.drop();
});

let objects: ObjectStoreBackend | undefined;
async function objectStore(): Promise<ObjectStoreBackend> {
  objects ??= await createLocalObjectStore({ dir: mkdtempSync(join(tmpdir(), "praxa-maintenance-")) });
  return objects;
}

function deps(database: Database, store: ObjectStoreBackend): MaintenanceDeps {
  return {
    objects: store,
    database,
    queues,
    log,
    now: Date.now,
    graceSeconds: 10,
    batch: 100,
    auditSigner: eventSigner,
    checkpointSigner,
  };
}

describe("maintenance, once per fleet", () => {
  it("two monitors declare the schedules: one scheduler each; every job runs on exactly one monitor; a grown chain is checkpointed", async () => {
    const intervals = {
      reconcileMs: 150,
      acceptanceMs: 150,
      checkpointMs: 150,
      siemSweepMs: 150,
      lifecycleMs: 150,
      exportsMs: 150,
    };
    await scheduleMaintenance(queues, intervals);
    await scheduleMaintenance(queues, intervals);
    const schedulers = await queues.get("maintenance").getJobSchedulers();
    expect(schedulers.map((s) => s.key).sort()).toEqual(
      [
        ACCEPTANCE_SCHEDULER_ID,
        CHECKPOINT_SCHEDULER_ID,
        EXPORTS_SCHEDULER_ID,
        LIFECYCLE_SCHEDULER_ID,
        RECONCILE_SCHEDULER_ID,
        SIEM_SWEEP_SCHEDULER_ID,
      ].sort(),
    );

    // The chain grows by one event (seq 2) past its checkpoint at tree_size 1.
    await withWorkspace(pools[0] as Database, ws.workspaceId, (s) =>
      appendAuditEvents(
        s,
        [
          {
            auditEventId: newId("auditEvent"),
            kind: "skill.paused",
            skillId: ws.skillId as never,
            runId: null,
            trigger: "monitor.acceptance",
            input: {},
            reasoning: ["test"],
            alternatives: [],
            confidence: null,
            output: {},
            tools_used: [],
            duration_ms: 0,
            occurred_at: new Date().toISOString(),
          },
        ],
        eventSigner,
      ),
    );

    const ran: Map<string, string>[] = [new Map(), new Map()];
    const store = await objectStore();
    const workers: Worker[] = pools.map((db, i) => {
      const conn = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", "worker");
      workerConns.push(conn);
      const { worker: w } = startMaintenanceWorker(conn, prefix, deps(db, store), log);
      w.on("completed", (job) => ran[i]?.set(String(job.id), job.name));
      return w;
    });
    try {
      const deadline = Date.now() + 30_000;
      const total = () => (ran[0]?.size ?? 0) + (ran[1]?.size ?? 0);
      const names = () => new Set([...(ran[0]?.values() ?? []), ...(ran[1]?.values() ?? [])]);
      while ((total() < 24 || names().size < 6) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(names()).toEqual(
        new Set(["reconcile", "acceptance", "checkpoints", "siem-sweep", "lifecycle", "exports"]),
      );
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
    // No scheduled job ran on both monitors.
    const both = [...(ran[0]?.keys() ?? [])].filter((id) => ran[1]?.has(id));
    expect(both).toEqual([]);
    // The time-based pass checkpointed the grown chain once, with the checkpoint key.
    const admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
    try {
      const cps = await admin<
        { tree_size: string; key_id: string }[]
      >`select tree_size, key_id from audit_checkpoints where workspace_id = ${ws.workspaceId} order by tree_size`;
      expect(cps.map((c) => [Number(c.tree_size), c.key_id === checkpointSigner.keyId])).toEqual([
        [1, false],
        [2, true],
      ]);
    } finally {
      await admin.end({ timeout: 5 });
    }
  });
});
