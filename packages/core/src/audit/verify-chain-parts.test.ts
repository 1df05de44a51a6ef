/**
 * Split verification must give, for any chain and any tampering, exactly the answer of one pass over the whole list —
 * the same first bad seq, reason and index — however many parts it is cut into.
 */
import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { generateKeyPairSync } from "node:crypto";
import { newId } from "../ids.js";
import {
  combineChainVerifications,
  genesisPrevHash,
  sealAuditEvent,
  signEvent,
  splitChainVerification,
  verifyChain,
  type StoredChainEvent,
  type VerifyChainOptions,
} from "./index.js";

// Under `pnpm mutation` (PRAXA_MUTATION=1) the property test below runs fewer cases: it runs once per mutant there,
// and what it adds to the fixed cases of these suites shows within its first cases (scripts/mutation/modules.json).
// There it also runs from a fixed seed, so the gate's verdict on a mutant does not depend on a lucky random case.
const UNDER_MUTATION = process.env["PRAXA_MUTATION"] === "1";

const key = generateKeyPairSync("ed25519");
const foreign = generateKeyPairSync("ed25519");
const keyset = new Map([["k", key.publicKey]]);
const ws = newId("workspace");
const skillId = newId("skill");
const runId = newId("run");

function chain(n: number): StoredChainEvent[] {
  const rows: StoredChainEvent[] = [];
  let prev = genesisPrevHash(ws);
  for (let seq = 1; seq <= n; seq++) {
    const s = sealAuditEvent(
      {
        auditEventId: newId("auditEvent"),
        kind: "skill.action",
        skillId,
        runId,
        trigger: "github.pull_request.opened",
        input: { seq },
        reasoning: [],
        alternatives: [],
        confidence: 0.5,
        output: {},
        tools_used: [],
        duration_ms: 1,
        occurred_at: "2026-11-23T08:00:00.000Z",
        manifest_hash: "a".repeat(64),
        step: seq,
        workspace_id: ws,
        seq,
        prev_hash: prev,
        key_id: "k",
      },
      key.privateKey,
    );
    rows.push({
      seq,
      workspace_id: ws,
      prev_hash: prev,
      hash: s.hash,
      key_id: "k",
      signature: s.signature,
      canonical: s.canonical,
    });
    prev = s.hash;
  }
  return rows;
}
const base = chain(24);

const inParts = (events: readonly StoredChainEvent[], options: VerifyChainOptions, count: number) => {
  const parts = splitChainVerification(events, options, count);
  return {
    parts,
    result: combineChainVerifications(
      parts,
      parts.map((p) => verifyChain(events.slice(p.start, p.end), keyset, p.options)),
      options,
    ),
  };
};

type Tamper = (rows: StoredChainEvent[], at: number) => void;
const tampers: Record<string, Tamper> = {
  flipByte: (rows, at) => {
    const bytes = Buffer.from(rows[at]!.canonical);
    bytes[10] = (bytes[10] ?? 0) ^ 1;
    rows[at] = { ...rows[at]!, canonical: bytes };
  },
  foreignSignature: (rows, at) => {
    const hash = rows[at]!.hash;
    rows[at] = {
      ...rows[at]!,
      signature: /^[0-9a-f]{64}$/.test(hash)
        ? signEvent(hash, foreign.privateKey)
        : Buffer.alloc(64, 7).toString("base64"),
    };
  },
  badHashColumn: (rows, at) => {
    rows[at] = { ...rows[at]!, hash: "not a hash" };
  },
  badSeqColumn: (rows, at) => {
    rows[at] = { ...rows[at]!, seq: Number.NaN };
  },
  deleteRow: (rows, at) => {
    rows.splice(at, 1);
  },
  swapWithNext: (rows, at) => {
    if (at + 1 >= rows.length) return;
    const a = rows[at]!;
    rows[at] = { ...rows[at + 1]!, seq: a.seq };
    rows[at + 1] = { ...a, seq: a.seq + 1 };
  },
  unknownKey: (rows, at) => {
    rows[at] = { ...rows[at]!, key_id: "nobody" };
  },
};

describe("splitChainVerification / combineChainVerifications", () => {
  it("an intact chain holds in any number of parts, with its count and head", () => {
    const whole = verifyChain(base, keyset, { workspaceId: ws });
    for (const count of [1, 2, 3, 5, 24, 100]) expect(inParts(base, { workspaceId: ws }, count).result).toEqual(whole);
    expect(inParts([], { workspaceId: ws }, 4).result).toEqual(verifyChain([], keyset, { workspaceId: ws }));
  });

  it("a tampered signature in the second half is named as one pass names it", () => {
    const rows = [...base];
    tampers.foreignSignature!(rows, 17);
    const { parts, result } = inParts(rows, { workspaceId: ws }, 2);
    expect(parts.map((p) => [p.start, p.end])).toEqual([
      [0, 12],
      [12, 24],
    ]);
    expect(result).toEqual({ ok: false, seq: 18, reason: "bad_signature", index: 17 });
    expect(result).toEqual(verifyChain(rows, keyset, { workspaceId: ws }));
  });

  it("property: any tampering, any split, the same answer as one pass (full and fast modes, anchored tails too)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(tampers)),
        fc.array(fc.tuple(fc.constantFrom(...Object.keys(tampers)), fc.nat({ max: 23 })), { maxLength: 2 }),
        fc.nat({ max: 23 }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        fc.nat({ max: 5 }),
        (first, more, at, count, fast, skip) => {
          let rows = [...base];
          for (const [name, where] of [[first, at] as const, ...more])
            if (where < rows.length) tampers[name]!(rows, where);
          let options: VerifyChainOptions = fast
            ? { workspaceId: ws, signatures: false, content: "columns" }
            : { workspaceId: ws };
          if (skip > 0) {
            options = { ...options, firstPrevHash: base[skip - 1]!.hash, firstSeq: skip + 1 };
            rows = rows.slice(skip);
          }
          expect(inParts(rows, options, count).result).toEqual(verifyChain(rows, keyset, options));
        },
      ),
      UNDER_MUTATION ? { numRuns: 50, seed: 0x5eed } : { numRuns: 400 },
    );
  });
});
