/**
 * Checkpoints extend the latest checkpoint's stored frontier (0018) instead of reading the whole chain: each one is
 * still the RFC 9162 root over every event hash, the database refuses a frontier that does not fold to the signed
 * root, and only the events after the latest checkpoint are read.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import postgres from "postgres";
import {
  eventLeafHash,
  frontierLength,
  merkleRoot,
  newId,
  ValidationError,
  verifyCheckpoints,
  type AuditEventDraft,
  type VerificationKey,
} from "@praxa/core";
import {
  appendAuditEvents,
  createCheckpoint,
  createDatabase,
  createTestDatabase,
  readAuditLeaves,
  readCheckpoints,
  registerAuditKey,
  seedWorkspaceFixture,
  sql,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "./index.js";

let tdb: TestDatabase;
let admin: postgres.Sql;
let worker: Database;
let api: Database;
const eventKey = generateKeyPairSync("ed25519");
const signer = { keyId: "cp-test-events", privateKey: eventKey.privateKey };
const cpKey = generateKeyPairSync("ed25519");
const cpSigner = { keyId: "cp-test-checkpoints", sign: async (m: Uint8Array) => sign(null, m, cpKey.privateKey) };
const cpKeys = new Map<string, VerificationKey>([
  [
    cpSigner.keyId,
    { keyId: cpSigner.keyId, algorithm: "ed25519", spki: cpKey.publicKey.export({ format: "der", type: "spki" }) },
  ],
]);

const draft = (f: WorkspaceFixture, step: number): AuditEventDraft => ({
  auditEventId: newId("auditEvent"),
  kind: "skill.action",
  skillId: f.skillId as AuditEventDraft["skillId"],
  runId: f.runId as AuditEventDraft["runId"],
  trigger: "github.pull_request.opened",
  input: { prNumber: step },
  reasoning: [`step ${step}`],
  alternatives: [{ action: "approve", score: 0.6 }],
  confidence: 0.6,
  output: { verdict: "approve" },
  tools_used: ["github.read.diff"],
  duration_ms: 5,
  occurred_at: new Date().toISOString(),
  manifest_hash: "c".repeat(64),
  step,
});

let step = 100;
const append = (f: WorkspaceFixture, n: number) =>
  withWorkspace(worker, f.workspaceId, (s) =>
    appendAuditEvents(
      s,
      Array.from({ length: n }, () => draft(f, step++)),
      signer,
    ),
  );
const checkpoint = (f: WorkspaceFixture) => withWorkspace(worker, f.workspaceId, (s) => createCheckpoint(s, cpSigner));
const leavesOf = async (f: WorkspaceFixture) =>
  (await withWorkspace(api, f.workspaceId, (s) => readAuditLeaves(s))).map((l) => l.hash);

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 2, onnotice: () => {} });
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
  api = createDatabase(tdb.roleUrl("praxa_api"), { max: 2 });
  await registerAuditKey(worker, {
    keyId: cpSigner.keyId,
    purpose: "checkpoint",
    algorithm: "ed25519",
    spki: createPublicKey(cpKey.privateKey).export({ format: "der", type: "spki" }),
  });
});
afterAll(async () => {
  await Promise.all([worker?.close(), api?.close(), admin?.end({ timeout: 5 })]);
  await tdb?.drop();
});

describe("checkpoints from the latest frontier", () => {
  it("each checkpoint is the root over every event hash and verifies; its stored frontier has one hash per 1-bit of its size", async () => {
    const f = await seedWorkspaceFixture(tdb.adminUrl, "grow"); // its chain starts with the fixture's event
    for (const n of [2, 5, 1, 9, 16]) {
      await append(f, n);
      const cp = await checkpoint(f);
      const leaves = await leavesOf(f);
      expect(cp?.tree_size).toBe(leaves.length);
      expect(cp?.root_hash).toBe(merkleRoot(leaves.map((h) => eventLeafHash(h))).toString("hex"));
    }
    const stored = await admin<
      { tree_size: string; frontier: Buffer }[]
    >`select tree_size, frontier from audit_checkpoints where workspace_id = ${f.workspaceId} and key_id = ${cpSigner.keyId} order by tree_size`;
    expect(stored.map((r) => Number(r.tree_size))).toEqual([3, 8, 9, 18, 34]);
    for (const r of stored) expect(r.frontier.length).toBe(32 * frontierLength(Number(r.tree_size)));
    const all = (await withWorkspace(api, f.workspaceId, (s) => readCheckpoints(s))).filter(
      (c) => c.key_id === cpSigner.keyId,
    ); // not the fixture's own
    expect(verifyCheckpoints(all, await leavesOf(f), cpKeys)).toEqual({ ok: true, count: 5 });
    expect(await checkpoint(f)).toBeNull(); // nothing new since the latest one
  });

  it("reads only the events after the latest checkpoint: an old event edited behind the app’s back does not reach the next root", async () => {
    const f = await seedWorkspaceFixture(tdb.adminUrl, "edit");
    await append(f, 7);
    await checkpoint(f); // tree of 8
    const original = await leavesOf(f);
    // An insider rewrites event 3's hash (triggers off, as the superuser).
    await admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update audit_events set hash = ${"e".repeat(64)} where workspace_id = ${f.workspaceId} and seq = 3`;
    });
    await append(f, 4);
    const next = await checkpoint(f);
    const after = (await leavesOf(f)).slice(8);
    // The root extends the tree the previous checkpoint signed, not the edited rows: the edit stays visible to verifiers.
    expect(next?.root_hash).toBe(merkleRoot([...original, ...after].map((h) => eventLeafHash(h))).toString("hex"));
    const all = (await withWorkspace(api, f.workspaceId, (s) => readCheckpoints(s))).filter(
      (c) => c.key_id === cpSigner.keyId,
    ); // not the fixture's own
    expect(verifyCheckpoints(all, await leavesOf(f), cpKeys)).toMatchObject({
      ok: false,
      treeSize: 8,
      reason: "root_mismatch",
    });
  });

  it("after checkpoints stored before 0018 (no frontier), the next one reads the chain once and stores one", async () => {
    const f = await seedWorkspaceFixture(tdb.adminUrl, "old");
    await append(f, 4);
    const cp = await checkpoint(f);
    await admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update audit_checkpoints set frontier = null where workspace_id = ${f.workspaceId}`;
    });
    await append(f, 3);
    const next = await checkpoint(f);
    expect([cp?.tree_size, next?.tree_size]).toEqual([5, 8]);
    expect(next?.root_hash).toBe(merkleRoot((await leavesOf(f)).map((h) => eventLeafHash(h))).toString("hex"));
  });

  it("the database refuses a frontier that does not fold to the root, one of the wrong length, and a size past the head", async () => {
    const f = await seedWorkspaceFixture(tdb.adminUrl, "refuse");
    await append(f, 2); // 3 events: a frontier of 2 hashes (2 + 1)
    const leaves = (await leavesOf(f)).map((h) => eventLeafHash(h));
    const root = merkleRoot(leaves).toString("hex");
    const frontier = Buffer.concat([merkleRoot(leaves.slice(0, 2)), leaves[2] as Buffer]);
    const insert = (size: number, rootHex: string, fr: Buffer) =>
      withWorkspace(worker, f.workspaceId, (s) =>
        s.execute(
          sql`select public.audit_insert_checkpoint(${size}, ${rootHex}, now(), ${cpSigner.keyId}, '\\x00'::bytea, '\\x00'::bytea, ${fr}::bytea)`,
        ),
      ).then(
        () => "stored",
        (err: unknown) => (err instanceof ValidationError ? "refused" : String(err)),
      );
    expect(await insert(3, root, Buffer.concat([frontier.subarray(0, 32), Buffer.alloc(32)]))).toBe("refused"); // does not fold to the root
    expect(await insert(3, root, frontier.subarray(0, 32))).toBe("refused"); // one hash for a size with two 1-bits
    expect(await insert(4, root, frontier)).toBe("refused"); // past the head
    expect(await insert(3, root, frontier)).toBe("stored");
  });
});

describe("the audit key registry (0023)", () => {
  const spki = (k: { publicKey: KeyObject }) => k.publicKey.export({ format: "der", type: "spki" });
  const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" });

  it("a KMS-style ECDSA P-256 checkpoint key registers as ecdsa-p256-sha256", async () => {
    await registerAuditKey(worker, {
      keyId: `kms-p256-${newId("checkpoint")}`,
      purpose: "checkpoint",
      algorithm: "ecdsa-p256-sha256",
      spki: spki(p256),
    });
  });

  it("a key is refused under an algorithm it is not: EC as ed25519, Ed25519 as ecdsa, P-384 or RSA as ecdsa-p256-sha256", async () => {
    const attempts = [
      { algorithm: "ed25519" as const, spki: spki(p256) },
      { algorithm: "ecdsa-p256-sha256" as const, spki: spki(generateKeyPairSync("ed25519")) },
      { algorithm: "ecdsa-p256-sha256" as const, spki: spki(generateKeyPairSync("ec", { namedCurve: "secp384r1" })) },
      { algorithm: "ecdsa-p256-sha256" as const, spki: spki(generateKeyPairSync("ec", { namedCurve: "secp256k1" })) },
      { algorithm: "ecdsa-p256-sha256" as const, spki: spki(generateKeyPairSync("rsa", { modulusLength: 1024 })) },
    ];
    for (const a of attempts) {
      const keyId = `mismatch-${newId("checkpoint")}`;
      await expect(registerAuditKey(worker, { keyId, purpose: "checkpoint", ...a })).rejects.toThrow();
      const [row] = await admin<{ n: number }[]>`select count(*)::int as n from audit_keys where key_id = ${keyId}`;
      expect(row?.n).toBe(0);
    }
  });
});
