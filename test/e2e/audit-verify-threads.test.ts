/**
 * `pnpm praxa audit verify --full` spreads the chain over threads (every core by default; `--threads` to choose). Split
 * or not, it must name the same first bad seq: a signature forged behind the app's back in the second half of the
 * chain — the half another thread verifies — is named, and so is the first of two forgeries, one in each half. Both
 * forms: the database, and an export verified offline.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { newId, signEvent, type AuditEventDraft } from "@praxa/core";
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
const dir = mkdtempSync(join(tmpdir(), "praxa-audit-threads-"));
let tdb: TestDatabase;
let admin: postgres.Sql;
let worker: Database;
let W: WorkspaceFixture;
const eventKey = {
  keyId: `events-${newId("checkpoint").slice(3)}`,
  privateKey: generateKeyPairSync("ed25519").privateKey,
};
const intruder = generateKeyPairSync("ed25519").privateKey;
const EVENTS = 40;

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

/** Re-sign event `seq` with a key that is not ours, as an insider could (triggers off); returns the undo. */
async function forgeSignature(seq: number): Promise<() => Promise<void>> {
  const [e] = await admin<
    { hash: string; signature: string }[]
  >`select hash, signature from audit_events where workspace_id = ${W.workspaceId} and seq = ${seq}`;
  const setSignature = (signature: string) =>
    admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update audit_events set signature = ${signature} where workspace_id = ${W.workspaceId} and seq = ${seq}`;
    });
  await setSignature(signEvent(e!.hash, intruder));
  return async () => {
    await setSignature(e!.signature);
  };
}

function exportTo(file: string): void {
  const out = praxa("audit", "export", "--workspace", W.workspaceId);
  expect(out.status).toBe(0);
  writeFileSync(file, out.stdout);
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
  const drafts: AuditEventDraft[] = Array.from({ length: EVENTS }, (_, step) => ({
    auditEventId: newId("auditEvent"),
    kind: "skill.action",
    skillId: W.skillId as AuditEventDraft["skillId"],
    runId: W.runId as AuditEventDraft["runId"],
    trigger: "github.pull_request.opened",
    input: { prNumber: step },
    reasoning: [`step ${step}`],
    alternatives: [{ action: "approve", score: 0.6 }],
    confidence: 0.6,
    output: { verdict: "approve" },
    tools_used: ["github.read.diff"],
    duration_ms: 10,
    occurred_at: new Date().toISOString(),
    manifest_hash: "b".repeat(64),
    step,
  }));
  await withWorkspace(worker, W.workspaceId, (s) => appendAuditEvents(s, drafts, eventKey));
  writeFileSync(join(dir, "keys.json"), praxa("audit", "keys").stdout);
});
afterAll(async () => {
  await worker?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

describe("audit verify --full on several threads", () => {
  it("an intact chain holds, split over two threads, in both forms", () => {
    const db = praxa("audit", "verify", "--workspace", W.workspaceId, "--full", "--threads", "2");
    expect({ status: db.status, out: db.stdout }).toEqual({
      status: 0,
      out: expect.stringContaining(`ok: ${EVENTS} event(s)`),
    });
    expect(db.stdout).toContain("chain verified on 2 threads");
    exportTo(join(dir, "intact.jsonl"));
    const file = praxa(
      "audit",
      "verify",
      "--file",
      join(dir, "intact.jsonl"),
      "--keys",
      join(dir, "keys.json"),
      "--full",
      "--threads",
      "2",
    );
    expect({ status: file.status, out: file.stdout }).toEqual({
      status: 0,
      out: expect.stringContaining("chain verified on 2 threads"),
    });
  });

  it("a signature forged in the second half is named by seq, in both forms; of two forgeries, the first", async () => {
    const undoLate = await forgeSignature(31);
    try {
      const db = praxa("audit", "verify", "--workspace", W.workspaceId, "--full", "--threads", "2");
      expect({ status: db.status, err: db.stderr }).toEqual({
        status: 1,
        err: expect.stringContaining("seq 31: bad_signature"),
      });
      expect(db.stderr).toContain("chain verified on 2 threads");
      // One thread and the default give the same answer.
      expect(praxa("audit", "verify", "--workspace", W.workspaceId, "--full", "--threads", "1").stderr).toContain(
        "seq 31: bad_signature",
      );
      expect(praxa("audit", "verify", "--workspace", W.workspaceId, "--full").stderr).toContain(
        "seq 31: bad_signature",
      );
      exportTo(join(dir, "forged.jsonl"));
      const file = praxa(
        "audit",
        "verify",
        "--file",
        join(dir, "forged.jsonl"),
        "--keys",
        join(dir, "keys.json"),
        "--full",
        "--threads",
        "2",
      );
      expect({ status: file.status, err: file.stderr }).toEqual({
        status: 1,
        err: expect.stringContaining("seq 31: bad_signature"),
      });
      expect(file.stderr).toContain("chain verified on 2 threads");
      // The default checks the signatures no checkpoint vouches for — with no checkpoint, every one: it names it too.
      const fast = praxa("audit", "verify", "--workspace", W.workspaceId);
      expect({ status: fast.status, err: fast.stderr }).toEqual({
        status: 1,
        err: expect.stringContaining("seq 31: bad_signature"),
      });

      const undoEarly = await forgeSignature(9);
      try {
        for (const threads of ["2", "3", "4"]) {
          const both = praxa("audit", "verify", "--workspace", W.workspaceId, "--full", "--threads", threads);
          expect({ threads, status: both.status, err: both.stderr }).toEqual({
            threads,
            status: 1,
            err: expect.stringContaining("seq 9: bad_signature"),
          });
        }
      } finally {
        await undoEarly();
      }
    } finally {
      await undoLate();
    }
    expect(praxa("audit", "verify", "--workspace", W.workspaceId, "--full", "--threads", "2").status).toBe(0);
    // Eleven CLI processes one after another: a hang guard, not a timing claim (each is bounded by praxa()'s own 60 s).
  }, 300_000);

  it("refuses a thread count that is not a whole number", () => {
    const bad = praxa("audit", "verify", "--workspace", W.workspaceId, "--full", "--threads", "many");
    expect(bad.status).not.toBe(0);
  });
});
