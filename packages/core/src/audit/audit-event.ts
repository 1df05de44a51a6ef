/**
 * `audit_event · v1`: the record the product page publishes (auditEventId, skillId, runId, trigger, input, reasoning,
 * alternatives, confidence, output, tools_used, duration_ms, occurred_at), plus what the log needs around it — the
 * event's `kind`, the manifest and model it ran under, and the hash-chain fields.
 *
 * Three layers, each `.strict()` (a signed record has no room for unknown fields):
 *   - draft:  what a Skill action (or a pause, a key rotation…) produces;
 *   - body:   draft + `workspace_id`, `seq`, `prev_hash`, `key_id` — exactly what is canonicalized, hashed and signed;
 *   - stored: body + `hash` and `signature`.
 *
 * Kind rules: run kinds (`skill.action`, `guard.denied`, `run.failed`, `approval.*`) carry skillId, runId, step and manifest_hash; skill kinds
 * (`skill.paused`, `skill.resumed`) carry skillId and no runId; workspace kinds (`key.rotated`, `checkpoint`, `siem.disabled`: a
 * SIEM stream the worker disabled) carry
 * neither; admin kinds (`admin.*`) carry no run, and only `admin.trigger_secret.*` a skill; the rest may carry a run
 * (then also its skill). `confidence` is a number for `skill.action` and may be null
 * elsewhere; step, manifest_hash, model and tool_result_hashes belong to events of a run.
 */
import { z } from "zod";
import { AuditEventIdSchema, RunIdSchema, SkillIdSchema, WorkspaceIdSchema } from "../ids.js";
import { ToolNameSchema, TriggerNameSchema } from "../skill-manifest.js";
import { AuditEventInvalidError } from "./audit-errors.js";

export const AUDIT_EVENT_KINDS = [
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
  "admin.token.minted",
  "admin.token.revoked",
  "admin.llm_key.added",
  "admin.llm_key.deleted",
  "admin.channel.added",
  "admin.channel.deleted",
  "admin.trigger_secret.created",
  "admin.trigger_secret.revoked",
  "admin.callback_secret.created",
  "admin.redaction_policy.changed",
  "admin.integration.installed",
  "admin.integration.confirmed",
  "admin.audit_replay.requested",
  "admin.member.slack_linked",
  "admin.siem_subscription.created",
  "admin.siem_subscription.paused",
  "admin.siem_subscription.resumed",
  "admin.siem_subscription.deleted",
  "admin.siem_subscription.rotated",
  "admin.workspace.erasure_requested",
  "admin.workspace.erasure_cancelled",
  "admin.workspace.export_requested",
] as const;
export type AuditEventKind = (typeof AUDIT_EVENT_KINDS)[number];

/** Kinds that are one step of a run: they name the skill, the run, the step and the manifest. */
export const RUN_EVENT_KINDS = [
  "skill.action",
  "guard.denied",
  "run.failed",
  "run.cancelled",
  "run.retried",
  "approval.requested",
  "approval.granted",
  "approval.denied",
  "approval.expired",
] as const satisfies readonly AuditEventKind[];
/** Kinds about a Skill as a whole: they name the skill, never a run. */
export const SKILL_EVENT_KINDS = [
  "skill.paused",
  "skill.resumed",
  "skill.version.created",
] as const satisfies readonly AuditEventKind[];
/** Kinds about the workspace: they name neither a skill nor a run. */
export const WORKSPACE_EVENT_KINDS = [
  "key.rotated",
  "checkpoint",
  "siem.disabled",
] as const satisfies readonly AuditEventKind[];

/**
 * Administrative changes (a token minted or revoked, a BYOK key added or deleted, a notification channel, a trigger
 * secret, the redaction policy, an integration installed or confirmed): never of a run; only a trigger secret names its Skill. Each
 * names its actor and target, never a secret, and is appended in the transaction of the change it records.
 */
export const ADMIN_EVENT_KINDS = [
  "admin.token.minted",
  "admin.token.revoked",
  "admin.llm_key.added",
  "admin.llm_key.deleted",
  "admin.channel.added",
  "admin.channel.deleted",
  "admin.trigger_secret.created",
  "admin.trigger_secret.revoked",
  "admin.callback_secret.created",
  "admin.redaction_policy.changed",
  "admin.integration.installed",
  "admin.integration.confirmed",
  "admin.audit_replay.requested",
  "admin.member.slack_linked",
  "admin.siem_subscription.created",
  "admin.siem_subscription.paused",
  "admin.siem_subscription.resumed",
  "admin.siem_subscription.deleted",
  "admin.siem_subscription.rotated",
  "admin.workspace.erasure_requested",
  "admin.workspace.erasure_cancelled",
  "admin.workspace.export_requested",
] as const satisfies readonly AuditEventKind[];
export type AdminEventKind = (typeof ADMIN_EVENT_KINDS)[number];

/** A SHA-256 digest as 64 lower-case hex characters. */
export const Sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, "a SHA-256 digest: 64 lower-case hex characters");
/** An Ed25519 signature (64 bytes) in padded standard base64. */
export const Ed25519SignatureSchema = z.string().regex(/^[A-Za-z0-9+/]{85}[AQgw]==$/, "an Ed25519 signature in base64");
/** Names the signing key: printable ASCII, no spaces (a local key id or a KMS key ARN). */
export const KeyIdSchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,256}$/, "a key id: 1-256 printable ASCII characters, no spaces");
/** A JSON object: the shape of `input` and `output`. */
export const JsonObjectSchema = z.record(z.string(), z.json());
/** A step number as an object key (JSON keys are strings): "0", "1", "12"… */
const StepKeySchema = z.string().regex(/^(0|[1-9][0-9]{0,8})$/, "a step number");

export const AlternativeSchema = z
  .object({ action: z.string().min(1).max(200), score: z.number().min(0).max(1) })
  .strict();

const draftShape = {
  auditEventId: AuditEventIdSchema,
  kind: z.enum(AUDIT_EVENT_KINDS),
  skillId: SkillIdSchema.nullable(),
  runId: RunIdSchema.nullable(),
  trigger: TriggerNameSchema,
  input: JsonObjectSchema,
  reasoning: z.array(z.string()),
  alternatives: z.array(AlternativeSchema),
  confidence: z.number().min(0).max(1).nullable(),
  output: JsonObjectSchema,
  tools_used: z.array(ToolNameSchema),
  duration_ms: z.number().int().min(0),
  /** ISO-8601 in UTC (`Z`), e.g. 2026-05-26T14:18:09.182Z. */
  occurred_at: z.iso.datetime(),
  /** SHA-256 of the canonical manifest of the skill version the run is pinned to (`manifestHash`). */
  manifest_hash: Sha256HexSchema.optional(),
  step: z.number().int().min(0).optional(),
  /** The model id that produced the step, when a model did. */
  model: z.string().min(1).max(200).optional(),
  /** SHA-256 of each tool result the step saw, by step number. */
  tool_result_hashes: z.record(StepKeySchema, Sha256HexSchema).optional(),
};

const chainShape = {
  workspace_id: WorkspaceIdSchema,
  seq: z.number().int().min(1),
  prev_hash: Sha256HexSchema,
  key_id: KeyIdSchema,
};

const sealShape = {
  hash: Sha256HexSchema,
  signature: Ed25519SignatureSchema,
};

interface KindFields {
  readonly kind: AuditEventKind;
  readonly skillId: string | null;
  readonly runId: string | null;
  readonly confidence: number | null;
  readonly manifest_hash?: string | undefined;
  readonly step?: number | undefined;
  readonly model?: string | undefined;
  readonly tool_result_hashes?: Readonly<Record<string, string>> | undefined;
}

const includes = (list: readonly string[], kind: string): boolean => list.includes(kind);

function kindRules<T extends KindFields>(e: T, ctx: z.RefinementCtx<T>): void {
  const issue = (path: string, message: string): void => ctx.addIssue({ code: "custom", path: [path], message });
  if (includes(RUN_EVENT_KINDS, e.kind)) {
    if (e.skillId === null) issue("skillId", `${e.kind} needs a skillId`);
    if (e.runId === null) issue("runId", `${e.kind} needs a runId`);
    if (e.step === undefined) issue("step", `${e.kind} needs a step`);
    if (e.manifest_hash === undefined) issue("manifest_hash", `${e.kind} needs a manifest_hash`);
  } else if (includes(SKILL_EVENT_KINDS, e.kind)) {
    if (e.skillId === null) issue("skillId", `${e.kind} needs a skillId`);
    if (e.runId !== null) issue("runId", `${e.kind} has no runId`);
  } else if (includes(WORKSPACE_EVENT_KINDS, e.kind)) {
    if (e.skillId !== null) issue("skillId", `${e.kind} has no skillId`);
    if (e.runId !== null) issue("runId", `${e.kind} has no runId`);
  } else if (includes(ADMIN_EVENT_KINDS, e.kind)) {
    if (e.runId !== null) issue("runId", `${e.kind} has no runId`);
    if (
      e.skillId !== null &&
      !e.kind.startsWith("admin.trigger_secret.") &&
      !e.kind.startsWith("admin.callback_secret.")
    )
      issue("skillId", `${e.kind} has no skillId`);
  } else if (e.runId !== null && e.skillId === null) {
    issue("skillId", "an event of a run names its skill");
  }
  if (e.kind === "skill.action" && e.confidence === null) issue("confidence", "skill.action needs a confidence");
  if (e.runId === null && !includes(RUN_EVENT_KINDS, e.kind)) {
    for (const field of ["step", "manifest_hash", "model", "tool_result_hashes"] as const) {
      if (e[field] !== undefined) issue(field, `${field} belongs to events of a run`);
    }
  }
}

/** What a Skill action (or a pause, a rotation…) records, before the chain places it. */
export const AuditEventDraftSchema = z.object(draftShape).strict().superRefine(kindRules);
/** The record that is canonicalized (RFC 8785), hashed and signed: the draft placed in its workspace's chain. */
export const AuditEventBodySchema = z
  .object({ ...draftShape, ...chainShape })
  .strict()
  .superRefine(kindRules);
/** The stored record: body + `hash = sha256(prev_hash ‖ JCS(body))` and the Ed25519 `signature` over it. */
export const StoredAuditEventSchema = z
  .object({ ...draftShape, ...chainShape, ...sealShape })
  .strict()
  .superRefine(kindRules);

export type AuditEventDraft = z.infer<typeof AuditEventDraftSchema>;
export type AuditEventBody = z.infer<typeof AuditEventBodySchema>;
export type StoredAuditEvent = z.infer<typeof StoredAuditEventSchema>;
export type AuditAlternative = z.infer<typeof AlternativeSchema>;

function parseWith<T>(schema: z.ZodType<T>, what: string, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const paths = [...new Set(parsed.error.issues.map((i) => i.path.map(String).join(".") || "(root)"))];
    throw new AuditEventInvalidError(`invalid ${what} at: ${paths.join(", ")}`, { details: { paths } });
  }
  return parsed.data;
}

/** Validate a draft or throw `AuditEventInvalidError` naming the bad fields (never their values). */
export function parseAuditEventDraft(value: unknown): AuditEventDraft {
  return parseWith(AuditEventDraftSchema, "audit event", value);
}

/** Validate a body (draft + chain fields) or throw `AuditEventInvalidError`. */
export function parseAuditEventBody(value: unknown): AuditEventBody {
  return parseWith(AuditEventBodySchema, "audit event body", value);
}

/** Validate a stored record or throw `AuditEventInvalidError`. */
export function parseStoredAuditEvent(value: unknown): StoredAuditEvent {
  return parseWith(StoredAuditEventSchema, "stored audit event", value);
}
