/**
 * Data lifecycle on the real database (migration 0033): the retention cut of an audit chain behind a signed checkpoint
 * (what is old goes, nothing else; the rest verifies from the cut, and a checkpoint kept from before the cut is still
 * proven consistent — through the database and through the offline export), and the erasure of a workspace (no row of
 * it in any table the catalog lists, no object under its prefix, no secret, no key; a signed receipt that verifies).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPublicKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import {
  ChainStreamVerification,
  checkTrustedCheckpointRoot,
  exportCheckpointLine,
  exportEventLine,
  exportHeaderLine,
  exportKeyLine,
  exportLeafLine,
  exportRetentionLine,
  newId,
  signatureFloor,
  verifyAuditExport,
  verifyChain,
  verifyCheckpointsAgainstRoots,
  verifyErasureReceipt,
  type AuditEventDraft,
  type PinnedKeys,
  type VerificationKey,
  type WorkspaceId,
} from "@praxa/core";
import {
  appendAuditEvents,
  createCheckpoint,
  createDatabase,
  createTestDatabase,
  cutAuditChain,
  erasuresDue,
  executeErasure,
  readAuditChain,
  readAuditLeaves,
  readCheckpoints,
  readRetentionCuts,
  redactPerson,
  registerAuditKey,
  requestErasureAsOperator,
  requestExportAsOperator,
  retentionDue,
  seedWorkspaceFixture,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createLocalObjectStore, type LocalObjectStoreBackend } from "@praxa/object-store";
import { exportPass, lifecyclePass } from "@praxa/monitor";
import { createLogger } from "@praxa/observability";

let tdb: TestDatabase;
let admin: postgres.Sql;
let adminDb: Database;
let worker: Database;
let monitor: Database;
let api: Database;
let objects: LocalObjectStoreBackend;

const eventKey = generateKeyPairSync("ed25519");
const eventSigner = { keyId: "lc-events", privateKey: eventKey.privateKey };
const cpKey = generateKeyPairSync("ed25519");
const cpSigner = { keyId: "lc-checkpoints", sign: async (m: Uint8Array) => sign(null, m, cpKey.privateKey) };
const spki = (k: typeof cpKey) => k.publicKey.export({ format: "der", type: "spki" });
const cpKeys = new Map<string, VerificationKey>([
  [cpSigner.keyId, { keyId: cpSigner.keyId, algorithm: "ed25519", spki: spki(cpKey) }],
]);
const eventKeys = new Map([[eventSigner.keyId, eventKey.publicKey]]);
const pinned: PinnedKeys = [
  {
    key_id: eventSigner.keyId,
    purpose: "event",
    algorithm: "ed25519",
    public_key_pem: eventKey.publicKey.export({ format: "pem", type: "spki" }).toString(),
  },
  {
    key_id: cpSigner.keyId,
    purpose: "checkpoint",
    algorithm: "ed25519",
    public_key_pem: cpKey.publicKey.export({ format: "pem", type: "spki" }).toString(),
  },
];

let step = 1;
const draft = (f: WorkspaceFixture): AuditEventDraft => ({
  auditEventId: newId("auditEvent"),
  kind: "skill.action",
  skillId: f.skillId as AuditEventDraft["skillId"],
  runId: f.runId as AuditEventDraft["runId"],
  trigger: "github.pull_request.opened",
  input: { prNumber: step },
  reasoning: [`step ${step}`],
  alternatives: [],
  confidence: 0.9,
  output: { verdict: "approve" },
  tools_used: [],
  duration_ms: 1,
  occurred_at: new Date().toISOString(),
  manifest_hash: "c".repeat(64),
  step: step++,
});
const append = (f: WorkspaceFixture, n: number) =>
  withWorkspace(worker, f.workspaceId, (s) =>
    appendAuditEvents(
      s,
      Array.from({ length: n }, () => draft(f)),
      eventSigner,
    ),
  );

/** Make events [from, to] of a workspace look `days` old (the superuser, triggers off: only the test may). */
/**
 * A fixture workspace without the fixture's paused SIEM subscription: a stream that has not delivered holds retention
 * back (the floor of 0032, tested on its own below), which is not what these tests are about.
 */
async function seed(label: string, options?: Parameters<typeof seedWorkspaceFixture>[2]) {
  const f = await seedWorkspaceFixture(tdb.adminUrl, label, options);
  await admin`delete from siem_subscriptions where workspace_id = ${f.workspaceId}`;
  return f;
}

async function age(ws: string, from: number, to: number, days: number): Promise<void> {
  await admin.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`update audit_events set occurred_at = now() - make_interval(days => ${days}) where workspace_id = ${ws} and seq between ${from} and ${to}`;
  });
}

/**
 * What `praxa audit verify` does against the database, in one page: the removed leaves first, then the kept chain
 * anchored on the last of them, every checkpoint's root, a checkpoint required at the cut, and a kept one's root.
 */
async function verifyFromDatabase(
  ws: WorkspaceId,
  trusted?: { treeSize: number; rootHash: string },
): Promise<{ ok: boolean; failure?: string; removed: number; verified: number; redacted?: readonly number[] }> {
  return withWorkspace(api, ws, async (s) => {
    const cuts = await readRetentionCuts(s);
    const checkpoints = await readCheckpoints(s);
    const chain = await readAuditChain(s);
    const head = chain.at(-1)?.seq ?? cuts.throughSeq;
    const stream = new ChainStreamVerification(
      {
        workspaceId: ws,
        signatures: {
          fromSeq: signatureFloor(
            checkpoints.map((c) => c.tree_size),
            head,
          ),
        },
        content: "columns",
      },
      [...checkpoints.map((c) => c.tree_size), ...(trusted ? [trusted.treeSize] : [])],
    );
    stream.acceptRemoved(cuts.leafHashes);
    if (cuts.throughSeq > 0 && !checkpoints.some((c) => c.tree_size === cuts.throughSeq))
      return { ok: false, failure: "no checkpoint at the cut", removed: cuts.throughSeq, verified: 0 };
    const failed = stream.accept(chain, verifyChain(chain, eventKeys, stream.pageOptions()));
    if (failed && !failed.ok)
      return { ok: false, failure: `seq ${failed.seq}: ${failed.reason}`, removed: cuts.throughSeq, verified: 0 };
    const cps = verifyCheckpointsAgainstRoots(checkpoints, stream.events, (n) => stream.rootAt(n), cpKeys);
    if (!cps.ok) return { ok: false, failure: `checkpoint ${cps.treeSize}: ${cps.reason}`, removed: 0, verified: 0 };
    if (trusted) {
      const kept = checkTrustedCheckpointRoot(trusted, stream.events, stream.rootAt(trusted.treeSize));
      if (!kept.ok) return { ok: false, failure: kept.failure, removed: cuts.throughSeq, verified: 0 };
    }
    return {
      ok: true,
      removed: stream.removed,
      verified: stream.events - stream.removed,
      ...(stream.redacted.length > 0 ? { redacted: stream.redacted } : {}),
    };
  });
}

/** The offline export, as `praxa audit export` writes it (retention line included). */
async function exportText(ws: WorkspaceId): Promise<string> {
  return withWorkspace(api, ws, async (s) => {
    const cuts = await readRetentionCuts(s);
    const lines = [exportHeaderLine({ workspaceId: ws, exportedAt: new Date().toISOString(), from: null, to: null })];
    cuts.leafHashes.forEach((hash, i) => lines.push(exportLeafLine({ seq: i + 1, hash })));
    for (const l of await readAuditLeaves(s)) lines.push(exportLeafLine(l));
    for (const e of await readAuditChain(s)) lines.push(exportEventLine(e));
    for (const c of await readCheckpoints(s)) lines.push(exportCheckpointLine(c));
    if (cuts.cutAt) lines.push(exportRetentionLine({ throughSeq: cuts.throughSeq, cutAt: cuts.cutAt }));
    lines.push(
      exportKeyLine({ keyId: cpSigner.keyId, purpose: "checkpoint", algorithm: "ed25519", spki: spki(cpKey) }),
    );
    return lines.join("\n");
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 2, onnotice: () => {} });
  adminDb = createDatabase(tdb.adminUrl, { max: 1 });
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
  monitor = createDatabase(tdb.roleUrl("praxa_monitor"), { max: 2 });
  api = createDatabase(tdb.roleUrl("praxa_api"), { max: 2 });
  for (const [keyId, purpose, k] of [
    [eventSigner.keyId, "event", eventKey],
    [cpSigner.keyId, "checkpoint", cpKey],
  ] as const)
    await registerAuditKey(worker, {
      keyId,
      purpose,
      algorithm: "ed25519",
      spki: createPublicKey(k.privateKey).export({ format: "der", type: "spki" }),
    });
  objects = await createLocalObjectStore({ dir: mkdtempSync(join(tmpdir(), "praxa-lifecycle-")) });
});
afterAll(async () => {
  await Promise.all([adminDb?.close(), worker?.close(), monitor?.close(), api?.close(), admin?.end({ timeout: 5 })]);
  await tdb?.drop();
});

describe("retention: the audit chain is cut behind a signed checkpoint", () => {
  it("removes the events older than the window and nothing else; the rest verifies from the cut, against a checkpoint kept from before it, online and offline", async () => {
    const f = await seed("ret", { auditChain: false });
    const other = await seed("other", { auditChain: false });
    await append(f, 10);
    await append(other, 5);
    const trusted = await withWorkspace(worker, f.workspaceId, (s) => createCheckpoint(s, cpSigner)); // tree 10
    const trustedLine = JSON.parse(exportCheckpointLine(trusted!)) as unknown;
    await append(f, 10); // 20 events
    await age(f.workspaceId, 1, 12, 100);
    await age(f.workspaceId, 14, 14, 100); // old, but after a young one: stays (the cut is a prefix)
    await age(other.workspaceId, 1, 5, 30); // inside its 90 days
    const before = (await withWorkspace(api, f.workspaceId, (s) => readAuditLeaves(s))).map((l) => l.hash);

    const due = await retentionDue(monitor, 10);
    expect(due).toEqual([{ workspace_id: f.workspaceId, wanted: 12, allowed: 12 }]);
    expect(await cutAuditChain(monitor, f.workspaceId, 12, cpSigner)).toBe(12);
    expect(await retentionDue(monitor, 10)).toEqual([]);

    const left = await admin<
      { seq: string }[]
    >`select seq from audit_events where workspace_id = ${f.workspaceId} order by seq`;
    expect(left.map((r) => Number(r.seq))).toEqual([13, 14, 15, 16, 17, 18, 19, 20]);
    const [otherCount] = await admin<
      { n: string }[]
    >`select count(*) as n from audit_events where workspace_id = ${other.workspaceId}`;
    expect(Number(otherCount?.n)).toBe(5);
    const cuts = await withWorkspace(api, f.workspaceId, (s) => readRetentionCuts(s));
    expect(cuts.leafHashes).toEqual(before.slice(0, 12));
    const cps = await withWorkspace(api, f.workspaceId, (s) => readCheckpoints(s));
    expect(cps.map((c) => c.tree_size)).toEqual([10, 12]); // the cut's checkpoint, signed before the cut

    const trustedKept = { treeSize: 10, rootHash: trusted!.root_hash };
    expect(await verifyFromDatabase(f.workspaceId, trustedKept)).toEqual({ ok: true, removed: 12, verified: 8 });
    const offline = verifyAuditExport(await exportText(f.workspaceId), pinned, trustedLine, { full: false });
    expect(offline).toMatchObject({ ok: true, events: 8, leaves: 20, trustedCheckpoint: "consistent" });
    expect(offline.ok && offline.retention?.throughSeq).toBe(12);
    const full = verifyAuditExport(await exportText(f.workspaceId), pinned, trustedLine, { full: true });
    expect(full.ok).toBe(true);

    // A kept leaf rewritten behind the app's back (the superuser, triggers off) breaks the cut's signed root.
    await admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update audit_retention_cuts set leaf_hashes = overlay(leaf_hashes placing ${randomBytes(32)} from 33 for 32) where workspace_id = ${f.workspaceId}`;
    });
    expect(await verifyFromDatabase(f.workspaceId, trustedKept)).toMatchObject({ ok: false });
    expect(verifyAuditExport(await exportText(f.workspaceId), pinned, trustedLine).ok).toBe(false);
  });

  it("refuses a cut past the window, a cut with no checkpoint at it, and any direct delete by the app roles", async () => {
    const f = await seed("refuse", { auditChain: false });
    await append(f, 6);
    await age(f.workspaceId, 1, 3, 100);
    // Past the window: seq 5 is young.
    await expect(
      withWorkspace(monitor, f.workspaceId, async (s) => {
        await createCheckpoint(s, cpSigner, new Date(), 5);
        await s.execute(sqlOf(`select public.lifecycle_apply_retention('${f.workspaceId}', 5)`));
      }),
    ).rejects.toThrow();
    // Within the window but no checkpoint at 3.
    await expect(
      withWorkspace(monitor, f.workspaceId, (s) =>
        s.execute(sqlOf(`select public.lifecycle_apply_retention('${f.workspaceId}', 3)`)),
      ),
    ).rejects.toThrow();
    for (const role of ["praxa_monitor", "praxa_worker", "praxa_api"] as const) {
      const conn = postgres(tdb.roleUrl(role), { max: 1, onnotice: () => {} });
      try {
        await expect(
          conn.begin(async (tx) => {
            await tx`select set_config('app.workspace_id', ${f.workspaceId}, true)`;
            await tx`delete from audit_events where seq = 1`;
          }),
        ).rejects.toThrow();
      } finally {
        await conn.end({ timeout: 5 });
      }
    }
    const [n] = await admin<
      { n: string }[]
    >`select count(*) as n from audit_events where workspace_id = ${f.workspaceId}`;
    expect(Number(n?.n)).toBe(6);
  });
});

import { sql as dsql } from "@praxa/db";
const sqlOf = (text: string) => dsql.raw(text);

describe("retention and SIEM streams", () => {
  it("a paused SIEM subscription that has not delivered holds the cut back: nothing it still owes is deleted", async () => {
    const f = await seedWorkspaceFixture(tdb.adminUrl, "siem-floor", { auditChain: false });
    await append(f, 12);
    await age(f.workspaceId, 1, 12, 200);
    const [due] = (await retentionDue(monitor, 1000)).filter((d) => d.workspace_id === f.workspaceId);
    // Wanted through seq 12; the fixture's paused stream acknowledged nothing, so nothing may go.
    expect(due).toEqual({ workspace_id: f.workspaceId, wanted: 12, allowed: null });
    await admin`update siem_subscriptions set cursor_seq = 5 where workspace_id = ${f.workspaceId}`;
    const [after] = (await retentionDue(monitor, 1000)).filter((d) => d.workspace_id === f.workspaceId);
    expect(after).toEqual({ workspace_id: f.workspaceId, wanted: 12, allowed: 5 });
    // Delivered through 12: the whole prefix may go (and does, so the sweep below finds nothing held here).
    await admin`update siem_subscriptions set cursor_seq = 12 where workspace_id = ${f.workspaceId}`;
    expect(await cutAuditChain(monitor, f.workspaceId, 12, cpSigner)).toBe(12);
  });
});

describe("erasure of a workspace", () => {
  it("leaves no row of it in any table the catalog lists, no object, secret or key; another workspace is untouched; the signed receipt verifies", async () => {
    const f = await seed("erase");
    const g = await seed("keep");
    await append(f, 3);
    await withWorkspace(worker, f.workspaceId, (s) => createCheckpoint(s, cpSigner));
    for (const w of [f, g]) {
      await admin`insert into vault.secrets (workspace_id, name, provider, purpose, ciphertext, key_id) values (${w.workspaceId}, 'llm:anthropic', 'anthropic', 'llm', ${randomBytes(48)}, 'wk_1')`;
      const tk = `tdk_${w.workspaceId.slice(3, 15)}`;
      await admin`insert into tenant_keys (tenant_id, key_id, wrapped_key, kms_key_ref) values (${w.tenantId}, ${tk}, ${randomBytes(64)}, 'local:master')`;
      await admin`insert into workspace_keys (workspace_id, key_id, tenant_key_id, public_key, wrapped_private_key) values (${w.workspaceId}, ${"wk_" + w.workspaceId.slice(3, 15)}, ${tk}, ${randomBytes(32)}, ${randomBytes(64)})`;
      await admin`insert into webhook_deliveries (source, delivery_id, body_sha256, workspace_id) values ('github', ${newId("run")}, ${randomBytes(32).toString("hex")}, ${w.workspaceId})`;
      const store = objects.forWorkspace({ workspaceId: w.workspaceId });
      await store.put(store.key("exports", "a.jsonl"), "one", { contentType: "text/plain" });
      await store.put(store.key("exports", "b.jsonl"), "two", { contentType: "text/plain" });
    }

    const id = await requestErasureAsOperator(adminDb, f.workspaceId, 0);
    const due = await erasuresDue(monitor, 10);
    expect(due).toEqual([{ id, workspace_id: f.workspaceId, status: "pending" }]);
    const receipt = await executeErasure(
      {
        database: monitor,
        signer: cpSigner,
        eraseObjects: (ws) => {
          const store = objects.forWorkspace({ workspaceId: ws });
          return store.deletePrefix(store.prefix);
        },
      },
      due[0]!,
    );

    // Every table of ours, in every schema, with a workspace_id column (or the workspaces table's id).
    const tables = await admin<{ schema: string; table: string; column: string }[]>`
      select n.nspname as schema, c.relname as table, a.attname as column
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
         and (a.attname = 'workspace_id' or (c.relname = 'workspaces' and a.attname = 'id'))
       order by 1, 2`;
    expect(tables.length).toBeGreaterThanOrEqual(30);
    const held: string[] = [];
    const kept: string[] = [];
    for (const t of tables) {
      const q = `select count(*)::int as n from ${t.schema}.${t.table} where ${t.column} = $1`;
      const [mine] = await admin.unsafe<{ n: number }[]>(q, [f.workspaceId]);
      const [theirs] = await admin.unsafe<{ n: number }[]>(q, [g.workspaceId]);
      if ((mine?.n ?? 0) > 0) held.push(`${t.schema}.${t.table}`);
      if ((theirs?.n ?? 0) > 0) kept.push(`${t.schema}.${t.table}`);
    }
    expect(held).toEqual([]);
    expect(kept).toEqual(
      expect.arrayContaining([
        "public.workspaces",
        "vault.secrets",
        "public.workspace_keys",
        "public.audit_events",
        "public.agent_runs",
        "public.webhook_deliveries",
      ]),
    );
    expect((await objects.forWorkspace({ workspaceId: f.workspaceId }).list(`ws/${f.workspaceId}/`)).objects).toEqual(
      [],
    );
    expect(
      (await objects.forWorkspace({ workspaceId: g.workspaceId }).list(`ws/${g.workspaceId}/`)).objects,
    ).toHaveLength(2);

    const checked = verifyErasureReceipt(receipt, pinned);
    expect(checked.ok).toBe(true);
    if (checked.ok) {
      expect(checked.body.workspace_id).toBe(f.workspaceId);
      expect(checked.body.counts["public.audit_events"]).toBe(4);
      expect(checked.body.counts["vault.secrets"]).toBe(1);
      expect(checked.body.counts.objects).toBe(2);
      expect(checked.body.final_checkpoint?.tree_size).toBe(4);
    }
    const tampered = JSON.parse(Buffer.from(receipt.body, "base64").toString("utf8")) as Record<string, unknown>;
    tampered.completed_at = new Date(0).toISOString();
    expect(
      verifyErasureReceipt({ ...receipt, body: Buffer.from(JSON.stringify(tampered)).toString("base64") }, pinned).ok,
    ).toBe(false);
    expect(await erasuresDue(monitor, 10)).toEqual([]);
  });
});

describe("the monitor's lifecycle sweep", () => {
  it("cuts what is due behind a checkpoint, deletes old finished runs with their rows, executes a due erasure, and reports an overdue one", async () => {
    const f = await seed("sweep", { auditChain: false });
    const gone = await seed("sweep-erase", { auditChain: false });
    await append(f, 4);
    await age(f.workspaceId, 1, 2, 120);
    // The fixture's run (finished), made 120 days old; a fresh one stays.
    await admin`update agent_runs set created_at = now() - interval '120 days' where id = ${f.runId}`;
    const fresh = newId("run");
    await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, status, finished_at)
                values (${f.workspaceId}, ${fresh}, ${f.skillId}, ${f.skillVersionId}, 'github.pull_request.opened', 'github', 'succeeded', now())`;
    await requestErasureAsOperator(adminDb, gone.workspaceId, 0);
    // An erasure requested 8 days ago that cannot complete (a row outside the schema's conventions points at the
    // workspace, so deleting it fails): it stays pending, and is overdue.
    const stuck = await seed("stuck", { auditChain: false });
    await admin`insert into workspace_erasures (subject_workspace_id, tenant_id, requested_by, requested_at, execute_after, due_by)
                values (${stuck.workspaceId}, ${stuck.tenantId}, 'operator', now() - interval '8 days', now() - interval '5 days', now() - interval '1 day')`;
    await admin`create table lc_obstacle (ws text references workspaces(id))`;
    await admin`insert into lc_obstacle values (${stuck.workspaceId})`;

    const lines: string[] = [];
    const log = createLogger({
      name: "lifecycle-sweep",
      level: "info",
      destination: { write: (l: string) => void lines.push(l) },
    });
    const figures = await lifecyclePass({
      database: monitor,
      log,
      now: Date.now,
      checkpointSigner: cpSigner,
      objects,
    });
    // Every due workspace of this database is swept (the refused one above had 3 old events too).
    expect(figures).toMatchObject({ cuts: 2, eventsRemoved: 2 + 3, held: 0, erased: 1, overdue: 1 });
    expect(figures.runRows).toBeGreaterThanOrEqual(3); // the run, its step and its telemetry event (and feedback)
    const runs = await admin<{ id: string }[]>`select id from agent_runs where workspace_id = ${f.workspaceId}`;
    expect(runs.map((r) => r.id)).toEqual([fresh]);
    const [steps] = await admin<
      { n: number }[]
    >`select count(*)::int as n from run_steps where workspace_id = ${f.workspaceId}`;
    expect(steps?.n).toBe(0);
    const [ws] = await admin<{ n: number }[]>`select count(*)::int as n from workspaces where id = ${gone.workspaceId}`;
    expect(ws?.n).toBe(0);
    expect(await verifyFromDatabase(f.workspaceId)).toEqual({ ok: true, removed: 2, verified: 2 });
    const overdue = lines
      .map((l) => JSON.parse(l) as { code?: string; level: number })
      .filter((l) => l.code === "ERASURE_OVERDUE");
    expect(overdue).toHaveLength(1);
    expect(overdue[0]?.level).toBe(50); // error: the operators' alarm
    const [left] = await admin<
      { n: number }[]
    >`select count(*)::int as n from workspaces where id = ${stuck.workspaceId}`;
    expect(left?.n).toBe(1); // the failed erasure rolled back whole: nothing half-erased
    // Reported once an hour, not every pass.
    expect(
      (await lifecyclePass({ database: monitor, log, now: Date.now, checkpointSigner: cpSigner, objects })).overdue,
    ).toBe(0);
    await admin`drop table lc_obstacle`;
  });
});

describe("erasure of a person inside a workspace: redaction in place", () => {
  it("removes the bytes of the events naming them, keeps hash, links and signature: the chain still verifies (database, offline, against a checkpoint kept from before) and names the redacted seqs", async () => {
    const f = await seed("person", { auditChain: false });
    const named = (who: string): AuditEventDraft => ({ ...draft(f), input: { author: who, prNumber: 3 } });
    await withWorkspace(worker, f.workspaceId, (s) =>
      appendAuditEvents(
        s,
        [draft(f), named("octo-alice"), draft(f), named("bob"), named("octo-alice"), draft(f)],
        eventSigner,
      ),
    );
    const trusted = await withWorkspace(worker, f.workspaceId, (s) => createCheckpoint(s, cpSigner));
    const trustedLine = JSON.parse(exportCheckpointLine(trusted!)) as unknown;
    await append(f, 2); // past the checkpoint: their signatures are what the default verify checks
    await admin`insert into memory_facts (workspace_id, id, namespace, key, value) values (${f.workspaceId}, ${newId("memoryFact")}, 'people', 'octo-alice', ${admin.json({ likes: "tabs" })}),
                (${f.workspaceId}, ${newId("memoryFact")}, 'faq', 'welcome', ${admin.json({ text: "hi @octo-alice" })})`;
    await admin`update agent_runs set input = ${admin.json({ sender: "octo-alice" })} where id = ${f.runId}`;

    const r = await redactPerson(adminDb, f.workspaceId, "octo-alice");
    expect(r).toEqual({ redacted_seqs: [2, 5], memory_facts: 2, run_inputs: 1 });
    const rows = await admin<{ seq: string; n: number; redacted: boolean }[]>`
      select seq, length(canonical) as n, redacted_at is not null as redacted from audit_events where workspace_id = ${f.workspaceId} order by seq`;
    expect(rows.filter((x) => x.redacted).map((x) => [Number(x.seq), x.n])).toEqual([
      [2, 0],
      [5, 0],
    ]);
    const [bytes] = await admin<
      { n: number }[]
    >`select count(*)::int as n from audit_events where workspace_id = ${f.workspaceId} and position(convert_to('octo-alice', 'UTF8') in canonical) > 0`;
    expect(bytes?.n).toBe(0);
    const [run] = await admin<{ input: unknown }[]>`select input from agent_runs where id = ${f.runId}`;
    expect(run?.input).toEqual({});

    const trustedKept = { treeSize: trusted!.tree_size, rootHash: trusted!.root_hash };
    expect(await verifyFromDatabase(f.workspaceId, trustedKept)).toEqual({
      ok: true,
      removed: 0,
      verified: 8,
      redacted: [2, 5],
    });
    const offline = verifyAuditExport(await exportText(f.workspaceId), pinned, trustedLine, { full: true });
    expect(offline).toMatchObject({ ok: true, events: 8, redacted: [2, 5], trustedCheckpoint: "consistent" });

    // A redacted event whose stored hash is swapped for another (re-signed with a key nobody pinned is not possible
    // here; an insider can only write columns): the link from the next event breaks.
    await admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update audit_events set hash = ${"f".repeat(64)} where workspace_id = ${f.workspaceId} and seq = 2`;
    });
    expect(await verifyFromDatabase(f.workspaceId, trustedKept)).toMatchObject({ ok: false });
  });

  it("the append-only triggers let praxa_lifecycle only redact: no other column, no second change, and no other role", async () => {
    const f = await seed("person-attack", { auditChain: false });
    await append(f, 2);
    const attempt = (role: string, set: string) =>
      admin.begin(async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        await tx.unsafe(`select set_config('app.workspace_id', '${f.workspaceId}', true)`);
        await tx.unsafe(`update audit_events set ${set} where workspace_id = '${f.workspaceId}' and seq = 1`);
      });
    await expect(
      attempt("praxa_lifecycle", `hash = repeat('a', 64), canonical = ''::bytea, redacted_at = now()`),
    ).rejects.toThrow();
    await expect(attempt("praxa_lifecycle", `canonical = convert_to('{}', 'UTF8')`)).rejects.toThrow();
    for (const role of ["praxa_monitor", "praxa_worker", "praxa_api", "praxa_owner", "praxa_definer"])
      await expect(attempt(role, `canonical = ''::bytea, redacted_at = now()`)).rejects.toThrow();
    await attempt("praxa_lifecycle", `canonical = ''::bytea, redacted_at = now()`); // what redaction does
    await expect(attempt("praxa_lifecycle", `redacted_at = now() - interval '1 day'`)).rejects.toThrow(); // once
    const [row] = await admin<
      { n: number }[]
    >`select length(canonical)::int as n from audit_events where workspace_id = ${f.workspaceId} and seq = 2`;
    expect(row?.n).toBeGreaterThan(0);
  });
});

describe("export of a workspace", () => {
  it("the monitor writes data.json and an audit.jsonl that verifies offline (retention cut and redaction included)", async () => {
    const f = await seed("export", { auditChain: false });
    await append(f, 6);
    await age(f.workspaceId, 1, 2, 100);
    await cutAuditChain(monitor, f.workspaceId, 2, cpSigner);
    const trusted = await withWorkspace(worker, f.workspaceId, (s) => createCheckpoint(s, cpSigner));
    const id = await requestExportAsOperator(adminDb, f.workspaceId);
    const log = createLogger({ name: "lifecycle-export", level: "silent" });
    // Every fixture of this database asked for an export too: passes until none is pending (oldest first).
    for (let pass = 0; pass < 10; pass++) {
      const r = await exportPass({ database: monitor, log, now: Date.now, checkpointSigner: cpSigner, objects });
      expect(r.failed).toBe(0);
      if (r.exported === 0) break;
    }
    const [row] = await admin<
      { status: string; object_prefix: string }[]
    >`select status, object_prefix from workspace_exports where id = ${id}`;
    expect(row?.status).toBe("done");
    const store = objects.forWorkspace({ workspaceId: f.workspaceId });
    const data = JSON.parse((await store.getBytes(`${row?.object_prefix}data.json`)).bytes.toString("utf8")) as {
      workspace: { id: string };
      members: unknown[];
      skills: unknown[];
      skill_versions: unknown[];
      runs: { id: string }[];
      feedback: unknown[];
    };
    expect(data.workspace.id).toBe(f.workspaceId);
    expect(data.members).toHaveLength(2);
    expect(data.skills).toHaveLength(1);
    expect(data.skill_versions).toHaveLength(1);
    expect(data.runs.map((x) => x.id)).toEqual([f.runId]);
    expect(data.feedback).toHaveLength(1);
    expect(JSON.stringify(data)).not.toMatch(/secret_sha256|ciphertext|wrapped/);
    const audit = (await store.getBytes(`${row?.object_prefix}audit.jsonl`)).bytes.toString("utf8");
    const verdict = verifyAuditExport(audit, pinned, JSON.parse(exportCheckpointLine(trusted!)) as unknown, {
      full: true,
    });
    expect(verdict).toMatchObject({ ok: true, events: 4, leaves: 6, trustedCheckpoint: "consistent" });
    expect(verdict.ok && verdict.retention?.throughSeq).toBe(2);
    // A changed byte fails it.
    expect(verifyAuditExport(audit.replace(/"canonical":"eyJ/, '"canonical":"eyK'), pinned).ok).toBe(false);
  });
});
