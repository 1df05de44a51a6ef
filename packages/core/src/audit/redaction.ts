/**
 * Per-workspace redaction of an audit record's `input` and `output`, applied before the record is canonicalized and
 * signed: per top-level field `keep` it, `hash` it or `drop` it, with a default for fields the policy does not list.
 *
 *   hash → { "$sha256":  sha256-hex(JCS(value)) }   the field is replaced by its digest
 *   drop → { "$dropped": sha256-hex(JCS(value)) }   the same digest, marked as dropped rather than hashed
 *
 * Either way the digest stays in the log, so a customer who holds the original value can prove it was the one seen.
 * The digest is unkeyed by design (anyone can recompute it): a low-entropy value (a yes/no, a small number, a known
 * e-mail address) can be guessed from it, so `hash` hides only values that are hard to guess.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { RedactionPolicyInvalidError } from "./audit-errors.js";
import { canonicalBytes, type JsonValue } from "./jcs.js";

export const REDACTION_ACTIONS = ["keep", "hash", "drop"] as const;
export type RedactionAction = (typeof REDACTION_ACTIONS)[number];

const ActionSchema = z.enum(REDACTION_ACTIONS);

/** The policy for one side (`input` or `output`): an action per top-level field, and one for the rest. */
export const FieldRedactionSchema = z
  .object({
    default: ActionSchema.default("keep"),
    fields: z.record(z.string().min(1).max(200), ActionSchema).default({}),
  })
  .strict();

export const RedactionPolicySchema = z
  .object({
    input: FieldRedactionSchema.default({ default: "keep", fields: {} }),
    output: FieldRedactionSchema.default({ default: "keep", fields: {} }),
  })
  .strict();

/** A parsed policy (defaults filled in). */
export type RedactionPolicy = z.output<typeof RedactionPolicySchema>;
/** A policy as written (every part optional). */
export type RedactionPolicyInput = z.input<typeof RedactionPolicySchema>;
export type FieldRedaction = z.output<typeof FieldRedactionSchema>;

/** Keep everything. */
export const DEFAULT_REDACTION_POLICY: RedactionPolicy = Object.freeze({
  input: Object.freeze({ default: "keep", fields: Object.freeze({}) }),
  output: Object.freeze({ default: "keep", fields: Object.freeze({}) }),
}) as RedactionPolicy;

/** Validate a policy or throw `RedactionPolicyInvalidError` naming the bad paths. */
export function parseRedactionPolicy(value: unknown): RedactionPolicy {
  const parsed = RedactionPolicySchema.safeParse(value);
  if (!parsed.success) {
    const paths = [...new Set(parsed.error.issues.map((i) => i.path.map(String).join(".") || "(root)"))];
    throw new RedactionPolicyInvalidError(`invalid redaction policy at: ${paths.join(", ")}`, { details: { paths } });
  }
  return parsed.data;
}

/** SHA-256 (hex) of the value's RFC 8785 canonical JSON: what a hashed or dropped field is replaced by. */
export function redactedFieldDigest(value: JsonValue): string {
  return createHash("sha256").update(canonicalBytes(value)).digest("hex");
}

export type RedactedFields = Record<string, JsonValue>;

/** Apply one side's policy to a JSON object's top-level fields; nested values go with their top-level field. */
export function redactFields(policy: FieldRedaction, fields: Readonly<Record<string, JsonValue>>): RedactedFields {
  return Object.fromEntries(
    Object.entries(fields).map(([key, value]): [string, JsonValue] => {
      const action = Object.hasOwn(policy.fields, key) ? (policy.fields[key] ?? policy.default) : policy.default;
      switch (action) {
        case "keep":
          return [key, value];
        case "hash":
          return [key, { $sha256: redactedFieldDigest(value) }];
        case "drop":
          return [key, { $dropped: redactedFieldDigest(value) }];
      }
    }),
  );
}

/** A record with the two redactable sides (an audit draft, for one). */
export interface RedactableRecord {
  readonly input: Readonly<Record<string, JsonValue>>;
  readonly output: Readonly<Record<string, JsonValue>>;
}

/** The record with its `input` and `output` redacted by `policy`; everything else is returned as it was. Pure. */
export function applyRedaction<T extends RedactableRecord>(
  policy: RedactionPolicy,
  record: T,
): Omit<T, "input" | "output"> & { input: RedactedFields; output: RedactedFields } {
  return {
    ...record,
    input: redactFields(policy.input, record.input),
    output: redactFields(policy.output, record.output),
  };
}
