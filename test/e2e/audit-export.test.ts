/**
 * Export and offline verification, as a customer does it: pin the key set, keep a checkpoint, export, verify with no
 * database. An insider who drops the tail of the log and re-signs a new head with Praxa's own key passes a plain
 * verify — and is caught by `--trusted-checkpoint`, which proves (RFC 9162 consistency) the log only ever grew.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { canonicalBytes, eventHash, newId, signEvent, type AuditEventDraft } from "@praxa/core";
import {
  appendAuditEvents,
  createDatabase,
  createTestDatabase,
  databaseUrl,
  registerAuditKey,
  seedWorkspaceFixture,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";

const cli = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "praxa-audit-"));
let tdb: TestDatabase;
let admin: postgres.Sql;
let worker: Database;
let W: WorkspaceFixture;
const eventKey = {
  keyId: `events-${newId("checkpoint").slice(3)}`,
  privateKey: generateKeyPairSync("ed25519").privateKey,
};

function praxa(...args: string[]) {
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    DATABASE_URL: databaseUrl(tdb.adminUrl, {}),
    LOG_LEVEL: "silent",
    PRAXA_KEY_FILE: join(dir, "master.key"),
    PRAXA_AUDIT_SIGNING_KEY_FILE: join(dir, "audit-signing.key"),
  };
  return spawnSync(process.execPath, [cli, ...args], { env, encoding: "utf8", timeout: 60_000 });
}
async function append(n: number, from: number, f: WorkspaceFixture = W) {
  const drafts: AuditEventDraft[] = Array.from({ length: n }, (_, i) => ({
    auditEventId: newId("auditEvent"),
    kind: "skill.action",
    skillId: f.skillId as AuditEventDraft["skillId"],
    runId: f.runId as AuditEventDraft["runId"],
    trigger: "github.pull_request.opened",
    input: { prNumber: 1 },
    reasoning: [`step ${from + i}`],
    alternatives: [{ action: "approve", score: 0.6 }],
    confidence: 0.6,
    output: { verdict: "approve" },
    tools_used: ["github.read.diff"],
    duration_ms: 10,
    occurred_at: new Date().toISOString(),
    manifest_hash: "b".repeat(64),
    step: from + i,
  }));
  await withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, drafts, eventKey));
}
function exportTo(file: string, f: WorkspaceFixture = W) {
  const out = praxa("audit", "export", "--workspace", f.workspaceId);
  expect(out.status).toBe(0);
  writeFileSync(file, out.stdout);
  return out.stdout;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  W = await seedWorkspaceFixture(tdb.adminUrl, "W", { auditChain: false });
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
  await registerAuditKey(worker, {
    keyId: eventKey.keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: createPublicKey(eventKey.privateKey).export({ format: "der", type: "spki" }),
  });
});
afterAll(async () => {
  await worker?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

describe("audit export → offline verify", () => {
  it("verifies offline against pinned keys; a kept checkpoint proves the log only grew; a truncated, re-signed log is caught", async () => {
    await append(5, 0);
    expect(praxa("audit", "checkpoint", "--workspace", W.workspaceId).status).toBe(0);
    const keys = praxa("audit", "keys");
    writeFileSync(join(dir, "keys.json"), keys.stdout);
    const first = exportTo(join(dir, "export-1.jsonl"));
    const trustedLine = first.split("\n").find((l) => l.includes('"type":"checkpoint"')) ?? "";
    writeFileSync(join(dir, "trusted.json"), trustedLine);

    await append(4, 5);
    expect(praxa("audit", "checkpoint", "--workspace", W.workspaceId).status).toBe(0);
    exportTo(join(dir, "export-2.jsonl"));
    const ok = praxa(
      "audit",
      "verify",
      "--file",
      join(dir, "export-2.jsonl"),
      "--keys",
      join(dir, "keys.json"),
      "--trusted-checkpoint",
      join(dir, "trusted.json"),
      "--full",
    );
    expect({ status: ok.status, out: ok.stdout }).toEqual({
      status: 0,
      out: expect.stringContaining("trusted checkpoint: consistent"),
    });
    expect(
      praxa("audit", "verify", "--workspace", W.workspaceId, "--trusted-checkpoint", join(dir, "trusted.json")).status,
    ).toBe(0);

    // One event, proven on its own: a compact inclusion proof against the newest checkpoint, verified offline.
    const [ev3] = await admin<
      { id: string }[]
    >`select id from audit_events where workspace_id = ${W.workspaceId} and seq = 3`;
    const prove = praxa("audit", "prove", "--workspace", W.workspaceId, "--event", ev3!.id);
    expect(prove.status).toBe(0);
    writeFileSync(join(dir, "proof.json"), prove.stdout);
    const proofOk = praxa("audit", "verify", "--proof", join(dir, "proof.json"), "--keys", join(dir, "keys.json"));
    expect({ status: proofOk.status, out: proofOk.stdout }).toEqual({
      status: 0,
      out: expect.stringContaining("event seq 3 is in the log checkpointed at tree_size 9"),
    });
    const forged = JSON.parse(prove.stdout) as { proof: string[] };
    forged.proof[0] = "f".repeat(64);
    writeFileSync(join(dir, "proof-forged.json"), JSON.stringify(forged));
    expect(
      praxa("audit", "verify", "--proof", join(dir, "proof-forged.json"), "--keys", join(dir, "keys.json")).status,
    ).toBe(1);

    // A flipped byte in one exported event → named.
    const lines = readFileSync(join(dir, "export-2.jsonl"), "utf8").split("\n");
    const i = lines.findIndex((l) => l.includes('"type":"event"') && l.includes('"seq":3,'));
    const ev = JSON.parse(lines[i] ?? "{}") as { canonical: string };
    const bytes = Buffer.from(ev.canonical, "base64");
    bytes[15] = (bytes[15] ?? 0) ^ 1;
    lines[i] = JSON.stringify({ ...ev, canonical: bytes.toString("base64") });
    writeFileSync(join(dir, "export-flipped.jsonl"), lines.join("\n"));
    const flipped = praxa(
      "audit",
      "verify",
      "--file",
      join(dir, "export-flipped.jsonl"),
      "--keys",
      join(dir, "keys.json"),
    );
    expect({ status: flipped.status, err: flipped.stderr }).toEqual({
      status: 1,
      err: expect.stringContaining("seq 3"),
    });

    // The insider: drop the last 6 events behind the app's back, reset the head, sign a fresh checkpoint with our key.
    await admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`delete from audit_events where workspace_id = ${W.workspaceId} and seq > 3`;
      await tx`delete from audit_checkpoints where workspace_id = ${W.workspaceId}`;
      await tx`update audit_chain_heads set seq = 3, head_hash = (select hash from audit_events where workspace_id = ${W.workspaceId} and seq = 3) where workspace_id = ${W.workspaceId}`;
    });
    expect(praxa("audit", "checkpoint", "--workspace", W.workspaceId).status).toBe(0);
    exportTo(join(dir, "export-3.jsonl"));
    const plain = praxa("audit", "verify", "--file", join(dir, "export-3.jsonl"), "--keys", join(dir, "keys.json"));
    expect(plain.status).toBe(0); // internally consistent: only a kept checkpoint can tell
    const caught = praxa(
      "audit",
      "verify",
      "--file",
      join(dir, "export-3.jsonl"),
      "--keys",
      join(dir, "keys.json"),
      "--trusted-checkpoint",
      join(dir, "trusted.json"),
    );
    expect({ status: caught.status, err: caught.stderr }).toEqual({
      status: 1,
      err: expect.stringContaining("the log shrank"),
    });
    // The database form catches it too.
    const caughtDb = praxa(
      "audit",
      "verify",
      "--workspace",
      W.workspaceId,
      "--trusted-checkpoint",
      join(dir, "trusted.json"),
    );
    expect({ status: caughtDb.status, err: caughtDb.stderr }).toEqual({
      status: 1,
      err: expect.stringContaining("the log shrank"),
    });

    // … and if the insider then pads the log back past the kept size with new events, consistency still fails.
    await append(4, 100);
    expect(praxa("audit", "checkpoint", "--workspace", W.workspaceId).status).toBe(0);
    exportTo(join(dir, "export-4.jsonl"));
    expect(
      praxa("audit", "verify", "--file", join(dir, "export-4.jsonl"), "--keys", join(dir, "keys.json")).status,
    ).toBe(0);
    const rewritten = praxa(
      "audit",
      "verify",
      "--file",
      join(dir, "export-4.jsonl"),
      "--keys",
      join(dir, "keys.json"),
      "--trusted-checkpoint",
      join(dir, "trusted.json"),
    );
    expect({ status: rewritten.status, err: rewritten.stderr }).toEqual({
      status: 1,
      err: expect.stringContaining("not consistent with the trusted checkpoint"),
    });
  }, 240_000); // two dozen CLI processes, one after another, on a shared machine
});

describe("the default verify checks the signatures no checkpoint vouches for (review finding 10)", () => {
  let F: WorkspaceFixture;
  const foreign = generateKeyPairSync("ed25519").privateKey;
  beforeAll(async () => {
    F = await seedWorkspaceFixture(tdb.adminUrl, "F", { auditChain: false });
    writeFileSync(join(dir, "keys-f.json"), praxa("audit", "keys").stdout);
  });
  /** As the superuser, triggers off: what an insider with database access but not the signing key could do. */
  const asSuperuser = (fn: (tx: postgres.TransactionSql) => Promise<unknown>) =>
    admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await fn(tx);
    });
  const row = async (seq: number) =>
    (
      await admin<
        { prev_hash: string; hash: string; signature: string; canonical: Buffer }[]
      >`select prev_hash, hash, signature, canonical from audit_events where workspace_id = ${F.workspaceId} and seq = ${seq}`
    )[0]!;
  /** Database verify, and an export of the same chain verified offline: both must fail naming `seq`. */
  function expectBoth(seq: number, name: string) {
    const db = praxa("audit", "verify", "--workspace", F.workspaceId);
    expect({ status: db.status, err: db.stderr }).toEqual({
      status: 1,
      err: expect.stringContaining(`seq ${seq}: bad_signature`),
    });
    exportTo(join(dir, `${name}.jsonl`), F);
    const offline = praxa("audit", "verify", "--file", join(dir, `${name}.jsonl`), "--keys", join(dir, "keys-f.json"));
    expect({ status: offline.status, err: offline.stderr }).toEqual({
      status: 1,
      err: expect.stringContaining(`seq ${seq}: bad_signature`),
    });
  }
  function expectOk() {
    expect(praxa("audit", "verify", "--workspace", F.workspaceId).status).toBe(0);
    exportTo(join(dir, "f-ok.jsonl"), F);
    expect(praxa("audit", "verify", "--file", join(dir, "f-ok.jsonl"), "--keys", join(dir, "keys-f.json")).status).toBe(
      0,
    );
  }

  it("a forged signature on the head, with no checkpoint yet and then under one that covers it → non-zero, naming the head", async () => {
    await append(5, 0, F);
    expectOk();
    const head = await row(5);
    await asSuperuser(
      (tx) =>
        tx`update audit_events set signature = ${signEvent(head.hash, foreign)} where workspace_id = ${F.workspaceId} and seq = 5`,
    );
    expectBoth(5, "f-head-no-checkpoint");
    // Signed now, the checkpoint's root covers the head's hash; its own signature is still checked.
    expect(praxa("audit", "checkpoint", "--workspace", F.workspaceId).status).toBe(0);
    expectBoth(5, "f-head-checkpointed");
    await asSuperuser(
      (tx) =>
        tx`update audit_events set signature = ${head.signature} where workspace_id = ${F.workspaceId} and seq = 5`,
    );
    expectOk();
  }, 240_000);

  it("a re-hashed tail after the newest checkpoint (bytes, prev_hash and hash rewritten so the chain still links) → its first seq", async () => {
    await append(4, 5, F); // seq 6-9, after the checkpoint at 5
    expectOk();
    let prev = (await row(6)).hash;
    const rewritten: { seq: number; prev: string; canonical: Buffer; hash: string }[] = [];
    for (const seq of [7, 8, 9]) {
      const body = JSON.parse((await row(seq)).canonical.toString("utf8")) as Record<string, unknown>;
      const canonical = Buffer.from(
        canonicalBytes({ ...body, prev_hash: prev, output: { verdict: "request_changes" } }),
      );
      rewritten.push({ seq, prev, canonical, hash: eventHash(prev, canonical) });
      prev = eventHash(prev, canonical);
    }
    await asSuperuser(async (tx) => {
      for (const r of rewritten)
        await tx`update audit_events set canonical = ${r.canonical}, prev_hash = ${r.prev}, hash = ${r.hash} where workspace_id = ${F.workspaceId} and seq = ${r.seq}`;
    });
    expectBoth(7, "f-rehashed-tail");
  }, 240_000);
});
