/**
 * `pnpm praxa audit verify --workspace <id>` — chain, signatures and checkpoints of one workspace, read from the
 * database as the api role in that workspace's scope; exit 0 when everything holds, otherwise 1 and the first bad
 * `seq` (or checkpoint) and what failed. `audit checkpoint --workspace <id>` signs one on demand with the key
 * provider (local key file by default); `audit keys` prints the public key set a customer pins for offline checks.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  auditExportLines,
  buildInclusionProof,
  ChainStreamVerification,
  checkTrustedCheckpointRoot,
  completeAuditExport,
  openTrustedCheckpoint,
  parseId,
  PinnedKeysSchema,
  prepareAuditExport,
  signatureFloor,
  verifyInclusionProof,
  ValidationError,
  verifyChain,
  verifyCheckpointsAgainstRoots,
  parsePinnedKeys,
  verifySiemStream,
  type SiemStreamVerification,
  type ChainVerification,
  type ExportVerification,
  type RetentionReport,
  type StoredChainEvent,
  type VerificationKey,
} from "@praxa/core";
import { bootConfig, type ConfigSource } from "@praxa/config";
import { LocalKeyProvider } from "@praxa/crypto";
import {
  createCheckpoint,
  createDatabase,
  readAuditChain,
  readAuditKeyset,
  readAuditLeaves,
  readAuditRange,
  readCheckpoints,
  readRetentionCuts,
  registerAuditKey,
  sql,
  withWorkspace,
} from "@praxa/db";
import { createVerifierPool, threadsFor, verifyChainOnThreads } from "./audit-verify-threads.js";
import { withLocalDefaults } from "./local-env.js";

export interface AuditVerifyReport {
  readonly ok: boolean;
  readonly events: number;
  readonly checkpoints: number;
  readonly failure?: string;
  /** How many threads verified the chain (`--full` spreads it over every core). */
  readonly threads: number;
  /** The first bad seq, when an event failed. */
  readonly seq?: number;
  /** Present when retention removed the oldest events: verification started from the checkpoint at the cut. */
  readonly retention?: RetentionReport;
  /** The seqs of redacted events (a person's erasure): content gone; hash, links and signature verified. */
  readonly redacted?: readonly number[];
}

export interface AuditVerifyOptions {
  /** Also every event's Ed25519 signature, RFC 8785 form and schema — on every core (or `threads`). */
  readonly full?: boolean;
  readonly trustedFile?: string;
  readonly threads?: number;
  /** Rows read per query (default CHAIN_PAGE): the chain is streamed page by page, never held whole. */
  readonly pageSize?: number;
  /** Called after each page: rows verified so far, and the head seq read at the start. */
  readonly onProgress?: (verified: number, total: number) => void;
  /** The verification thread's script (tests point at the compiled one). */
  readonly workerUrl?: URL;
}

/** Rows read per query. Memory holds about two pages (the one being verified, the next one being read). */
const CHAIN_PAGE = 10_000;

/**
 * Streams the chain (keyset pages of `pageSize` rows, up to the head seq read at the start) through core's
 * ChainStreamVerification: each page is verified as the continuation of the ones before it, on this thread or, with
 * `full`, split over a pool of threads kept for the whole stream; the checkpoints' roots are folded from the leaves
 * as they pass. Memory is bounded by the page size, however long the chain; the first bad seq is the one a pass over
 * the whole chain names.
 */
export async function verifyWorkspaceAudit(
  env: ConfigSource,
  workspace: string,
  options: AuditVerifyOptions = {},
): Promise<AuditVerifyReport> {
  const workspaceId = parseId("workspace", workspace);
  const pageSize = options.pageSize ?? CHAIN_PAGE;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1)
    throw new ValidationError("the page size is a positive whole number");
  const trusted = options.trustedFile ? (JSON.parse(readFileSync(options.trustedFile, "utf8")) as unknown) : undefined;
  const cfg = await bootConfig("api", { env: withLocalDefaults(env), envFile: ".env" });
  const db = createDatabase(cfg.API_DATABASE_URL, { max: 1, applicationName: "praxa-audit-verify" });
  try {
    const keys = await readAuditKeyset(db);
    const eventKeys = new Map<string, KeyObject>(
      keys
        .filter((k) => k.purpose === "event")
        .map((k) => [k.keyId, createPublicKey({ key: k.spki, format: "der", type: "spki" })]),
    );
    const cpKeys = new Map<string, VerificationKey>(
      keys.map((k) => [k.keyId, { keyId: k.keyId, algorithm: k.algorithm, spki: k.spki }]),
    );
    const kept = trusted === undefined ? undefined : openTrustedCheckpoint(workspaceId, trusted, cpKeys);
    return await withWorkspace(db, workspaceId, async (s) => {
      const checkpoints = await readCheckpoints(s);
      // A retention cut removed events 1..cut.throughSeq: their leaf hashes were kept, and the checkpoint at the cut
      // vouches for them; the kept chain is verified from there, anchored on the last removed hash.
      const cut = await readRetentionCuts(s);
      const [head] = await s.execute(sql`select coalesce(max(seq), 0)::bigint as head from public.audit_events`);
      const headSeq = Math.max(Number(head?.head ?? 0), cut.throughSeq);
      // Default: hashes, links and columns of every event, every checkpoint's signature and root, and the Ed25519
      // signature of every event no checkpoint vouches for — past the newest checkpoint, and the head (signatureFloor) —
      // on one core; --full checks every event's signature, RFC 8785 re-canonicalization and schema, on every core.
      const fromSeq = signatureFloor(
        checkpoints.map((c) => c.tree_size),
        headSeq,
      );
      const chainOptions = options.full
        ? { workspaceId }
        : ({ workspaceId, signatures: { fromSeq }, content: "columns" } as const);
      const stream = new ChainStreamVerification(chainOptions, [
        ...checkpoints.map((c) => c.tree_size),
        ...(kept?.ok ? [kept.treeSize] : []),
      ]);
      const pool = options.full
        ? createVerifierPool(
            Math.min(threadsFor(headSeq, options.threads), Math.max(1, Math.min(pageSize, headSeq))),
            eventKeys,
            options.workerUrl,
          )
        : null;
      const threads = pool?.threads ?? 1;
      stream.acceptRemoved(cut.leafHashes);
      const atCut = checkpoints.find((c) => c.tree_size === cut.throughSeq);
      const retention: RetentionReport | undefined =
        cut.throughSeq > 0 && atCut && cut.cutAt
          ? { throughSeq: cut.throughSeq, cutAt: cut.cutAt.toISOString(), checkpointTimestamp: atCut.timestamp }
          : undefined;
      let read = 0;
      const fail = (failure: string, seq?: number): AuditVerifyReport => ({
        ok: false,
        events: read,
        checkpoints: checkpoints.length,
        failure,
        threads,
        ...(seq === undefined ? {} : { seq }),
      });
      if (cut.throughSeq > 0 && !atCut) {
        await pool?.close();
        return fail(`no signed checkpoint at the retention cut (seq ${cut.throughSeq})`);
      }
      try {
        const readPage = (from: number): Promise<StoredChainEvent[]> =>
          from > headSeq ? Promise.resolve([]) : readAuditChain(s, from, Math.min(pageSize, headSeq - from + 1));
        let next = readPage(cut.throughSeq + 1);
        for (;;) {
          const page = await next;
          const last = page.at(-1);
          if (last === undefined) break;
          read += page.length;
          // The next page is read while this one is verified.
          next = last.seq >= headSeq ? Promise.resolve([]) : readPage(last.seq + 1);
          const pageOptions = stream.pageOptions();
          const result = pool ? await pool.verify(page, pageOptions) : verifyChain(page, eventKeys, pageOptions);
          const failed = stream.accept(page, result);
          if (failed && !failed.ok) {
            await next.catch(() => []);
            return fail(`seq ${failed.seq}: ${failed.reason}`, failed.seq);
          }
          options.onProgress?.(stream.events - stream.removed, headSeq - stream.removed);
        }
      } finally {
        await pool?.close();
      }
      const cpResult = verifyCheckpointsAgainstRoots(checkpoints, stream.events, (n) => stream.rootAt(n), cpKeys);
      if (!cpResult.ok) return fail(`checkpoint at tree_size ${cpResult.treeSize}: ${cpResult.reason}`);
      if (kept !== undefined) {
        if (!kept.ok) return fail(kept.failure);
        const consistent = checkTrustedCheckpointRoot(kept, stream.events, stream.rootAt(kept.treeSize));
        if (!consistent.ok) return fail(consistent.failure, consistent.seq);
      }
      return {
        ok: true,
        events: stream.events - stream.removed,
        checkpoints: checkpoints.length,
        threads,
        ...(retention ? { retention } : {}),
        ...(stream.redacted.length > 0 ? { redacted: stream.redacted } : {}),
      };
    });
  } finally {
    await db.close();
  }
}

export async function checkpointWorkspace(
  env: ConfigSource,
  workspace: string,
): Promise<{ treeSize: number; rootHash: string; keyId: string } | null> {
  const workspaceId = parseId("workspace", workspace);
  const cfg = await bootConfig("monitor", { env: withLocalDefaults(env), envFile: ".env" });
  if (cfg.PRAXA_KEY_PROVIDER !== "local")
    throw new Error(
      "audit checkpoint from the CLI uses the local key provider; in production the monitor signs through KMS",
    );
  // Production never creates a key file (a new root key would orphan every key wrapped under the lost one).
  const provider = await LocalKeyProvider.open({ path: cfg.PRAXA_KEY_FILE, create: cfg.NODE_ENV !== "production" });
  const pub = await provider.publicKey();
  const db = createDatabase(cfg.MONITOR_DATABASE_URL, { max: 1, applicationName: "praxa-audit-checkpoint" });
  try {
    await registerAuditKey(db, {
      keyId: pub.keyId,
      purpose: "checkpoint",
      algorithm: pub.algorithm,
      spki: Buffer.from(pub.spki),
    });
    const cp = await withWorkspace(db, workspaceId, (s) =>
      createCheckpoint(s, { keyId: pub.keyId, sign: (m) => provider.sign(m) }),
    );
    return cp ? { treeSize: cp.tree_size, rootHash: cp.root_hash, keyId: cp.key_id } : null;
  } finally {
    await db.close();
  }
}

export async function printAuditKeys(env: ConfigSource): Promise<string> {
  const cfg = await bootConfig("api", { env: withLocalDefaults(env), envFile: ".env" });
  const db = createDatabase(cfg.API_DATABASE_URL, { max: 1, applicationName: "praxa-audit-keys" });
  try {
    const keys = await readAuditKeyset(db);
    return JSON.stringify(
      keys.map((k) => ({
        key_id: k.keyId,
        purpose: k.purpose,
        algorithm: k.algorithm,
        public_key_pem: createPublicKey({ key: k.spki, format: "der", type: "spki" })
          .export({ format: "pem", type: "spki" })
          .toString(),
      })),
      null,
      2,
    );
  } finally {
    await db.close();
  }
}

/** `audit export --workspace <id> [--from] [--to]`: JSON Lines to stdout (see core's audit-export.ts for the format). */
export interface AuditExportSummary {
  readonly workspaceId: string;
  readonly events: number;
  readonly leaves: number;
  readonly checkpoints: number;
  readonly keys: number;
}

export async function exportWorkspaceAudit(
  env: ConfigSource,
  workspace: string,
  range: { from?: string; to?: string },
  write: (line: string) => void,
  onProgress?: (events: number, total: number) => void,
): Promise<AuditExportSummary> {
  const workspaceId = parseId("workspace", workspace);
  const from = range.from ? new Date(range.from) : null;
  const to = range.to ? new Date(range.to) : null;
  if ((from && Number.isNaN(from.getTime())) || (to && Number.isNaN(to.getTime())))
    throw new ValidationError("--from and --to take ISO-8601 times");
  const cfg = await bootConfig("api", { env: withLocalDefaults(env), envFile: ".env" });
  const db = createDatabase(cfg.API_DATABASE_URL, { max: 1, applicationName: "praxa-audit-export" });
  try {
    const keys = await readAuditKeyset(db);
    const { leaves, events, checkpoints, cut } = await withWorkspace(db, workspaceId, async (s) => {
      // After a retention cut, the removed events' leaf hashes lead the leaf list and a `retention` line says where the
      // kept events start; an event at or before the cut is never exported (the cut vouches for it).
      const cut = await readRetentionCuts(s);
      return {
        cut,
        leaves: (await readAuditLeaves(s)).filter((l) => l.seq > cut.throughSeq),
        events: (await readAuditRange(s, from, to)).filter((e) => e.seq > cut.throughSeq),
        checkpoints: await readCheckpoints(s),
      };
    });
    let written = 0;
    for (const line of auditExportLines({
      header: { workspaceId, exportedAt: new Date().toISOString(), from, to },
      removedLeaves: cut.leafHashes,
      cutAt: cut.cutAt,
      leaves,
      events,
      checkpoints,
      keys,
    })) {
      if (line.startsWith('{"type":"event"') && ++written % 1000 === 0) onProgress?.(written, events.length);
      write(line);
    }
    onProgress?.(events.length, events.length);
    return {
      workspaceId,
      events: events.length,
      leaves: cut.throughSeq + leaves.length,
      checkpoints: checkpoints.length,
      keys: keys.length,
    };
  } finally {
    await db.close();
  }
}

/**
 * `audit verify --file <export.jsonl> --keys <keys.json> [--trusted-checkpoint <file>] [--full]`: offline, no database;
 * with --full the chain is verified on every core (or `threads`).
 */
export async function verifyExportFile(
  file: string,
  keysFile: string,
  options: AuditVerifyOptions = {},
): Promise<ExportVerification & { readonly threads: number }> {
  const pinned = PinnedKeysSchema.parse(JSON.parse(readFileSync(keysFile, "utf8")));
  const trusted = options.trustedFile ? (JSON.parse(readFileSync(options.trustedFile, "utf8")) as unknown) : undefined;
  const prepared = prepareAuditExport(readFileSync(file, "utf8"), pinned, { full: options.full === true });
  if (!prepared.ok) return { ...prepared, threads: 1 };
  let chain: ChainVerification | null = null;
  let threads = 1;
  if (prepared.chain) {
    ({ result: chain, threads } = options.full
      ? await verifyChainOnThreads(
          prepared.events,
          prepared.chain.eventKeys,
          prepared.chain.options,
          options.threads === undefined ? {} : { threads: options.threads },
        )
      : { result: verifyChain(prepared.events, prepared.chain.eventKeys, prepared.chain.options), threads: 1 });
  }
  return { ...completeAuditExport(prepared, chain, trusted), threads };
}

/**
 * `audit verify --stream <received.jsonl> --keys <keys.json>`: what a SIEM receiver stored, offline — every record's
 * signature with the pinned keys, and the chain's continuity (duplicates from at-least-once delivery must be identical).
 */
export function verifyStreamFile(file: string, keysFile: string): SiemStreamVerification {
  return verifySiemStream(readFileSync(file, "utf8"), parsePinnedKeys(JSON.parse(readFileSync(keysFile, "utf8"))));
}

/** `audit prove --workspace <id> --event <ae_id>`: a compact RFC 9162 inclusion proof against the newest checkpoint. */
export async function proveEvent(env: ConfigSource, workspace: string, eventId: string): Promise<string> {
  const workspaceId = parseId("workspace", workspace);
  const aeId = parseId("auditEvent", eventId);
  const cfg = await bootConfig("api", { env: withLocalDefaults(env), envFile: ".env" });
  const db = createDatabase(cfg.API_DATABASE_URL, { max: 1, applicationName: "praxa-audit-prove" });
  try {
    return await withWorkspace(db, workspaceId, async (s) => {
      const leaves = await readAuditLeaves(s);
      const chain = await readAuditChain(s);
      const ids = await s.execute(sql`select seq from public.audit_events where id = ${aeId}`);
      const seq = Number(ids[0]?.seq ?? 0);
      const event = chain.find((e) => e.seq === seq);
      if (!event) throw new ValidationError("no such event in this workspace");
      const checkpoint = (await readCheckpoints(s)).filter((c) => c.tree_size >= seq).at(-1);
      if (!checkpoint)
        throw new ValidationError("no checkpoint covers this event yet: run pnpm praxa audit checkpoint first");
      const proof = buildInclusionProof(
        {
          type: "event",
          seq,
          workspace_id: event.workspace_id,
          prev_hash: event.prev_hash,
          hash: event.hash,
          key_id: event.key_id,
          signature: event.signature,
          canonical: Buffer.from(event.canonical).toString("base64"),
        },
        {
          type: "checkpoint",
          workspace_id: checkpoint.workspace_id,
          tree_size: checkpoint.tree_size,
          root_hash: checkpoint.root_hash,
          timestamp: checkpoint.timestamp,
          key_id: checkpoint.key_id,
          signature: Buffer.from(checkpoint.signature).toString("base64"),
          body: Buffer.from(checkpoint.body).toString("base64"),
        },
        leaves.map((l) => l.hash),
      );
      return JSON.stringify(proof);
    });
  } finally {
    await db.close();
  }
}

export function verifyProofFile(file: string, keysFile: string): ReturnType<typeof verifyInclusionProof> {
  const pinned = PinnedKeysSchema.parse(JSON.parse(readFileSync(keysFile, "utf8")));
  return verifyInclusionProof(JSON.parse(readFileSync(file, "utf8")) as unknown, pinned);
}
