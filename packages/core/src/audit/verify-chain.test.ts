import { describe, expect, it } from "@jest/globals";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { newId, type WorkspaceId } from "../ids.js";
import {
  AuditEncodingError,
  canonicalBytes,
  eventHash,
  genesisPrevHash,
  sealAuditEvent,
  signEvent,
  signatureFloor,
  verifyChain,
  type AuditEventBody,
  type AuditKeyset,
  type StoredChainEvent,
} from "./index.js";

const k1 = generateKeyPairSync("ed25519");
const k2 = generateKeyPairSync("ed25519");
const foreign = generateKeyPairSync("ed25519");
const keyset: AuditKeyset = new Map([
  ["k1", k1.publicKey],
  ["k2", k2.publicKey],
]);

const wsA = newId("workspace");
const wsB = newId("workspace");
const skillId = newId("skill");
const runId = newId("run");

function draft(seq: number): Omit<AuditEventBody, "workspace_id" | "seq" | "prev_hash" | "key_id"> {
  return {
    auditEventId: newId("auditEvent"),
    kind: "skill.action",
    skillId,
    runId,
    trigger: "github.pull_request.opened",
    input: { prNumber: 1284, seq },
    reasoning: [`step ${seq}`],
    alternatives: [{ action: "approve", score: 0.4 }],
    confidence: 0.8,
    output: { verdict: "approve" },
    tools_used: ["github.read.diff"],
    duration_ms: 10 * seq,
    occurred_at: `2026-05-26T14:18:${String(seq).padStart(2, "0")}.000Z`,
    manifest_hash: "a".repeat(64),
    step: seq,
  };
}

/** Seal one body into a stored row (the columns a database would hold). */
function row(body: AuditEventBody, key: KeyObject): StoredChainEvent {
  const sealed = sealAuditEvent(body, key);
  return {
    seq: body.seq,
    workspace_id: body.workspace_id,
    prev_hash: body.prev_hash,
    key_id: body.key_id,
    hash: sealed.hash,
    signature: sealed.signature,
    canonical: sealed.canonical,
  };
}

/** A chain of `n` events for `ws`: seq 1-3 signed by k1, the rest by k2 (a rotation). */
function chain(ws: WorkspaceId, n: number): StoredChainEvent[] {
  const rows: StoredChainEvent[] = [];
  let prev = genesisPrevHash(ws);
  for (let seq = 1; seq <= n; seq++) {
    const [keyId, key] = seq <= 3 ? (["k1", k1.privateKey] as const) : (["k2", k2.privateKey] as const);
    const r = row({ ...draft(seq), workspace_id: ws, seq, prev_hash: prev, key_id: keyId }, key);
    rows.push(r);
    prev = r.hash;
  }
  return rows;
}

/** Re-hash and re-sign a row over new canonical bytes, as an insider holding `key` could. */
function reforge(r: StoredChainEvent, canonical: Uint8Array, key: KeyObject, keyId = r.key_id): StoredChainEvent {
  const hash = eventHash(r.prev_hash, canonical);
  return { ...r, canonical, hash, key_id: keyId, signature: signEvent(hash, key) };
}

const bodyOf = (r: StoredChainEvent): AuditEventBody =>
  JSON.parse(Buffer.from(r.canonical).toString("utf8")) as AuditEventBody;
const at = (rows: StoredChainEvent[], seq: number): StoredChainEvent => rows[seq - 1] as StoredChainEvent;
const opts = { workspaceId: wsA };

describe("verifyChain: an intact chain", () => {
  const rows = chain(wsA, 6);

  it("verifies, with the count and the head hash, across a key rotation", () => {
    expect(verifyChain(rows, keyset, opts)).toEqual({ ok: true, count: 6, headHash: at(rows, 6).hash });
  });

  it("verifies in fast mode (no signatures) too", () => {
    expect(verifyChain(rows, new Map(), { ...opts, signatures: false })).toEqual({
      ok: true,
      count: 6,
      headHash: at(rows, 6).hash,
    });
  });

  it("an empty range is trivially fine, its head being its anchor", () => {
    expect(verifyChain([], keyset, opts)).toEqual({ ok: true, count: 0, headHash: genesisPrevHash(wsA) });
  });

  it("verifies a tail after a retention cut, anchored at the last dropped hash", () => {
    const tail = rows.slice(3);
    expect(verifyChain(tail, keyset, { ...opts, firstPrevHash: at(rows, 3).hash, firstSeq: 4 })).toMatchObject({
      ok: true,
      count: 3,
    });
    expect(verifyChain(tail, keyset, opts)).toEqual({ ok: false, seq: 4, reason: "unanchored", index: 0 });
    expect(verifyChain(tail, keyset, { ...opts, firstPrevHash: at(rows, 2).hash })).toMatchObject({
      ok: false,
      seq: 4,
      reason: "prev_hash_mismatch",
    });
    expect(verifyChain(rows.slice(4), keyset, { ...opts, firstPrevHash: at(rows, 3).hash, firstSeq: 4 })).toMatchObject(
      { ok: false, seq: 4, reason: "seq_gap" },
    );
    expect(verifyChain(rows, keyset, { ...opts, firstSeq: 2 })).toMatchObject({
      ok: false,
      seq: 1,
      reason: "seq_order",
    });
  });

  it("refuses a firstPrevHash that is not a digest", () => {
    expect(() => verifyChain(rows, keyset, { ...opts, firstPrevHash: "nope" })).toThrow(AuditEncodingError);
  });
});

describe("verifyChain: tampering is found at the first bad seq", () => {
  it("a flipped byte in the canonical bytes → hash_mismatch at that seq (with or without signatures)", () => {
    const rows = chain(wsA, 6);
    const bytes = Buffer.from(at(rows, 3).canonical);
    const i = bytes.indexOf("approve");
    bytes[i] = (bytes[i] as number) ^ 0x20; // "approve" → "Approve"
    rows[2] = { ...at(rows, 3), canonical: bytes };
    expect(verifyChain(rows, keyset, opts)).toEqual({ ok: false, seq: 3, reason: "hash_mismatch", index: 2 });
    expect(verifyChain(rows, keyset, { ...opts, signatures: false })).toMatchObject({
      seq: 3,
      reason: "hash_mismatch",
    });
  });

  it("a deleted event → seq_gap naming the missing seq", () => {
    const rows = chain(wsA, 6);
    rows.splice(2, 1);
    expect(verifyChain(rows, keyset, opts)).toEqual({ ok: false, seq: 3, reason: "seq_gap", index: 2 });
  });

  it("the first event deleted → seq_gap naming seq 1 when the range must start there", () => {
    const rows = chain(wsA, 3).slice(1);
    expect(verifyChain(rows, keyset, { ...opts, firstSeq: 1 })).toMatchObject({ ok: false, seq: 1, reason: "seq_gap" });
  });

  it("two events with their seq swapped (read back in seq order) → prev_hash_mismatch at the lower seq", () => {
    const rows = chain(wsA, 6);
    const swapped = [...rows];
    swapped[2] = { ...at(rows, 4), seq: 3 };
    swapped[3] = { ...at(rows, 3), seq: 4 };
    expect(verifyChain(swapped, keyset, opts)).toEqual({ ok: false, seq: 3, reason: "prev_hash_mismatch", index: 2 });
  });

  it("rows handed over out of order, or a seq twice → the first seq out of place", () => {
    const rows = chain(wsA, 6);
    expect(verifyChain([at(rows, 1), at(rows, 2), at(rows, 4), at(rows, 3)], keyset, opts)).toMatchObject({
      seq: 3,
      reason: "seq_gap",
    });
    expect(verifyChain([at(rows, 1), at(rows, 2), at(rows, 2)], keyset, opts)).toMatchObject({
      seq: 2,
      reason: "seq_order",
      index: 2,
    });
  });

  it("an edited event re-signed with a foreign key → unknown_key, or bad_signature under a known key id", () => {
    const rows = chain(wsA, 6);
    const edited = Buffer.from(
      Buffer.from(at(rows, 3).canonical).toString("utf8").replace('"verdict":"approve"', '"verdict":"reject!"'),
    );
    rows[2] = reforge(at(rows, 3), edited, foreign.privateKey);
    expect(verifyChain(rows, keyset, opts)).toEqual({ ok: false, seq: 3, reason: "bad_signature", index: 2 });
    // Claiming a key id the verifier does not know: the body names its key too, so both must change.
    const body = { ...bodyOf(at(rows, 3)), key_id: "foreign" };
    rows[2] = reforge(at(rows, 3), sealAuditEvent(body, foreign.privateKey).canonical, foreign.privateKey, "foreign");
    expect(verifyChain(rows, keyset, opts)).toEqual({ ok: false, seq: 3, reason: "unknown_key", index: 2 });
    // Fast mode checks links and hashes only: the edit's own row is consistent, the next link is not.
    expect(verifyChain(rows, keyset, { ...opts, signatures: false })).toMatchObject({
      seq: 4,
      reason: "prev_hash_mismatch",
    });
  });

  it("an event of another workspace spliced in → workspace_mismatch, or column_mismatch if its columns were rewritten", () => {
    const rows = chain(wsA, 6);
    const theirs = chain(wsB, 6);
    const spliced = [...rows];
    spliced[2] = at(theirs, 3);
    expect(verifyChain(spliced, keyset, opts)).toEqual({ ok: false, seq: 3, reason: "workspace_mismatch", index: 2 });
    spliced[2] = { ...at(theirs, 3), workspace_id: wsA };
    expect(verifyChain(spliced, keyset, opts)).toMatchObject({ seq: 3, reason: "prev_hash_mismatch" });
    spliced[2] = reforge(
      { ...at(theirs, 3), workspace_id: wsA, prev_hash: at(rows, 2).hash },
      at(theirs, 3).canonical,
      k1.privateKey,
    );
    expect(verifyChain(spliced, keyset, opts)).toMatchObject({ seq: 3, reason: "column_mismatch" });
  });

  it("bytes that hash right but are not canonical, not UTF-8, or not a valid record are refused by an insider-proof check", () => {
    const rows = chain(wsA, 3);
    const text = Buffer.from(at(rows, 2).canonical).toString("utf8");
    const check = (canonical: Uint8Array): unknown => {
      const copy = [...rows];
      copy[1] = reforge(at(rows, 2), canonical, k1.privateKey);
      return verifyChain(copy.slice(0, 2), keyset, opts);
    };
    expect(check(Buffer.from(JSON.stringify(JSON.parse(text), null, 1)))).toMatchObject({
      seq: 2,
      reason: "not_canonical",
    });
    expect(check(Buffer.from(text.replace("{", '{"seq":2,')))).toMatchObject({ seq: 2, reason: "not_canonical" }); // duplicate key
    expect(check(Buffer.from([0x7b, 0xff, 0x7d]))).toMatchObject({ seq: 2, reason: "malformed" });
    expect(check(Buffer.from("not json"))).toMatchObject({ seq: 2, reason: "malformed" });
    const invalid = { ...bodyOf(at(rows, 2)), confidence: 2 };
    expect(check(canonicalBytes(invalid))).toMatchObject({ seq: 2, reason: "schema" });
  });

  it("a body whose seq or key id disagrees with the row → column_mismatch", () => {
    const rows = chain(wsA, 3);
    const body = { ...bodyOf(at(rows, 2)), key_id: "k2" };
    const copy = [...rows];
    copy[1] = reforge(at(rows, 2), sealAuditEvent(body, k2.privateKey).canonical, k1.privateKey, "k1");
    expect(verifyChain(copy, keyset, opts)).toMatchObject({ seq: 2, reason: "column_mismatch" });
  });

  it("a malformed seq column is reported, not thrown", () => {
    const rows = chain(wsA, 3);
    const copy: StoredChainEvent[] = [...rows];
    copy[1] = { ...at(rows, 2), seq: Number.NaN };
    expect(verifyChain(copy, keyset, opts)).toEqual({ ok: false, seq: 2, reason: "malformed", index: 1 });
  });
});

describe("verifyChain fast mode (content: columns): chain fields checked from the bytes, schema deferred", () => {
  const fast = { ...opts, signatures: false, content: "columns" } as const;
  const rows = chain(wsA, 3);
  const text = Buffer.from(at(rows, 2).canonical).toString("utf8");
  const check = (canonical: Uint8Array): unknown => {
    const copy = [...rows];
    copy[1] = reforge(at(rows, 2), canonical, k1.privateKey);
    return verifyChain(copy.slice(0, 2), keyset, fast);
  };

  it("passes an intact chain", () => {
    expect(verifyChain(rows, new Map(), fast)).toEqual({ ok: true, count: 3, headHash: at(rows, 3).hash });
  });

  it("defers form and schema (the full check names them) but still reads the chain fields, however they are written", () => {
    expect(check(Buffer.from(JSON.stringify(JSON.parse(text), null, 1)))).toMatchObject({ ok: true });
    expect(check(Buffer.from(text.replace('"key_id":"k1"', '"key_\\u0069d":"\\u006b1"')))).toMatchObject({ ok: true });
    expect(check(canonicalBytes({ ...bodyOf(at(rows, 2)), confidence: 2 }))).toMatchObject({ ok: true });
  });

  it("names bytes that do not parse, do not parse to an object, or name another position", () => {
    expect(check(Buffer.from([0x7b, 0xff, 0x7d]))).toMatchObject({ seq: 2, reason: "malformed" });
    expect(check(Buffer.from(text.slice(0, -1)))).toMatchObject({ seq: 2, reason: "malformed" });
    expect(check(Buffer.from(`[${text}]`))).toMatchObject({ seq: 2, reason: "column_mismatch" });
    expect(check(Buffer.from("42"))).toMatchObject({ seq: 2, reason: "schema" });
    expect(check(Buffer.from(text.replace(/}$/, ',"seq":3}')))).toMatchObject({ seq: 2, reason: "column_mismatch" }); // the last duplicate counts
    expect(check(Buffer.from(text.replace('"seq":2,"skillId"', '"seq":2.5,"skillId"')))).toMatchObject({
      seq: 2,
      reason: "column_mismatch",
    });
    expect(
      check(Buffer.from(text.replace('"input":{"prNumber":1284,"seq":2}', '"input":{"prNumber":1284,"seq":3}'))),
    ).toMatchObject({ ok: true }); // a nested "seq" is content
    expect(check(canonicalBytes({ ...bodyOf(at(rows, 2)), workspace_id: wsB }))).toMatchObject({
      seq: 2,
      reason: "column_mismatch",
    });
  });
});

describe("the default verify: signatures past the newest checkpoint, and the head (signatureFloor)", () => {
  const fast = (fromSeq: number) => ({ ...opts, signatures: { fromSeq }, content: "columns" }) as const;
  const rows = chain(wsA, 8);
  /** The last `k` events rewritten and re-hashed so the chain still links, signed with a key that is not ours. */
  function rehashTail(k: number): StoredChainEvent[] {
    const copy = [...rows];
    for (let seq = rows.length - k + 1; seq <= rows.length; seq++) {
      const before = at(copy, seq);
      const prev = seq === 1 ? genesisPrevHash(wsA) : at(copy, seq - 1).hash;
      const canonical = canonicalBytes({ ...bodyOf(before), prev_hash: prev, output: { verdict: "request_changes" } });
      copy[seq - 1] = reforge({ ...before, prev_hash: prev }, canonical, foreign.privateKey);
    }
    return copy;
  }

  it("signatureFloor: after the newest checkpoint, never past the head; every event with no checkpoint", () => {
    expect(signatureFloor([], 8)).toBe(1);
    expect(signatureFloor([4, 6], 8)).toBe(7);
    expect(signatureFloor([8], 8)).toBe(8); // the head, though a checkpoint covers it
    expect(signatureFloor([9], 8)).toBe(8);
    expect(signatureFloor([], 0)).toBe(1);
  });

  it("a forged signature on the head → bad_signature at the head, with or without a checkpoint covering it", () => {
    const forged = [...rows];
    forged[7] = { ...at(rows, 8), signature: signEvent(at(rows, 8).hash, foreign.privateKey) };
    expect(verifyChain(forged, keyset, fast(signatureFloor([], 8)))).toEqual({
      ok: false,
      seq: 8,
      reason: "bad_signature",
      index: 7,
    });
    expect(verifyChain(forged, keyset, fast(signatureFloor([8], 8)))).toMatchObject({
      ok: false,
      seq: 8,
      reason: "bad_signature",
    });
    expect(verifyChain(forged, keyset, { ...opts, signatures: false, content: "columns" })).toMatchObject({ ok: true }); // what the fast mode missed
  });

  it("a re-hashed tail past the newest checkpoint → its first seq", () => {
    const tampered = rehashTail(3);
    expect(verifyChain(tampered, keyset, fast(signatureFloor([4], 8)))).toMatchObject({
      ok: false,
      seq: 6,
      reason: "bad_signature",
    });
    expect(verifyChain(tampered, keyset, fast(signatureFloor([], 8)))).toMatchObject({
      ok: false,
      seq: 6,
      reason: "bad_signature",
    });
    expect(verifyChain(tampered, keyset, { ...opts, signatures: false, content: "columns" })).toMatchObject({
      ok: true,
    });
  });

  it("an intact chain verifies; signatures before the floor are not read", () => {
    expect(verifyChain(rows, keyset, fast(signatureFloor([4], 8)))).toMatchObject({ ok: true, count: 8 });
    const garbled = [...rows];
    garbled[1] = { ...at(rows, 2), signature: "not-a-signature" }; // vouched for by the checkpoint's root, not its own signature
    expect(verifyChain(garbled, keyset, fast(signatureFloor([4], 8)))).toMatchObject({ ok: true });
    expect(verifyChain(garbled, keyset, opts)).toMatchObject({ ok: false, seq: 2, reason: "bad_signature" });
  });
});

describe("redacted events (a person's erasure: bytes removed in place; hash, links and signature kept)", () => {
  const redact = (rows: StoredChainEvent[], seq: number): StoredChainEvent[] =>
    rows.map((r) => (r.seq === seq ? { ...r, canonical: new Uint8Array(0) } : r));

  it("verifies and names them, in the default (fast) mode and in full", () => {
    const rows = redact(redact(chain(wsA, 6), 2), 5);
    const fast = { workspaceId: wsA, signatures: { fromSeq: 6 }, content: "columns" } as const;
    expect(verifyChain(rows, keyset, fast)).toEqual({
      ok: true,
      count: 6,
      headHash: at(rows, 6).hash,
      redacted: [2, 5],
    });
    expect(verifyChain(rows, keyset, { workspaceId: wsA })).toMatchObject({ ok: true, redacted: [2, 5] });
  });

  it("checks a redacted event's signature even below the signature floor, and its link", () => {
    const rows = redact(chain(wsA, 6), 2);
    const forged = rows.map((r) => (r.seq === 2 ? { ...r, signature: signEvent(r.hash, foreign.privateKey) } : r));
    const fast = { workspaceId: wsA, signatures: { fromSeq: 6 }, content: "columns" } as const;
    expect(verifyChain(forged, keyset, fast)).toMatchObject({ ok: false, seq: 2, reason: "bad_signature" });
    // Another hash (re-signed by a real key) under the redacted event: the next event's link breaks.
    const swapped = rows.map((r) =>
      r.seq === 2 ? { ...r, hash: "e".repeat(64), signature: signEvent("e".repeat(64), k1.privateKey) } : r,
    );
    expect(verifyChain(swapped, keyset, fast)).toMatchObject({ ok: false, seq: 3, reason: "prev_hash_mismatch" });
    const unlinked = rows.map((r) => (r.seq === 2 ? { ...r, prev_hash: "d".repeat(64) } : r));
    expect(verifyChain(unlinked, keyset, fast)).toMatchObject({ ok: false, seq: 2, reason: "prev_hash_mismatch" });
  });
});

describe("verifyChain: what each check binds, one field at a time", () => {
  it("a record larger than the reused hash buffer verifies, and a byte flipped in it is found", () => {
    const ws = newId("workspace");
    const big = row(
      {
        ...draft(1),
        reasoning: ["x".repeat(20_000)],
        workspace_id: ws,
        seq: 1,
        prev_hash: genesisPrevHash(ws),
        key_id: "k1",
      },
      k1.privateKey,
    );
    expect(big.canonical.length).toBeGreaterThan(4096 * 4);
    expect(verifyChain([big], keyset, { workspaceId: ws })).toMatchObject({ ok: true, headHash: big.hash });
    const flipped = Buffer.from(big.canonical);
    flipped[10_000] = 0x79; // "x" → "y"
    expect(verifyChain([{ ...big, canonical: flipped }], keyset, { workspaceId: ws })).toMatchObject({
      seq: 1,
      reason: "hash_mismatch",
    });
  });

  it.each(["seq", "workspace_id", "prev_hash", "key_id"] as const)(
    "full check: a record re-hashed and re-signed whose %s differs from its row → column_mismatch",
    (field) => {
      const rows = chain(wsA, 3);
      const other = {
        seq: 7,
        workspace_id: wsB,
        prev_hash: "cd".repeat(32),
        key_id: "k2",
      }[field];
      const body = { ...bodyOf(at(rows, 2)), [field]: other };
      const copy = [...rows];
      copy[1] = reforge(at(rows, 2), canonicalBytes(body), k1.privateKey);
      expect(verifyChain(copy, keyset, opts)).toEqual({ ok: false, seq: 2, index: 1, reason: "column_mismatch" });
    },
  );

  it.each([
    ["seq", '"s\\u0065q":7'],
    ["workspace_id", `"workspace\\u005fid":"${wsB}"`],
    ["prev_hash", `"prev\\u005fhash":"${"cd".repeat(32)}"`],
    ["key_id", '"key\\u005fid":"k9"'],
  ])(
    "fast check: a %s written last under an escaped key (the reader cannot vouch; JSON.parse decides) → column_mismatch",
    (_field, member) => {
      const rows = chain(wsA, 3);
      const text = Buffer.from(at(rows, 2).canonical).toString("utf8");
      const copy = [...rows];
      copy[1] = reforge(at(rows, 2), Buffer.from(text.replace(/}$/, `,${member}}`)), k1.privateKey);
      expect(verifyChain(copy.slice(0, 2), keyset, { ...opts, signatures: false, content: "columns" })).toEqual({
        ok: false,
        seq: 2,
        index: 1,
        reason: "column_mismatch",
      });
    },
  );

  it("fast check: a record that parses to null or a number is a schema failure, an array a column mismatch", () => {
    const rows = chain(wsA, 2);
    for (const [text, reason] of [
      ["null", "schema"],
      ["7", "schema"],
      ['"seq"', "schema"],
      ["[1]", "column_mismatch"],
    ] as const) {
      const copy = [...rows];
      copy[1] = reforge(at(rows, 2), Buffer.from(text), k1.privateKey);
      expect({ text, r: verifyChain(copy, keyset, { ...opts, signatures: false, content: "columns" }) }).toEqual({
        text,
        r: { ok: false, seq: 2, index: 1, reason },
      });
    }
  });

  it("bytes that are not UTF-8 inside a string are malformed in both modes, never read with replacement characters", () => {
    const rows = chain(wsA, 2);
    const bad = Buffer.from(at(rows, 2).canonical);
    bad[bad.indexOf("step 2")] = 0xff; // in "reasoning": JSON.parse of a lenient decoding would accept it
    const copy = [...rows];
    copy[1] = reforge(at(rows, 2), bad, k1.privateKey);
    for (const options of [opts, { ...opts, content: "columns" } as const])
      expect(verifyChain(copy, keyset, options)).toEqual({ ok: false, seq: 2, index: 1, reason: "malformed" });
  });

  it("full check: a number JSON.parse reads as Infinity (1e400) has no canonical form → not_canonical", () => {
    const rows = chain(wsA, 2);
    const text = Buffer.from(at(rows, 2).canonical).toString("utf8");
    expect(text).toContain('"prNumber":1284');
    const copy = [...rows];
    copy[1] = reforge(at(rows, 2), Buffer.from(text.replace('"prNumber":1284', '"prNumber":1e400')), k1.privateKey);
    expect(verifyChain(copy, keyset, opts)).toEqual({ ok: false, seq: 2, index: 1, reason: "not_canonical" });
  });

  it("a seq column that is not a positive safe integer is malformed, first or later", () => {
    const rows = chain(wsA, 2);
    for (const seq of [0, -1, 1.5, 2 ** 53, Number.NaN]) {
      expect({ seq, r: verifyChain([{ ...at(rows, 1), seq }, at(rows, 2)], keyset, opts) }).toEqual({
        seq,
        r: { ok: false, seq: 0, reason: "malformed", index: 0 },
      });
      expect({ seq, r: verifyChain([at(rows, 1), { ...at(rows, 2), seq }], keyset, opts) }).toEqual({
        seq,
        r: { ok: false, seq: 2, reason: "malformed", index: 1 },
      });
    }
  });

  it("columns of the wrong type (as a driver might hand them) are reported, never coerced or thrown", () => {
    const rows = chain(wsA, 3);
    const withColumns = (change: Record<string, unknown>): unknown => {
      const copy = [...rows];
      copy[1] = { ...at(rows, 2), ...change } as unknown as StoredChainEvent;
      return verifyChain(copy, keyset, opts);
    };
    const malformed = { ok: false, seq: 2, index: 1, reason: "malformed" };
    expect(withColumns({ canonical: Buffer.from(at(rows, 2).canonical).toString("utf8") })).toEqual(malformed);
    expect(withColumns({ canonical: null })).toEqual(malformed);
    // A redacted event's hash must be a string digest, not something whose text is one.
    expect(withColumns({ canonical: new Uint8Array(0), hash: [at(rows, 2).hash] })).toEqual(malformed);
    expect(withColumns({ signature: 12345 })).toEqual({ ok: false, seq: 2, index: 1, reason: "bad_signature" });
  });

  it("firstPrevHash must be exactly 64 lower-case hex digits", () => {
    const rows = chain(wsA, 2);
    for (const bad of ["0".repeat(65), `x${"0".repeat(64)}`, `${"0".repeat(64)}x`, "0".repeat(63), "A".repeat(64)])
      expect(() => verifyChain(rows.slice(1), keyset, { ...opts, firstPrevHash: bad, firstSeq: 2 })).toThrow(
        AuditEncodingError,
      );
    expect(verifyChain(rows.slice(1), keyset, { ...opts, firstPrevHash: at(rows, 1).hash, firstSeq: 2 })).toMatchObject(
      { ok: true, count: 1 },
    );
  });

  it("a redacted event's stored hash must be exactly a digest", () => {
    const rows = chain(wsA, 3);
    for (const bad of [`${at(rows, 2).hash}0`, `x${at(rows, 2).hash}`, at(rows, 2).hash.toUpperCase()]) {
      const copy = [...rows];
      copy[1] = { ...at(rows, 2), canonical: new Uint8Array(0), hash: bad };
      expect(verifyChain(copy, keyset, opts)).toMatchObject({ ok: false, seq: 2, reason: "malformed" });
    }
    const copy = [...rows];
    copy[1] = { ...at(rows, 2), canonical: new Uint8Array(0) };
    expect(verifyChain(copy, keyset, opts)).toMatchObject({ ok: true, count: 3, redacted: [2] });
  });
});
