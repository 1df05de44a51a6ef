/**
 * The audit writer (group commit) and the transaction it runs in (`withWorkspacesInTurn`), against the real database:
 * concurrent callers' events land in fewer transactions than calls, every chain stays gapless and verifies, each
 * caller gets its own events back only once they are committed, and a batch that fails costs nobody but the caller
 * at fault.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import postgres from "postgres";
import {
  AuditEventInvalidError,
  ConflictError,
  newId,
  sealAuditEvent,
  UnavailableError,
  verifyChain,
  WorkspaceScopeError,
  type AuditEventDraft,
  type WorkspaceId,
} from "@praxa/core";
import {
  appendAuditEvents,
  createAuditWriter,
  registerAuditKey,
  createDatabase,
  createTestDatabase,
  readAuditChain,
  seedWorkspaceFixture,
  sql,
  withWorkspace,
  withWorkspacesInTurn,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "./index.js";

let tdb: TestDatabase;
let admin: postgres.Sql;
let otherProcess: postgres.Sql;
let worker: Database;
let api: Database;
const key = generateKeyPairSync("ed25519");
const signer = { keyId: "writer-test", privateKey: key.privateKey };
const keyset = new Map([[signer.keyId, createPublicKey(key.privateKey)]]);

const draft = (f: WorkspaceFixture, step: number, runId = f.runId): AuditEventDraft => ({
  auditEventId: newId("auditEvent"),
  kind: "skill.action",
  skillId: f.skillId as AuditEventDraft["skillId"],
  runId: runId as AuditEventDraft["runId"],
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

/** A workspace whose audit chain is empty. */
const emptyWorkspace = (label: string): Promise<WorkspaceFixture> =>
  seedWorkspaceFixture(tdb.adminUrl, label, { auditChain: false });

const chainOf = (ws: string) => withWorkspace(api, ws, (s) => readAuditChain(s));
/** Transactions that stored events of `ws`: events committed together share their transaction's now(). */
const commitsOf = async (ws: string): Promise<number> =>
  Number(
    (
      await admin<{ n: string }[]>`select count(distinct created_at) as n from audit_events where workspace_id = ${ws}`
    )[0]?.n,
  );
const verifies = async (ws: string) => verifyChain(await chainOf(ws), keyset, { workspaceId: ws as WorkspaceId });

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 2, onnotice: () => {} });
  otherProcess = postgres(tdb.roleUrl("praxa_worker"), { max: 1, onnotice: () => {} });
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 6 });
  api = createDatabase(tdb.roleUrl("praxa_api"), { max: 2 });
});
afterAll(async () => {
  await Promise.all([worker?.close(), api?.close(), admin?.end({ timeout: 5 }), otherProcess?.end({ timeout: 5 })]);
  await tdb?.drop();
});

describe("createAuditWriter: group commit", () => {
  it("places 60 concurrent calls on one workspace gaplessly, in call order, in fewer transactions than calls", async () => {
    const f = await emptyWorkspace("one");
    const writer = createAuditWriter(worker, signer);
    const drafts = Array.from({ length: 60 }, (_, i) => draft(f, i + 1));
    const results = await Promise.all(drafts.map((d) => writer.append(f.workspaceId, [d])));
    // Each caller got its own event back, placed where its call came in the queue.
    expect(results.map((r) => r.map((e) => e.auditEventId))).toEqual(drafts.map((d) => [d.auditEventId]));
    expect(results.map((r) => r[0]?.seq)).toEqual(drafts.map((_, i) => i + 1));
    expect(await verifies(f.workspaceId)).toMatchObject({ ok: true, count: 60 });
    const commits = await commitsOf(f.workspaceId);
    expect(commits).toBeLessThan(60); // batched: some transactions carried several calls' events
    await writer.close();
  });

  it("batches across workspaces: 12 workspaces × 5 concurrent callers, every chain gapless and verifying, a call's events contiguous", async () => {
    const fs = await Promise.all(Array.from({ length: 12 }, (_, i) => emptyWorkspace(`many${i}`)));
    const writer = createAuditWriter(worker, signer, { concurrency: 2 });
    await Promise.all(
      fs.flatMap((f) =>
        Array.from({ length: 5 }, async (_, caller) => {
          for (let i = 0; i < 4; i++) {
            const mine = [draft(f, caller * 100 + i * 2 + 1), draft(f, caller * 100 + i * 2 + 2)];
            const placed = await writer.append(f.workspaceId, mine);
            expect(placed.map((e) => e.auditEventId)).toEqual(mine.map((d) => d.auditEventId));
            expect((placed[1]?.seq ?? 0) - (placed[0]?.seq ?? 0)).toBe(1);
          }
        }),
      ),
    );
    for (const f of fs) expect(await verifies(f.workspaceId)).toMatchObject({ ok: true, count: 5 * 4 * 2 });
    // Several workspaces committed in one transaction: fewer distinct commit times over all of them than calls.
    const [row] = await admin<
      { n: string }[]
    >`select count(distinct created_at) as n from audit_events where workspace_id in ${admin(fs.map((f) => f.workspaceId))}`;
    expect(Number(row?.n)).toBeLessThan(12 * 5 * 4);
    await writer.close();
  });

  it("a head moved behind this process's back (another process appended) is answered by the database, and the batch still lands right", async () => {
    const [a, b] = await Promise.all([emptyWorkspace("staleA"), emptyWorkspace("staleB")]);
    const writer = createAuditWriter(worker, signer, { concurrency: 1 });
    const both = () =>
      Promise.all([
        writer.append(a.workspaceId, [draft(a, 1 + step++)]),
        writer.append(b.workspaceId, [draft(b, 1 + step++)]),
      ]);
    let step = 0;
    await both();
    await both(); // now both heads are remembered
    // Another process (a raw connection, not this module) appends to a's chain.
    await otherProcess.begin(async (tx) => {
      await tx`select set_config('app.workspace_id', ${a.workspaceId}, true)`;
      const [head] = await tx<
        { head_seq: string; head_hash: string; policy_digest: string }[]
      >`select * from public.audit_append_events(null, null, null, '{}'::text[], '{}'::text[], '{}'::text[])`;
      const seq = Number(head?.head_seq) + 1;
      const sealed = sealAuditEvent(
        {
          ...draft(a, 1000),
          workspace_id: a.workspaceId as WorkspaceId,
          seq,
          prev_hash: head?.head_hash as string,
          key_id: signer.keyId,
        },
        key.privateKey,
      );
      await tx`select * from public.audit_append_events(${seq}, ${head?.head_hash as string}, ${head?.policy_digest as string}, ${[sealed.hash]}::text[], ${[sealed.signature]}::text[], ${[Buffer.from(sealed.canonical).toString("utf8")]}::text[])`;
    });
    const [[ea], [eb]] = await both();
    expect([ea?.seq, eb?.seq]).toEqual([4, 3]);
    for (const f of [a, b]) expect(await verifies(f.workspaceId)).toMatchObject({ ok: true });
    await writer.close();
  });

  it("a redaction policy changed since the process last saw it is the one a batch is sealed under", async () => {
    const [a, b] = await Promise.all([emptyWorkspace("policyA"), emptyWorkspace("policyB")]);
    const writer = createAuditWriter(worker, signer, { concurrency: 1 });
    await Promise.all([writer.append(a.workspaceId, [draft(a, 1)]), writer.append(b.workspaceId, [draft(b, 1)])]); // heads and policies remembered
    await admin`update workspaces set audit_redaction = ${admin.json({ input: { fields: { prNumber: "drop" } } })} where id = ${a.workspaceId}`;
    const secret = { ...draft(a, 2), input: { prNumber: 424242 } };
    const [[ea], [eb]] = await Promise.all([
      writer.append(a.workspaceId, [secret]),
      writer.append(b.workspaceId, [{ ...draft(b, 2), input: { prNumber: 424242 } }]),
    ]);
    expect(ea?.input).toEqual({ prNumber: { $dropped: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(eb?.input).toEqual({ prNumber: 424242 }); // b's policy did not change
    const stored = await chainOf(a.workspaceId);
    expect(Buffer.from(stored[1]!.canonical).toString("utf8")).not.toContain("424242");
    for (const f of [a, b]) expect(await verifies(f.workspaceId)).toMatchObject({ ok: true, count: 2 });
    await writer.close();
  });

  it("signs a checkpoint where a batch carries a chain across a multiple of `every`", async () => {
    const f = await emptyWorkspace("cp");
    const cpKey = generateKeyPairSync("ed25519");
    await registerAuditKey(worker, {
      keyId: "writer-cp",
      purpose: "checkpoint",
      algorithm: "ed25519",
      spki: cpKey.publicKey.export({ format: "der", type: "spki" }),
    });
    const writer = createAuditWriter(worker, signer, {
      checkpoint: { every: 4, signer: { keyId: "writer-cp", sign: async (m) => sign(null, m, cpKey.privateKey) } },
    });
    for (let i = 1; i <= 10; i++) await writer.append(f.workspaceId, [draft(f, i)]); // one at a time: 4 and 8 crossed alone
    await Promise.all(Array.from({ length: 7 }, (_, i) => writer.append(f.workspaceId, [draft(f, 11 + i)]))); // 10 → 17, crossing 12 and 16 in batches
    const sizes = (
      await admin<
        { tree_size: string }[]
      >`select tree_size from audit_checkpoints where workspace_id = ${f.workspaceId} order by tree_size`
    ).map((r) => Number(r.tree_size));
    expect(sizes.slice(0, 2)).toEqual([4, 8]);
    // A batch that crosses a multiple signs one checkpoint over the chain as it then stands.
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    expect(sizes.at(-1)).toBe(17);
    await writer.close();
  });

  it("a duplicate (run, step, kind) in a batch fails only its own caller, with ConflictError; the others are placed and the chain verifies", async () => {
    const f = await emptyWorkspace("dup");
    const writer = createAuditWriter(worker, signer);
    await writer.append(f.workspaceId, [draft(f, 7)]);
    const errors: unknown[] = [];
    const writerWithLog = createAuditWriter(worker, signer, { onBatchError: (err) => errors.push(err) });
    const outcomes = await Promise.allSettled([
      writerWithLog.append(f.workspaceId, [draft(f, 8)]),
      writerWithLog.append(f.workspaceId, [draft(f, 9)]),
      writerWithLog.append(f.workspaceId, [draft(f, 7)]), // a retried run's second `skill.action` for step 7
      writerWithLog.append(f.workspaceId, [draft(f, 10)]),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    expect((outcomes[2] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    const chain = await chainOf(f.workspaceId);
    expect(chain.map((e) => e.seq)).toEqual([1, 2, 3, 4]); // step 7 once, then 8, 9 and 10
    expect(await verifies(f.workspaceId)).toMatchObject({ ok: true, count: 4 });
    expect(errors.length).toBeLessThanOrEqual(1); // told of the batch that failed (if the duplicate shared one)
    await Promise.all([writer.close(), writerWithLog.close()]);
  });

  it("an invalid draft fails its caller with AuditEventInvalidError and nobody else", async () => {
    const f = await emptyWorkspace("bad");
    const writer = createAuditWriter(worker, signer);
    const bad = { ...draft(f, 2), confidence: 7 } as AuditEventDraft;
    const outcomes = await Promise.allSettled([
      writer.append(f.workspaceId, [draft(f, 1)]),
      writer.append(f.workspaceId, [bad]),
      writer.append(f.workspaceId, [draft(f, 3)]),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(AuditEventInvalidError);
    expect(await verifies(f.workspaceId)).toMatchObject({ ok: true, count: 2 });
    await writer.close();
  });

  it("holds calls past maxQueuedEvents back, in call order, while the database is slow; all land once it answers (backpressure)", async () => {
    const f = await emptyWorkspace("backpressure");
    const told: [boolean, number][] = [];
    const writer = createAuditWriter(worker, signer, {
      concurrency: 1,
      maxQueuedEvents: 5,
      onBackpressure: (holding, p) => told.push([holding, p.heldCalls]),
    });
    await writer.append(f.workspaceId, [draft(f, 0)]); // the head exists and is remembered
    // Another transaction holds the chain head: the writer's next batch waits in the database until it ends.
    let locked!: () => void;
    let release!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const holder = admin.begin(async (tx) => {
      await tx`select seq from audit_chain_heads where workspace_id = ${f.workspaceId} for update`;
      locked();
      await released;
    });
    await isLocked;
    const calls = Array.from({ length: 20 }, (_, i) => writer.append(f.workspaceId, [draft(f, i + 1)]));
    expect(writer.pending()).toEqual({ queuedCalls: 5, queuedEvents: 5, heldCalls: 15, batchesInFlight: 0 });
    expect(told).toEqual([[true, 1]]); // told once, when the sixth call was held
    await new Promise((resolve) => setImmediate(resolve)); // the first batch (5 calls) leaves, to wait for the head; 5 more move up
    expect(writer.pending()).toEqual({ queuedCalls: 5, queuedEvents: 5, heldCalls: 10, batchesInFlight: 1 });
    release();
    await holder;
    const placed = await Promise.all(calls);
    expect(placed.map(([e]) => e?.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2)); // call order
    expect(writer.pending()).toEqual({ queuedCalls: 0, queuedEvents: 0, heldCalls: 0, batchesInFlight: 0 });
    expect(told).toEqual([
      [true, 1],
      [false, 0],
    ]); // …and once when none was held any more
    expect(await verifies(f.workspaceId)).toMatchObject({ ok: true, count: 21 });
    // A single call larger than the bound is not refused: it is taken once the queue is empty.
    const [big] = await Promise.all([
      writer.append(
        f.workspaceId,
        Array.from({ length: 8 }, (_, i) => draft(f, 100 + i)),
      ),
      writer.append(f.workspaceId, [draft(f, 200)]),
    ]);
    expect(big.map((e) => e.seq)).toEqual([22, 23, 24, 25, 26, 27, 28, 29]);
    expect(await verifies(f.workspaceId)).toMatchObject({ ok: true, count: 30 });
    await writer.close();
  });

  it("close() waits for what it accepted, then refuses new appends with UnavailableError; a bad workspace id is refused before queueing", async () => {
    const f = await emptyWorkspace("close");
    const writer = createAuditWriter(worker, signer);
    const pending = Promise.all(Array.from({ length: 10 }, (_, i) => writer.append(f.workspaceId, [draft(f, i + 1)])));
    await writer.close();
    expect((await pending).length).toBe(10); // resolved by the time close() did
    expect((await chainOf(f.workspaceId)).length).toBe(10);
    await expect(writer.append(f.workspaceId, [draft(f, 99)])).rejects.toBeInstanceOf(UnavailableError);
    const open = createAuditWriter(worker, signer);
    await expect(open.append("not-a-workspace", [draft(f, 1)])).rejects.toMatchObject({ code: "INVALID_ID" });
    await open.close();
  });
});

describe("withWorkspacesInTurn", () => {
  it("each entered workspace sees only its own rows; everything commits together or not at all", async () => {
    const [a, b] = await Promise.all([
      seedWorkspaceFixture(tdb.adminUrl, "turnA"),
      seedWorkspaceFixture(tdb.adminUrl, "turnB"),
    ]);
    const seen = await withWorkspacesInTurn(worker, async ({ enter }) => {
      const inA = await enter(a.workspaceId, (s) => s.execute(sql`select distinct workspace_id from agent_runs`));
      const inB = await enter(b.workspaceId, (s) => s.execute(sql`select distinct workspace_id from agent_runs`));
      return [inA, inB];
    });
    expect(seen).toEqual([[{ workspace_id: a.workspaceId }], [{ workspace_id: b.workspaceId }]]);

    // A failure in the second workspace takes the first one's write with it.
    const before = (await chainOf(a.workspaceId)).length;
    await expect(
      withWorkspacesInTurn(worker, async ({ enter }) => {
        await enter(a.workspaceId, (s) => appendAuditEvents(s, [draft(a, 1)], signer));
        await enter(b.workspaceId, (s) => s.execute(sql`select 1 / 0`));
      }),
    ).rejects.toMatchObject({ details: { sqlstate: "22012" } }); // division by zero
    expect(await chainOf(a.workspaceId)).toHaveLength(before);
  });

  it("pipelined sends each run in their own workspace, whatever was handed after them", async () => {
    const [a, b] = await Promise.all([
      seedWorkspaceFixture(tdb.adminUrl, "sendA"),
      seedWorkspaceFixture(tdb.adminUrl, "sendB"),
    ]);
    const q = "select distinct workspace_id from agent_runs";
    const seen = await withWorkspacesInTurn(worker, ({ send }) =>
      Promise.all([
        send(a.workspaceId, q, []),
        send(b.workspaceId, q, []),
        send(b.workspaceId, q, []),
        send(a.workspaceId, q, []),
      ]),
    );
    expect(seen).toEqual([
      [{ workspace_id: a.workspaceId }],
      [{ workspace_id: b.workspaceId }],
      [{ workspace_id: b.workspaceId }],
      [{ workspace_id: a.workspaceId }],
    ]);
  });

  it("refuses overlapping entries and an entry after the transaction ended", async () => {
    const [a, b] = await Promise.all([
      seedWorkspaceFixture(tdb.adminUrl, "ovA"),
      seedWorkspaceFixture(tdb.adminUrl, "ovB"),
    ]);
    let late: ((ws: string) => Promise<unknown>) | undefined;
    await expect(
      withWorkspacesInTurn(worker, async ({ enter, send }) => {
        late = (ws) => enter(ws, async () => undefined);
        await enter(a.workspaceId, async () => {
          await expect(send(b.workspaceId, "select 1", [])).rejects.toBeInstanceOf(WorkspaceScopeError);
          await enter(b.workspaceId, async () => undefined);
        });
      }),
    ).rejects.toBeInstanceOf(WorkspaceScopeError);
    await expect(late?.(a.workspaceId)).rejects.toBeInstanceOf(WorkspaceScopeError);
  });
});
