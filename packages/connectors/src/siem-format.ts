/**
 * What a SIEM batch says, per format. Every event is the stored audit record as the chain holds it — its `seq`,
 * `prev_hash`, `hash`, `key_id`, `signature` and the exact canonical bytes that were hashed and signed (as a JSON
 * string: the bytes are UTF-8 JSON in RFC 8785 form, so the string's UTF-8 encoding IS the signed bytes) — so the
 * receiver can check each signature and the chain's continuity with the keys from `GET /v1/audit/keys`.
 *
 *   jsonl       one record per line (`application/x-ndjson`)
 *   splunk-hec  HEC event envelopes, newline-separated (`/services/collector/event`; `Authorization: Splunk <token>`)
 *   datadog     a JSON array of v2 logs-intake entries whose `message` is the record line, gzip (`DD-API-KEY`)
 *
 * A batch is bounded by count and by bytes (the uncompressed body); a single record larger than the byte bound is sent
 * alone rather than never.
 */
import { gzipSync } from "node:zlib";

export const SIEM_FORMATS = ["jsonl", "splunk-hec", "datadog"] as const;
export type SiemFormat = (typeof SIEM_FORMATS)[number];

/** One stored audit record, as read from the chain. */
export interface SiemStoredEvent {
  readonly seq: number;
  readonly workspace_id: string;
  readonly prev_hash: string;
  readonly hash: string;
  readonly key_id: string;
  readonly signature: string;
  readonly canonical: Uint8Array;
  readonly occurred_at: Date;
}

/** A stream record (`praxa.audit_event`): what `praxa audit verify --stream` and receivers read. */
export interface SiemRecord {
  readonly type: "praxa.audit_event";
  readonly seq: number;
  readonly workspace_id: string;
  readonly prev_hash: string;
  readonly hash: string;
  readonly key_id: string;
  readonly signature: string;
  readonly canonical: string;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function siemRecord(e: SiemStoredEvent): SiemRecord {
  return {
    type: "praxa.audit_event",
    seq: e.seq,
    workspace_id: e.workspace_id,
    prev_hash: e.prev_hash,
    hash: e.hash,
    key_id: e.key_id,
    signature: e.signature,
    canonical: utf8.decode(e.canonical),
  };
}

/** A message that is not an audit record: the ownership challenge, a test. */
export type SiemControlMessage =
  | { readonly type: "praxa.siem.verification"; readonly subscription_id: string; readonly challenge: string }
  | { readonly type: "praxa.siem.test"; readonly subscription_id: string; readonly sent_at: string };

const SPLUNK_SOURCETYPE = "praxa:audit";

/** One entry of the body for one record or control message (no separators). */
function entry(format: SiemFormat, item: SiemRecord | SiemControlMessage, time: Date): string {
  const line = JSON.stringify(item);
  const workspace = "workspace_id" in item ? item.workspace_id : undefined;
  switch (format) {
    case "jsonl":
      return line;
    case "splunk-hec":
      return `{"time":${(time.getTime() / 1000).toFixed(3)},"host":"praxa","source":"praxa","sourcetype":"${SPLUNK_SOURCETYPE}","event":${line}}`;
    case "datadog":
      return JSON.stringify({
        ddsource: "praxa",
        service: "praxa-audit",
        hostname: "praxa",
        ...(workspace ? { ddtags: `workspace_id:${workspace}` } : {}),
        message: line,
      });
  }
}

function join(format: SiemFormat, entries: readonly string[]): string {
  return format === "datadog" ? `[${entries.join(",")}]` : `${entries.join("\n")}\n`;
}

export interface SiemBatch {
  readonly from: number;
  readonly to: number;
  /** How many of the given events it holds (the first `count`). */
  readonly count: number;
  /** The body before any content encoding (what the byte bound applies to). */
  readonly body: Buffer;
}

/**
 * The longest prefix of `events` (already in seq order) that fits `maxEvents` and `maxBytes`, as one body — at least
 * one event. Null when there is none.
 */
export function buildSiemBatch(
  format: SiemFormat,
  events: readonly SiemStoredEvent[],
  maxEvents: number,
  maxBytes: number,
): SiemBatch | null {
  const entries: string[] = [];
  // Separators: jsonl and HEC one newline per entry; datadog the brackets and a comma between entries.
  let size = format === "datadog" ? 2 : 0;
  for (const e of events) {
    if (entries.length >= maxEvents) break;
    const text = entry(format, siemRecord(e), e.occurred_at);
    const add = Buffer.byteLength(text, "utf8") + (format === "datadog" ? (entries.length > 0 ? 1 : 0) : 1);
    if (entries.length > 0 && size + add > maxBytes) break;
    entries.push(text);
    size += add;
  }
  const first = events[0];
  const last = events[entries.length - 1];
  if (!first || !last) return null;
  return { from: first.seq, to: last.seq, count: entries.length, body: Buffer.from(join(format, entries), "utf8") };
}

/** The body of a control message (challenge, test) in the subscription's format. */
export function siemControlBody(format: SiemFormat, message: SiemControlMessage, now: Date): Buffer {
  return Buffer.from(join(format, [entry(format, message, now)]), "utf8");
}

/** Headers that carry the format (content type and encoding, the format's credential) and the body as sent. */
export function siemWire(
  format: SiemFormat,
  body: Buffer,
  credential: string | null,
): { readonly headers: Record<string, string>; readonly body: Buffer } {
  switch (format) {
    case "jsonl":
      return { headers: { "content-type": "application/x-ndjson" }, body };
    case "splunk-hec":
      return {
        headers: {
          "content-type": "application/json",
          ...(credential ? { authorization: `Splunk ${credential}` } : {}),
        },
        body,
      };
    case "datadog":
      return {
        headers: {
          "content-type": "application/json",
          "content-encoding": "gzip",
          ...(credential ? { "dd-api-key": credential } : {}),
        },
        body: gzipSync(body),
      };
  }
}
