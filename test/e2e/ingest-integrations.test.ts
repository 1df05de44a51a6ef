/**
 * Every integration is optional (review finding 12). The real ingest process's start function, booted with only GitHub
 * configured (no SLACK_* at all): it starts, accepts a signed GitHub webhook, answers the Slack routes
 * `404 {"error":{"code":"INTEGRATION_NOT_CONFIGURED",…}}` without reading them, and names the unconfigured integration
 * once at start-up (names only). And the other way round: only Slack configured → the GitHub route is 404.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHmac, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { sign } from "@octokit/webhooks-methods";
import { createTestDatabase, seedWorkspaceFixture, type TestDatabase } from "@praxa/db";
import { startIngest } from "@praxa/ingest";
import { createQueues, createRedis, removeRedisPrefix, type QueueSet, type Redis } from "@praxa/queue";

const GITHUB_SECRET = "ingest-integrations-github-0123";
const SLACK_SECRET = "ingest-integrations-slack-01234";
const prefix = `test-${randomUUID()}`;
const dir = mkdtempSync(join(tmpdir(), "praxa-ingest-int-"));
let tdb: TestDatabase;
let redis: Redis;
let queues: QueueSet;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function boot(
  secrets: Record<string, string>,
): Promise<{ url: string; lines: Record<string, unknown>[]; close: () => Promise<void> }> {
  const lines: Record<string, unknown>[] = [];
  const logDestination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const env = {
    NODE_ENV: "test",
    LOG_LEVEL: "info",
    INGEST_DATABASE_URL: tdb.roleUrl("praxa_ingest"),
    REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    PRAXA_QUEUE_PREFIX: prefix,
    INGEST_PORT: String(await freePort()),
    INGEST_TRIGGER_KEY_FILE: join(dir, `trigger-${randomUUID()}.key`),
    ...secrets,
  };
  const started = await startIngest(env, { logDestination });
  return { url: started.url.replace("0.0.0.0", "127.0.0.1"), lines, close: started.close };
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  await seedWorkspaceFixture(tdb.adminUrl, "A", { installationId: "1" });
  redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", "producer");
  queues = createQueues(redis, prefix);
});
afterAll(async () => {
  await queues?.close();
  if (redis) await removeRedisPrefix(redis, prefix);
  redis?.disconnect();
  await tdb?.drop();
});

const slackHeaders = (body: string) => {
  const ts = String(Math.floor(Date.now() / 1000));
  return {
    "content-type": "application/json",
    "x-slack-request-timestamp": ts,
    "x-slack-signature": `v0=${createHmac("sha256", SLACK_SECRET).update(`v0:${ts}:${body}`).digest("hex")}`,
  };
};

describe("ingest with only some integrations configured", () => {
  it("only GitHub: starts, accepts a signed GitHub webhook; the Slack routes answer 404 INTEGRATION_NOT_CONFIGURED; Slack is named once at start-up", async () => {
    const ingest = await boot({ GITHUB_WEBHOOK_SECRET: GITHUB_SECRET });
    try {
      const body = readFileSync(new URL("../data/fixtures/github/pull_request.opened.json", import.meta.url), "utf8");
      const gh = await fetch(`${ingest.url}/webhooks/github`, {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          "x-github-event": "pull_request",
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": await sign(GITHUB_SECRET, body),
        },
      });
      expect(gh.status).toBe(202);
      expect(((await gh.json()) as { runIds: string[] }).runIds).toHaveLength(1);

      const event = JSON.stringify({
        type: "event_callback",
        team_id: "T00FAKE00BB",
        event_id: "Ev1",
        event: { type: "app_mention", text: "hi", channel: "C1", user: "U1", ts: "1.1" },
      });
      for (const path of ["/webhooks/slack/events", "/webhooks/slack/interactions"]) {
        const res = await fetch(`${ingest.url}${path}`, { method: "POST", body: event, headers: slackHeaders(event) });
        expect(res.status).toBe(404);
        const json = (await res.json()) as { error: { code: string; message: string } };
        expect(Object.keys(json)).toEqual(["error"]);
        expect(Object.keys(json.error).sort()).toEqual(["code", "message"]);
        expect(json.error.code).toBe("INTEGRATION_NOT_CONFIGURED");
        expect(json.error.message).toContain("SLACK_SIGNING_SECRET");
      }
      // A route that does not exist is still NOT_FOUND, not "not configured".
      expect(
        (
          (await (await fetch(`${ingest.url}/webhooks/nope`, { method: "POST", body: "{}" })).json()) as {
            error: { code: string };
          }
        ).error.code,
      ).toBe("NOT_FOUND");

      const named = ingest.lines.filter((l) => l["code"] === "INTEGRATIONS_NOT_CONFIGURED");
      expect(named).toHaveLength(1);
      expect(named[0]).toMatchObject({ integrations: ["slack"], missing: ["SLACK_SIGNING_SECRET"] });
      expect(JSON.stringify(ingest.lines)).not.toContain(GITHUB_SECRET);
    } finally {
      await ingest.close();
    }
  });

  it("only Slack: the GitHub route answers 404 INTEGRATION_NOT_CONFIGURED; a signed Slack URL verification is answered", async () => {
    const ingest = await boot({ SLACK_SIGNING_SECRET: SLACK_SECRET });
    try {
      const body = JSON.stringify({ zen: "x" });
      const gh = await fetch(`${ingest.url}/webhooks/github`, {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          "x-github-event": "ping",
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": await sign(GITHUB_SECRET, body),
        },
      });
      expect(gh.status).toBe(404);
      expect(((await gh.json()) as { error: { code: string } }).error.code).toBe("INTEGRATION_NOT_CONFIGURED");
      const challenge = JSON.stringify({ type: "url_verification", challenge: "abc123", token: "x" });
      const slack = await fetch(`${ingest.url}/webhooks/slack/events`, {
        method: "POST",
        body: challenge,
        headers: slackHeaders(challenge),
      });
      expect(slack.status).toBe(200);
      expect(await slack.json()).toEqual({ challenge: "abc123" });
      expect(ingest.lines.filter((l) => l["code"] === "INTEGRATIONS_NOT_CONFIGURED")).toEqual([
        expect.objectContaining({ integrations: ["github"], missing: ["GITHUB_WEBHOOK_SECRET"] }),
      ]);
    } finally {
      await ingest.close();
    }
  });
});
