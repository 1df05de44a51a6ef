/**
 * Traces end to end (issue 20, item 3): one trace per run, from the webhook's arrival at ingest to the review posted by
 * the worker, exported over real OTLP/HTTP (the apps' own exporter, behind the filtering exporter) to a loopback
 * receiver that decodes what arrives. The trace context crosses through the run row (`agent_runs.traceparent`), never
 * the job. A PII canary in the PR's title and body — in the webhook and in what the worker reads from GitHub — is in
 * no exported byte.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { RunId } from "@praxa/core";
import { createDatabase, type Database } from "@praxa/db";
import { buildIngestServer, createWorkspaceLimiter } from "@praxa/ingest";
import { runMaintenanceJob } from "@praxa/monitor";
import { createLocalObjectStore } from "@praxa/object-store";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, startTelemetry, type Telemetry } from "@praxa/observability";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "@praxa/testkit";
import { startWorker } from "@praxa/worker";
import { addedPatch, APP_ID, INSTALLATION, startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

const WEBHOOK_SECRET = "traces-webhook-secret-0123456789";
const CANARY = "CANARY-pii-7f3a9e jane.doe@example.com";

let receiver: OtlpReceiver;
let h: WorkerHarness;
let ingestDb: Database;
let ingestTelemetry: Telemetry;
let ingest: FastifyInstance;
let ingestUrl: string;
let worker: Awaited<ReturnType<typeof startWorker>> | undefined;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  h = await startWorkerHarness({ extraEnv: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } });
  ingestDb = createDatabase(h.tdb.roleUrl("praxa_ingest"), { max: 2 });
  ingestTelemetry = startTelemetry({ serviceName: "praxa-ingest", otlpEndpoint: receiver.url });
  ingest = await buildIngestServer({
    config: {
      GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
      SLACK_SIGNING_SECRET: "unused-slack-secret-0123",
      INGEST_BODY_LIMIT_BYTES: 1 << 20,
      INGEST_UNVERIFIED_RATE_PER_MINUTE: 10_000,
      INGEST_TRUST_PROXY: false,
    },
    database: ingestDb,
    queues: h.queues,
    limiter: createWorkspaceLimiter(h.redis, h.env["PRAXA_QUEUE_PREFIX"] ?? "x", 1000),
    log: createLogger({ name: "traces", level: "silent" }),
    tracer: ingestTelemetry.tracer,
    now: Date.now,
    githubAppId: APP_ID,
    ready: async () => ({ postgres: true, redis: true }),
  });
  ingestUrl = await ingest.listen({ port: 0, host: "127.0.0.1" });
  worker = await startWorker(h.env);
});
afterAll(async () => {
  await worker?.close();
  await ingest?.close();
  await ingestTelemetry?.shutdown();
  await ingestDb?.close();
  await h?.close();
  await receiver?.close();
});

describe("one trace per run, from the webhook to the review", () => {
  it("ingest's request span is the root; the worker's run continues it from the row; the review's tool call is in it; no canary leaves", async () => {
    const headSha = randomUUID().replace(/-/g, "").padEnd(40, "0").slice(0, 40);
    h.gh.sandbox.addPullRequest({
      owner: "acme",
      repo: "app",
      number: 42,
      title: `Fix ${CANARY}`,
      body: `Reported by ${CANARY}`,
      author: { login: "dev", type: "User" },
      headSha,
      baseRef: "main",
      files: [{ filename: "src/pay.ts", patch: addedPatch([`export const who = "${CANARY}";`]) }],
    });
    const body = JSON.stringify({
      action: "opened",
      number: 42,
      installation: { id: INSTALLATION },
      repository: { full_name: "acme/app" },
      sender: { login: "dev", type: "User" },
      pull_request: {
        title: `Fix ${CANARY}`,
        body: `Reported by ${CANARY}`,
        draft: false,
        user: { login: "dev", type: "User" },
        head: { sha: headSha },
        base: { ref: "main" },
      },
    });
    const res = await fetch(`${ingestUrl}/webhooks/github`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "pull_request",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`,
      },
      body,
    });
    expect(res.status).toBe(202);
    const [runId] = ((await res.json()) as { runIds: RunId[] }).runIds;
    expect((await h.waitForRun(runId as RunId)).status).toBe("succeeded");
    expect(h.gh.sandbox.reviews("acme", "app", 42)).toHaveLength(1);
    // The job carried the run id only; the trace context is on the row.
    const [row] = await h.admin<
      { traceparent: string | null }[]
    >`select traceparent from agent_runs where id = ${runId ?? ""}`;
    expect(row?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

    // The fleet's own passes are traces of their own: a run queued without a dispatch (as the dispatcher finds one) is
    // moved by the worker's dispatcher (`praxa.dispatch`), and a monitor's reconcile pass is `praxa.monitor.reconcile`.
    const queuedRun = await h.createPrRun({ number: 43, title: `Other ${CANARY}` });
    expect((await h.waitForRun(queuedRun)).status).toBe("succeeded");
    const monitorDb = createDatabase(h.tdb.roleUrl("praxa_monitor"), { max: 1 });
    const monitorTelemetry = startTelemetry({ serviceName: "praxa-monitor", otlpEndpoint: receiver.url });
    try {
      await runMaintenanceJob(
        "reconcile",
        {},
        {
          database: monitorDb,
          queues: h.queues,
          log: createLogger({ name: "traces-monitor", level: "silent" }),
          now: Date.now,
          graceSeconds: 10,
          batch: 100,
          objects: await createLocalObjectStore({ dir: mkdtempSync(join(tmpdir(), "praxa-traces-")) }),
          auditSigner: { keyId: "unused", privateKey: generateKeyPairSync("ed25519").privateKey },
          checkpointSigner: { keyId: "unused", sign: async () => new Uint8Array(64) },
          tracer: monitorTelemetry.tracer,
        },
      );
    } finally {
      await monitorTelemetry.shutdown();
      await monitorDb.close();
    }

    // Shutting down flushes each app's batch of spans to the receiver.
    await worker?.close();
    worker = undefined;
    await ingestTelemetry.shutdown();

    const spans = receiver.spans();
    const [, traceId, parentSpanId] = (row?.traceparent ?? "").split("-");
    const trace = spans.filter((s) => s.traceId === traceId);
    const one = (service: string, name: string): ReceivedSpan => {
      const found = trace.filter((s) => s.service === service && s.name === name);
      expect(found.map((s) => `${s.service} ${s.name}`)).toEqual([`${service} ${name}`]);
      return found[0] as ReceivedSpan;
    };
    // ingest: the request (root, the span the row names), its commit and its enqueue.
    const request = one("praxa-ingest", "praxa.ingest.request");
    expect(request.parentSpanId).toBeNull();
    expect(request.spanId).toBe(parentSpanId);
    expect(one("praxa-ingest", "praxa.ingest.commit").parentSpanId).toBe(request.spanId);
    expect(one("praxa-ingest", "praxa.ingest.enqueue").parentSpanId).toBe(request.spanId);
    // worker: the run, a child of the request; its model and tool calls, children of the run — the review among them.
    const run = one("praxa-worker", "praxa.run");
    expect(run.parentSpanId).toBe(request.spanId);
    const calls = trace.filter((s) => s.parentSpanId === run.spanId);
    expect(calls.some((s) => s.name === "praxa.model.call" && s.attributes["tool_name"] === "model")).toBe(true);
    const review = calls.find((s) => s.name === "praxa.tool.call" && s.attributes["tool_name"] === "github.comment.pr");
    expect(review).toBeDefined();
    expect(review?.startTimeUnixNano).toBeGreaterThanOrEqual(run.startTimeUnixNano);
    expect(review?.endTimeUnixNano).toBeLessThanOrEqual(run.endTimeUnixNano);
    // Every span of the trace is one of ours, with whitelisted attributes only, no events, no links, no status text.
    for (const s of trace) {
      expect(s.name).toMatch(/^praxa\.[a-z_.]+$/);
      expect(Object.keys(s.attributes).every((k) => ["tool_name", "ms", "code", "iter"].includes(k))).toBe(true);
      expect(s.events + s.links).toBe(0);
      expect(s.statusMessage).toBe("");
    }
    // The passes: roots of their own traces, `ms` (and a `code` only on failure).
    for (const [service, name] of [
      ["praxa-worker", "praxa.dispatch"],
      ["praxa-monitor", "praxa.monitor.reconcile"],
    ] as const) {
      const pass = spans.find((s) => s.service === service && s.name === name);
      expect(pass?.parentSpanId).toBeNull();
      expect(pass?.traceId).not.toBe(traceId);
      expect(Object.keys(pass?.attributes ?? {})).toEqual(["ms"]);
    }
    // No workspace id, run id, repository or canary in any exported byte.
    const wire = Buffer.concat(receiver.bodies());
    expect(wire.length).toBeGreaterThan(0);
    for (const needle of [CANARY, "CANARY-pii", "jane.doe", h.ws.workspaceId, runId ?? "", queuedRun, "acme/app"])
      expect(wire.includes(needle)).toBe(false);
  });
});
