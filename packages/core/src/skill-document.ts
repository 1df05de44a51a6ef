/**
 * What a customer writes (YAML or JSON; docs/skills.md, JSON Schema in docs/skills/skill.schema.json): one flat
 * document. `compileSkillDocument` turns it into the stored manifest — the guards' fields plus the `declarative` block —
 * so the manifest's hash covers every word of it (instructions, input schema, actions, rules) and a run pinned to a
 * version runs exactly what was published. Errors name the document's own paths, never its values.
 */
import { z } from "zod";
import { DeclarativeSchema } from "./declarative-spec.js";
import { ValidationError } from "./errors.js";
import {
  ApprovalSchema,
  MemoryNamespaceSchema,
  MODEL_PROVIDERS,
  NOTIFY_CHANNELS,
  SkillManifestSchema,
  SkillSlugSchema,
  ToolNameSchema,
  TriggerNameSchema,
  type SkillManifest,
} from "./skill-manifest.js";

/** The model a declarative Skill asks for when its document names none (the workspace's key decides the provider). */
export const DEFAULT_SKILL_MODEL = "claude-sonnet-4-5";

const d = DeclarativeSchema.shape;
export const SkillDocumentSchema = z
  .object({
    slug: SkillSlugSchema,
    name: z.string().min(1).max(200),
    description: z.string().max(2000).optional(),
    triggers: z.array(TriggerNameSchema).min(1).max(32),
    input: d.input,
    instructions: d.instructions,
    tools: z.array(ToolNameSchema).max(64),
    decision: z.object({ verdicts: d.verdicts }).strict(),
    actions: d.actions,
    memory: z.object({ namespace: MemoryNamespaceSchema }).strict().optional(),
    subAgents: z
      .object({ allowed: z.array(SkillSlugSchema).max(16), maxDepth: z.number().int().min(0).max(5) })
      .strict()
      .optional(),
    model: z
      .object({ provider: z.enum(MODEL_PROVIDERS).optional(), id: z.string().min(1).max(200) })
      .strict()
      .optional(),
    maxIterations: z.number().int().min(1).max(50).optional(),
    acceptance: z
      .object({
        threshold: z.number().min(0).max(1),
        window: z.number().int().min(1).max(10_000),
        minSamples: z.number().int().min(1).max(10_000),
      })
      .strict(),
    notify: z.array(z.enum(NOTIFY_CHANNELS)).max(3).optional(),
    approval: ApprovalSchema.optional(),
    offline: d.offline,
    callback: d.callback,
  })
  .strict();
export type SkillDocument = z.infer<typeof SkillDocumentSchema>;

export interface SkillDocumentIssue {
  /** A dotted path into the document (`actions.escalate.0.slack.channel`), or `(root)`. */
  readonly path: string;
  readonly message: string;
}

export class SkillDocumentError extends ValidationError {
  constructor(readonly issues: readonly SkillDocumentIssue[]) {
    super(`invalid Skill: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, {
      details: { paths: [...new Set(issues.map((i) => i.path))] },
    });
  }
}

/** A manifest path back to where the customer wrote it. */
function documentPath(path: readonly PropertyKey[]): string {
  const p = path.map(String);
  if (p[0] !== "declarative") return p.join(".") || "(root)";
  const rest = p.slice(1);
  return (rest[0] === "verdicts" ? ["decision", ...rest] : rest).join(".") || "(root)";
}

const issuesOf = (err: z.ZodError, map: (p: readonly PropertyKey[]) => string): SkillDocumentIssue[] => {
  const seen = new Set<string>();
  const out: SkillDocumentIssue[] = [];
  for (const i of err.issues) {
    const issue = { path: map(i.path), message: i.message };
    const key = `${issue.path}\n${issue.message}`;
    if (!seen.has(key)) out.push(issue);
    seen.add(key);
  }
  return out;
};

/** Validate a document and compile it to the manifest that is stored and hashed; throws `SkillDocumentError`. */
export function compileSkillDocument(value: unknown): SkillManifest {
  const doc = SkillDocumentSchema.safeParse(value);
  if (!doc.success) throw new SkillDocumentError(issuesOf(doc.error, (p) => p.map(String).join(".") || "(root)"));
  const x = doc.data;
  const manifest = SkillManifestSchema.safeParse({
    slug: x.slug,
    name: x.name,
    ...(x.description !== undefined ? { description: x.description } : {}),
    triggers: x.triggers,
    tools: x.tools,
    memory: x.memory ?? null,
    subAgents: x.subAgents ?? { allowed: [], maxDepth: 0 },
    model: x.model ?? { id: DEFAULT_SKILL_MODEL },
    maxIterations: x.maxIterations ?? 6,
    acceptance: x.acceptance,
    notify: x.notify ?? [],
    ...(x.approval ? { approval: x.approval } : {}),
    declarative: {
      input: x.input,
      instructions: x.instructions,
      verdicts: x.decision.verdicts,
      actions: x.actions,
      ...(x.offline ? { offline: x.offline } : {}),
      ...(x.callback ? { callback: x.callback } : {}),
    },
  });
  if (!manifest.success) throw new SkillDocumentError(issuesOf(manifest.error, documentPath));
  return manifest.data;
}

/** The document a stored declarative manifest was compiled from (for `praxa skills get -o yaml` and version diffs). */
export function skillDocumentOf(m: SkillManifest): SkillDocument | null {
  if (!m.declarative) return null;
  const { declarative: dec, ...rest } = m;
  return {
    slug: rest.slug,
    name: rest.name,
    ...(rest.description !== undefined ? { description: rest.description } : {}),
    triggers: rest.triggers,
    input: dec.input,
    instructions: dec.instructions,
    tools: rest.tools,
    decision: { verdicts: dec.verdicts },
    actions: dec.actions,
    ...(rest.memory ? { memory: rest.memory } : {}),
    subAgents: rest.subAgents,
    model: rest.model,
    maxIterations: rest.maxIterations,
    acceptance: rest.acceptance,
    notify: rest.notify,
    ...(rest.approval ? { approval: rest.approval } : {}),
    ...(dec.offline ? { offline: dec.offline } : {}),
    ...(dec.callback ? { callback: dec.callback } : {}),
  };
}

/**
 * The JSON Schema (2020-12) of a Skill document, published as docs/skills/skill.schema.json (a test keeps the file equal
 * to this; `PRAXA_WRITE_SKILL_SCHEMA=1` rewrites it). Editors validate YAML against it; the api's checks go further
 * (cross-field rules: actions name verdicts and declared tools, templates name declared fields).
 */
export function skillDocumentJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://praxa.dev/schemas/skill.schema.json",
    title: "Praxa Skill document",
    description: "A workspace's own Skill (docs/skills.md). Publish with `praxa skills apply -f skill.yaml`.",
    ...z.toJSONSchema(SkillDocumentSchema, { io: "input", unrepresentable: "any" }),
  };
}
