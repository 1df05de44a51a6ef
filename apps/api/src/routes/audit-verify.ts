/**
 * GET /v1/audit/verify — the workspace's audit chain and checkpoints, verified server-side (review findings 5 and 10).
 *
 * Default mode (any member): every event's link, hash and chain fields; every checkpoint's signature and root; and the
 * Ed25519 signature of every event no checkpoint vouches for — past the newest checkpoint, and the head
 * (core's `signatureFloor`). It is incremental: after a verification holds, the workspace's memo "verified up to
 * checkpoint T" (audit-verify-gate.ts) lets the next call read only event T onwards. The memo is a hint, re-checked
 * each time: checkpoint T must still be stored with the memo's root, its body and signature must verify, and the memo's
 * frontier of the first T - 1 leaves extended with the STORED hash of event T must fold to that signed root — so event
 * T, and through the hash chain everything the events after it link to, is what was verified. Newer checkpoints' roots
 * are computed from that frontier and the events after T. Anything that does not fit sends the call to a whole
 * verification, which names the first bad seq. What the incremental call does not re-read is a row before T edited in
 * place, after it was verified, without touching event T: `?full=true`, the memo's expiry
 * (API_AUDIT_VERIFY_MEMO_SECONDS, a day by default: then the whole chain again), the CLI and an offline verify of an
 * export read every row.
 *
 * `?full=true` (owners and admins; API_AUDIT_VERIFY_FULL_PER_HOUR per workspace): every event's signature, RFC 8785
 * form and schema, from seq 1. Both modes run under a per-workspace cap (API_AUDIT_VERIFY_CONCURRENCY at once, across
 * processes): beyond it 429 with Retry-After; if the cap cannot be asked (Redis down) the call is refused (503
 * AUDIT_VERIFY_UNAVAILABLE) — a verification is the costly call the cap exists for, so it is not run unbounded.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import {
  checkpointBody,
  eventLeafHash,
  extendFrontier,
  frontierLength,
  frontierRoot,
  signatureFloor,
  verifyChain,
  verifyCheckpoints,
  verifyCheckpointSignature,
  type MerkleFrontier,
  type StoredCheckpoint,
  type VerificationKey,
  type VerifyChainOptions,
  type WorkspaceId,
} from "@praxa/core";
import {
  readAuditChain,
  readAuditKeyset,
  readCheckpoints,
  readRetentionCuts,
  sql,
  type Database,
  type RetentionCuts,
  type WorkspaceScope,
} from "@praxa/db";
import type { Logger } from "@praxa/observability";
import type { VerifiedMemo, VerifyGate, VerifySlot } from "../audit-verify-gate.js";
import { AuditVerifyUnavailableError, ForbiddenError, RateLimitedError } from "../errors.js";
import { apiRateLimiter } from "../rate-limit.js";
import { route } from "../route-builder.js";

export interface AuditVerifyDeps {
  readonly log: Logger;
  readonly gate: VerifyGate;
  /** Events read and verified per page (default 20,000). */
  readonly pageSize?: number;
}

type Verdict =
  | {
      readonly ok: true;
      readonly mode: "whole" | "incremental" | "full";
      readonly events: number;
      readonly checkpoints: number;
      readonly since?: number;
      readonly removedThrough?: number;
    }
  | {
      readonly ok: false;
      readonly mode: "whole" | "incremental" | "full";
      readonly events: number;
      readonly checkpoints: number;
      readonly failure: { seq: number; reason: string } | { treeSize: number; reason: string };
    };

interface Material {
  readonly workspaceId: WorkspaceId;
  readonly scope: WorkspaceScope;
  readonly eventKeys: ReadonlyMap<string, KeyObject>;
  readonly cpKeys: ReadonlyMap<string, VerificationKey>;
  readonly checkpoints: readonly StoredCheckpoint[];
  /** The chain options of this mode, without the anchor. */
  readonly chain: Omit<VerifyChainOptions, "firstSeq" | "firstPrevHash">;
  readonly pageSize: number;
  readonly slot: VerifySlot;
  /** What retention cuts kept of the removed events 1..throughSeq: their leaf hashes (0033). */
  readonly cut: RetentionCuts;
}

const Mode = z.enum(["whole", "incremental", "full"]);
const VerdictSchema = z.union([
  z
    .object({
      ok: z.literal(true),
      mode: Mode,
      events: z.number().int(),
      checkpoints: z.number().int(),
      since: z.number().int().optional(),
      /** Events 1..removedThrough were removed by retention; verification started from the checkpoint at the cut. */
      removedThrough: z.number().int().optional(),
    })
    .strict(),
  z
    .object({
      ok: z.literal(false),
      mode: Mode,
      events: z.number().int(),
      checkpoints: z.number().int(),
      failure: z.union([
        z.object({ seq: z.number().int(), reason: z.string() }).strict(),
        z.object({ treeSize: z.number().int(), reason: z.string() }).strict(),
      ]),
    })
    .strict(),
]);

const pause = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A checkpoint's stored body is exactly its fields' canonical bytes and its signature verifies (not its root). */
function checkpointSigned(cp: StoredCheckpoint, keys: ReadonlyMap<string, VerificationKey>): boolean {
  const key = keys.get(cp.key_id);
  const body = checkpointBody({
    workspace_id: cp.workspace_id as WorkspaceId,
    tree_size: cp.tree_size,
    root_hash: cp.root_hash,
    timestamp: cp.timestamp,
    key_id: cp.key_id,
  });
  return (
    key !== undefined &&
    Buffer.from(body).equals(Buffer.from(cp.body)) &&
    verifyCheckpointSignature(key, cp.body, cp.signature)
  );
}

/** The memo for the newest checkpoint: its root and the frontier of the leaves before its last. */
function memoFor(newest: StoredCheckpoint, frontierBefore: MerkleFrontier): VerifiedMemo {
  return {
    treeSize: newest.tree_size,
    rootHash: newest.root_hash,
    frontierBefore: frontierBefore.nodes.map((n) => n.toString("hex")),
  };
}

/** Every event from seq 1, every checkpoint's root over all the hashes. */
async function verifyWhole(
  m: Material,
  mode: "whole" | "full",
): Promise<{ verdict: Verdict; memo: VerifiedMemo | null }> {
  // After a retention cut: the removed events' kept leaf hashes first, the kept chain anchored on the last of them, and
  // a signed checkpoint required at exactly the cut (the only thing vouching for those hashes; its root is checked
  // with every other checkpoint's below).
  const hashes: string[] = [...m.cut.leafHashes];
  let next = m.cut.throughSeq + 1;
  let anchor: string | undefined = m.cut.leafHashes.at(-1);
  if (m.cut.throughSeq > 0 && !m.checkpoints.some((c) => c.tree_size === m.cut.throughSeq))
    return {
      verdict: {
        ok: false,
        mode,
        events: 0,
        checkpoints: m.checkpoints.length,
        failure: { treeSize: m.cut.throughSeq, reason: "events_missing" },
      },
      memo: null,
    };
  for (;;) {
    const page = await readAuditChain(m.scope, next, m.pageSize);
    const c = verifyChain(page, m.eventKeys, {
      ...m.chain,
      ...(anchor === undefined ? {} : { firstSeq: next, firstPrevHash: anchor }),
    });
    if (!c.ok)
      return {
        verdict: {
          ok: false,
          mode,
          events: hashes.length + c.index,
          checkpoints: m.checkpoints.length,
          failure: { seq: c.seq, reason: c.reason },
        },
        memo: null,
      };
    for (const e of page) hashes.push(e.hash);
    const last = page.at(-1);
    if (page.length < m.pageSize || !last) break;
    anchor = c.headHash;
    next = last.seq + 1;
    await m.slot.renew();
    await pause();
  }
  const cp = verifyCheckpoints(m.checkpoints, hashes, m.cpKeys);
  if (!cp.ok)
    return {
      verdict: {
        ok: false,
        mode,
        events: hashes.length,
        checkpoints: m.checkpoints.length,
        failure: { treeSize: cp.treeSize, reason: cp.reason },
      },
      memo: null,
    };
  const newest = m.checkpoints.at(-1);
  const memo = newest
    ? memoFor(
        newest,
        extendFrontier(
          { size: 0, nodes: [] },
          hashes.slice(0, newest.tree_size - 1).map((h) => eventLeafHash(h)),
        ),
      )
    : null;
  return {
    verdict: {
      ok: true,
      mode,
      events: hashes.length,
      checkpoints: m.checkpoints.length,
      ...(m.cut.throughSeq > 0 ? { removedThrough: m.cut.throughSeq } : {}),
    },
    memo,
  };
}

/** From the memo's checkpoint T on; `stale` when the memo does not fit what is stored (the caller then reads it all). */
async function verifyIncremental(
  m: Material,
  memo: VerifiedMemo,
): Promise<{ verdict: Verdict; memo: VerifiedMemo | null } | "stale"> {
  const T = memo.treeSize;
  // Event T is gone after a cut at or past it: verify the whole (kept) chain again.
  if (T <= m.cut.throughSeq) return "stale";
  const cpT = m.checkpoints.find((c) => c.tree_size === T);
  if (!cpT || cpT.root_hash !== memo.rootHash || memo.frontierBefore.length !== frontierLength(T - 1)) return "stale";
  if (!m.checkpoints.every((c) => checkpointSigned(c, m.cpKeys))) return "stale";
  let frontier: MerkleFrontier = { size: T - 1, nodes: memo.frontierBefore.map((h) => Buffer.from(h, "hex")) };
  const newer = m.checkpoints.filter((c) => c.tree_size > T);
  const roots = new Map<number, string>();
  let before: MerkleFrontier | null = null; // the frontier one leaf short of the newest checkpoint, for the next memo
  const newestSize = newer.at(-1)?.tree_size;
  let next = T;
  let anchor: string | undefined;
  let lastSeq = T - 1;
  for (;;) {
    const page = await readAuditChain(m.scope, next, m.pageSize);
    const first = page[0];
    if (anchor === undefined) {
      // Event T: its stored hash, with the memo's frontier, must fold to checkpoint T's signed root.
      if (!first || first.seq !== T || !/^[0-9a-f]{64}$/.test(first.prev_hash) || !/^[0-9a-f]{64}$/.test(first.hash))
        return "stale";
      if (frontierRoot(extendFrontier(frontier, [eventLeafHash(first.hash)])).toString("hex") !== memo.rootHash)
        return "stale";
      anchor = first.prev_hash;
    }
    const c = verifyChain(page, m.eventKeys, { ...m.chain, firstSeq: next, firstPrevHash: anchor });
    if (!c.ok)
      return {
        verdict: {
          ok: false,
          mode: "incremental",
          events: next - 1 + c.index,
          checkpoints: m.checkpoints.length,
          failure: { seq: c.seq, reason: c.reason },
        },
        memo: null,
      };
    for (const e of page) {
      if (newestSize !== undefined && frontier.size === newestSize - 1) before = frontier;
      frontier = extendFrontier(frontier, [eventLeafHash(e.hash)]);
      if (newer.some((cp) => cp.tree_size === frontier.size))
        roots.set(frontier.size, frontierRoot(frontier).toString("hex"));
      lastSeq = e.seq;
    }
    if (page.length < m.pageSize) break;
    anchor = c.headHash;
    next = lastSeq + 1;
    await m.slot.renew();
    await pause();
  }
  for (const cp of newer) {
    const root = roots.get(cp.tree_size);
    if (root === undefined)
      return {
        verdict: {
          ok: false,
          mode: "incremental",
          events: lastSeq,
          checkpoints: m.checkpoints.length,
          failure: { treeSize: cp.tree_size, reason: "events_missing" },
        },
        memo: null,
      };
    if (root !== cp.root_hash)
      return {
        verdict: {
          ok: false,
          mode: "incremental",
          events: lastSeq,
          checkpoints: m.checkpoints.length,
          failure: { treeSize: cp.tree_size, reason: "root_mismatch" },
        },
        memo: null,
      };
  }
  const newest = newer.at(-1);
  return {
    verdict: {
      ok: true,
      mode: "incremental",
      events: lastSeq,
      checkpoints: m.checkpoints.length,
      since: T,
      ...(m.cut.throughSeq > 0 ? { removedThrough: m.cut.throughSeq } : {}),
    },
    memo: newest && before ? memoFor(newest, before) : null,
  };
}

async function headSeq(scope: WorkspaceScope, workspaceId: WorkspaceId): Promise<number> {
  const [row] = await scope.execute(
    sql`select coalesce(max(seq), 0) as head from public.audit_events where workspace_id = ${workspaceId}`,
  );
  return Number(row?.head ?? 0);
}

export function registerAuditVerifyRoute(app: FastifyInstance, db: Database, deps: AuditVerifyDeps): void {
  const pageSize = Math.max(1, deps.pageSize ?? 20_000);
  route(app, db, {
    method: "GET",
    url: "/v1/audit/verify",
    tag: "audit",
    summary: "Verify the audit chain and checkpoints server-side (incremental by default)",
    operationId: "verifyAudit",
    errors: ["FORBIDDEN", "AUDIT_VERIFY_UNAVAILABLE"],
    response: VerdictSchema,
    query: z.object({ full: z.enum(["true", "false"]).default("false") }).strict(),
    handler: async ({ scope, caller, query, request }) => {
      const full = query.full === "true";
      const workspaceId = caller.workspaceId;
      if (full) {
        if (caller.role !== "owner" && caller.role !== "admin")
          throw new ForbiddenError("a full verification is for owners and admins");
        await apiRateLimiter(app)?.verifyFull(request, workspaceId);
      }
      let slot: Awaited<ReturnType<VerifyGate["acquire"]>>;
      try {
        slot = await deps.gate.acquire(workspaceId);
      } catch (err) {
        deps.log.warn(
          { code: "AUDIT_VERIFY_UNAVAILABLE", err },
          "audit verification refused: its concurrency cap could not be asked",
        );
        throw new AuditVerifyUnavailableError("audit verification is unavailable for a moment; retry shortly", {
          cause: err,
        });
      }
      if ("retryAfterSeconds" in slot)
        throw new RateLimitedError("a verification of this workspace is already running", slot.retryAfterSeconds);
      try {
        const keys = await readAuditKeyset(db);
        const checkpoints = await readCheckpoints(scope);
        const cut = await readRetentionCuts(scope);
        const head = Math.max(await headSeq(scope, workspaceId), cut.throughSeq);
        const m: Material = {
          workspaceId,
          scope,
          eventKeys: new Map(
            keys
              .filter((k) => k.purpose === "event")
              .map((k) => [k.keyId, createPublicKey({ key: k.spki, format: "der", type: "spki" })]),
          ),
          cpKeys: new Map(keys.map((k) => [k.keyId, { keyId: k.keyId, algorithm: k.algorithm, spki: k.spki }])),
          checkpoints,
          chain: full
            ? { workspaceId }
            : {
                workspaceId,
                content: "columns",
                signatures: {
                  fromSeq: signatureFloor(
                    checkpoints.map((c) => c.tree_size),
                    head,
                  ),
                },
              },
          pageSize,
          slot,
          cut,
        };
        const memo = full ? null : await deps.gate.readMemo(workspaceId).catch(() => null);
        let result = memo ? await verifyIncremental(m, memo) : "stale";
        if (result === "stale") {
          if (memo)
            deps.log.info(
              { code: "AUDIT_VERIFY_MEMO_STALE" },
              "the verified-up-to memo does not fit the stored chain: verifying all of it",
            );
          result = await verifyWhole(m, full ? "full" : "whole");
        }
        if (result.memo) {
          await deps.gate
            .writeMemo(workspaceId, result.memo)
            .catch((err: unknown) =>
              deps.log.warn({ code: "AUDIT_VERIFY_MEMO_UNSAVED", err }, "the verified-up-to memo was not saved"),
            );
        }
        return result.verdict;
      } finally {
        await slot
          .release()
          .catch((err: unknown) =>
            deps.log.warn(
              { code: "AUDIT_VERIFY_SLOT_LEFT", err },
              "a verification slot was not released; it lapses by itself",
            ),
          );
      }
    },
  });
}
