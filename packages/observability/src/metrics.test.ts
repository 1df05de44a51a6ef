import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "@jest/globals";
import { parsePrometheusText } from "@praxa/testkit";
import { startHealthServer, type HealthServer } from "./health-server.js";
import {
  metricLabels,
  metricLabelValue,
  observeAuditBacklog,
  observeFleetDepth,
  observeQueueDepth,
  recordIngestRequest,
  recordModelCall,
  recordNotification,
  recordRunFinished,
  startMetrics,
  type Metrics,
} from "./metrics.js";

const WS = "ws_01jf8x2k9m3n4p5q6r7s8t9v0w";
const CANARY = "CANARY-7f3a secret prompt text";

let metrics: Metrics | undefined;
let health: HealthServer | undefined;
afterEach(async () => {
  await health?.close();
  await metrics?.shutdown();
  health = undefined;
  metrics = undefined;
});

async function scrape(port: number): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
}

describe("metric labels", () => {
  it("keeps short tokens and refuses ids and content (TypeIDs, UUIDs, hex, spaces, long strings)", () => {
    expect(metricLabelValue("pr-review")).toBe("pr-review");
    expect(metricLabelValue("/triggers/:skillId")).toBe("/triggers/:skillId");
    for (const bad of [
      WS,
      `skill-${WS}`,
      "rn_01jf8x2k9m3n4p5q6r7s8t9v0w",
      "0193f0a2-8c1e-7cc3-9a4f-1b2c3d4e5f60",
      "deadbeefdeadbeefdeadbeef",
      CANARY,
      "x".repeat(65),
      "",
      42,
      null,
    ])
      expect(metricLabelValue(bad)).toBe("other");
  });

  it("keeps whitelisted keys only; codes must be UPPER_SNAKE", () => {
    const attrs = metricLabels({ skill: "pr-review", code: "not a code", workspace: WS } as never);
    expect(attrs).toEqual({ skill: "pr-review", code: "OTHER" });
  });
});

describe("startMetrics + GET /metrics", () => {
  it("answers 404 at /metrics when metrics are not started", async () => {
    health = await startHealthServer({ PRAXA_HEALTH_PORT: String(await freePort()) }, {});
    expect((await scrape(health!.port)).status).toBe(404);
  });

  it("serves every instrument as Prometheus text, with no workspace id or content in any label", async () => {
    metrics = startMetrics({ serviceName: "praxa-test" });
    health = await startHealthServer({ PRAXA_HEALTH_PORT: String(await freePort()) }, {});
    observeQueueDepth(async () => [
      { queue: "runs", counts: { waiting: 3, active: 1, delayed: 0 }, oldestWaitingAgeSeconds: 12.5 },
    ]);
    observeFleetDepth(async () => ({ undispatched: 4, dispatched: 3, running: 1, gatedWorkspaces: 2 }));
    observeAuditBacklog(() => ({ queuedCalls: 2, queuedEvents: 5, heldCalls: 0, batchesInFlight: 1 }));
    recordRunFinished({ skill: "pr-review", outcome: "succeeded", waitMs: 250, durationMs: 1_500 });
    recordRunFinished({ skill: WS, outcome: "failed", waitMs: null, durationMs: 10 });
    recordModelCall({ provider: "offline", durationMs: 3 });
    recordModelCall({ provider: "anthropic", durationMs: 900, errorCode: "MODEL_UNAVAILABLE" });
    recordIngestRequest({ route: "/webhooks/github", outcome: "accepted", code: "OK" });
    recordIngestRequest({ route: CANARY, outcome: "refused", code: CANARY });
    recordNotification({ channel: "slack", outcome: "sent" });

    const res = await scrape(health!.port);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain/);
    const prom = parsePrometheusText(res.text);
    expect(prom.find("praxa_queue_depth", { queue: "runs", state: "waiting" })[0]?.value).toBe(3);
    expect(prom.find("praxa_queue_oldest_waiting_age_seconds", { queue: "runs" })[0]?.value).toBe(12.5);
    expect(prom.find("praxa_runs", { state: "undispatched" })[0]?.value).toBe(4);
    expect(prom.find("praxa_runs", { state: "running" })[0]?.value).toBe(1);
    expect(prom.find("praxa_gated_workspaces")[0]?.value).toBe(2);
    expect(prom.find("praxa_audit_writer_pending", { state: "queued_events" })[0]?.value).toBe(5);
    expect(prom.types.get("praxa_run_duration_seconds")).toBe("histogram");
    expect(prom.find("praxa_run_duration_seconds_count", { skill: "pr-review", outcome: "succeeded" })[0]?.value).toBe(
      1,
    );
    expect(prom.find("praxa_run_duration_seconds_sum", { skill: "pr-review" })[0]?.value).toBe(1.5);
    expect(prom.find("praxa_run_wait_seconds_sum", { skill: "pr-review" })[0]?.value).toBe(0.25);
    // the workspace id given as a Skill became `other`
    expect(prom.find("praxa_run_duration_seconds_count", { skill: "other", outcome: "failed" })[0]?.value).toBe(1);
    expect(prom.find("praxa_model_call_duration_seconds_count", { provider: "offline", outcome: "ok" })).toHaveLength(
      1,
    );
    expect(prom.find("praxa_model_errors_total", { provider: "anthropic", code: "MODEL_UNAVAILABLE" })[0]?.value).toBe(
      1,
    );
    expect(
      prom.find("praxa_ingest_requests_total", { route: "other", outcome: "refused", code: "OTHER" }),
    ).toHaveLength(1);
    expect(prom.find("praxa_notifications_total", { channel: "slack", outcome: "sent" })[0]?.value).toBe(1);
    for (const s of prom.samples)
      for (const v of Object.values(s.labels)) {
        expect(v).not.toMatch(/ws_[0-9a-z]{26}/);
        expect(v).not.toContain("CANARY");
      }
    expect(res.text).not.toContain(WS);
    expect(res.text).not.toContain("CANARY");
  });

  it("is per process: a second start joins the first, and recording stops after the last shutdown", async () => {
    metrics = startMetrics({ serviceName: "praxa-a" });
    const second = startMetrics({ serviceName: "praxa-b" });
    health = await startHealthServer({ PRAXA_HEALTH_PORT: String(await freePort()) }, {});
    recordNotification({ channel: "email", outcome: "failed" });
    await second.shutdown();
    recordNotification({ channel: "email", outcome: "failed" });
    const prom = parsePrometheusText((await scrape(health!.port)).text);
    expect(prom.find("praxa_notifications_total", { channel: "email" })[0]?.value).toBe(2);
    await metrics.shutdown();
    metrics = undefined;
    recordNotification({ channel: "email", outcome: "failed" }); // a no-op, not a throw
    expect((await scrape(health!.port)).status).toBe(404);
  });
});

describe("OTLP/HTTP push", () => {
  let receiver: Server | undefined;
  afterEach(async () => {
    // the provider's last export goes to the receiver: shut it down first
    await metrics?.shutdown();
    metrics = undefined;
    receiver?.closeAllConnections();
    await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
    receiver = undefined;
  });

  it("pushes the same instruments to <endpoint>/v1/metrics, labels filtered the same way", async () => {
    const bodies: { path: string; body: string }[] = [];
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        bodies.push({ path: req.url ?? "", body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => receiver!.listen(0, "127.0.0.1", resolve));
    const port = (receiver.address() as { port: number }).port;
    metrics = startMetrics({ serviceName: "praxa-otlp", otlpEndpoint: `http://127.0.0.1:${port}` });
    expect(metrics.pushing).toBe(true);
    observeFleetDepth(async () => ({ undispatched: 7, dispatched: 0, running: 0, gatedWorkspaces: 0 }));
    recordRunFinished({ skill: "pr-review", outcome: "succeeded", waitMs: 1, durationMs: 2 });
    recordIngestRequest({ route: WS, outcome: "accepted", code: "OK" });
    await metrics.forceFlush();
    expect(bodies.map((b) => b.path)).toContain("/v1/metrics");
    const doc = JSON.parse(bodies.map((b) => b.body).join("")) as {
      resourceMetrics: { scopeMetrics: { metrics: { name: string }[] }[] }[];
    };
    const names = doc.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.name)));
    expect(names).toEqual(
      expect.arrayContaining(["praxa_runs", "praxa_run_duration_seconds", "praxa_ingest_requests"]),
    );
    const all = bodies.map((b) => b.body).join("");
    expect(all).not.toContain(WS);
    expect(all).toContain('"praxa-otlp"');
  });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
