/**
 * `verifySiemStream`: what a receiver stored, in each format, duplicates included — and what must fail: a copy that
 * differs, a gap, a record signed by a key nobody pinned.
 */
import { describe, expect, it } from "@jest/globals";
import { generateKeyPairSync } from "node:crypto";
import { newId } from "../ids.js";
import { genesisPrevHash, sealAuditDrafts } from "./chain.js";
import { DEFAULT_REDACTION_POLICY } from "./redaction.js";
import { parsePinnedKeys, verifySiemStream } from "./siem-stream.js";

const key = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");
const ws = newId("workspace");
const pinned = parsePinnedKeys({
  keys: [
    {
      key_id: "k1",
      purpose: "event",
      algorithm: "ed25519",
      public_key_pem: key.publicKey.export({ format: "pem", type: "spki" }).toString(),
    },
  ],
});

function records(n: number, privateKey = key.privateKey) {
  const drafts = Array.from({ length: n }, (_, i) => ({
    auditEventId: newId("auditEvent"),
    kind: "key.rotated",
    skillId: null,
    runId: null,
    trigger: "keys.rotate",
    input: { i },
    reasoning: [],
    alternatives: [],
    confidence: null,
    output: {},
    tools_used: [],
    duration_ms: 0,
    occurred_at: new Date(0).toISOString(),
  }));
  return sealAuditDrafts(
    drafts,
    { workspaceId: ws, seq: 1, prevHash: genesisPrevHash(ws), keyId: "k1" },
    DEFAULT_REDACTION_POLICY,
    privateKey,
  ).map((s) => ({
    type: "praxa.audit_event",
    seq: s.event.seq,
    workspace_id: ws,
    prev_hash: s.event.prev_hash,
    hash: s.hash,
    key_id: "k1",
    signature: s.signature,
    canonical: Buffer.from(s.canonical).toString("utf8"),
  }));
}

const rs = records(6);
const jsonl = (xs: readonly object[]) => xs.map((x) => JSON.stringify(x)).join("\n");

describe("verifySiemStream", () => {
  it("jsonl bodies with a control message and a resent batch: ok, the duplicates dropped", () => {
    const text = [
      JSON.stringify({ type: "praxa.siem.test", subscription_id: "ss_x", sent_at: "now" }),
      jsonl(rs.slice(0, 3)),
      jsonl(rs.slice(0, 3)),
      jsonl(rs.slice(3)),
    ].join("\n");
    expect(verifySiemStream(text, pinned)).toMatchObject({
      ok: true,
      events: 6,
      firstSeq: 1,
      lastSeq: 6,
      duplicates: 3,
    });
  });

  it("Splunk HEC envelopes and Datadog entries carry the same records", () => {
    const hec = rs.map((r) => JSON.stringify({ time: 0, sourcetype: "praxa:audit", event: r })).join("\n");
    expect(verifySiemStream(hec, pinned)).toMatchObject({ ok: true, events: 6 });
    const dd = JSON.stringify(rs.map((r) => ({ ddsource: "praxa", message: JSON.stringify(r) })));
    expect(verifySiemStream(dd, pinned)).toMatchObject({ ok: true, events: 6 });
  });

  it("a stream that starts later is anchored on its first record", () => {
    expect(verifySiemStream(jsonl(rs.slice(2)), pinned)).toMatchObject({ ok: true, firstSeq: 3, events: 4 });
  });

  it("fails on a gap, a changed copy, a changed byte, an unknown key", () => {
    expect(verifySiemStream(jsonl([...rs.slice(0, 2), ...rs.slice(3)]), pinned)).toMatchObject({
      ok: false,
      seq: 3,
    });
    const changed = { ...rs[1]!, canonical: rs[1]!.canonical.replace('"i":1', '"i":7') };
    expect(verifySiemStream(jsonl([...rs, changed]), pinned)).toMatchObject({ ok: false, seq: 2 });
    expect(verifySiemStream(jsonl([rs[0]!, changed, ...rs.slice(2)]), pinned)).toMatchObject({ ok: false, seq: 2 });
    expect(verifySiemStream(jsonl(records(2, other.privateKey)), pinned)).toMatchObject({ ok: false, seq: 1 });
    expect(verifySiemStream("", pinned)).toMatchObject({ ok: false });
  });
});
