/**
 * What the SIEM stream suites share: the worker harness (a fresh database, the workspace's key pair, a queue prefix),
 * the api on that database with the egress guard's allow-list set to loopback for the test, and a real HTTP receiver
 * on loopback that records every request (headers and raw body) and answers as each test tells it.
 */
import { createPublicKey, generateKeyPairSync, verify, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import type { FastifyInstance } from "fastify";
import { Webhook } from "standardwebhooks";
import { buildApiServer } from "@praxa/api";
import { webhookPublicKey } from "@praxa/connectors";
import { mintApiTokenMaterial, newId, type AuditEventDraft, type SiemSubscriptionId } from "@praxa/core";
import { LocalKeyProvider } from "@praxa/crypto";
import {
  appendAuditEvents,
  createAuditWriter,
  createDatabase,
  registerAuditKey,
  withWorkspace,
  type Database,
} from "@praxa/db";
import { egressPolicy } from "@praxa/egress";
import { createLogger } from "@praxa/observability";
import { runSiemDelivery, type SiemDeliveryResult, type SiemDeliverySettings } from "@praxa/worker";
import { startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

export interface Received {
  readonly path: string;
  readonly id: string;
  readonly timestamp: string;
  readonly signature: string;
  readonly headers: IncomingMessage["headers"];
  /** The body as sent (gzip for datadog). */
  readonly raw: Buffer;
  readonly at: number;
}

/** The stream record a receiver stores (one per audit event). */
export interface StreamRecord {
  readonly type: string;
  readonly seq: number;
  readonly workspace_id: string;
  readonly prev_hash: string;
  readonly hash: string;
  readonly key_id: string;
  readonly signature: string;
  readonly canonical: string;
}

/** A subscription as the api lists it (the fields the suites read). */
interface SubscriptionView {
  readonly id: string;
  readonly endpointUrl: string;
  readonly status: string;
  readonly statusReason: string | null;
  readonly publicKey: string;
  readonly previousPublicKey: string | null;
  readonly signingSecret: string | null;
  readonly credentialFingerprint: string | null;
  readonly cursorSeq: number;
  readonly lastTestResult: string | null;
}

/**
 * An api answer as the suites read it: whichever of these fields the operation answers (a subscription, a listing, the
 * audit keys, an error). Fields an answer does not carry are undefined at run time; the assertions say which one.
 */
interface ApiAnswer extends SubscriptionView {
  readonly error: { readonly code: string; readonly message: string };
  readonly subscriptions: SubscriptionView[];
  readonly keys: { readonly key_id: string; readonly purpose: string; readonly public_key_pem: string }[];
}

export type Behaviour = (req: Received, res: ServerResponse) => void;

/** The default answer: echo a verification challenge, acknowledge everything else. */
export const acknowledge: Behaviour = (r, res) => {
  const first = r.raw.toString("utf8").split("\n")[0] ?? "";
  try {
    const m = JSON.parse(first) as { type?: string; challenge?: string };
    if (m.type === "praxa.siem.verification") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ challenge: m.challenge }));
      return;
    }
  } catch {
    /* not a control message */
  }
  res.writeHead(200).end("ok");
};

export interface SiemHarness {
  readonly h: WorkerHarness;
  readonly api: FastifyInstance;
  readonly apiBase: string;
  /** The same api with the production policy: public https addresses only, no allow-list. */
  readonly strictApiBase: string;
  readonly receiverBase: string;
  readonly received: Received[];
  /** Requests being answered right now, and the most there ever were at once (per path). */
  readonly concurrency: Map<string, { now: number; max: number }>;
  behaviours: Map<string, Behaviour>;
  readonly provider: LocalKeyProvider;
  /** The admin's api token (for the CLI: PRAXA_API_TOKEN). */
  readonly token: string;
  call(
    method: "GET" | "POST" | "DELETE",
    path: string,
    body?: unknown,
    base?: string,
  ): Promise<{ status: number; json: ApiAnswer }>;
  append(n: number): Promise<void>;
  deliver(
    subscriptionId: string,
    settings?: Partial<SiemDeliverySettings>,
    holder?: string,
  ): Promise<SiemDeliveryResult>;
  /** Deliver pass after pass (waiting out backoff) until a pass reports caught up, or `until` holds. */
  deliverUntilCaughtUp(
    subscriptionId: string,
    settings?: Partial<SiemDeliverySettings>,
    stop?: (r: SiemDeliveryResult) => boolean,
  ): Promise<SiemDeliveryResult[]>;
  headSeq(): Promise<number>;
  /** The keys from `GET /v1/audit/keys`, as a verifier builds them. */
  eventKeys(): Promise<Map<string, KeyObject>>;
  close(): Promise<void>;
}

export function recordsOf(r: Received, format: "jsonl" | "splunk-hec" | "datadog" = "jsonl"): StreamRecord[] {
  if (format === "datadog") {
    const entries = JSON.parse(gunzipSync(r.raw).toString("utf8")) as { message: string }[];
    return entries.map((e) => JSON.parse(e.message) as StreamRecord).filter((x) => x.type === "praxa.audit_event");
  }
  return r.raw
    .toString("utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { event?: StreamRecord } & StreamRecord)
    .map((x) => (format === "splunk-hec" ? (x.event as StreamRecord) : x))
    .filter((x) => x.type === "praxa.audit_event");
}

/** v1a by Node's own Ed25519 against the `whpk_` the api showed; v1 by the `standardwebhooks` package. */
export function verifySignatures(
  r: Received,
  whpk: readonly string[],
  whsec: string | null,
): { v1a: boolean; v1: boolean | null } {
  const content = Buffer.concat([Buffer.from(`${r.id}.${r.timestamp}.`), r.raw]);
  const offered = r.signature.split(" ").filter((s) => s.startsWith("v1a,"));
  const v1a = whpk.every((pk) =>
    offered.some((s) => verify(null, content, webhookPublicKey(pk), Buffer.from(s.slice(4), "base64"))),
  );
  let v1: boolean | null = null;
  if (whsec) {
    try {
      new Webhook(whsec).verify(
        r.raw.toString("utf8"),
        {
          "webhook-id": r.id,
          "webhook-timestamp": r.timestamp,
          "webhook-signature": r.signature,
        },
        { jsonParse: false },
      );
      v1 = true;
    } catch {
      v1 = false;
    }
  }
  return { v1a, v1 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startSiemHarness(extraEnv: Record<string, string> = {}): Promise<SiemHarness> {
  const h = await startWorkerHarness({
    extraEnv: {
      PRAXA_EGRESS_ALLOW_CIDRS: "127.0.0.0/8",
      SIEM_LEASE_SECONDS: "5",
      SIEM_RETRY_BASE_MS: "20",
      SIEM_RETRY_MAX_MS: "200",
      ...extraEnv,
    },
  });
  const provider = await LocalKeyProvider.open({ path: h.env.PRAXA_KEY_FILE! });
  const received: Received[] = [];
  const concurrency = new Map<string, { now: number; max: number }>();
  const state = { behaviours: new Map<string, Behaviour>() };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const c = concurrency.get(path) ?? { now: 0, max: 0 };
    concurrency.set(path, c);
    c.now++;
    c.max = Math.max(c.max, c.now);
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        c.now--;
      }
    };
    res.on("close", finish);
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      const r: Received = {
        path,
        id: String(req.headers["webhook-id"] ?? ""),
        timestamp: String(req.headers["webhook-timestamp"] ?? ""),
        signature: String(req.headers["webhook-signature"] ?? ""),
        headers: req.headers,
        raw: Buffer.concat(chunks),
        at: Date.now(),
      };
      received.push(r);
      (state.behaviours.get(path) ?? acknowledge)(r, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const receiverBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const apiDb: Database = createDatabase(h.tdb.roleUrl("praxa_api"), { max: 3 });
  const k = generateKeyPairSync("ed25519");
  const apiKeyId = `aek_siem_${newId("checkpoint").slice(3)}`;
  await registerAuditKey(apiDb, {
    keyId: apiKeyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: k.publicKey.export({ format: "der", type: "spki" }),
  });
  const api = await buildApiServer({
    database: apiDb,
    log: createLogger({ name: "siem-test", level: "silent" }),
    auditSigner: { keyId: apiKeyId, privateKey: k.privateKey },
    siem: { egress: egressPolicy({ requireHttps: false, allowCidrs: "127.0.0.0/8", timeoutMs: 5_000 }) },
  });
  const apiBase = await api.listen({ port: 0, host: "127.0.0.1" });
  const strictApi = await buildApiServer({
    database: apiDb,
    log: createLogger({ name: "siem-test", level: "silent" }),
    auditSigner: { keyId: apiKeyId, privateKey: k.privateKey },
    siem: { egress: egressPolicy() },
  });
  const strictApiBase = await strictApi.listen({ port: 0, host: "127.0.0.1" });
  const m = mintApiTokenMaterial(h.ws.workspaceId);
  await h.admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${h.ws.workspaceId}, ${m.tokenId}, ${h.ws.memberId}, 'human', 'admin', ${m.secretSha256}, now() + interval '1 day')`;

  const eventKey = {
    keyId: `events-${newId("checkpoint").slice(3)}`,
    privateKey: generateKeyPairSync("ed25519").privateKey,
  };
  await registerAuditKey(h.workerDb, {
    keyId: eventKey.keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: createPublicKey(eventKey.privateKey).export({ format: "der", type: "spki" }),
  });
  const auditWriter = createAuditWriter(h.workerDb, eventKey);
  let step = 1000;
  const log = createLogger({ name: "siem-test", level: "silent" });
  const settings = (s: Partial<SiemDeliverySettings> = {}): SiemDeliverySettings => ({
    egress: egressPolicy({ requireHttps: false, allowCidrs: "127.0.0.0/8", timeoutMs: 3_000 }),
    leaseSeconds: 5,
    retryBaseMs: 20,
    retryMaxMs: 200,
    maxFailingSeconds: 3600,
    maxBatchesPerPass: 1000,
    ...s,
  });
  const harness: SiemHarness = {
    h,
    api,
    apiBase,
    strictApiBase,
    receiverBase,
    received,
    concurrency,
    get behaviours() {
      return state.behaviours;
    },
    set behaviours(v) {
      state.behaviours = v;
    },
    provider,
    token: m.token,
    async call(method, path, body, base = apiBase) {
      const res = await fetch(base + path, {
        method,
        headers: {
          authorization: `Bearer ${m.token}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, json: (await res.json()) as ApiAnswer };
    },
    async append(n) {
      for (let done = 0; done < n; done += 500) {
        const drafts: AuditEventDraft[] = Array.from({ length: Math.min(500, n - done) }, () => ({
          auditEventId: newId("auditEvent"),
          kind: "skill.action",
          skillId: h.ws.skillId as AuditEventDraft["skillId"],
          runId: h.ws.runId as AuditEventDraft["runId"],
          trigger: "github.pull_request.opened",
          input: { prNumber: 1 },
          reasoning: [`step ${step}`],
          alternatives: [{ action: "approve", score: 0.6 }],
          confidence: 0.6,
          output: { verdict: "approve" },
          tools_used: ["github.read.diff"],
          duration_ms: 10,
          occurred_at: new Date().toISOString(),
          manifest_hash: "b".repeat(64),
          step: step++,
        }));
        await withWorkspace(h.workerDb, h.ws.workspaceId, (s) => appendAuditEvents(s, drafts, eventKey));
      }
    },
    deliver(subscriptionId, s, holder = "test") {
      return runSiemDelivery(
        { database: h.workerDb, provider, holder, log, siem: settings(s), auditWriter },
        subscriptionId as SiemSubscriptionId,
      );
    },
    async deliverUntilCaughtUp(subscriptionId, s, stop) {
      const results: SiemDeliveryResult[] = [];
      for (let i = 0; i < 2000; i++) {
        const r = await harness.deliver(subscriptionId, s);
        results.push(r);
        if (r.outcome === "caught_up" || (stop && stop(r))) return results;
        if (r.outcome !== "budget_spent") await sleep(25);
      }
      throw new Error(`the stream did not catch up: ${JSON.stringify(results.slice(-3))}`);
    },
    async headSeq() {
      const [r] = await h.admin<
        { seq: string }[]
      >`select seq::text from audit_chain_heads where workspace_id = ${h.ws.workspaceId}`;
      return Number(r?.seq ?? 0);
    },
    async eventKeys() {
      const res = await harness.call("GET", "/v1/audit/keys");
      const keys = new Map<string, KeyObject>();
      for (const k of res.json.keys) if (k.purpose === "event") keys.set(k.key_id, createPublicKey(k.public_key_pem));
      return keys;
    },
    async close() {
      await auditWriter.close();
      await api.close();
      await strictApi.close();
      await apiDb.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await h.close();
    },
  };
  return harness;
}
