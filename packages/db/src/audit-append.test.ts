/**
 * audit_append_events (0012) and the append path over it: one call places a batch; the database still refuses what
 * does not continue the head, recomputes hashes from the stored bytes and reads the indexed columns from them; the
 * process's remembered head and policy are only ever a guess — another appender, a new redaction policy or a rolled
 * back transaction make it stale, and the append still lands right.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import postgres from "postgres";
import {
  genesisPrevHash,
  newId,
  sealAuditEvent,
  verifyChain,
  WorkspaceScopeError,
  type AuditEventDraft,
  type WorkspaceId,
} from "@praxa/core";
import {
  appendAuditEvents,
  createDatabase,
  createTestDatabase,
  readAuditChain,
  seedWorkspaceFixture,
  sql,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "./index.js";

let tdb: TestDatabase;
let admin: postgres.Sql;
let workerSql: postgres.Sql;
let worker: Database;
let api: Database;
const key = generateKeyPairSync("ed25519");
const signer = { keyId: "append-test", privateKey: key.privateKey };
const keyset = new Map([[signer.keyId, createPublicKey(key.privateKey)]]);

const draft = (
  f: WorkspaceFixture,
  step: number,
  runId = f.runId,
  input: AuditEventDraft["input"] = { prNumber: 7, repo: "acme/payments" },
): AuditEventDraft => ({
  auditEventId: newId("auditEvent"),
  kind: "skill.action",
  skillId: f.skillId as AuditEventDraft["skillId"],
  runId: runId as AuditEventDraft["runId"],
  trigger: "github.pull_request.opened",
  input,
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

/** A workspace whose audit chain is empty. */
const emptyWorkspace = (label: string): Promise<WorkspaceFixture> =>
  seedWorkspaceFixture(tdb.adminUrl, label, { auditChain: false });

const chainOf = (ws: string) => withWorkspace(api, ws, (s) => readAuditChain(s));

interface AppendRow {
  appended: number;
  head_seq: string;
  head_hash: string;
  policy_digest: string;
  policy: unknown;
}

/** As the worker role in `ws`'s scope, with the raw function (what another process, or a hostile caller, sends). */
async function asWorker<T>(ws: string, fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  return workerSql.begin(async (tx) => {
    await tx`select set_config('app.workspace_id', ${ws}, true)`;
    return fn(tx);
  }) as Promise<T>;
}
const callAppend = (
  tx: postgres.TransactionSql,
  seq: number | null,
  prev: string | null,
  digest: string | null,
  hashes: string[],
  signatures: string[],
  canonical: string[],
) =>
  tx<
    AppendRow[]
  >`select * from public.audit_append_events(${seq}, ${prev}, ${digest}, ${hashes}::text[], ${signatures}::text[], ${canonical}::text[])`;
const probe = (tx: postgres.TransactionSql) =>
  callAppend(tx, null, null, null, [], [], []).then((r) => r[0] as AppendRow);

/** Seal one event of `f` at the head the database answers (the redaction policy is the default: keep everything). */
function sealAt(f: WorkspaceFixture, head: AppendRow, overrides: Record<string, unknown> = {}) {
  const seq = Number(head.head_seq) + 1;
  const sealed = sealAuditEvent(
    {
      ...draft(f, seq),
      workspace_id: f.workspaceId as WorkspaceId,
      seq,
      prev_hash: head.head_hash,
      key_id: signer.keyId,
      ...overrides,
    } as never,
    key.privateKey,
  );
  return { seq, hash: sealed.hash, signature: sealed.signature, text: Buffer.from(sealed.canonical).toString("utf8") };
}

/** Append one event straight through the function, behind this process's remembered head. */
async function appendBehindTheCache(f: WorkspaceFixture): Promise<void> {
  await asWorker(f.workspaceId, async (tx) => {
    const head = await probe(tx);
    const e = sealAt(f, head);
    const [row] = await callAppend(tx, e.seq, head.head_hash, head.policy_digest, [e.hash], [e.signature], [e.text]);
    expect(row?.appended).toBe(1);
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 2, onnotice: () => {} });
  workerSql = postgres(tdb.roleUrl("praxa_worker"), { max: 2, onnotice: () => {} });
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 4 });
  api = createDatabase(tdb.roleUrl("praxa_api"), { max: 2 });
});
afterAll(async () => {
  await Promise.all([worker?.close(), api?.close(), workerSql?.end({ timeout: 5 }), admin?.end({ timeout: 5 })]);
  await tdb?.drop();
});

describe("audit_append_events: what the database checks", () => {
  let F: WorkspaceFixture;
  beforeAll(async () => {
    F = await emptyWorkspace("F");
  });

  it("an empty call locks the head and answers it, starting a new chain at the genesis hash, with the policy", async () => {
    const head = await asWorker(F.workspaceId, probe);
    expect(head).toMatchObject({
      appended: 0,
      head_seq: "0",
      head_hash: genesisPrevHash(F.workspaceId as WorkspaceId),
      policy: {},
    });
    expect(head.policy_digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a batch that does not continue the head appends nothing and is answered the head (no error: the caller reseals)", async () => {
    await asWorker(F.workspaceId, async (tx) => {
      const head = await probe(tx);
      // Sealed consistently, but where the caller wrongly believed the head to be.
      const ahead = sealAt(F, { ...head, head_seq: String(Number(head.head_seq) + 1), head_hash: "d".repeat(64) });
      const stale = await callAppend(
        tx,
        ahead.seq,
        "d".repeat(64),
        head.policy_digest,
        [ahead.hash],
        [ahead.signature],
        [ahead.text],
      );
      expect(stale[0]).toMatchObject({ appended: 0, head_seq: head.head_seq, head_hash: head.head_hash, policy: null });
      const otherPrev = sealAt(F, { ...head, head_hash: "f".repeat(64) });
      const wrongPrev = await callAppend(
        tx,
        otherPrev.seq,
        "f".repeat(64),
        head.policy_digest,
        [otherPrev.hash],
        [otherPrev.signature],
        [otherPrev.text],
      );
      expect(wrongPrev[0]).toMatchObject({ appended: 0, head_seq: head.head_seq });
      const e = sealAt(F, head);
      const oldPolicy = await callAppend(tx, e.seq, head.head_hash, "e".repeat(64), [e.hash], [e.signature], [e.text]);
      expect(oldPolicy[0]).toMatchObject({ appended: 0, policy: {} }); // a stale policy digest is answered the policy
    });
    expect(await chainOf(F.workspaceId)).toEqual([]);
  });

  it("places a continuing batch in one call, its columns read from the stored bytes", async () => {
    await asWorker(F.workspaceId, async (tx) => {
      const head = await probe(tx);
      const a = sealAt(F, head);
      const b = sealAt(F, { ...head, head_seq: String(a.seq), head_hash: a.hash });
      const [row] = await callAppend(
        tx,
        a.seq,
        head.head_hash,
        head.policy_digest,
        [a.hash, b.hash],
        [a.signature, b.signature],
        [a.text, b.text],
      );
      expect(row).toMatchObject({ appended: 2, head_seq: String(b.seq), head_hash: b.hash });
    });
    const [stored] = await admin<
      { kind: string; skill_id: string; run_id: string; step: number; key_id: string; canonical: Buffer }[]
    >`
      select kind, skill_id, run_id, step, key_id, canonical from audit_events where workspace_id = ${F.workspaceId} and seq = 1`;
    const body = JSON.parse(stored!.canonical.toString("utf8")) as Record<string, unknown>;
    expect(stored).toMatchObject({
      kind: body.kind,
      skill_id: body.skillId,
      run_id: body.runId,
      step: body.step,
      key_id: body.key_id,
    });
    expect(
      verifyChain(await chainOf(F.workspaceId), keyset, { workspaceId: F.workspaceId as WorkspaceId }),
    ).toMatchObject({ ok: true, count: 2 });
  });

  it("refuses a hash that is not SHA-256(prev ‖ bytes), bytes that name another place than the caller claims, and uneven lists", async () => {
    type Sealed = ReturnType<typeof sealAt>;
    const refusal = (
      send: (tx: postgres.TransactionSql, head: AppendRow, e: Sealed) => Promise<unknown>,
      overrides: Record<string, unknown> = {},
    ) =>
      asWorker(F.workspaceId, async (tx) => {
        const head = await probe(tx);
        return send(tx, head, sealAt(F, head, overrides));
      }).then(
        () => "appended",
        (err: unknown) => (err as { code?: string }).code,
      );
    const sqlstates = [
      await refusal((tx, h, e) =>
        callAppend(tx, e.seq, h.head_hash, h.policy_digest, ["0".repeat(64)], [e.signature], [e.text]),
      ),
      await refusal((tx, h, e) =>
        callAppend(
          tx,
          e.seq,
          h.head_hash,
          h.policy_digest,
          [e.hash],
          [e.signature],
          [e.text.replace("approve", "reject!")],
        ),
      ),
      await refusal((tx, h, e) => callAppend(tx, e.seq, h.head_hash, h.policy_digest, [e.hash], [], [e.text])),
      // A place that is not the one the bytes name.
      await refusal((tx, h, e) =>
        callAppend(tx, e.seq + 1, h.head_hash, h.policy_digest, [e.hash], [e.signature], [e.text]),
      ),
      await refusal((tx, h, e) =>
        callAppend(tx, e.seq, "f".repeat(64), h.policy_digest, [e.hash], [e.signature], [e.text]),
      ),
      // Hashed and signed right, but the bytes name another workspace, or another seq.
      await refusal(
        (tx, h, e) => callAppend(tx, e.seq, h.head_hash, h.policy_digest, [e.hash], [e.signature], [e.text]),
        { workspace_id: newId("workspace") },
      ),
      await refusal(
        (tx, h, e) => callAppend(tx, e.seq, h.head_hash, h.policy_digest, [e.hash], [e.signature], [e.text]),
        { seq: 99 },
      ),
    ];
    expect(sqlstates).toEqual(["PXV01", "PXV01", "PXV01", "PXV01", "PXV01", "PXV01", "PXV01"]);
    expect(await chainOf(F.workspaceId)).toHaveLength(2);
  });

  it("takes the workspace from the scope only: without one it refuses", async () => {
    const err = await workerSql.begin((tx) => probe(tx)).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe("PXS01");
  });
});

describe("appendAuditEvents over it", () => {
  it("appends a batch, and continues correctly after another appender moved the head behind its back", async () => {
    const f = await emptyWorkspace("G");
    await withWorkspace(worker, f.workspaceId, (s) =>
      appendAuditEvents(s, [draft(f, 0), draft(f, 1), draft(f, 2)], signer),
    );
    await appendBehindTheCache(f);
    await appendBehindTheCache(f);
    const stored = await withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [draft(f, 10)], signer));
    expect(stored.map((e) => e.seq)).toEqual([6]);
    const chain = await chainOf(f.workspaceId);
    expect(chain.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(verifyChain(chain, keyset, { workspaceId: f.workspaceId as WorkspaceId })).toMatchObject({
      ok: true,
      count: 6,
    });
  });

  it("a redaction policy changed after the process last saw it is the one applied", async () => {
    const f = await emptyWorkspace("H");
    await withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [draft(f, 0)], signer));
    await admin`update workspaces set audit_redaction = ${admin.json({ input: { fields: { repo: "drop" } } })} where id = ${f.workspaceId}`;
    const [stored] = await withWorkspace(worker, f.workspaceId, (s) =>
      appendAuditEvents(s, [draft(f, 1, f.runId, { prNumber: 8, repo: "acme/CANARY" })], signer),
    );
    expect(stored?.input).toMatchObject({ prNumber: 8, repo: { $dropped: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    const chain = await chainOf(f.workspaceId);
    expect(Buffer.from(chain[1]!.canonical).toString("utf8")).not.toContain("CANARY");
    expect(verifyChain(chain, keyset, { workspaceId: f.workspaceId as WorkspaceId })).toMatchObject({
      ok: true,
      count: 2,
    });
  });

  it("a transaction rolled back after appending leaves no trace, and the next append continues the real head", async () => {
    const f = await emptyWorkspace("R");
    await withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [draft(f, 0)], signer));
    const rolledBack = await withWorkspace(worker, f.workspaceId, async (s) => {
      await appendAuditEvents(s, [draft(f, 1), draft(f, 2)], signer);
      throw new Error("the caller fails after appending");
    }).catch((e: unknown) => e);
    expect(rolledBack).toBeInstanceOf(Error);
    await withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [draft(f, 3)], signer));
    const chain = await chainOf(f.workspaceId);
    expect(chain.map((e) => e.seq)).toEqual([1, 2]);
    expect(verifyChain(chain, keyset, { workspaceId: f.workspaceId as WorkspaceId })).toMatchObject({ ok: true });
  });

  it("a transaction that holds the head appends again without waiting behind one that waits for it", async () => {
    const f = await emptyWorkspace("D");
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    let firstPlaced!: () => void;
    const placed = new Promise<void>((resolve) => (firstPlaced = resolve));
    const holder = withWorkspace(worker, f.workspaceId, async (s) => {
      await appendAuditEvents(s, [draft(f, 0)], signer);
      firstPlaced();
      await hold; // another transaction's append is now queued behind this one's head lock
      return appendAuditEvents(s, [draft(f, 1)], signer);
    });
    await placed;
    const waiter = withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [draft(f, 2)], signer));
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the waiter reach the database (no assertion rests on time)
    release();
    await Promise.all([holder, waiter]);
    const chain = await chainOf(f.workspaceId);
    expect(chain.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(verifyChain(chain, keyset, { workspaceId: f.workspaceId as WorkspaceId })).toMatchObject({ ok: true });
  });

  it("a turn is not waited for forever: a deadlock running through another transaction’s queued call is seen and broken by Postgres", async () => {
    const f = await emptyWorkspace("L");
    await withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [draft(f, 0)], signer));
    const gate = () => {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      return { opened, open };
    };
    const t1Locked = gate();
    const t2Appended = gate();
    const t1Go = gate();
    const lock = 700_000 + Math.floor(Math.random() * 100_000);
    // T1 holds a lock T2 will want, and appends last.
    const t1 = withWorkspace(worker, f.workspaceId, async (s) => {
      await s.execute(sql`select pg_advisory_xact_lock(${lock})`);
      t1Locked.open();
      await t1Go.opened;
      return appendAuditEvents(s, [draft(f, 1)], signer);
    });
    await t1Locked.opened;
    // T2 appends (so holds the head), then waits for T1's lock.
    const t2 = withWorkspace(worker, f.workspaceId, async (s) => {
      await appendAuditEvents(s, [draft(f, 2)], signer);
      t2Appended.open();
      await s.execute(sql`select pg_advisory_xact_lock(${lock})`);
    });
    await t2Appended.opened;
    // T0's call waits in the database for T2's head: it is this process's latest turn when T1 appends.
    const t0 = withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [draft(f, 3)], signer));
    for (let waiting = 0; waiting < 2;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const [row] = await admin<
        { waiting: number }[]
      >`select count(*)::int as waiting from pg_stat_activity where datname = ${tdb.name} and wait_event_type = 'Lock'`;
      waiting = row?.waiting ?? 0;
    }
    t1Go.open();
    const settled = await Promise.allSettled([t0, t1, t2]);
    // T1 — waiting behind T0's turn while holding what T2 waits for — went to the database, where Postgres saw the cycle.
    expect(settled.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ details: { sqlstate: "40P01" } });
    const chain = await chainOf(f.workspaceId);
    expect(chain.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(verifyChain(chain, keyset, { workspaceId: f.workspaceId as WorkspaceId })).toMatchObject({ ok: true });
  });

  it("many concurrent transactions on one workspace from this process: gapless, in one call each", async () => {
    const f = await emptyWorkspace("C");
    const runs = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const runId = newId("run");
        await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${f.workspaceId}, ${runId}, ${f.skillId}, ${f.skillVersionId}, 'github.pull_request.opened', 'github')`;
        return runId;
      }),
    );
    await Promise.all(
      runs.flatMap((runId) =>
        [0, 1, 2].map(async (step) =>
          withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [draft(f, step, runId)], signer)),
        ),
      ),
    );
    const chain = await chainOf(f.workspaceId);
    expect(chain.map((e) => e.seq)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    expect(verifyChain(chain, keyset, { workspaceId: f.workspaceId as WorkspaceId })).toMatchObject({
      ok: true,
      count: 18,
    });
  });

  it("refuses an invalid draft before anything is sent, and a duplicate by its unique key; the next append is fine", async () => {
    const f = await emptyWorkspace("V");
    await withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [draft(f, 0)], signer));
    await expect(
      withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [{ ...draft(f, 1), confidence: 3 }], signer)),
    ).rejects.toMatchObject({ code: "AUDIT_EVENT_INVALID" });
    await expect(
      withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [draft(f, 0)], signer)),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    await withWorkspace(worker, f.workspaceId, (s) => appendAuditEvents(s, [draft(f, 1)], signer));
    expect((await chainOf(f.workspaceId)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it("needs a live scope", async () => {
    const f = await emptyWorkspace("S");
    let dead: Parameters<typeof appendAuditEvents>[0] | undefined;
    await withWorkspace(worker, f.workspaceId, async (s) => {
      dead = s;
    });
    await expect(appendAuditEvents(dead!, [draft(f, 0)], signer)).rejects.toBeInstanceOf(WorkspaceScopeError);
  });
});
