/**
 * The audit log in Postgres (issue #6, storage): appends through the definer functions yield gapless, verifying chains
 * under concurrency; a retried run's duplicate appends nothing; no role can edit or delete history — login roles lack
 * the grants, and the owner, who holds them, is stopped by the triggers; tampering done behind the app's back (as the
 * superuser, triggers disabled) is caught by verifyChain, naming the seq.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import postgres from "postgres";
import {
  newId,
  sealAuditEvent,
  signatureFloor,
  signEvent,
  verifyChain,
  verifyCheckpoints,
  ValidationError,
  type AuditEventDraft,
  type WorkspaceId,
} from "@praxa/core";
import {
  appendAuditEvents,
  createCheckpoint,
  createDatabase,
  createTestDatabase,
  mapPgError,
  readAuditChain,
  readCheckpoints,
  registerAuditKey,
  seedWorkspaceFixture,
  sql,
  withWorkspace,
  type AuditSigner,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
  type WorkspaceScope,
} from "@praxa/db";

let tdb: TestDatabase;
let admin: postgres.Sql;
let worker: Database;
let api: Database;
let A: WorkspaceFixture;
const keys = generateKeyPairSync("ed25519");
const signer: AuditSigner = { keyId: "audit-2026-11", privateKey: keys.privateKey };
let keyset: Map<string, KeyObject>;

const draft = (
  f: WorkspaceFixture,
  step: number,
  kind: "skill.action" | "guard.denied" = "skill.action",
  runId = f.runId,
): AuditEventDraft => ({
  auditEventId: newId("auditEvent"),
  kind,
  skillId: f.skillId as AuditEventDraft["skillId"],
  runId: runId as AuditEventDraft["runId"],
  trigger: "github.pull_request.opened",
  input: { prNumber: 1284, repo: "acme/payments" },
  reasoning: ["Diff touches payments/checkout — high-risk surface."],
  alternatives: [
    { action: "approve", score: 0.42 },
    { action: "request_changes", score: 0.83 },
  ],
  confidence: 0.83,
  output: { verdict: "request_changes" },
  tools_used: ["github.read.diff", "github.comment.pr"],
  duration_ms: 4218,
  occurred_at: new Date().toISOString(),
  manifest_hash: "a".repeat(64),
  step,
});

async function chainOf(ws: WorkspaceId) {
  return withWorkspace(api, ws, (s) => readAuditChain(s));
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 2, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A", { auditChain: false }); // this test's chain starts at seq 1
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 8 });
  api = createDatabase(tdb.roleUrl("praxa_api"), { max: 2 });
  keyset = new Map([[signer.keyId, keys.publicKey]]);
});
afterAll(async () => {
  await Promise.all([worker?.close(), api?.close(), admin?.end({ timeout: 5 })]);
  await tdb?.drop();
});

describe("appending", () => {
  it("8 concurrent appenders on one workspace → a gapless chain that verifies", async () => {
    const runs = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const runId = newId("run");
        await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${A.workspaceId}, ${runId}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github')`;
        return runId;
      }),
    );
    await Promise.all(
      runs.map((runId) =>
        withWorkspace(worker, A.workspaceId, (s) =>
          appendAuditEvents(
            s,
            [0, 1, 2, 3, 4].map((step) => draft(A, step, "skill.action", runId)),
            signer,
          ),
        ),
      ),
    );
    const chain = await chainOf(A.workspaceId);
    expect(chain.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(verifyChain(chain, keyset, { workspaceId: A.workspaceId })).toMatchObject({ ok: true, count: 40 });
  });

  it("16 workspaces append in parallel, each chain verifies on its own", async () => {
    const fixtures = await Promise.all(
      Array.from({ length: 16 }, (_, i) => seedWorkspaceFixture(tdb.adminUrl, `W${i}`, { auditChain: false })),
    );
    await Promise.all(
      fixtures.map((f) =>
        withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [draft(f, 0), draft(f, 1)], signer)),
      ),
    );
    for (const f of fixtures)
      expect(verifyChain(await chainOf(f.workspaceId), keyset, { workspaceId: f.workspaceId })).toMatchObject({
        ok: true,
        count: 2,
      });
  });

  it("a retried run’s duplicate (run, step, kind) is refused and the chain is unchanged", async () => {
    const before = await chainOf(A.workspaceId);
    const dup = draft(
      A,
      0,
      "skill.action",
      (
        await admin<
          { run_id: string }[]
        >`select run_id from audit_events where workspace_id = ${A.workspaceId} and seq = 1`
      )[0]?.run_id,
    );
    await expect(
      withWorkspace(worker, A.workspaceId, (s) => appendAuditEvents(s, [dup], signer)),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    const after = await chainOf(A.workspaceId);
    expect(after.length).toBe(before.length);
    expect(after.at(-1)?.hash).toBe(before.at(-1)?.hash);
  });

  it("an append that does not continue the head is refused by Postgres: nothing inserted, or an error where the bytes claim another place", async () => {
    const before = await chainOf(A.workspaceId);
    const head = before.at(-1)!;
    const place = (seq: number, prev: string) =>
      sealAuditEvent(
        { ...draft(A, 900 + seq), workspace_id: A.workspaceId, seq, prev_hash: prev, key_id: signer.keyId },
        keys.privateKey,
      );
    // The current policy's digest, as the database answers it to an empty call: only the place can be wrong below.
    const [probe] = await withWorkspace(worker, A.workspaceId, (s) =>
      s.execute(
        sql`select policy_digest from public.audit_append_events(null, null, null, '{}'::text[], '{}'::text[], '{}'::text[])`,
      ),
    );
    const digest = String(probe?.policy_digest);
    const APPEND =
      "select appended from public.audit_append_events($1::bigint, $2::text, $3::text, $4::text[], $5::text[], $6::text[])";
    const call = (s: WorkspaceScope, seq: number, prev: string, e: ReturnType<typeof place>) =>
      s.executePrepared(APPEND, [
        seq,
        prev,
        digest,
        [e.hash],
        [e.signature],
        [Buffer.from(e.canonical).toString("utf8")],
      ]);
    const send = (seq: number, prev: string, e: ReturnType<typeof place>) =>
      withWorkspace(worker, A.workspaceId, (s) => call(s, seq, prev, e));
    // Sealed consistently, but after the head (a gap) and over a forked prev_hash: the database inserts nothing.
    const gap = place(head.seq + 5, head.hash);
    expect(await send(head.seq + 5, head.hash, gap)).toEqual([{ appended: 0 }]);
    const fork = place(head.seq + 1, head.prev_hash);
    expect(await send(head.seq + 1, head.prev_hash, fork)).toEqual([{ appended: 0 }]);
    // The same call at the head's place does append (rolled back here): the refusals above were about the place alone.
    const right = place(head.seq + 1, head.hash);
    const rolledBack = new Error("roll back");
    const appended = await withWorkspace(worker, A.workspaceId, async (s) => {
      expect(await call(s, head.seq + 1, head.hash, right)).toEqual([{ appended: 1 }]);
      throw rolledBack;
    }).catch((e: unknown) => e);
    expect(appended).toBe(rolledBack);
    // Bytes that name another seq than the call claims: an error, before anything is locked.
    const err = await send(head.seq + 1, head.hash, place(head.seq + 2, head.hash)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((await chainOf(A.workspaceId)).map((e) => e.hash)).toEqual(before.map((e) => e.hash));
  });
});

describe("automatic checkpoints", () => {
  it("a checkpoint is signed whenever the head crosses a multiple of N, and it verifies", async () => {
    const f = await seedWorkspaceFixture(tdb.adminUrl, "CP", { auditChain: false });
    const cpKeys = generateKeyPairSync("ed25519");
    const cpKey = {
      keyId: `cp-${f.workspaceId}`,
      algorithm: "ed25519" as const,
      spki: cpKeys.publicKey.export({ format: "der", type: "spki" }),
    };
    await registerAuditKey(worker, { ...cpKey, purpose: "checkpoint" });
    const checkpoint = {
      every: 4,
      signer: { keyId: cpKey.keyId, sign: async (m: Uint8Array) => sign(null, m, cpKeys.privateKey) },
    };
    const runId = newId("run");
    await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${f.workspaceId}, ${runId}, ${f.skillId}, ${f.skillVersionId}, 'github.pull_request.opened', 'github')`;
    for (let step = 0; step < 10; step++)
      await withWorkspace(worker, f.workspaceId, (s) =>
        appendAuditEvents(s, [draft(f, step, "skill.action", runId)], signer, { checkpoint }),
      );
    const cps = await withWorkspace(api, f.workspaceId, (s) => readCheckpoints(s));
    expect(cps.map((c) => c.tree_size)).toEqual([4, 8]);
    const chain = await chainOf(f.workspaceId);
    expect(
      verifyCheckpoints(
        cps,
        chain.map((e) => e.hash),
        new Map([[cpKey.keyId, cpKey]]),
      ),
    ).toEqual({ ok: true, count: 2 });
  });
});

describe("redaction the customer controls", () => {
  it("hashed and dropped fields leave digests, never values, and the chain still verifies", async () => {
    const f = await seedWorkspaceFixture(tdb.adminUrl, "RD", { auditChain: false });
    const apiSql = postgres(tdb.roleUrl("praxa_api"), { max: 1, onnotice: () => {} });
    await apiSql.begin(async (tx) => {
      await tx`select set_config('app.workspace_id', ${f.workspaceId}, true)`;
      await tx`update workspaces set audit_redaction = ${tx.json({ input: { fields: { repo: "hash" } }, output: { fields: { verdict: "drop" } } })} where id = ${f.workspaceId}`;
    });
    await apiSql.end({ timeout: 5 });
    const secretRepo = "acme/CANARY-secret-repo";
    const d = { ...draft(f, 0), input: { prNumber: 7, repo: secretRepo }, output: { verdict: "request_changes" } };
    const [stored] = await withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [d], signer));
    expect(stored?.input).toMatchObject({ prNumber: 7, repo: { $sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(stored?.output).toMatchObject({ verdict: { $dropped: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    const chain = await chainOf(f.workspaceId);
    expect(Buffer.from(chain[0]!.canonical).toString("utf8")).not.toContain("CANARY-secret-repo");
    expect(verifyChain(chain, keyset, { workspaceId: f.workspaceId })).toMatchObject({ ok: true });
  });
});

describe("append-only", () => {
  it("UPDATE, DELETE and TRUNCATE are refused as every login role (no grant) and as the owner (triggers)", async () => {
    for (const role of ["praxa_ingest", "praxa_worker", "praxa_monitor", "praxa_api"] as const) {
      const sql = postgres(tdb.roleUrl(role), { max: 1, onnotice: () => {} });
      for (const stmt of ["update audit_events set kind = kind", "delete from audit_events", "truncate audit_events"]) {
        const err = await sql
          .begin(async (tx) => {
            await tx`select set_config('app.workspace_id', ${A.workspaceId}, true)`;
            await tx.unsafe(stmt);
          })
          .catch((e: unknown) => e);
        expect({ role, stmt, code: mapPgError(err).code }).toEqual({ role, stmt, code: "PERMISSION_DENIED" });
      }
      await sql.end({ timeout: 5 });
    }
    for (const stmt of [
      "update audit_events set kind = kind",
      "delete from audit_events",
      "truncate audit_events",
      "truncate audit_chain_heads",
      "delete from audit_chain_heads",
    ]) {
      const err = await admin
        .begin(async (tx) => {
          await tx`set local role praxa_owner`;
          await tx.unsafe(stmt);
        })
        .catch((e: unknown) => e);
      expect({ stmt, sqlstate: (err as { code?: string }).code }).toEqual({ stmt, sqlstate: "PXA01" });
    }
    expect((await chainOf(A.workspaceId)).length).toBe(40);
  });

  // 0019's row triggers, alone: the statement triggers are disabled in a transaction that is rolled back. Rows must be
  // visible to the change for a row trigger to fire, so it is done as the superuser, who bypasses row-level security.
  it("with the statement triggers disabled, the row triggers still refuse UPDATE and DELETE of every audit table", async () => {
    const cpKeys = generateKeyPairSync("ed25519");
    const cpKeyId = `cp-rows-${A.workspaceId}`;
    await registerAuditKey(worker, {
      keyId: cpKeyId,
      purpose: "checkpoint",
      algorithm: "ed25519",
      spki: cpKeys.publicKey.export({ format: "der", type: "spki" }),
    });
    await withWorkspace(worker, A.workspaceId, (s) =>
      createCheckpoint(s, { keyId: cpKeyId, sign: async (m) => sign(null, m, cpKeys.privateKey) }),
    );
    const ws = `workspace_id = '${A.workspaceId}'`;
    const attempts = [
      { table: "audit_events", change: "update audit_events set kind = kind", where: ws },
      { table: "audit_events", change: "delete from audit_events", where: `${ws} and seq = 40` },
      { table: "audit_chain_heads", change: "delete from audit_chain_heads", where: ws },
      { table: "audit_checkpoints", change: "update audit_checkpoints set root_hash = root_hash", where: ws },
      { table: "audit_checkpoints", change: "delete from audit_checkpoints", where: ws },
      { table: "audit_keys", change: "update audit_keys set key_id = key_id", where: `key_id = '${cpKeyId}'` },
      { table: "audit_keys", change: "delete from audit_keys", where: `key_id = '${cpKeyId}'` },
    ];
    const statementTriggers: Record<string, string[]> = {
      audit_events: ["audit_events_no_update", "audit_events_no_delete"],
      audit_chain_heads: ["audit_chain_heads_no_delete"],
      audit_checkpoints: ["audit_checkpoints_no_update", "audit_checkpoints_no_delete"],
      audit_keys: ["audit_keys_no_update", "audit_keys_no_delete"],
    };
    for (const { table, change, where } of attempts) {
      const outcome = await admin
        .begin(async (tx) => {
          for (const t of statementTriggers[table] ?? []) await tx.unsafe(`alter table ${table} disable trigger ${t}`);
          const [{ n }] = (await tx.unsafe(`select count(*)::int as n from ${table} where ${where}`)) as unknown as [
            { n: number },
          ];
          if (n === 0) return `no row to change for: ${change}`; // a refusal must be of a real change
          await tx.unsafe(`${change} where ${where}`);
          return "changed";
        })
        .catch((e: { code?: string; message?: string }) => `${e.code ?? ""}: ${e.message ?? ""}`);
      expect({ change, outcome }).toEqual({
        change,
        outcome: `PXA01: the audit log is append-only: ${change.startsWith("update") ? "UPDATE" : "DELETE"} of a row of ${table} refused`,
      });
    }
    expect((await chainOf(A.workspaceId)).length).toBe(40);
  });

  it("praxa_lifecycle (retention and erasure) gets past both layers: its DELETE deletes the row, not silently nothing", async () => {
    // The role has no grant and no policy yet (retention is built later); both are given here, inside a transaction
    // that is rolled back, to show that the triggers let its DELETE through rather than skipping the row.
    const deleted = await admin
      .begin(async (tx) => {
        await tx`grant select, delete on audit_events to praxa_lifecycle`;
        await tx`create policy lifecycle_probe on audit_events for all to praxa_lifecycle using (true)`;
        await tx`set local role praxa_lifecycle`;
        const rows =
          await tx`delete from audit_events where workspace_id = ${A.workspaceId} and seq = 40 returning seq`;
        throw Object.assign(new Error("roll back"), { rows: rows.length });
      })
      .catch((e: { rows?: number }) => e.rows);
    expect(deleted).toBe(1);
    expect((await chainOf(A.workspaceId)).length).toBe(40); // rolled back
  });
});

describe("tampering behind the app’s back is caught", () => {
  let T: WorkspaceFixture;
  beforeAll(async () => {
    T = await seedWorkspaceFixture(tdb.adminUrl, "T", { auditChain: false });
    for (let batch = 0; batch < 4; batch++) {
      const runId = newId("run");
      await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${T.workspaceId}, ${runId}, ${T.skillId}, ${T.skillVersionId}, 'github.pull_request.opened', 'github')`;
      await withWorkspace(worker, T.workspaceId, (s) =>
        appendAuditEvents(
          s,
          Array.from({ length: 10 }, (_, step) => draft(T, step, "skill.action", runId)),
          signer,
        ),
      );
    }
  });

  /** As the superuser, with triggers disabled: what an insider with database access could do. */
  async function tamper(fn: (tx: postgres.TransactionSql) => Promise<unknown>) {
    await admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await fn(tx);
    });
  }
  const verify = async () => verifyChain(await chainOf(T.workspaceId), keyset, { workspaceId: T.workspaceId });
  const swap = (a: number, b: number) =>
    tamper(async (tx) => {
      await tx`update audit_events set seq = 100000 where workspace_id = ${T.workspaceId} and seq = ${a}`;
      await tx`update audit_events set seq = ${a} where workspace_id = ${T.workspaceId} and seq = ${b}`;
      await tx`update audit_events set seq = ${b} where workspace_id = ${T.workspaceId} and seq = 100000`;
    });

  it("an untouched chain verifies", async () => {
    expect(await verify()).toMatchObject({ ok: true, count: 40 });
  });

  it("one flipped byte of one event → that seq", async () => {
    const [e] = await admin<
      { canonical: Buffer }[]
    >`select canonical from audit_events where workspace_id = ${T.workspaceId} and seq = 7`;
    const flipped = Buffer.from(e!.canonical);
    flipped[20] = (flipped[20] ?? 0) ^ 1;
    await tamper(
      (tx) => tx`update audit_events set canonical = ${flipped} where workspace_id = ${T.workspaceId} and seq = 7`,
    );
    expect(await verify()).toMatchObject({ ok: false, seq: 7 });
    await tamper(
      (tx) => tx`update audit_events set canonical = ${e!.canonical} where workspace_id = ${T.workspaceId} and seq = 7`,
    );
    expect((await verify()).ok).toBe(true);
  });

  it("two rows’ seq swapped → the first of them", async () => {
    await swap(20, 21);
    expect(await verify()).toMatchObject({ ok: false, seq: 20 });
    await swap(20, 21);
    expect((await verify()).ok).toBe(true);
  });

  it("an event re-signed with a key that is not ours → that seq", async () => {
    const [e] = await admin<
      { hash: string; signature: string }[]
    >`select hash, signature from audit_events where workspace_id = ${T.workspaceId} and seq = 30`;
    const foreign = generateKeyPairSync("ed25519");
    await tamper(
      (tx) =>
        tx`update audit_events set signature = ${signEvent(e!.hash, foreign.privateKey)} where workspace_id = ${T.workspaceId} and seq = 30`,
    );
    expect(await verify()).toMatchObject({ ok: false, seq: 30, reason: "bad_signature" });
    await tamper(
      (tx) =>
        tx`update audit_events set signature = ${e!.signature} where workspace_id = ${T.workspaceId} and seq = 30`,
    );
  });

  it("the default verify (signatureFloor: past the newest checkpoint, and the head) names a forged head signature, which the old fast mode passed", async () => {
    const chain = await chainOf(T.workspaceId);
    const head = chain.at(-1)!;
    const foreign = generateKeyPairSync("ed25519");
    await tamper(
      (tx) =>
        tx`update audit_events set signature = ${signEvent(head.hash, foreign.privateKey)} where workspace_id = ${T.workspaceId} and seq = ${head.seq}`,
    );
    const defaultMode = async (checkpointSizes: number[]) =>
      verifyChain(await chainOf(T.workspaceId), keyset, {
        workspaceId: T.workspaceId,
        content: "columns",
        signatures: { fromSeq: signatureFloor(checkpointSizes, head.seq) },
      });
    expect(await defaultMode([])).toMatchObject({ ok: false, seq: head.seq, reason: "bad_signature" });
    expect(await defaultMode([head.seq])).toMatchObject({ ok: false, seq: head.seq, reason: "bad_signature" }); // a checkpoint covering it
    expect(
      verifyChain(await chainOf(T.workspaceId), keyset, {
        workspaceId: T.workspaceId,
        content: "columns",
        signatures: false,
      }),
    ).toMatchObject({ ok: true });
    await tamper(
      (tx) =>
        tx`update audit_events set signature = ${head.signature} where workspace_id = ${T.workspaceId} and seq = ${head.seq}`,
    );
    expect((await defaultMode([])).ok).toBe(true);
  });

  it("a deleted row → its seq, as a gap", async () => {
    await tamper((tx) => tx`delete from audit_events where workspace_id = ${T.workspaceId} and seq = 12`);
    expect(await verify()).toMatchObject({ ok: false, seq: 12, reason: "seq_gap" });
  });
});
