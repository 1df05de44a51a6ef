import { describe, expect, it } from "@jest/globals";
import {
  ADMIN_EVENT_KINDS,
  AUDIT_EVENT_KINDS,
  AuditEventBodySchema,
  AuditEventDraftSchema,
  AuditEventInvalidError,
  parseAuditEventDraft,
  StoredAuditEventSchema,
  type AuditEventDraft,
} from "./index.js";
import { newId } from "../ids.js";

const sha = (c: string): string => c.repeat(64);

/** The product page's `audit_event · v1` sample, with real ids and the fields the log adds. */
const sample: AuditEventDraft = {
  auditEventId: newId("auditEvent"),
  kind: "skill.action",
  skillId: newId("skill"),
  runId: newId("run"),
  trigger: "github.pull_request.opened",
  input: { prNumber: 1284, repo: "acme/payments" },
  reasoning: [
    "Diff touches payments/checkout — high-risk surface.",
    "Author has 0 prior PRs in this directory.",
    "Tests cover happy path; no failure-mode coverage.",
  ],
  alternatives: [
    { action: "approve", score: 0.42 },
    { action: "request_changes", score: 0.83 },
    { action: "escalate_human", score: 0.71 },
  ],
  confidence: 0.83,
  output: {
    verdict: "request_changes",
    comments: [{ path: "checkout.ts", line: 12, body: "Handle the declined card." }],
  },
  tools_used: ["github.read.diff", "github.comment.pr"],
  duration_ms: 4218,
  occurred_at: "2026-05-26T14:18:09.182Z",
  manifest_hash: sha("a"),
  step: 3,
  model: "claude-sonnet-4-5",
  tool_result_hashes: { "1": sha("b"), "2": sha("c") },
};

const chain = { workspace_id: newId("workspace"), seq: 1, prev_hash: sha("0"), key_id: "local-ed25519-1" };
const seal = { hash: sha("f"), signature: Buffer.alloc(64, 7).toString("base64") };

const errorPaths = (value: unknown): string[] => {
  const r = AuditEventDraftSchema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
};

describe("audit_event · v1 schemas", () => {
  it("accepts the product page sample, as a draft, a body and a stored record", () => {
    expect(AuditEventDraftSchema.parse(sample)).toEqual(sample);
    expect(AuditEventBodySchema.parse({ ...sample, ...chain })).toEqual({ ...sample, ...chain });
    expect(StoredAuditEventSchema.parse({ ...sample, ...chain, ...seal })).toEqual({ ...sample, ...chain, ...seal });
  });

  it("keeps the layers apart: a draft has no chain fields, a body no hash or signature", () => {
    expect(AuditEventDraftSchema.safeParse({ ...sample, ...chain }).success).toBe(false);
    expect(AuditEventBodySchema.safeParse({ ...sample, ...chain, ...seal }).success).toBe(false);
    expect(StoredAuditEventSchema.safeParse({ ...sample, ...chain }).success).toBe(false);
    expect(AuditEventBodySchema.safeParse(sample).success).toBe(false);
  });

  it("refuses unknown fields (a signed record has no room for extras)", () => {
    expect(errorPaths({ ...sample, extra: 1 })).toEqual([""]);
    expect(errorPaths({ ...sample, alternatives: [{ action: "approve", score: 0.4, why: "x" }] })).toEqual([
      "alternatives.0",
    ]);
  });

  it("checks ids by kind, ranges and formats", () => {
    expect(errorPaths({ ...sample, auditEventId: newId("run") })).toEqual(["auditEventId"]);
    expect(errorPaths({ ...sample, skillId: "sk_01j" })).toEqual(["skillId"]);
    expect(errorPaths({ ...sample, confidence: 1.01 })).toEqual(["confidence"]);
    expect(errorPaths({ ...sample, alternatives: [{ action: "approve", score: -0.1 }] })).toEqual([
      "alternatives.0.score",
    ]);
    expect(errorPaths({ ...sample, duration_ms: 1.5 })).toEqual(["duration_ms"]);
    expect(errorPaths({ ...sample, duration_ms: -1 })).toEqual(["duration_ms"]);
    expect(errorPaths({ ...sample, occurred_at: "2026-05-26T16:18:09.182+02:00" })).toEqual(["occurred_at"]);
    expect(errorPaths({ ...sample, occurred_at: "26 May 2026" })).toEqual(["occurred_at"]);
    expect(errorPaths({ ...sample, trigger: "Opened PR" })).toEqual(["trigger"]);
    expect(errorPaths({ ...sample, tools_used: ["rm -rf"] })).toEqual(["tools_used.0"]);
    expect(errorPaths({ ...sample, input: [1, 2] })).toEqual(["input"]);
    expect(errorPaths({ ...sample, reasoning: "one string" })).toEqual(["reasoning"]);
    expect(errorPaths({ ...sample, manifest_hash: sha("A") })).toEqual(["manifest_hash"]);
    expect(errorPaths({ ...sample, tool_result_hashes: { first: sha("b") } })).toEqual(["tool_result_hashes.first"]);
    expect(errorPaths({ ...sample, kind: "skill.deleted" })).toEqual(["kind"]);
  });

  it("checks the chain fields", () => {
    const body = (patch: Record<string, unknown>): boolean =>
      AuditEventBodySchema.safeParse({ ...sample, ...chain, ...patch }).success;
    expect(body({ seq: 0 })).toBe(false);
    expect(body({ seq: 2.5 })).toBe(false);
    expect(body({ workspace_id: newId("tenant") })).toBe(false);
    expect(body({ prev_hash: "abc" })).toBe(false);
    expect(body({ key_id: "has space" })).toBe(false);
    expect(body({ key_id: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" })).toBe(true);
    const stored = (patch: Record<string, unknown>): boolean =>
      StoredAuditEventSchema.safeParse({ ...sample, ...chain, ...seal, ...patch }).success;
    expect(stored({ signature: Buffer.alloc(63).toString("base64") })).toBe(false);
    expect(stored({ signature: Buffer.alloc(64).toString("hex") })).toBe(false);
  });

  it("lists its kinds as a const", () => {
    expect(AUDIT_EVENT_KINDS).toEqual([
      "skill.action",
      "guard.denied",
      "run.failed",
      "run.cancelled",
      "run.retried",
      "approval.requested",
      "approval.granted",
      "approval.denied",
      "approval.expired",
      "skill.paused",
      "skill.resumed",
      "skill.version.created",
      "key.rotated",
      "token.minted",
      "integration.changed",
      "checkpoint",
      "siem.disabled",
      ...ADMIN_EVENT_KINDS,
    ]);
  });
});

describe("kind rules", () => {
  const withoutRun = { runId: null } as const;
  const runOnly = ["step", "manifest_hash", "model", "tool_result_hashes"] as const;
  const bare = Object.fromEntries(Object.entries(sample).filter(([k]) => !(runOnly as readonly string[]).includes(k)));
  const paused = {
    ...bare,
    kind: "skill.paused",
    runId: null,
    confidence: null,
    trigger: "monitor.acceptance_below_threshold",
  };
  const rotated = {
    ...bare,
    kind: "key.rotated",
    skillId: null,
    runId: null,
    confidence: null,
    trigger: "api.keys.rotate",
  };

  it("run kinds need skillId, runId, step and manifest_hash", () => {
    expect(errorPaths({ ...sample, ...withoutRun })).toEqual(["runId"]);
    expect(errorPaths({ ...sample, skillId: null })).toEqual(["skillId"]);
    expect(errorPaths(bare)).toEqual(["step", "manifest_hash"]);
    const denied = { ...sample, kind: "guard.denied", confidence: null, tools_used: [], alternatives: [] };
    expect(errorPaths(denied)).toEqual([]);
  });

  it("approval kinds are run kinds: a step and the manifest, never without the run", () => {
    for (const kind of ["approval.requested", "approval.granted", "approval.denied", "approval.expired"]) {
      const approval = { ...sample, kind, confidence: null, tools_used: [], alternatives: [] };
      expect(errorPaths(approval)).toEqual([]);
      expect(errorPaths({ ...approval, runId: null })).toEqual(["runId"]);
      expect(errorPaths({ ...bare, kind, confidence: null })).toEqual(["step", "manifest_hash"]);
    }
  });

  it("skill.action needs a confidence; other kinds may leave it null", () => {
    expect(errorPaths({ ...sample, confidence: null })).toEqual(["confidence"]);
    expect(errorPaths(paused)).toEqual([]);
  });

  it("skill.paused and skill.resumed name a skill and no run", () => {
    expect(errorPaths({ ...paused, kind: "skill.resumed", trigger: "api.skill.resume" })).toEqual([]);
    expect(errorPaths({ ...paused, skillId: null })).toEqual(["skillId"]);
    expect(errorPaths({ ...paused, runId: sample.runId })).toEqual(["runId"]);
  });

  it("key.rotated and checkpoint name neither", () => {
    expect(errorPaths(rotated)).toEqual([]);
    expect(errorPaths({ ...rotated, kind: "checkpoint" })).toEqual([]);
    expect(errorPaths({ ...rotated, skillId: sample.skillId })).toEqual(["skillId"]);
    expect(errorPaths({ ...rotated, runId: sample.runId })).toEqual(["runId"]);
  });

  it("admin kinds never name a run; only admin.trigger_secret.* names a skill", () => {
    const minted = { ...rotated, kind: "admin.token.minted", trigger: "api.token_mint" };
    expect(errorPaths(minted)).toEqual([]);
    expect(errorPaths({ ...minted, skillId: sample.skillId })).toEqual(["skillId"]);
    expect(
      errorPaths({ ...minted, kind: "admin.llm_key.added", runId: sample.runId, skillId: sample.skillId }).sort(),
    ).toEqual(["runId", "skillId"]);
    expect(errorPaths({ ...minted, kind: "admin.trigger_secret.created", skillId: sample.skillId })).toEqual([]);
  });

  it("token.minted may happen inside a run or outside one, but a run always names its skill", () => {
    expect(errorPaths({ ...rotated, kind: "token.minted", trigger: "github.installation_token.minted" })).toEqual([]);
    expect(errorPaths({ ...sample, kind: "token.minted", confidence: null })).toEqual([]);
    expect(errorPaths({ ...sample, kind: "integration.changed", skillId: null })).toEqual(["skillId"]);
  });

  it("step, manifest_hash, model and tool_result_hashes belong to events of a run", () => {
    expect(errorPaths({ ...rotated, step: 1, model: "claude-sonnet-4-5" })).toEqual(["step", "model"]);
  });
});

describe("parseAuditEventDraft", () => {
  it("returns the draft, or throws a typed error naming fields and not values", () => {
    expect(parseAuditEventDraft(sample)).toEqual(sample);
    let caught: unknown;
    try {
      parseAuditEventDraft({ ...sample, trigger: "CANARY secret trigger", confidence: 7 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AuditEventInvalidError);
    const error = caught as AuditEventInvalidError;
    expect(error.code).toBe("AUDIT_EVENT_INVALID");
    expect(error.details).toEqual({ paths: ["trigger", "confidence"] });
    expect(error.message).not.toContain("CANARY");
  });
});
