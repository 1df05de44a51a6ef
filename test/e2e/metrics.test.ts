/**
 * Metrics end to end (issue 20, item 4): ingest, worker and monitor started by their real start functions, each with
 * an internal PRAXA_HEALTH_PORT; a signed pull_request webhook whose title, body, branch and diff carry a canary goes
 * through ingest to the worker, which posts its review on the sandbox GitHub; then `GET /metrics` on each app's
 * internal port is scraped and parsed as Prometheus text: the instruments exist with sane values, and no label value
 * is a workspace id (`ws_…`), any other id, or the canary.
 *
 * The three apps share this process, so they share its one MeterProvider (metrics are per process): every port answers
 * the same registry.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHmac, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunId } from "@praxa/core";
import { startIngest } from "@praxa/ingest";
import { startMonitor } from "@praxa/monitor";
import { parsePrometheusText, type PromText } from "@praxa/testkit";
import { startWorker } from "@praxa/worker";
import { addedPatch, APP_ID, INSTALLATION, startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

const CANARY = "CANARYmetrics7q";
const SECRET = "metrics-webhook-secret-0123456789";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

let h: WorkerHarness;
let ports: { ingest: number; worker: number; monitor: number };
let ingest: Awaited<ReturnType<typeof startIngest>>;
let worker: Awaited<ReturnType<typeof startWorker>>;
let monitor: Awaited<ReturnType<typeof startMonitor>>;
let ingestUrl: string;

beforeAll(async () => {
  ports = { ingest: await freePort(), worker: await freePort(), monitor: await freePort() };
  h = await startWorkerHarness({ extraEnv: { PRAXA_HEALTH_PORT: String(ports.worker) } });
  const dir = mkdtempSync(join(tmpdir(), "praxa-metrics-"));
  const shared = {
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    REDIS_URL: h.env["REDIS_URL"] ?? "",
    PRAXA_QUEUE_PREFIX: h.env["PRAXA_QUEUE_PREFIX"] ?? "",
  };
  ingest = await startIngest({
    ...shared,
    INGEST_DATABASE_URL: h.tdb.roleUrl("praxa_ingest"),
    INGEST_PORT: String(await freePort()),
    INGEST_TRIGGER_KEY_FILE: join(dir, "trigger.key"),
    GITHUB_WEBHOOK_SECRET: SECRET,
    GITHUB_APP_ID: String(APP_ID),
    PRAXA_HEALTH_PORT: String(ports.ingest),
  });
  ingestUrl = ingest.url.replace("0.0.0.0", "127.0.0.1");
  worker = await startWorker(h.env, { providerFactory: null });
  monitor = await startMonitor({
    ...shared,
    MONITOR_DATABASE_URL: h.tdb.roleUrl("praxa_monitor"),
    PRAXA_KEY_PROVIDER: "local",
    PRAXA_KEY_FILE: h.env["PRAXA_KEY_FILE"] ?? "",
    PRAXA_AUDIT_SIGNING_KEY_FILE: join(dir, "monitor-audit.key"),
    PRAXA_HEALTH_PORT: String(ports.monitor),
  });
});
afterAll(async () => {
  await monitor?.close();
  await worker?.close();
  await ingest?.close();
  await h?.close();
});

async function scrape(port: number): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return { status: res.status, text: await res.text() };
}

function one(prom: PromText, name: string, labels: Record<string, string> = {}): number {
  const found = prom.find(name, labels);
  if (found.length === 0) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`);
  return found.reduce((sum, s) => sum + s.value, 0);
}

describe("GET /metrics after a review", () => {
  it("every app's internal port answers the instruments, with sane values and no id or content in any label", async () => {
    const headSha = randomUUID().replace(/-/g, "").padEnd(40, "0").slice(0, 40);
    h.gh.sandbox.addPullRequest({
      owner: "acme",
      repo: "shop",
      number: 31,
      title: `Checkout ${CANARY}`,
      body: `Please review ${CANARY}`,
      author: { login: "dev", type: "User" },
      headSha,
      baseRef: "main",
      files: [{ filename: `src/${CANARY}.ts`, patch: addedPatch([`export const canary = "${CANARY}";`]) }],
    });
    const body = JSON.stringify({
      action: "opened",
      number: 31,
      installation: { id: INSTALLATION },
      repository: { full_name: "acme/shop" },
      sender: { login: "dev", type: "User" },
      pull_request: {
        title: `Checkout ${CANARY}`,
        body: CANARY,
        draft: false,
        user: { login: "dev", type: "User" },
        head: { sha: headSha, ref: `feature/${CANARY}` },
        base: { ref: "main" },
      },
    });
    const headers = {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": randomUUID(),
    };
    const res = await fetch(`${ingestUrl}/webhooks/github`, {
      method: "POST",
      headers: {
        ...headers,
        "x-hub-signature-256": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`,
      },
      body,
    });
    expect(res.status).toBe(202);
    const [runId] = ((await res.json()) as { runIds: RunId[] }).runIds;
    // A forged one: refused with SIGNATURE_INVALID.
    const forged = await fetch(`${ingestUrl}/webhooks/github`, {
      method: "POST",
      headers: { ...headers, "x-github-delivery": randomUUID(), "x-hub-signature-256": `sha256=${"0".repeat(64)}` },
      body,
    });
    expect(forged.status).toBe(401);
    expect((await h.waitForRun(runId!)).status).toBe("succeeded");
    expect(h.gh.sandbox.reviews("acme", "shop", 31)).toHaveLength(1);

    const scraped = await Promise.all([ports.ingest, ports.worker, ports.monitor].map(scrape));
    for (const s of scraped) expect(s.status).toBe(200);
    const prom = parsePrometheusText(scraped[2]!.text);

    // ingest: accepted / refused by code, by route pattern
    expect(
      one(prom, "praxa_ingest_requests_total", { route: "/webhooks/github", outcome: "accepted", code: "OK" }),
    ).toBe(1);
    expect(
      one(prom, "praxa_ingest_requests_total", {
        route: "/webhooks/github",
        outcome: "refused",
        code: "SIGNATURE_INVALID",
      }),
    ).toBe(1);
    // worker: the run's wait and duration by Skill and outcome
    const runLabels = { skill: "pr-review", outcome: "succeeded" };
    expect(one(prom, "praxa_run_duration_seconds_count", runLabels)).toBe(1);
    const duration = one(prom, "praxa_run_duration_seconds_sum", runLabels);
    expect(duration).toBeGreaterThan(0);
    expect(duration).toBeLessThan(60);
    expect(one(prom, "praxa_run_wait_seconds_count", runLabels)).toBe(1);
    const wait = one(prom, "praxa_run_wait_seconds_sum", runLabels);
    expect(wait).toBeGreaterThanOrEqual(0);
    expect(wait).toBeLessThan(60);
    expect(prom.types.get("praxa_run_duration_seconds")).toBe("histogram");
    // model calls by provider (the offline model here)
    expect(
      one(prom, "praxa_model_call_duration_seconds_count", { provider: "offline", outcome: "ok" }),
    ).toBeGreaterThan(0);
    // the audit writer's backlog: present, and drained once the run is done
    expect(one(prom, "praxa_audit_writer_pending", { state: "queued_events" })).toBe(0);
    expect(one(prom, "praxa_audit_writer_pending", { state: "held_calls" })).toBe(0);
    // monitor: per queue, jobs by state and the oldest waiting job's age; run states from Postgres
    for (const queue of ["runs", "keys", "notifications", "maintenance"]) {
      expect(one(prom, "praxa_queue_depth", { queue, state: "waiting" })).toBeGreaterThanOrEqual(0);
      const age = one(prom, "praxa_queue_oldest_waiting_age_seconds", { queue });
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThan(3_600);
    }
    expect(one(prom, "praxa_queue_depth", { queue: "runs", state: "waiting" })).toBe(0);
    for (const state of ["undispatched", "dispatched", "running"]) expect(one(prom, "praxa_runs", { state })).toBe(0);
    expect(one(prom, "praxa_gated_workspaces")).toBe(0);

    // No workspace id, no other id, no content in any label value; not anywhere in the text either.
    const ids = [h.ws.workspaceId, h.ws.skillId, runId ?? "", headSha];
    for (const s of scraped) {
      const parsed = parsePrometheusText(s.text);
      for (const sample of parsed.samples)
        for (const value of Object.values(sample.labels)) {
          expect(value).not.toMatch(/ws_[0-9a-z]{26}/);
          expect(value).not.toMatch(/[a-z]{2,16}_[0-9a-z]{26}/);
          expect(value).not.toContain(CANARY);
        }
      for (const id of ids) expect(s.text).not.toContain(id);
      expect(s.text).not.toContain(CANARY);
    }
  });
});
