/**
 * The declarative part of a workspace's own Skill (docs/skills.md), stored in its manifest's `declarative` block and so
 * covered by the manifest's hash:
 *  - `input`: a small JSON Schema naming the producer payload fields the Skill may see. Ingest keeps those and drops
 *    everything else before anything is stored (`projectPayload`); what it keeps is sealed to the workspace key.
 *  - `instructions`: the system prompt.
 *  - `verdicts` and `actions`: the decisions the Skill may reach and what each one does (post to Slack, comment on a
 *    GitHub issue or PR, call the producer back) — acted on by the runtime through allowlisted tools, never by the model.
 *  - `offline`: deterministic rules over the input (`Condition`), for a workspace with no model key — honest rules,
 *    labelled as such in every output.
 *  - `callback`: the producer's URL for `webhook.callback`.
 *
 * Written here rather than taken from a JSON Schema library: the subset is deliberately tiny (bounded depth, sizes and
 * pattern lengths) so a customer's schema cannot make ingest slow or keep more than it names, and projection (keep the
 * named fields, drop the rest) is not what validators do.
 */
import { z } from "zod";

/** A field name in an input schema or a template path segment. */
export const FieldNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "a field name: letters, digits, _");
/** Names the runtime itself puts in a declarative run's audit input: no input field may take them. */
export const RESERVED_INPUT_FIELDS = ["event_type", "webhook_id", "payload_sha256", "purged"] as const;
const MAX_DEPTH = 4;

const described = { description: z.string().max(500).optional() };
const StringField = z
  .object({
    type: z.literal("string"),
    maxLength: z.number().int().min(1).max(10_000).optional(),
    enum: z.array(z.string().max(200)).min(1).max(100).optional(),
    /** Recorded in the audit event's input (top-level scalar fields only); otherwise only its digest is. */
    audit: z.boolean().optional(),
    ...described,
  })
  .strict();
const NumberField = z
  .object({
    type: z.enum(["number", "integer"]),
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    audit: z.boolean().optional(),
    ...described,
  })
  .strict();
const BooleanField = z.object({ type: z.literal("boolean"), audit: z.boolean().optional(), ...described }).strict();

export type InputField =
  | z.infer<typeof StringField>
  | z.infer<typeof NumberField>
  | z.infer<typeof BooleanField>
  | { type: "array"; items: InputField; maxItems?: number | undefined; description?: string | undefined }
  | {
      type: "object";
      properties: Record<string, InputField>;
      required?: string[] | undefined;
      description?: string | undefined;
    };

export const InputFieldSchema: z.ZodType<InputField> = z.lazy(() =>
  z.union([
    StringField,
    NumberField,
    BooleanField,
    z
      .object({
        type: z.literal("array"),
        items: InputFieldSchema,
        maxItems: z.number().int().min(1).max(100).optional(),
        ...described,
      })
      .strict(),
    ObjectFieldSchema,
  ]),
);
const ObjectFieldSchema = z
  .object({
    type: z.literal("object"),
    properties: z.record(FieldNameSchema, InputFieldSchema),
    required: z.array(FieldNameSchema).max(64).optional(),
    ...described,
  })
  .strict();

export const InputSchemaSchema = ObjectFieldSchema.superRefine((s, ctx) => {
  const names = Object.keys(s.properties);
  if (names.length === 0) ctx.addIssue({ code: "custom", path: ["properties"], message: "name at least one field" });
  if (names.length > 64) ctx.addIssue({ code: "custom", path: ["properties"], message: "at most 64 fields" });
  for (const n of names)
    if ((RESERVED_INPUT_FIELDS as readonly string[]).includes(n))
      ctx.addIssue({ code: "custom", path: ["properties", n], message: `"${n}" is reserved` });
  const walk = (f: InputField, path: (string | number)[], depth: number): void => {
    if (depth > MAX_DEPTH) {
      ctx.addIssue({ code: "custom", path, message: `nested deeper than ${MAX_DEPTH} levels` });
      return;
    }
    if ("audit" in f && f.audit && depth !== 1)
      ctx.addIssue({ code: "custom", path: [...path, "audit"], message: "only top-level fields can be audited" });
    if ((f.type === "number" || f.type === "integer") && f.minimum !== undefined && f.maximum !== undefined)
      if (f.minimum > f.maximum) ctx.addIssue({ code: "custom", path, message: "minimum is above maximum" });
    if (f.type === "array") walk(f.items, [...path, "items"], depth + 1);
    if (f.type === "object") {
      for (const r of f.required ?? [])
        if (!(r in f.properties))
          ctx.addIssue({ code: "custom", path: [...path, "required"], message: `"${r}" is not a property` });
      for (const [k, v] of Object.entries(f.properties)) walk(v, [...path, "properties", k], depth + 1);
    }
  };
  walk(s, [], 0);
});
export type InputSchema = z.infer<typeof InputSchemaSchema>;

export interface PayloadProblem {
  /** Where, as a dotted path into the payload (never the value). */
  readonly path: string;
  readonly message: string;
}

type Json = z.core.util.JSONType;

/**
 * Keep the fields `schema` names, drop every other, and check what is kept: a kept field of the wrong type, out of its
 * bounds or a missing required one is a problem (the delivery is refused, naming the path, never the value). Pure.
 */
export function projectPayload(
  schema: InputSchema,
  payload: unknown,
): { readonly value: Record<string, Json>; readonly problems: readonly PayloadProblem[] } {
  const problems: PayloadProblem[] = [];
  const at = (path: string[]) => path.join(".") || "(root)";
  const visit = (f: InputField, v: unknown, path: string[]): Json | undefined => {
    switch (f.type) {
      case "string":
        if (typeof v !== "string") return void problems.push({ path: at(path), message: "expected a string" });
        if (v.length > (f.maxLength ?? 2_000))
          return void problems.push({ path: at(path), message: `longer than ${f.maxLength ?? 2_000} characters` });
        if (f.enum && !f.enum.includes(v))
          return void problems.push({ path: at(path), message: "not one of the allowed values" });
        return v;
      case "number":
      case "integer":
        if (typeof v !== "number" || !Number.isFinite(v) || (f.type === "integer" && !Number.isInteger(v)))
          return void problems.push({
            path: at(path),
            message: `expected ${f.type === "integer" ? "an integer" : "a number"}`,
          });
        if ((f.minimum !== undefined && v < f.minimum) || (f.maximum !== undefined && v > f.maximum))
          return void problems.push({ path: at(path), message: "out of range" });
        return v;
      case "boolean":
        if (typeof v !== "boolean") return void problems.push({ path: at(path), message: "expected a boolean" });
        return v;
      case "array": {
        if (!Array.isArray(v)) return void problems.push({ path: at(path), message: "expected an array" });
        if (v.length > (f.maxItems ?? 20))
          return void problems.push({ path: at(path), message: `more than ${f.maxItems ?? 20} items` });
        const out: Json[] = [];
        v.forEach((item, i) => {
          const kept = visit(f.items, item, [...path, String(i)]);
          if (kept !== undefined) out.push(kept);
        });
        return out;
      }
      case "object": {
        if (v === null || typeof v !== "object" || Array.isArray(v))
          return void problems.push({ path: at(path), message: "expected an object" });
        const src = v as Record<string, unknown>;
        const out: Record<string, Json> = {};
        for (const [k, field] of Object.entries(f.properties)) {
          if (!Object.prototype.hasOwnProperty.call(src, k) || src[k] === undefined) {
            if (f.required?.includes(k)) problems.push({ path: at([...path, k]), message: "required" });
            continue;
          }
          if (src[k] === null) {
            if (f.required?.includes(k)) problems.push({ path: at([...path, k]), message: "required" });
            continue;
          }
          const kept = visit(field, src[k], [...path, k]);
          if (kept !== undefined) out[k] = kept;
        }
        return out;
      }
    }
  };
  // The schema's root is an object, so a kept root is a record: anything else was refused and keeps nothing.
  const value = visit(schema, payload, []) as Record<string, Json> | undefined;
  return { value: value ?? {}, problems };
}

/** The declared path `a.b.c` exists in the schema (objects only; a path into an array is not a template path). */
export function schemaHasPath(schema: InputSchema, path: readonly string[]): boolean {
  let f: InputField = schema;
  for (const seg of path) {
    if (f.type !== "object") return false;
    // Own properties only: `constructor` or `toString` is not a declared field.
    const next: InputField | undefined = Object.hasOwn(f.properties, seg) ? f.properties[seg] : undefined;
    if (!next) return false;
    f = next;
  }
  return f.type !== "object" && f.type !== "array";
}

/** The offline rule language: conditions over the input's declared fields. */
export type Condition =
  | {
      field: string;
      equals?: string | number | boolean | undefined;
      in?: (string | number)[] | undefined;
      matches?: string | undefined;
      exists?: boolean | undefined;
      gt?: number | undefined;
      gte?: number | undefined;
      lt?: number | undefined;
      lte?: number | undefined;
    }
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition };

const FieldPathSchema = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,3}$/,
    "a dotted field path such as build.branch",
  );

export const ConditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    z
      .object({
        field: FieldPathSchema,
        equals: z.union([z.string().max(200), z.number(), z.boolean()]).optional(),
        in: z
          .array(z.union([z.string().max(200), z.number()]))
          .min(1)
          .max(50)
          .optional(),
        /** A regular expression (JavaScript syntax, at most 200 characters), tested against a string field. */
        matches: z
          .string()
          .max(200)
          .refine((p) => isSafePattern(p), "an invalid or too costly regular expression")
          .optional(),
        exists: z.boolean().optional(),
        gt: z.number().optional(),
        gte: z.number().optional(),
        lt: z.number().optional(),
        lte: z.number().optional(),
      })
      .strict()
      .refine((c) => Object.keys(c).length > 1, "a condition on a field needs a test (equals, in, matches, …)"),
    z.object({ all: z.array(ConditionSchema).min(1).max(16) }).strict(),
    z.object({ any: z.array(ConditionSchema).min(1).max(16) }).strict(),
    z.object({ not: ConditionSchema }).strict(),
  ]),
);

/** No backreferences and no nested quantifiers (`(a+)+`): the shapes that make a regular expression explode. */
export function isSafePattern(p: string): boolean {
  if (/\\[1-9]/.test(p) || /\([^)]*[+*][^)]*\)[+*{]/.test(p)) return false;
  try {
    new RegExp(p, "u");
    return true;
  } catch {
    return false;
  }
}

export function conditionFields(c: Condition): string[] {
  if ("all" in c) return c.all.flatMap(conditionFields);
  if ("any" in c) return c.any.flatMap(conditionFields);
  if ("not" in c) return conditionFields(c.not);
  return [c.field];
}

function fieldValue(input: Readonly<Record<string, unknown>>, path: string): unknown {
  let v: unknown = input;
  for (const seg of path.split(".")) {
    // Own properties of plain objects only: an array index or an inherited name (`constructor`) is not a field.
    if (v === null || typeof v !== "object" || Array.isArray(v) || !Object.hasOwn(v, seg)) return undefined;
    v = (v as Record<string, unknown>)[seg];
  }
  return v;
}

/** Evaluate a condition over the (projected) input. Pure; a missing field fails every test but `exists: false`. */
export function evaluateCondition(c: Condition, input: Readonly<Record<string, unknown>>): boolean {
  if ("all" in c) return c.all.every((x) => evaluateCondition(x, input));
  if ("any" in c) return c.any.some((x) => evaluateCondition(x, input));
  if ("not" in c) return !evaluateCondition(c.not, input);
  const v = fieldValue(input, c.field);
  const present = v !== undefined && v !== null;
  if (c.exists !== undefined && present !== c.exists) return false;
  if (!present) return c.exists === false;
  if (c.equals !== undefined && v !== c.equals) return false;
  // `in` holds only strings and numbers, so any other value is in no list.
  if (c.in !== undefined && !c.in.includes(v as string | number)) return false;
  if (c.matches !== undefined && (typeof v !== "string" || !new RegExp(c.matches, "u").test(v))) return false;
  if (c.gt !== undefined || c.gte !== undefined || c.lt !== undefined || c.lte !== undefined) {
    if (typeof v !== "number") return false;
    if (c.gt !== undefined && !(v > c.gt)) return false;
    if (c.gte !== undefined && !(v >= c.gte)) return false;
    if (c.lt !== undefined && !(v < c.lt)) return false;
    if (c.lte !== undefined && !(v <= c.lte)) return false;
  }
  return true;
}

/**
 * Message templates: `{{input.<path>}}`, `{{decision.verdict|summary|confidence}}`, `{{skill.name}}`, `{{run.id}}` —
 * substitution only, no logic. The paths are checked against the input schema when the Skill is published.
 */
export const TemplateSchema = z.string().min(1).max(4_000);
const TEMPLATE_REF = /\{\{\s*([a-z]+)\.([A-Za-z0-9_.]+)\s*\}\}/g;

export function templateRefs(template: string): { scope: string; path: string[] }[] {
  return [...template.matchAll(TEMPLATE_REF)].map((m) => ({ scope: m[1] ?? "", path: (m[2] ?? "").split(".") }));
}

export interface TemplateContext {
  readonly input: Readonly<Record<string, unknown>>;
  readonly decision: { readonly verdict: string; readonly summary: string; readonly confidence: number };
  readonly skill: { readonly name: string };
  readonly run: { readonly id: string };
}

/** Fill a template; `escape` is applied to every substituted value (Slack's `&`, `<`, `>` — no mention injection). */
export function renderTemplate(template: string, ctx: TemplateContext, escape: (s: string) => string): string {
  return template.replace(TEMPLATE_REF, (_m, scope: string, path: string) => {
    let v: unknown;
    if (scope === "input") v = fieldValue(ctx.input, path);
    else if (scope === "decision")
      v =
        path === "confidence"
          ? ctx.decision.confidence.toFixed(2)
          : (ctx.decision as unknown as Record<string, unknown>)[path];
    else if (scope === "skill" && path === "name") v = ctx.skill.name;
    else if (scope === "run" && path === "id") v = ctx.run.id;
    if (v === undefined || v === null) return "";
    return escape(typeof v === "string" ? v : JSON.stringify(v));
  });
}

export const VerdictNameSchema = z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, "a verdict: lower case, digits, _");

export const SlackActionSchema = z
  .object({
    slack: z
      .object({
        channel: z.string().regex(/^[CG][A-Z0-9]{2,30}$/, "a Slack channel id such as C0123ABCD"),
        text: TemplateSchema,
      })
      .strict(),
  })
  .strict();
export const GithubCommentActionSchema = z
  .object({
    githubComment: z
      .object({
        /** `owner/name`, or a template filling it from the input. */
        repo: z.string().min(1).max(200),
        /** The issue or PR number, or a template filling it from the input. */
        number: z.union([z.number().int().min(1), z.string().min(1).max(200)]),
        body: TemplateSchema,
      })
      .strict(),
  })
  .strict();
export const CallbackActionSchema = z.object({ callback: z.object({}).strict() }).strict();
export const ActionSchema = z.union([SlackActionSchema, GithubCommentActionSchema, CallbackActionSchema]);
export type DeclarativeAction = z.infer<typeof ActionSchema>;

/** The tool an action acts through: the Skill must list it in `tools`. */
export function actionTool(a: DeclarativeAction): string {
  if ("slack" in a) return "slack.post_message";
  if ("githubComment" in a) return "github.comment.issue";
  return "webhook.callback";
}

export const OfflineOutcomeSchema = z
  .object({
    verdict: VerdictNameSchema,
    confidence: z.number().min(0).max(1),
    reasoning: z.string().min(1).max(2_000),
    summary: TemplateSchema.optional(),
  })
  .strict();
export const OfflineRulesSchema = z
  .object({
    rules: z.array(OfflineOutcomeSchema.extend({ when: ConditionSchema }).strict()).max(50),
    otherwise: OfflineOutcomeSchema,
  })
  .strict();
export type OfflineRulesSpec = z.infer<typeof OfflineRulesSchema>;

export const DeclarativeSchema = z
  .object({
    input: InputSchemaSchema,
    instructions: z.string().min(1).max(20_000),
    verdicts: z
      .array(z.object({ name: VerdictNameSchema, description: z.string().min(1).max(500) }).strict())
      .min(1)
      .max(8),
    actions: z.record(VerdictNameSchema, z.array(ActionSchema).max(8)),
    offline: OfflineRulesSchema.optional(),
    callback: z
      .object({
        url: z.url({ protocol: /^https?$/ }).max(2_000),
      })
      .strict()
      .optional(),
  })
  .strict();
export type DeclarativeSpec = z.infer<typeof DeclarativeSchema>;

/** At most this much of a producer's payload is kept for a run (the projected fields, as canonical JSON). */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

/** What a run's sealed payload is bound to (the AAD): its workspace and the run itself — moved to another run, it does not open. */
export function runPayloadContext(
  workspaceId: string,
  runId: string,
): { readonly workspaceId: string; readonly provider: "praxa"; readonly purpose: string } {
  return { workspaceId, provider: "praxa", purpose: `run_payload/${runId}` };
}
