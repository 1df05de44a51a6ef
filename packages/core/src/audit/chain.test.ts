import { describe, expect, it } from "@jest/globals";
import { createHash, generateKeyPairSync, verify } from "node:crypto";
import type { WorkspaceId } from "../ids.js";
import {
  AuditEncodingError,
  AuditEventInvalidError,
  AuditKeyError,
  canonicalEventBytes,
  canonicalJson,
  checkpointBody,
  eventHash,
  eventLeafHash,
  genesisPrevHash,
  hashLeaf,
  parseAuditEventDraft,
  applyRedaction,
  parseRedactionPolicy,
  sealAuditDrafts,
  sealAuditEvent,
  signEvent,
  verifyEventSignature,
  type AuditEventBody,
} from "./index.js";

/** A fixed workspace id, so the expected digests below could be computed independently (Python hashlib). */
const WS = "ws_01h455vb4pex5vsknk084sn02q" as WorkspaceId;
const GENESIS = "b46880819694a96cf641a0ae75d3ca919fe0e4e144bdf5ece68e7dcd1c770bfe";

const body: AuditEventBody = {
  auditEventId: "ae_01h455vb4pex5vsknk084sn02q",
  kind: "skill.action",
  skillId: "sk_01h455vb4pex5vsknk084sn02q",
  runId: "rn_01h455vb4pex5vsknk084sn02q",
  trigger: "github.pull_request.opened",
  input: { prNumber: 1284, repo: "acme/payments" },
  reasoning: ["Diff touches payments/checkout — high-risk surface."],
  alternatives: [{ action: "request_changes", score: 0.83 }],
  confidence: 0.83,
  output: { verdict: "request_changes" },
  tools_used: ["github.read.diff"],
  duration_ms: 4218,
  occurred_at: "2026-05-26T14:18:09.182Z",
  manifest_hash: "a".repeat(64),
  step: 1,
  workspace_id: WS,
  seq: 1,
  prev_hash: GENESIS,
  key_id: "local-1",
};

const keys = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");

describe("genesisPrevHash", () => {
  it('is SHA-256 of "praxa/audit/v1/genesis|" + workspace id, hex', () => {
    expect(genesisPrevHash(WS)).toBe(GENESIS);
    expect(genesisPrevHash(WS)).toBe(createHash("sha256").update(`praxa/audit/v1/genesis|${WS}`).digest("hex"));
    expect(genesisPrevHash("ws_01h455vb4pex5vsknk084sn02r" as WorkspaceId)).not.toBe(GENESIS);
  });
});

describe("canonicalEventBytes", () => {
  it("is the JCS of the body: chain fields in, hash and signature out, key order irrelevant", () => {
    const bytes = Buffer.from(canonicalEventBytes(body));
    expect(bytes.toString("utf8")).toBe(canonicalJson(body));
    const reordered = Object.fromEntries(Object.entries(body).reverse()) as AuditEventBody;
    expect(Buffer.from(canonicalEventBytes(reordered)).equals(bytes)).toBe(true);
    const parsed = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
    expect(parsed).toMatchObject({ workspace_id: WS, seq: 1, prev_hash: GENESIS, key_id: "local-1" });
    expect(Object.keys(parsed)).not.toContain("hash");
    expect(
      bytes.toString("utf8").startsWith('{"alternatives":[{"action":"request_changes","score":0.83}],"auditEventId":'),
    ).toBe(true);
  });

  it("refuses a record with hash/signature, or an invalid body", () => {
    const stored = { ...body, hash: "f".repeat(64), signature: Buffer.alloc(64).toString("base64") };
    expect(() => canonicalEventBytes(stored as AuditEventBody)).toThrow(AuditEventInvalidError);
    expect(() => canonicalEventBytes({ ...body, seq: 0 })).toThrow(AuditEventInvalidError);
  });
});

describe("eventHash", () => {
  it("is SHA-256(prev_hash raw bytes ‖ canonical bytes), hex", () => {
    expect(eventHash(GENESIS, Buffer.from('{"a":1}'))).toBe(
      "e412e8a3e2f90da10d6c272dc9dd546742046cb6a07aee45cadbef5046bc108a",
    );
  });

  it("refuses a prev_hash that is not 64 lower-case hex characters", () => {
    expect(() => eventHash("abc", Buffer.from("{}"))).toThrow(AuditEncodingError);
    expect(() => eventHash(GENESIS.toUpperCase(), Buffer.from("{}"))).toThrow(AuditEncodingError);
  });

  it("gives the checkpoint leaf: the RFC 9162 leaf hash of the 32 raw hash bytes", () => {
    expect(eventLeafHash(GENESIS).equals(hashLeaf(Buffer.from(GENESIS, "hex")))).toBe(true);
  });
});

describe("signEvent / verifyEventSignature (Ed25519 over the 32 raw hash bytes)", () => {
  const hash = eventHash(GENESIS, canonicalEventBytes(body));

  it("signs the raw hash bytes, base64", () => {
    const signature = signEvent(hash, keys.privateKey);
    expect(Buffer.from(signature, "base64")).toHaveLength(64);
    expect(verify(null, Buffer.from(hash, "hex"), keys.publicKey, Buffer.from(signature, "base64"))).toBe(true);
    expect(verify(null, Buffer.from(hash, "utf8"), keys.publicKey, Buffer.from(signature, "base64"))).toBe(false);
    expect(signEvent(hash, keys.privateKey)).toBe(signature); // Ed25519 is deterministic
  });

  it("verifies with the right key only, and only for that hash", () => {
    const signature = signEvent(hash, keys.privateKey);
    expect(verifyEventSignature(hash, signature, keys.publicKey)).toBe(true);
    expect(verifyEventSignature(hash, signature, keys.privateKey)).toBe(true);
    expect(verifyEventSignature(hash, signature, other.publicKey)).toBe(false);
    expect(verifyEventSignature(GENESIS, signature, keys.publicKey)).toBe(false);
  });

  it("rejects malformed or non-canonically encoded signatures without throwing", () => {
    const signature = signEvent(hash, keys.privateKey);
    expect(verifyEventSignature(hash, "", keys.publicKey)).toBe(false);
    expect(verifyEventSignature(hash, signature.slice(0, -4), keys.publicKey)).toBe(false);
    expect(verifyEventSignature(hash, signature.replace(/==$/, ""), keys.publicKey)).toBe(false);
    expect(verifyEventSignature(hash, ` ${signature}`, keys.publicKey)).toBe(false);
    expect(verifyEventSignature("nothex", signature, keys.publicKey)).toBe(false);
  });

  it("refuses keys that are not Ed25519 (or a public key to sign with)", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    expect(() => signEvent(hash, rsa.privateKey)).toThrow(AuditKeyError);
    expect(() => signEvent(hash, keys.publicKey)).toThrow(AuditKeyError);
    expect(() => verifyEventSignature(hash, "x", rsa.publicKey)).toThrow(AuditKeyError);
  });
});

describe("sealAuditEvent", () => {
  it("canonicalizes, hashes and signs in one step, consistently with the parts", () => {
    const sealed = sealAuditEvent(body, keys.privateKey);
    expect(Buffer.from(sealed.canonical).equals(Buffer.from(canonicalEventBytes(body)))).toBe(true);
    expect(sealed.hash).toBe(eventHash(GENESIS, sealed.canonical));
    expect(verifyEventSignature(sealed.hash, sealed.signature, keys.publicKey)).toBe(true);
    expect(sealed.event).toEqual({ ...body, hash: sealed.hash, signature: sealed.signature });
  });
});

describe("sealAuditDrafts", () => {
  const { workspace_id: _w, seq: _s, prev_hash: _p, key_id: _k, ...draft } = body;
  const second = {
    ...draft,
    auditEventId: "ae_01h455vb4pex5vsknk084sn02r",
    step: 2,
    input: { prNumber: 1285, repo: "acme/secret-repo" },
  };
  const placement = { workspaceId: WS, seq: 1, prevHash: GENESIS, keyId: "local-1" };

  it("makes, event by event, what sealAuditEvent makes of the redacted draft placed in the chain", () => {
    const policy = parseRedactionPolicy({ input: { fields: { repo: "hash" } }, output: { default: "drop" } });
    const sealed = sealAuditDrafts([draft, second], placement, policy, keys.privateKey);
    let prev = GENESIS;
    sealed.forEach((s, i) => {
      const expected = sealAuditEvent(
        {
          ...applyRedaction(policy, parseAuditEventDraft([draft, second][i])),
          workspace_id: WS,
          seq: 1 + i,
          prev_hash: prev,
          key_id: "local-1",
        },
        keys.privateKey,
      );
      expect(Buffer.from(s.canonical).equals(Buffer.from(expected.canonical))).toBe(true);
      expect({ hash: s.hash, signature: s.signature, event: s.event }).toEqual({
        hash: expected.hash,
        signature: expected.signature,
        event: expected.event,
      });
      prev = s.hash;
    });
    expect(Buffer.from(sealed[1]!.canonical).toString("utf8")).not.toContain("secret-repo");
    expect(sealed[1]!.event.prev_hash).toBe(sealed[0]!.hash);
  });

  it("validates every draft and the placement, naming fields, never values", () => {
    const policy = parseRedactionPolicy({});
    expect(() => sealAuditDrafts([draft, { ...second, confidence: 7 }], placement, policy, keys.privateKey)).toThrow(
      AuditEventInvalidError,
    );
    expect(() => sealAuditDrafts([{ ...draft, workspace_id: WS }], placement, policy, keys.privateKey)).toThrow(
      AuditEventInvalidError,
    );
    for (const bad of [
      { seq: 0 },
      { seq: 1.5 },
      { prevHash: "ABC" },
      { keyId: "has space" },
      { workspaceId: "rn_01h455vb4pex5vsknk084sn02q" as WorkspaceId },
    ]) {
      expect(() => sealAuditDrafts([draft], { ...placement, ...bad }, policy, keys.privateKey)).toThrow(
        AuditEventInvalidError,
      );
    }
    expect(() => sealAuditDrafts([draft], placement, policy, keys.publicKey)).toThrow(AuditKeyError);
  });
});

describe("checkpointBody", () => {
  const checkpoint = {
    workspace_id: WS,
    tree_size: 3,
    root_hash: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    timestamp: "2026-05-26T14:18:09.182Z",
    key_id: "kms-1",
  };

  it("is the JCS of exactly its five fields", () => {
    expect(Buffer.from(checkpointBody(checkpoint)).toString("utf8")).toBe(
      '{"key_id":"kms-1","root_hash":"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",' +
        '"timestamp":"2026-05-26T14:18:09.182Z","tree_size":3,"workspace_id":"ws_01h455vb4pex5vsknk084sn02q"}',
    );
  });

  it("refuses extra fields and malformed values", () => {
    expect(() => checkpointBody({ ...checkpoint, extra: 1 } as typeof checkpoint)).toThrow(AuditEventInvalidError);
    expect(() => checkpointBody({ ...checkpoint, tree_size: -1 })).toThrow(AuditEventInvalidError);
    expect(() => checkpointBody({ ...checkpoint, root_hash: "AB" })).toThrow(AuditEventInvalidError);
    expect(() => checkpointBody({ ...checkpoint, timestamp: "yesterday" })).toThrow(AuditEventInvalidError);
  });
});
