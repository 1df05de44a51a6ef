/**
 * bench/siem — SIEM stream delivery throughput (issue #23): events/s to a loopback receiver, against a plain batched
 * POST loop of the same bytes measured in the same run. Processes: this driver (a fresh database with N signed audit
 * events, the workspace's key pair, one jsonl subscription with its sealed signing key, as the api stores it), the
 * stand-in receiver (receiver-standin.ts), the baseline loop (baseline.ts) and the real delivery (deliver.ts:
 * `runSiemDelivery` until caught up). Batches of 1,000 events both ways.
 * Last line: {"bench":"siem","ratio":ours/baseline,"unit":"events/s","ours","baseline",…}.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, createPublicKey } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { generateSiemSigningKey } from "@praxa/connectors";
import { newId, type AuditEventDraft } from "@praxa/core";
import { LocalKeyProvider, sealCredential } from "@praxa/crypto";
import {
  appendAuditEvents,
  createDatabase,
  createTestDatabase,
  registerAuditKey,
  schema,
  seedWorkspaceFixture,
  vaultPutSecret,
  withWorkspace,
  workspacePublicKey,
} from "@praxa/db";
import { runKeysJob } from "@praxa/worker";

const EVENTS = Number(process.env.BENCH_SIEM_EVENTS ?? 20_000);
const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const tsxEsm = pathToFileURL(join(dirname(require.resolve("tsx/package.json")), "dist", "esm", "index.mjs")).href;
const log = (s: string): void => void process.stdout.write(`${s}\n`);
const children = new Set<ChildProcess>();

function run(
  script: string,
  env: Record<string, string>,
  firstLineOnly = false,
): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ["--import", tsxEsm, join(here, script)], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once("line", (line) => resolve({ child, line }));
    child.once("exit", (code) => {
      if (code !== 0 || !firstLineOnly) reject(new Error(`${script} exited (${code}) without an answer`));
    });
  });
}

const tdb = await createTestDatabase({ prefix: "praxa_bench_siem" });
try {
  const W = await seedWorkspaceFixture(tdb.adminUrl, "W", { auditChain: false });
  const worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 4 });
  const api = createDatabase(tdb.roleUrl("praxa_api"), { max: 1 });
  const keyFile = join(mkdtempSync(join(tmpdir(), "praxa-bench-siem-")), "master.key");
  const provider = await LocalKeyProvider.open({ path: keyFile });
  await runKeysJob({ database: worker, provider, holder: "bench" }, W.workspaceId, "create");
  const eventKey = {
    keyId: `bench-${newId("checkpoint").slice(3)}`,
    privateKey: generateKeyPairSync("ed25519").privateKey,
  };
  await registerAuditKey(worker, {
    keyId: eventKey.keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: createPublicKey(eventKey.privateKey).export({ format: "der", type: "spki" }),
  });
  for (let done = 0; done < EVENTS; done += 1000) {
    const drafts: AuditEventDraft[] = Array.from({ length: Math.min(1000, EVENTS - done) }, (_, i) => ({
      auditEventId: newId("auditEvent"),
      kind: "skill.action",
      skillId: W.skillId as AuditEventDraft["skillId"],
      runId: W.runId as AuditEventDraft["runId"],
      trigger: "github.pull_request.opened",
      input: { prNumber: 1, repo: "acme/shop" },
      reasoning: ["The change is small and tested.", "No risky paths touched."],
      alternatives: [
        { action: "approve", score: 0.8 },
        { action: "request_changes", score: 0.2 },
      ],
      confidence: 0.8,
      output: { verdict: "approve", summary: "Looks good." },
      tools_used: ["github.read.diff", "github.comment.pr"],
      duration_ms: 1200,
      occurred_at: new Date().toISOString(),
      manifest_hash: "b".repeat(64),
      step: done + i,
    }));
    await withWorkspace(worker, W.workspaceId, (s) => appendAuditEvents(s, drafts, eventKey));
  }
  log(`bench/siem: ${EVENTS} stored audit events, jsonl batches of 1000 to a loopback receiver`);

  const receiver = await run("receiver-standin.ts", {}, true);
  const url = `${receiver.line.trim()}/siem`;
  // The subscription as POST /v1/siem-subscriptions stores it: its Ed25519 key sealed to the workspace key.
  const id = newId("siemSubscription");
  await withWorkspace(api, W.workspaceId, async (s) => {
    const key = generateSiemSigningKey();
    const pub = await workspacePublicKey(s);
    if (!pub) throw new Error("the workspace has no key");
    const sealed = await sealCredential(
      { keyId: pub.keyId, publicKey: pub.publicKey },
      { workspaceId: W.workspaceId, provider: "siem", purpose: "ed25519" },
      key.privateKeyPkcs8,
    );
    await vaultPutSecret(s, {
      name: `siem/${id}/ed25519/1`,
      provider: "siem",
      purpose: "ed25519",
      ciphertext: Buffer.from(sealed),
      keyId: pub.keyId,
    });
    await s.db.insert(schema.siemSubscriptions).values({
      workspaceId: W.workspaceId,
      id,
      endpointUrl: url,
      format: "jsonl",
      status: "active",
      batchMaxEvents: 1000,
      batchMaxBytes: 1024 * 1024,
      keyGeneration: 1,
      publicKey: key.publicKey,
      hmacEnabled: false,
      cursorSeq: 0,
      failures: 0,
      nextAttemptAt: new Date(),
      createdBy: W.memberId,
    });
  });

  const baselineRun = JSON.parse(
    (
      await run("baseline.ts", {
        BENCH_ADMIN_URL: tdb.adminUrl,
        BENCH_WORKSPACE: W.workspaceId,
        BENCH_RECEIVER_URL: url,
        BENCH_BATCH_EVENTS: "1000",
      })
    ).line,
  ) as { events: number; batches: number; ms: number };
  const oursRun = JSON.parse(
    (
      await run("deliver.ts", {
        BENCH_WORKER_DATABASE_URL: tdb.roleUrl("praxa_worker"),
        BENCH_KEY_FILE: keyFile,
        BENCH_SUBSCRIPTION: id,
      })
    ).line,
  ) as { events: number; batches: number; ms: number };
  const ours = (oursRun.events / oursRun.ms) * 1000;
  const baseline = (baselineRun.events / baselineRun.ms) * 1000;
  log(
    `baseline (plain POST loop, same bytes): ${baselineRun.events} events in ${baselineRun.batches} requests, ${baselineRun.ms.toFixed(0)} ms → ${baseline.toFixed(0)} events/s`,
  );
  log(
    `ours (lease, read, record, sign v1a, egress guard, ack): ${oursRun.events} events in ${oursRun.batches} requests, ${oursRun.ms.toFixed(0)} ms → ${ours.toFixed(0)} events/s`,
  );
  receiver.child.kill("SIGTERM");
  await Promise.all([worker.close(), api.close()]);
  log(
    JSON.stringify({
      bench: "siem",
      ratio: Number((ours / baseline).toFixed(3)),
      unit: "events/s",
      ours: Math.round(ours),
      baseline: Math.round(baseline),
      events: EVENTS,
      batch_events: 1000,
    }),
  );
} finally {
  for (const c of children) c.kill("SIGKILL");
  await tdb.drop();
}
