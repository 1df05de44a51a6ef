/**
 * Verifying what a SIEM receiver stored (`praxa audit verify --stream`), offline, against keys the customer pinned
 * (`GET /v1/audit/keys`, or `praxa audit keys`). The file holds what arrived, as it arrived: the bodies of `jsonl`
 * batches (one `praxa.audit_event` record per line), Splunk HEC envelopes (the record in `event`) or Datadog entries
 * (the record as the `message` string) — control messages (the ownership challenge, tests) are skipped.
 *
 * Delivery is at least once: a record may appear twice; both copies must be identical, and one is kept. The records
 * are then put in seq order and verified as the chain they are (verify-chain.ts, in full: every signature, the RFC 8785
 * form, the schema, the links): a gap, a changed byte or a record signed by an unknown key fails with the first bad
 * seq. A stream that started after seq 1 (a subscription created with `startAt: now`, or after a retention cut) is
 * anchored on its first record's `prev_hash`.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { z } from "zod";
import { WorkspaceIdSchema, type WorkspaceId } from "../ids.js";
import { PinnedKeysSchema, type PinnedKeys } from "./audit-export.js";
import { verifyChain, type StoredChainEvent } from "./verify-chain.js";

export const SiemStreamRecordSchema = z
  .object({
    type: z.literal("praxa.audit_event"),
    seq: z.number().int().min(1),
    workspace_id: WorkspaceIdSchema,
    prev_hash: z.string(),
    hash: z.string(),
    key_id: z.string(),
    signature: z.string(),
    canonical: z.string(),
  })
  .strict();
export type SiemStreamRecord = z.infer<typeof SiemStreamRecordSchema>;

export type SiemStreamVerification =
  | {
      readonly ok: true;
      readonly events: number;
      readonly firstSeq: number;
      readonly lastSeq: number;
      /** Records that arrived more than once (identical copies). */
      readonly duplicates: number;
      readonly headHash: string;
      readonly workspaceId: string;
    }
  | { readonly ok: false; readonly failure: string; readonly seq?: number };

/** The record inside one stored line, whatever the format; null for a control message or an empty line. */
function recordOf(json: unknown): unknown {
  if (typeof json !== "object" || json === null) return json;
  const o = json as { type?: unknown; event?: unknown; message?: unknown };
  if (typeof o.type === "string") return o.type === "praxa.audit_event" ? o : null;
  if (typeof o.event === "object" && o.event !== null) return recordOf(o.event);
  if (typeof o.message === "string") {
    try {
      return recordOf(JSON.parse(o.message));
    } catch {
      return json;
    }
  }
  return json;
}

/** Pinned keys as `praxa audit keys` prints them, or as `GET /v1/audit/keys` answers (`{"keys": […]}`). */
export function parsePinnedKeys(json: unknown): PinnedKeys {
  const list = typeof json === "object" && json !== null && "keys" in json ? (json as { keys: unknown }).keys : json;
  return PinnedKeysSchema.parse(list);
}

export function verifySiemStream(text: string, pinned: PinnedKeys): SiemStreamVerification {
  const bySeq = new Map<number, { record: SiemStreamRecord; text: string }>();
  let duplicates = 0;
  const items: unknown[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "") continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return { ok: false, failure: `line ${i + 1}: not JSON` };
    }
    // A Datadog body is one JSON array of entries.
    for (const item of Array.isArray(json) ? json : [json]) items.push([i + 1, item]);
  }
  for (const entry of items) {
    const [line, item] = entry as [number, unknown];
    const candidate = recordOf(item);
    if (candidate === null) continue;
    const parsed = SiemStreamRecordSchema.safeParse(candidate);
    if (!parsed.success) return { ok: false, failure: `line ${line}: not a praxa.audit_event record` };
    const r = parsed.data;
    const canonicalText = JSON.stringify(r);
    const prior = bySeq.get(r.seq);
    if (prior) {
      if (prior.text !== canonicalText)
        return { ok: false, failure: `seq ${r.seq} arrived twice with different content`, seq: r.seq };
      duplicates++;
      continue;
    }
    bySeq.set(r.seq, { record: r, text: canonicalText });
  }
  const records = [...bySeq.values()].map((v) => v.record).sort((a, b) => a.seq - b.seq);
  const first = records[0];
  if (!first) return { ok: false, failure: "the file holds no audit record" };
  const workspaceId: WorkspaceId = first.workspace_id;
  const keys = new Map<string, KeyObject>();
  for (const k of pinned) if (k.purpose === "event") keys.set(k.key_id, createPublicKey(k.public_key_pem));
  const events: StoredChainEvent[] = records.map((r) => ({
    seq: r.seq,
    workspace_id: r.workspace_id,
    prev_hash: r.prev_hash,
    hash: r.hash,
    key_id: r.key_id,
    signature: r.signature,
    canonical: Buffer.from(r.canonical, "utf8"),
  }));
  const result = verifyChain(events, keys, {
    workspaceId,
    ...(first.seq > 1 ? { firstPrevHash: first.prev_hash, firstSeq: first.seq } : {}),
  });
  if (!result.ok) return { ok: false, failure: `seq ${result.seq}: ${result.reason}`, seq: result.seq };
  return {
    ok: true,
    events: records.length,
    firstSeq: first.seq,
    lastSeq: records.at(-1)?.seq ?? first.seq,
    duplicates,
    headHash: result.headHash,
    workspaceId,
  };
}
