/**
 * Issue #23 — the audit log streamed to a customer's SIEM over signed webhooks, against a real HTTP receiver on
 * loopback (the egress guard's allow-list set to 127.0.0.0/8 for the test):
 *  - creation: a refused address is 422 EGRESS_REFUSED with no connection made; an endpoint that does not echo the
 *    signed challenge is 422 SIEM_ENDPOINT_UNVERIFIED; nothing is stored either way;
 *  - 5,000 events arrive in seq order, complete, in batches within the bounds; every batch's v1a signature verifies
 *    with Node's Ed25519 and the `whpk_` the api showed, its v1 with the `standardwebhooks` package; every event is the
 *    stored record and the chain verifies with the keys from GET /v1/audit/keys;
 *  - a receiver down for a while, then back: nothing lost, every duplicate shares its webhook-id (and its bytes);
 *  - 429 with Retry-After: the next attempt waits at least that long; 410 disables; failing too long disables;
 *    resuming continues from the cursor;
 *  - splunk-hec and datadog bodies carry the same records with their credential headers;
 *  - rotation: both generations sign during the overlap.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { verifyChain, type NotificationId, type StoredChainEvent, type WorkspaceId } from "@praxa/core";
import { createLogger } from "@praxa/observability";
import { startSmtpServer } from "@praxa/testkit";
import { runNotificationJob } from "@praxa/worker";
import { createDatabase, siemRetentionFloor } from "@praxa/db";
import {
  acknowledge,
  recordsOf,
  startSiemHarness,
  verifySignatures,
  type Received,
  type SiemHarness,
  type StreamRecord,
} from "./siem-harness.js";

let x: SiemHarness;
const CLI = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "silent" },
    encoding: "utf8",
    timeout: 60_000,
  });

beforeAll(async () => {
  x = await startSiemHarness();
}, 60_000);
afterAll(async () => {
  await x?.close();
});

const at = (path: string) => x.received.filter((r) => r.path === path && !r.raw.includes("praxa.siem.verification"));

async function subscribe(path: string, body: Record<string, unknown> = {}) {
  const res = await x.call("POST", "/v1/siem-subscriptions", {
    format: "jsonl",
    url: `${x.receiverBase}${path}`,
    ...body,
  });
  expect(res.status).toBe(201);
  return res.json as { id: string; publicKey: string; signingSecret: string | null; cursorSeq: number };
}

/** Records in the order received, each seq once (a duplicate must be byte-identical to the first copy). */
function dedupe(records: readonly StreamRecord[]): StreamRecord[] {
  const seen = new Map<number, string>();
  const out: StreamRecord[] = [];
  for (const r of records) {
    const text = JSON.stringify(r);
    const prior = seen.get(r.seq);
    if (prior !== undefined) {
      expect(text).toBe(prior);
      continue;
    }
    seen.set(r.seq, text);
    out.push(r);
  }
  return out;
}

function toChain(records: readonly StreamRecord[]): StoredChainEvent[] {
  return records.map((r) => ({
    seq: r.seq,
    workspace_id: r.workspace_id,
    prev_hash: r.prev_hash,
    hash: r.hash,
    key_id: r.key_id,
    signature: r.signature,
    canonical: Buffer.from(r.canonical, "utf8"),
  }));
}

describe("creation", () => {
  it.each([
    ["a private address", "http://10.0.0.1/hook"],
    ["the cloud metadata address", "http://169.254.169.254/latest/meta-data/"],
    ["a CGNAT address", "http://100.64.0.1/hook"],
    ["the IPv6 loopback", "http://[::1]:9/hook"],
    ["an IPv4-mapped private address", "http://[::ffff:10.1.2.3]/hook"],
    ["a link-local IPv6 address", "http://[fe80::1]/hook"],
    ["a multicast address", "http://224.0.0.1/hook"],
  ])("%s → 422 EGRESS_REFUSED, nothing stored", async (_label, url) => {
    const before = (await x.call("GET", "/v1/siem-subscriptions")).json.subscriptions.length;
    const res = await x.call("POST", "/v1/siem-subscriptions", { format: "jsonl", url });
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe("EGRESS_REFUSED");
    expect((await x.call("GET", "/v1/siem-subscriptions")).json.subscriptions.length).toBe(before);
  });

  it("the production policy (https only, no allow-list) refuses loopback in every spelling, a name resolving to it, and plain http — without a connection", async () => {
    const port = new URL(x.receiverBase).port;
    for (const url of [
      `https://127.0.0.1:${port}/strict`,
      `https://[::ffff:127.0.0.1]:${port}/strict`,
      `https://[::ffff:7f00:1]:${port}/strict`,
      `https://localhost:${port}/strict`,
      "https://169.254.169.254/latest/meta-data/",
      "http://93.184.216.34/hook",
    ]) {
      const res = await x.call("POST", "/v1/siem-subscriptions", { format: "jsonl", url }, x.strictApiBase);
      expect({ url, status: res.status, code: res.json.error?.code }).toEqual({
        url,
        status: 422,
        code: "EGRESS_REFUSED",
      });
    }
    expect(x.received.filter((r) => r.path === "/strict")).toEqual([]);
  });

  it("an endpoint that answers 200 without echoing the challenge is refused, with nothing stored", async () => {
    x.behaviours.set("/no-echo", (_r, res) => res.writeHead(200).end("ok"));
    const res = await x.call("POST", "/v1/siem-subscriptions", { format: "jsonl", url: `${x.receiverBase}/no-echo` });
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe("SIEM_ENDPOINT_UNVERIFIED");
    const challenge = x.received.filter((r) => r.path === "/no-echo");
    expect(challenge).toHaveLength(1);
    // Even the challenge is signed: the receiver can check it came from this subscription's key.
    expect(challenge[0]!.signature).toMatch(/^v1a,/);
    const [row] = await x.h.admin<
      { n: string }[]
    >`select count(*)::text as n from siem_subscriptions where endpoint_url like '%/no-echo'`;
    expect(row!.n).toBe("0");
  });
});

describe("delivery", () => {
  it("5,000 events: in seq order, complete, bounded batches, v1a and v1 verified independently, the chain verifies", async () => {
    await x.append(5_000);
    const sub = await subscribe("/all", { hmac: true, batchMaxEvents: 1000 });
    expect(sub.publicKey).toMatch(/^whpk_/);
    expect(sub.signingSecret).toMatch(/^whsec_/);
    await x.deliverUntilCaughtUp(sub.id);
    const head = await x.headSeq();
    const batches = at("/all");
    expect(batches.length).toBeGreaterThanOrEqual(5);
    let records: StreamRecord[] = [];
    for (const b of batches) {
      expect(verifySignatures(b, [sub.publicKey], sub.signingSecret)).toEqual({ v1a: true, v1: true });
      const rs = recordsOf(b);
      expect(rs.length).toBeLessThanOrEqual(1000);
      expect(b.raw.length).toBeLessThanOrEqual(1024 * 1024);
      // The webhook-id names the batch's range: stable, so a retry is recognisably the same batch.
      expect(b.id).toBe(`msg_${sub.id}_${rs[0]!.seq}_${rs.at(-1)!.seq}`);
      records = records.concat(rs);
    }
    // Strictly in order, every seq from the first to the head exactly once, no duplicates without a failure.
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    // The receiver's own check: each record's signature by the published keys, and the chain's continuity.
    const verdict = verifyChain(toChain(records), await x.eventKeys(), {
      workspaceId: x.h.ws.workspaceId as WorkspaceId,
    });
    expect(verdict).toEqual({ ok: true, count: head, headHash: records.at(-1)!.hash });
    const [row] = await x.h.admin<
      { cursor_seq: string }[]
    >`select cursor_seq::text from siem_subscriptions where id = ${sub.id}`;
    expect(Number(row!.cursor_seq)).toBe(head);
  }, 180_000);

  it("a tampered record fails the receiver's check: the verification is real", async () => {
    const rs = dedupe(at("/all").flatMap((b) => recordsOf(b))).slice(0, 50);
    const bad = rs.map((r, i) => (i === 20 ? { ...r, canonical: r.canonical.replace('"approve"', '"reject"') } : r));
    const v = verifyChain(toChain(bad), await x.eventKeys(), { workspaceId: x.h.ws.workspaceId as WorkspaceId });
    expect(v).toMatchObject({ ok: false, seq: 21 });
    const b = at("/all")[0]!;
    const forged: Received = { ...b, raw: Buffer.concat([b.raw, Buffer.from("\n")]) };
    expect(
      verifySignatures(
        forged,
        [
          (await x.call("GET", "/v1/siem-subscriptions")).json.subscriptions.find((s: { endpointUrl: string }) =>
            s.endpointUrl.endsWith("/all"),
          )!.publicKey,
        ],
        null,
      ).v1a,
    ).toBe(false);
  });

  it("a receiver down for a while, then back: nothing lost, duplicates share their webhook-id and bytes", async () => {
    const sub = await subscribe("/flaky", { startAt: "now", batchMaxEvents: 40 });
    await x.append(300);
    let n = 0;
    // Down: connections cut, then 503s, then a receiver that stores the batch but crashes before answering 2xx.
    x.behaviours.set("/flaky", (r, res) => {
      n++;
      if (n <= 3) res.socket?.destroy();
      else if (n <= 5) res.writeHead(503).end();
      else if (n === 6 || n === 9) res.writeHead(500).end();
      else acknowledge(r, res);
    });
    const results = await x.deliverUntilCaughtUp(sub.id);
    expect(results.some((r) => r.outcome === "retry_later")).toBe(true);
    const got = at("/flaky");
    const byId = new Map<string, string[]>();
    for (const b of got) {
      const rs = recordsOf(b);
      byId.set(b.id, [...(byId.get(b.id) ?? []), JSON.stringify(rs)]);
    }
    // Every resend of a batch is the same batch under the same id.
    for (const bodies of byId.values()) expect(new Set(bodies).size).toBe(1);
    expect([...byId.values()].some((b) => b.length > 1)).toBe(true);
    const records = dedupe(got.flatMap((b) => recordsOf(b)));
    const head = await x.headSeq();
    expect(records.map((r) => r.seq)).toEqual(
      Array.from({ length: head - sub.cursorSeq }, (_, i) => sub.cursorSeq + 1 + i),
    );
  }, 60_000);

  it("`praxa audit verify --stream` verifies what the receiver stored (duplicates included) and names a tampered seq", async () => {
    const dir = mkdtempSync(join(tmpdir(), "praxa-siem-verify-"));
    writeFileSync(join(dir, "keys.json"), JSON.stringify((await x.call("GET", "/v1/audit/keys")).json));
    // What a receiver appends to its store: every body as it arrived, retries and all.
    const stored = at("/flaky")
      .map((b) => b.raw.toString("utf8"))
      .join("");
    writeFileSync(join(dir, "stream.jsonl"), stored);
    const ok = cli("audit", "verify", "--stream", join(dir, "stream.jsonl"), "--keys", join(dir, "keys.json"));
    expect({ status: ok.status, err: ok.stderr }).toEqual({ status: 0, err: "" });
    expect(ok.stdout).toMatch(
      /^ok: \d+ event\(s\), seq \d+…\d+ \(anchored on seq \d+'s prev_hash\), every signature and link holds; [1-9]\d* duplicate\(s\) dropped/,
    );
    // One byte of one record changed: caught, and the seq named.
    const lines = stored.split("\n").filter((l) => l !== "" && !l.includes("praxa.siem."));
    const victim = JSON.parse(lines[10]!) as StreamRecord;
    const tampered = stored
      .split("\n")
      .map((l) =>
        l === lines[10]
          ? JSON.stringify({ ...victim, canonical: victim.canonical.replace('"approve"', '"reject"') })
          : l,
      )
      .filter((l) => !l.includes(`"seq":${victim.seq},`) || l.includes('"reject"'))
      .join("\n");
    writeFileSync(join(dir, "tampered.jsonl"), tampered);
    const bad = cli("audit", "verify", "--stream", join(dir, "tampered.jsonl"), "--keys", join(dir, "keys.json"));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`FAILED: seq ${victim.seq}:`);
    // A record missing from the middle: the gap is named.
    const gap = stored
      .split("\n")
      .filter((l) => !l.includes(`"seq":${victim.seq},`))
      .join("\n");
    writeFileSync(join(dir, "gap.jsonl"), gap);
    const gapped = cli("audit", "verify", "--stream", join(dir, "gap.jsonl"), "--keys", join(dir, "keys.json"));
    expect(gapped.status).toBe(1);
    expect(gapped.stderr).toContain(`seq ${victim.seq}: seq_gap`);
  });

  it("429 with Retry-After: the next attempt waits at least that long", async () => {
    const sub = await subscribe("/throttled", { startAt: "now" });
    await x.append(10);
    let throttledAt = 0;
    x.behaviours.set("/throttled", (r, res) => {
      if (throttledAt === 0) {
        throttledAt = r.at;
        res.writeHead(429, { "retry-after": "2" }).end();
      } else acknowledge(r, res);
    });
    const results = await x.deliverUntilCaughtUp(sub.id);
    expect(results[0]).toMatchObject({ outcome: "retry_later", code: "ENDPOINT_THROTTLED" });
    // Passes in between found nothing due (the backoff alone would have retried after 20-40 ms).
    expect(results.some((r) => r.outcome === "not_claimable")).toBe(true);
    const got = at("/throttled");
    expect(got).toHaveLength(2);
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(2_000);
    expect(got[1]!.id).toBe(got[0]!.id);
  }, 30_000);

  it("410 Gone disables the subscription; resuming continues from the cursor with nothing skipped", async () => {
    const sub = await subscribe("/gone", { startAt: "now", batchMaxEvents: 10 });
    await x.append(25);
    let gone = false;
    x.behaviours.set("/gone", (r, res) => {
      if (at("/gone").length === 2 && !gone) {
        gone = true;
        res.writeHead(410).end();
      } else acknowledge(r, res);
    });
    const results = await x.deliverUntilCaughtUp(sub.id, {}, (r) => r.outcome === "disabled");
    expect(results.at(-1)).toMatchObject({ outcome: "disabled", reason: "ENDPOINT_GONE" });
    const listed = (await x.call("GET", "/v1/siem-subscriptions")).json.subscriptions.find(
      (s: { id: string }) => s.id === sub.id,
    );
    expect(listed).toMatchObject({ status: "disabled", statusReason: "ENDPOINT_GONE" });
    expect(await x.deliver(sub.id)).toEqual({ outcome: "not_claimable" });
    const resumed = await x.call("POST", `/v1/siem-subscriptions/${sub.id}/resume`);
    expect(resumed.status).toBe(200);
    await x.deliverUntilCaughtUp(sub.id);
    const records = dedupe(at("/gone").flatMap((b) => recordsOf(b)));
    const head = await x.headSeq();
    expect(records.map((r) => r.seq)).toEqual(
      Array.from({ length: head - sub.cursorSeq }, (_, i) => sub.cursorSeq + 1 + i),
    );
    // The disabling itself is in the workspace's signed audit log, so the stream carried it once resumed.
    const kinds = records.map((r) => JSON.parse(r.canonical) as { kind: string; input: { subscription_id?: string } });
    expect(kinds.filter((e) => e.kind === "siem.disabled").map((e) => e.input.subscription_id)).toContain(sub.id);
  }, 30_000);

  it("a subscription failing for longer than the configured time is disabled", async () => {
    const sub = await subscribe("/down", { startAt: "now" });
    await x.append(3);
    x.behaviours.set("/down", (_r, res) => res.writeHead(500).end());
    const results = await x.deliverUntilCaughtUp(sub.id, { maxFailingSeconds: 1 }, (r) => r.outcome === "disabled");
    expect(results.at(-1)).toMatchObject({ outcome: "disabled", reason: "FAILING_TOO_LONG" });
    expect(results.filter((r) => r.outcome === "retry_later").length).toBeGreaterThan(0);

    // The workspace's channels are told, through the notification outbox: one per enabled channel, delivered by the
    // notification job under its own lease (here the fixture's email channel, over a loopback SMTP relay).
    const rows = await x.h.admin<{ id: string; kind: string; status: string }[]>`
      select n.id, n.kind, n.status from notifications n join notification_channels c on c.id = n.channel_id
       where n.siem_subscription_id = ${sub.id} and n.event = 'siem.disabled' and c.disabled_at is null order by n.id`;
    const channels = await x.h.admin<{ n: string }[]>`select count(*)::text as n from notification_channels
       where workspace_id = ${x.h.ws.workspaceId} and disabled_at is null`;
    expect(rows.length).toBe(Number(channels[0]!.n));
    const email = rows.find((r) => r.kind === "email");
    expect(email?.status).toBe("pending");
    const smtp = await startSmtpServer();
    try {
      const delivered = await runNotificationJob(
        {
          database: x.h.workerDb,
          provider: x.provider,
          holder: "test",
          log: createLogger({ name: "siem-notify", level: "silent" }),
          channels: {
            smtp: { url: smtp.url, from: "Praxa <praxa@example.com>" },
            pagerDutyEventsUrl: "http://127.0.0.1:9/",
            slack: { baseUrl: "http://127.0.0.1:9", app: null },
          },
        },
        email!.id as NotificationId,
        { final: false },
      );
      expect(delivered).toMatchObject({ outcome: "delivered", kind: "email" });
      const mail = smtp.messages.at(-1)!;
      expect(mail.subject).toContain("disabled the SIEM stream to 127.0.0.1");
      expect(mail.text).toContain(sub.id);
      expect(mail.text).toContain("FAILING_TOO_LONG");
      expect(mail.headers["x-praxa-event"]).toBe("siem.disabled");
    } finally {
      await smtp.close();
    }
  }, 30_000);

  it("pause stops the stream at once; resume continues from the cursor", async () => {
    const sub = await subscribe("/paused", { startAt: "now" });
    await x.append(5);
    expect((await x.call("POST", `/v1/siem-subscriptions/${sub.id}/pause`)).json.status).toBe("paused");
    expect(await x.deliver(sub.id)).toEqual({ outcome: "not_claimable" });
    expect(at("/paused")).toHaveLength(0);
    expect((await x.call("POST", `/v1/siem-subscriptions/${sub.id}/resume`)).json.status).toBe("active");
    await x.deliverUntilCaughtUp(sub.id);
    const records = dedupe(at("/paused").flatMap((b) => recordsOf(b)));
    expect(records[0]!.seq).toBe(sub.cursorSeq + 1);
  });

  it("a test message is signed and its result recorded", async () => {
    const sub = await subscribe("/tested", { startAt: "now" });
    expect((await x.call("POST", `/v1/siem-subscriptions/${sub.id}/test`)).status).toBe(202);
    await x.deliverUntilCaughtUp(sub.id);
    const test = at("/tested").find((r) => r.raw.includes("praxa.siem.test"));
    expect(test && verifySignatures(test, [sub.publicKey], null).v1a).toBe(true);
    const listed = (await x.call("GET", "/v1/siem-subscriptions")).json.subscriptions.find(
      (s: { id: string }) => s.id === sub.id,
    );
    expect(listed?.lastTestResult).toBe("HTTP_200");
  });

  it("rotation: both generations sign during the overlap", async () => {
    const sub = await subscribe("/rotated", { startAt: "now", hmac: true });
    const rotated = await x.call("POST", `/v1/siem-subscriptions/${sub.id}/rotate`, { overlapHours: 1 });
    expect(rotated.status).toBe(200);
    expect(rotated.json.publicKey).not.toBe(sub.publicKey);
    expect(rotated.json.previousPublicKey).toBe(sub.publicKey);
    await x.append(3);
    await x.deliverUntilCaughtUp(sub.id);
    const b = at("/rotated").at(-1)!;
    expect(verifySignatures(b, [sub.publicKey, rotated.json.publicKey], sub.signingSecret)).toEqual({
      v1a: true,
      v1: true,
    });
    expect(verifySignatures(b, [rotated.json.publicKey], rotated.json.signingSecret)).toEqual({ v1a: true, v1: true });
    expect(b.signature.split(" ").map((s) => s.split(",")[0])).toEqual(["v1a", "v1a", "v1", "v1"]);
  });
});

describe("formats", () => {
  it("splunk-hec: HEC envelopes with `Authorization: Splunk <token>`, the same records", async () => {
    const token = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    x.behaviours.set("/services/collector/event", (_r, res) =>
      res.writeHead(200, { "content-type": "application/json" }).end('{"text":"Success","code":0}'),
    );
    const res = await x.call("POST", "/v1/siem-subscriptions", {
      format: "splunk-hec",
      url: `${x.receiverBase}/services/collector/event`,
      token,
      startAt: "now",
    });
    expect(res.status).toBe(201);
    expect(res.json.credentialFingerprint).toBe("e1f0");
    await x.append(4);
    await x.deliverUntilCaughtUp(res.json.id);
    const got = at("/services/collector/event").filter((r) => r.raw.includes("praxa.audit_event"));
    expect(got[0]!.headers.authorization).toBe(`Splunk ${token}`);
    const envelope = JSON.parse(got[0]!.raw.toString("utf8").split("\n")[0]!) as Record<string, unknown>;
    expect(envelope).toMatchObject({ sourcetype: "praxa:audit", event: { type: "praxa.audit_event" } });
    expect(recordsOf(got[0]!, "splunk-hec").length).toBeGreaterThanOrEqual(4);
  });

  it("datadog: a gzip JSON array of v2 log entries with `DD-API-KEY`, the records as messages", async () => {
    const apiKey = "0123456789abcdef0123456789abcdef";
    x.behaviours.set("/api/v2/logs", (_r, res) => res.writeHead(202, { "content-type": "application/json" }).end("{}"));
    const res = await x.call("POST", "/v1/siem-subscriptions", {
      format: "datadog",
      url: `${x.receiverBase}/api/v2/logs`,
      apiKey,
      startAt: "now",
    });
    expect(res.status).toBe(201);
    await x.append(4);
    await x.deliverUntilCaughtUp(res.json.id);
    const got = at("/api/v2/logs").filter((r) => gunzipSync(r.raw).includes("praxa.audit_event"));
    expect(got[0]!.headers["dd-api-key"]).toBe(apiKey);
    expect(got[0]!.headers["content-encoding"]).toBe("gzip");
    expect(verifySignatures(got[0]!, [res.json.publicKey], null).v1a).toBe(true);
    const rs = recordsOf(got[0]!, "datadog");
    expect(rs.length).toBeGreaterThanOrEqual(4);
    // No secret in the listing.
    const listing = JSON.stringify((await x.call("GET", "/v1/siem-subscriptions")).json);
    expect(listing).not.toContain(apiKey);
  });
});

describe("retention floor (for the lifecycle sweep)", () => {
  it("is the lowest seq an active or paused subscription has not acknowledged; null once none exists", async () => {
    const monitor = createDatabase(x.h.tdb.roleUrl("praxa_monitor"), { max: 1 });
    try {
      const ws = x.h.ws.workspaceId as WorkspaceId;
      const subs = (await x.call("GET", "/v1/siem-subscriptions")).json.subscriptions as {
        id: string;
        status: string;
        cursorSeq: number;
      }[];
      const holding = subs.filter((s) => s.status === "active" || s.status === "paused");
      expect(await siemRetentionFloor(monitor, ws)).toBe(Math.min(...holding.map((s) => s.cursorSeq)) + 1);
      // A paused subscription holds its undelivered events as an active one does.
      const lowest = holding.reduce((a, b) => (a.cursorSeq <= b.cursorSeq ? a : b));
      if (lowest.status === "active") await x.call("POST", `/v1/siem-subscriptions/${lowest.id}/pause`);
      expect(await siemRetentionFloor(monitor, ws)).toBe(lowest.cursorSeq + 1);
      for (const s of subs) expect((await x.call("DELETE", `/v1/siem-subscriptions/${s.id}`)).status).toBe(200);
      expect(await siemRetentionFloor(monitor, ws)).toBeNull();
      // Deleted: its secrets are gone from the vault too.
      const [left] = await x.h.admin<
        { n: string }[]
      >`select count(*)::text as n from vault.secrets where workspace_id = ${ws} and name like 'siem/%'`;
      expect(left!.n).toBe("0");
    } finally {
      await monitor.close();
    }
  });
});

describe("the CLI", () => {
  it("praxa siem create|list|pause|resume|test|rotate|delete, through the api with the operator's token", async () => {
    const env = { PRAXA_API_URL: x.apiBase, PRAXA_API_TOKEN: x.token };
    // Asynchronous: the api answering the CLI runs in this process.
    const praxa = (...args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, ...args], {
          env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "silent", ...env },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (status) => resolve({ status, stdout, stderr }));
      });
    const refused = await praxa("siem", "create", "--url", "http://169.254.169.254/latest/meta-data/");
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain("EGRESS_REFUSED");
    const created = await praxa(
      "siem",
      "create",
      "--url",
      `${x.receiverBase}/cli`,
      "--hmac",
      "--start-at",
      "now",
      "--json",
    );
    expect(created.status).toBe(0);
    const sub = JSON.parse(created.stdout) as { id: string; publicKey: string; signingSecret: string };
    expect(sub.publicKey).toMatch(/^whpk_/);
    expect(sub.signingSecret).toMatch(/^whsec_/);
    const listed = JSON.parse((await praxa("siem", "list", "--json")).stdout) as { subscriptions: { id: string }[] };
    expect(listed.subscriptions.map((s) => s.id)).toContain(sub.id);
    // The listing never shows the secret again.
    expect(JSON.stringify(listed)).not.toContain(sub.signingSecret);
    expect(JSON.parse((await praxa("siem", "pause", sub.id, "--json")).stdout).status).toBe("paused");
    expect(JSON.parse((await praxa("siem", "resume", sub.id, "--json")).stdout).status).toBe("active");
    expect((await praxa("siem", "test", sub.id)).status).toBe(0);
    const rotated = JSON.parse((await praxa("siem", "rotate", sub.id, "--overlap-hours", "2", "--json")).stdout) as {
      previousPublicKey: string;
    };
    expect(rotated.previousPublicKey).toBe(sub.publicKey);
    expect((await praxa("siem", "delete", sub.id)).status).toBe(0);
    const after = JSON.parse((await praxa("siem", "list", "--json")).stdout) as { subscriptions: { id: string }[] };
    expect(after.subscriptions.map((s) => s.id)).not.toContain(sub.id);
    // Every change was audited.
    const kinds = await x.h.admin<
      { kind: string }[]
    >`select kind from audit_events where workspace_id = ${x.h.ws.workspaceId}
      and kind like 'admin.siem_subscription.%' and convert_from(canonical, 'UTF8') like ${"%" + sub.id + "%"} order by seq`;
    expect(kinds.map((k) => k.kind)).toEqual([
      "admin.siem_subscription.created",
      "admin.siem_subscription.paused",
      "admin.siem_subscription.resumed",
      "admin.siem_subscription.rotated",
      "admin.siem_subscription.deleted",
    ]);
  }, 120_000);
});
