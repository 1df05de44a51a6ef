/**
 * The CLI's conventions, as a script sees them (the compiled `praxa`, a real process, the real database): `--version`;
 * the exit codes 0 ok / 1 a verification failed / 2 usage / 3 operational (from one error mapping); `--json` printing
 * one parseable document with the documented fields; and `audit verify` streaming the chain page by page — a chain
 * longer than several pages, a tampered event on a later page named by seq, on one thread and on two.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CommanderError } from "commander";
import {
  ConfigError,
  newId,
  NotFoundError,
  signEvent,
  UnavailableError,
  ValidationError,
  type AuditEventDraft,
} from "@praxa/core";
import {
  appendAuditEvents,
  createDatabase,
  createTestDatabase,
  databaseUrl,
  registerAuditKey,
  seedWorkspaceFixture,
  sql,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { EXIT, exitCodeFor, progressOnStderr } from "./cli-support.js";
import { verifyWorkspaceAudit } from "./commands/audit.js";

const cli = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const workerUrl = new URL("../dist/commands/audit-verify-worker.js", import.meta.url);
const dir = mkdtempSync(join(tmpdir(), "praxa-cli-"));
let tdb: TestDatabase;
/** The superuser: what an insider with the database could do (triggers off). */
let admin: Database;
let worker: Database;
let W: WorkspaceFixture;
const eventKey = {
  keyId: `events-${newId("checkpoint").slice(3)}`,
  privateKey: generateKeyPairSync("ed25519").privateKey,
};
const intruder = generateKeyPairSync("ed25519").privateKey;
/** Six pages of 7 rows, the last one short; a checkpoint at 25 (inside the fourth page). */
const EVENTS = 40;
const PAGE = 7;
const CHECKPOINT_AT = 25;

const baseEnv = (): Record<string, string> => ({
  PATH: process.env.PATH ?? "",
  HOME: process.env.HOME ?? "",
  LOG_LEVEL: "silent",
  PRAXA_KEY_FILE: join(dir, "master.key"),
  PRAXA_AUDIT_SIGNING_KEY_FILE: join(dir, "audit-signing.key"),
});
const env = (): Record<string, string> => ({ ...baseEnv(), DATABASE_URL: databaseUrl(tdb.adminUrl, {}) });

function praxa(args: readonly string[], extraEnv: Record<string, string> = env()) {
  return spawnSync(process.execPath, [cli, ...args], { env: extraEnv, encoding: "utf8", timeout: 60_000 });
}

const drafts = (from: number, n: number): AuditEventDraft[] =>
  Array.from({ length: n }, (_, i) => ({
    auditEventId: newId("auditEvent"),
    kind: "skill.action",
    skillId: W.skillId as AuditEventDraft["skillId"],
    runId: W.runId as AuditEventDraft["runId"],
    trigger: "github.pull_request.opened",
    input: { prNumber: from + i },
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

/** Re-sign event `seq` with a key that is not ours, as an insider could (triggers off); returns the undo. */
async function asInsider(statement: ReturnType<typeof sql>): Promise<void> {
  await admin.db.transaction(async (tx) => {
    await tx.execute(sql`set local session_replication_role = replica`);
    await tx.execute(statement);
  });
}

async function forgeSignature(seq: number): Promise<() => Promise<void>> {
  const [e] = [
    ...((await admin.db.execute(
      sql`select hash, signature from audit_events where workspace_id = ${W.workspaceId} and seq = ${seq}`,
    )) as Iterable<{ hash: string; signature: string }>),
  ];
  const setSignature = (signature: string) =>
    asInsider(
      sql`update audit_events set signature = ${signature} where workspace_id = ${W.workspaceId} and seq = ${seq}`,
    );
  await setSignature(signEvent(e!.hash, intruder));
  return () => setSignature(e!.signature);
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = createDatabase(tdb.adminUrl, { max: 1 });
  W = await seedWorkspaceFixture(tdb.adminUrl, "W", { auditChain: false });
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
  await registerAuditKey(worker, {
    keyId: eventKey.keyId,
    purpose: "event",
    algorithm: "ed25519",
    spki: createPublicKey(eventKey.privateKey).export({ format: "der", type: "spki" }),
  });
  await withWorkspace(worker, W.workspaceId, (s) => appendAuditEvents(s, drafts(0, CHECKPOINT_AT), eventKey));
  const cp = praxa(["audit", "checkpoint", "--workspace", W.workspaceId, "--json"]);
  expect({ status: cp.status, doc: JSON.parse(cp.stdout) as unknown }).toEqual({
    status: 0,
    doc: {
      checkpoint: {
        treeSize: CHECKPOINT_AT,
        rootHash: expect.stringMatching(/^[0-9a-f]{64}$/),
        keyId: expect.any(String),
      },
    },
  });
  await withWorkspace(worker, W.workspaceId, (s) =>
    appendAuditEvents(s, drafts(CHECKPOINT_AT, EVENTS - CHECKPOINT_AT), eventKey),
  );
});
afterAll(async () => {
  await worker?.close();
  await admin?.close();
  await tdb?.drop();
});

describe("praxa --version", () => {
  it("prints the CLI package version and exits 0", () => {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    const r = praxa(["--version"], baseEnv());
    expect({ status: r.status, out: r.stdout.trim() }).toEqual({ status: 0, out: version });
  });
});

describe("exit codes", () => {
  it("2 for a usage error: unknown command, unknown option, missing option, an argument that is not an id", () => {
    expect(praxa(["no-such-command"], baseEnv()).status).toBe(EXIT.usage);
    expect(praxa(["audit", "verify", "--no-such-flag"], baseEnv()).status).toBe(EXIT.usage);
    expect(praxa(["audit", "prove", "--workspace", W.workspaceId], baseEnv()).status).toBe(EXIT.usage);
    const bad = praxa(["audit", "verify", "--workspace", "not-an-id", "--json"], baseEnv());
    expect({ status: bad.status, doc: JSON.parse(bad.stdout) as unknown }).toEqual({
      status: EXIT.usage,
      doc: { error: { code: "INVALID_ID", message: expect.any(String) } },
    });
    expect(praxa(["start", "no-such-app"], baseEnv()).status).toBe(EXIT.usage);
  });

  it("3 for an operational error: the database unreachable", () => {
    const r = praxa(["audit", "verify", "--workspace", W.workspaceId, "--json"], {
      ...baseEnv(),
      DATABASE_URL: "postgres://postgres@127.0.0.1:1/praxa",
    });
    expect(r.status).toBe(EXIT.operational);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: "UNAVAILABLE", message: expect.any(String) } });
    expect(r.stderr).toContain("praxa: UNAVAILABLE");
  });

  it("1 for a failed verification, naming the first bad seq; 0 once it holds again", async () => {
    const undo = await forgeSignature(33);
    try {
      const r = praxa(["audit", "verify", "--workspace", W.workspaceId, "--json"]);
      expect(r.status).toBe(EXIT.failed);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, seq: 33, failure: "seq 33: bad_signature" });
    } finally {
      await undo();
    }
    expect(praxa(["audit", "verify", "--workspace", W.workspaceId]).status).toBe(EXIT.ok);
  });

  it("one mapping from errors: usage, operational, refused", () => {
    expect(exitCodeFor(new ValidationError("x"))).toBe(EXIT.usage);
    expect(exitCodeFor(new CommanderError(1, "commander.unknownOption", "x"))).toBe(EXIT.usage);
    expect(exitCodeFor(new CommanderError(0, "commander.helpDisplayed", "x"))).toBe(EXIT.ok);
    expect(exitCodeFor(new UnavailableError("x"))).toBe(EXIT.operational);
    expect(exitCodeFor(new ConfigError([{ key: "DATABASE_URL", problem: "missing" }]))).toBe(EXIT.operational);
    expect(exitCodeFor(Object.assign(new Error("connect"), { code: "ECONNREFUSED" }))).toBe(EXIT.operational);
    expect(exitCodeFor(new NotFoundError("x"))).toBe(EXIT.failed);
  });
});

describe("--json: one document on stdout with the documented fields", () => {
  it("audit verify, audit keys, audit export --output, tokens list, migrate", () => {
    const v = praxa(["audit", "verify", "--workspace", W.workspaceId, "--full", "--threads", "2", "--json"]);
    expect({ status: v.status, doc: JSON.parse(v.stdout) as unknown }).toEqual({
      status: 0,
      doc: { ok: true, events: EVENTS, checkpoints: 1, threads: 2 },
    });
    // stderr is a pipe here, not a terminal: no progress on it.
    expect(v.stderr).toBe("");

    const k = praxa(["audit", "keys", "--json"]);
    expect(JSON.parse(k.stdout)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          key_id: eventKey.keyId,
          purpose: "event",
          algorithm: "ed25519",
          public_key_pem: expect.stringContaining("PUBLIC KEY"),
        }),
      ]),
    );

    const file = join(dir, "export.jsonl");
    const x = praxa(["audit", "export", "--workspace", W.workspaceId, "--output", file, "--json"]);
    expect({ status: x.status, doc: JSON.parse(x.stdout) as unknown }).toEqual({
      status: 0,
      doc: {
        workspaceId: W.workspaceId,
        events: EVENTS,
        leaves: EVENTS,
        checkpoints: 1,
        keys: expect.any(Number),
        output: file,
      },
    });
    expect(x.stderr).toBe("");
    expect(
      readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .filter((l) => (JSON.parse(l) as { type: string }).type === "event"),
    ).toHaveLength(EVENTS);
    // --json without --output would put the summary and the export on the same stdout: refused as a usage error.
    expect(praxa(["audit", "export", "--workspace", W.workspaceId, "--json"]).status).toBe(EXIT.usage);

    const t = praxa(["tokens", "list", "--workspace", W.workspaceId, "--json"]);
    expect({ status: t.status, doc: JSON.parse(t.stdout) as unknown }).toEqual({
      status: 0,
      doc: { tokens: expect.any(Array) },
    });

    const seeded = praxa(["seed", "--json"]);
    expect({ status: seeded.status, doc: JSON.parse(seeded.stdout) as unknown }).toEqual({
      status: 0,
      doc: expect.objectContaining({
        tenantId: expect.any(String),
        workspaceId: expect.stringMatching(/^ws_/),
        skillId: expect.stringMatching(/^sk_/),
      }),
    });

    const m = praxa(["migrate", "--json"]);
    expect({ status: m.status, doc: JSON.parse(m.stdout) as unknown }).toEqual({
      status: 0,
      doc: { databaseCreated: false, applied: [] },
    });
  });
});

describe("progress", () => {
  it("is written to a terminal, rewritten in place, and to nothing else", () => {
    const written: string[] = [];
    const tty = { isTTY: true, write: (chunk: string) => written.push(chunk) > 0 } as unknown as NodeJS.WriteStream;
    const progress = progressOnStderr("verified events", tty);
    progress?.(7, 14);
    progress?.(14, 14);
    expect(written).toEqual(["\rverified events: 7/14", "\rverified events: 14/14\n"]);
    expect(
      progressOnStderr("verified events", { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream),
    ).toBeUndefined();
  });
});

describe("audit verify streams the chain", () => {
  const cliEnv = () => ({ NODE_ENV: "test", DATABASE_URL: tdb.adminUrl });

  it("reads a chain of several pages one bounded page at a time, folding the checkpoint root as it passes", async () => {
    for (const full of [false, true]) {
      const seen: number[] = [];
      const r = await verifyWorkspaceAudit(cliEnv(), W.workspaceId, {
        full,
        threads: 2,
        pageSize: PAGE,
        workerUrl,
        onProgress: (n) => seen.push(n),
      });
      expect(r).toEqual({ ok: true, events: EVENTS, checkpoints: 1, threads: full ? 2 : 1 });
      // One call per page: 7, 14, … 35, 40 — never more than a page read ahead of what was verified.
      expect(seen).toEqual([7, 14, 21, 28, 35, 40]);
    }
  });

  it("names a tampered event on a later page by seq, on one thread and on two, as a pass over the whole chain would", async () => {
    const undo = await forgeSignature(37);
    try {
      for (const threads of [1, 2]) {
        const seen: number[] = [];
        const r = await verifyWorkspaceAudit(cliEnv(), W.workspaceId, {
          full: true,
          threads,
          pageSize: PAGE,
          workerUrl,
          onProgress: (n) => seen.push(n),
        });
        expect(r).toMatchObject({ ok: false, seq: 37, failure: "seq 37: bad_signature", threads });
        // Pages 1–5 verified; the sixth (seq 36–40) holds the forgery.
        expect(seen).toEqual([7, 14, 21, 28, 35]);
      }
      // The default mode (signatures past the newest checkpoint) names it too.
      expect(await verifyWorkspaceAudit(cliEnv(), W.workspaceId, { pageSize: PAGE })).toMatchObject({
        ok: false,
        seq: 37,
      });
    } finally {
      await undo();
    }
  });

  it("a checkpoint altered behind the app’s back fails after the stream", async () => {
    const [cp] = [
      ...((await admin.db.execute(
        sql`select root_hash from audit_checkpoints where workspace_id = ${W.workspaceId} and tree_size = ${CHECKPOINT_AT}`,
      )) as Iterable<{ root_hash: string }>),
    ];
    const setRoot = (root: string) =>
      asInsider(
        sql`update audit_checkpoints set root_hash = ${root} where workspace_id = ${W.workspaceId} and tree_size = ${CHECKPOINT_AT}`,
      );
    await setRoot("0".repeat(64));
    try {
      const r = await verifyWorkspaceAudit(cliEnv(), W.workspaceId, { pageSize: PAGE });
      expect(r.ok).toBe(false);
      expect(r.failure).toMatch(/^checkpoint at tree_size 25: /);
    } finally {
      await setRoot(cp!.root_hash);
    }
  });
});

describe("praxa workspace: redact-person, export, erase --now, erasure-receipt", () => {
  it("redacts a person (verify names the seqs), writes an export, erases the workspace and verifies its receipt offline", async () => {
    const E = await seedWorkspaceFixture(tdb.adminUrl, "E", { auditChain: false });
    const named = drafts(100, 4).map((d, i) => (i === 1 ? { ...d, input: { author: "octo-erin" } } : d));
    await withWorkspace(worker, E.workspaceId, (s) => appendAuditEvents(s, named, eventKey));
    const withObjects = { ...env(), PRAXA_OBJECT_STORE_DIR: join(dir, "objects") };

    const r = praxa(
      ["workspace", "redact-person", "--workspace", E.workspaceId, "--subject", "octo-erin", "--json"],
      withObjects,
    );
    expect({ status: r.status, doc: JSON.parse(r.stdout) as unknown }).toEqual({
      status: 0,
      doc: { redacted_seqs: [2], memory_facts: 0, run_inputs: 0 },
    });
    const v = praxa(["audit", "verify", "--workspace", E.workspaceId, "--json"], withObjects);
    expect({ status: v.status, doc: JSON.parse(v.stdout) as unknown }).toEqual({
      status: 0,
      doc: { ok: true, events: 4, checkpoints: 0, threads: 1, redacted: [2] },
    });

    const x = praxa(["workspace", "export", "--workspace", E.workspaceId, "--json"], withObjects);
    const exported = JSON.parse(x.stdout) as { exportId: string; objects: string[] };
    expect(x.status).toBe(0);
    expect(exported.objects.map((k) => k.split("/").at(-1))).toEqual(["data.json", "audit.jsonl"]);

    const e = praxa(["workspace", "erase", "--workspace", E.workspaceId, "--now", "--json"], withObjects);
    expect(e.status).toBe(0);
    const erased = JSON.parse(e.stdout) as { status: string; receipt: unknown };
    expect(erased.status).toBe("erased");
    const keysFile = join(dir, "keys.json");
    writeFileSync(keysFile, praxa(["audit", "keys", "--json"], withObjects).stdout);
    const receiptFile = join(dir, "receipt.json");
    writeFileSync(receiptFile, JSON.stringify(erased.receipt));
    const ok = praxa(
      ["workspace", "erasure-receipt", "--file", receiptFile, "--keys", keysFile, "--json"],
      withObjects,
    );
    expect({ status: ok.status, ok: (JSON.parse(ok.stdout) as { ok: boolean }).ok }).toEqual({ status: 0, ok: true });
    const tampered = { ...(erased.receipt as Record<string, string>) };
    tampered.signature = Buffer.from(Buffer.alloc(64, 1)).toString("base64");
    writeFileSync(receiptFile, JSON.stringify(tampered));
    const bad = praxa(
      ["workspace", "erasure-receipt", "--file", receiptFile, "--keys", keysFile, "--json"],
      withObjects,
    );
    expect(bad.status).toBe(1);
    const [left] = [
      ...((await admin.db.execute(
        sql`select count(*)::int as n from workspaces where id = ${E.workspaceId}`,
      )) as Iterable<{
        n: number;
      }>),
    ];
    expect(left?.n).toBe(0);
  });
});
