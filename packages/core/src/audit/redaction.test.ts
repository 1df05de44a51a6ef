import { describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import {
  applyRedaction,
  AuditEventDraftSchema,
  canonicalJson,
  DEFAULT_REDACTION_POLICY,
  parseRedactionPolicy,
  redactedFieldDigest,
  RedactionPolicyInvalidError,
  type AuditEventDraft,
} from "./index.js";

const sha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

const record: AuditEventDraft = {
  auditEventId: "ae_01h455vb4pex5vsknk084sn02q",
  kind: "skill.action",
  skillId: "sk_01h455vb4pex5vsknk084sn02q",
  runId: "rn_01h455vb4pex5vsknk084sn02q",
  trigger: "github.pull_request.opened",
  input: { prNumber: 1284, repo: "acme/payments", diff: { files: ["checkout.ts"], patch: "+ charge(card)" } },
  reasoning: ["Diff touches payments/checkout."],
  alternatives: [{ action: "request_changes", score: 0.83 }],
  confidence: 0.83,
  output: { verdict: "request_changes", comments: ["Handle the declined card."] },
  tools_used: ["github.read.diff"],
  duration_ms: 4218,
  occurred_at: "2026-05-26T14:18:09.182Z",
  manifest_hash: "a".repeat(64),
  step: 1,
};

describe("redactedFieldDigest", () => {
  it("is SHA-256 (hex) of the value’s RFC 8785 canonical JSON", () => {
    expect(redactedFieldDigest("acme/payments")).toBe(sha256('"acme/payments"'));
    expect(redactedFieldDigest({ b: 1, a: [true, null] })).toBe(sha256('{"a":[true,null],"b":1}'));
    expect(redactedFieldDigest({ a: [true, null], b: 1 })).toBe(redactedFieldDigest({ b: 1, a: [true, null] }));
    expect(redactedFieldDigest(1284)).toBe(sha256("1284"));
  });
});

describe("parseRedactionPolicy", () => {
  it("fills in defaults: keep everything", () => {
    expect(parseRedactionPolicy({})).toEqual(DEFAULT_REDACTION_POLICY);
    expect(parseRedactionPolicy({ input: { fields: { diff: "drop" } } })).toEqual({
      input: { default: "keep", fields: { diff: "drop" } },
      output: { default: "keep", fields: {} },
    });
  });

  it("refuses unknown actions, sides and keys with a typed error", () => {
    for (const bad of [
      { input: { fields: { diff: "encrypt" } } },
      { reasoning: { default: "drop" } },
      { input: { default: "hash", extra: 1 } },
      null,
    ]) {
      expect(() => parseRedactionPolicy(bad)).toThrow(RedactionPolicyInvalidError);
    }
  });
});

describe("parseRedactionPolicy's error", () => {
  const pathsOf = (bad: unknown): unknown => {
    try {
      parseRedactionPolicy(bad);
    } catch (err) {
      expect(err).toBeInstanceOf(RedactionPolicyInvalidError);
      return (err as RedactionPolicyInvalidError).details?.["paths"];
    }
    throw new Error("accepted");
  };
  it("names each bad path, dotted, and the root as (root)", () => {
    expect(pathsOf({ input: { fields: { diff: "encrypt" } } })).toEqual(["input.fields.diff"]);
    expect(pathsOf({ input: { default: "x" }, output: { fields: { a: "y", b: "keep" } } })).toEqual([
      "input.default",
      "output.fields.a",
    ]);
    expect(pathsOf({ input: { fields: { "": "keep" } } })).toEqual(["input.fields."]);
    expect(pathsOf(null)).toEqual(["(root)"]);
  });
});

describe("applyRedaction", () => {
  it("keeps by default, hashes and drops listed top-level fields, leaves the rest of the record alone", () => {
    const policy = parseRedactionPolicy({
      input: { fields: { repo: "hash", diff: "drop" } },
      output: { fields: { comments: "hash" } },
    });
    const out = applyRedaction(policy, record);
    expect(out.input).toEqual({
      prNumber: 1284,
      repo: { $sha256: sha256('"acme/payments"') },
      diff: { $dropped: sha256('{"files":["checkout.ts"],"patch":"+ charge(card)"}') },
    });
    expect(out.output).toEqual({
      verdict: "request_changes",
      comments: { $sha256: sha256('["Handle the declined card."]') },
    });
    const { input: _i, output: _o, ...rest } = out;
    const { input: _ri, output: _ro, ...recordRest } = record;
    expect(rest).toEqual(recordRest);
  });

  it("applies the side’s default to unlisted fields, and a listed keep overrides it", () => {
    const policy = parseRedactionPolicy({
      input: { default: "drop", fields: { prNumber: "keep" } },
      output: { default: "hash" },
    });
    const out = applyRedaction(policy, record);
    expect(Object.keys(out.input)).toEqual(["prNumber", "repo", "diff"]);
    expect(out.input["prNumber"]).toBe(1284);
    expect(out.input["repo"]).toEqual({ $dropped: redactedFieldDigest("acme/payments") });
    expect(out.output["verdict"]).toEqual({ $sha256: redactedFieldDigest("request_changes") });
  });

  it("lets a customer holding the original prove it: the digest is recomputable from the value", () => {
    const out = applyRedaction(parseRedactionPolicy({ input: { default: "drop" } }), record);
    const kept = out.input["diff"] as { $dropped: string };
    expect(kept.$dropped).toBe(sha256(canonicalJson(record.input["diff"])));
  });

  it("is pure: the input record is unchanged, and the result still validates as a draft", () => {
    const before = structuredClone(record);
    const out = applyRedaction(
      parseRedactionPolicy({ input: { default: "hash" }, output: { default: "drop" } }),
      record,
    );
    expect(record).toEqual(before);
    const typed: AuditEventDraft = out; // the redacted record is still a draft, for the type checker too
    expect(AuditEventDraftSchema.safeParse(typed).success).toBe(true);
  });

  it("does not mistake inherited names for listed fields", () => {
    const policy = parseRedactionPolicy({ input: { default: "hash" } });
    const out = applyRedaction(policy, { input: { toString: "x", constructor: 1 }, output: {} });
    expect(out.input).toEqual({
      toString: { $sha256: redactedFieldDigest("x") },
      constructor: { $sha256: redactedFieldDigest(1) },
    });
  });
});
