/**
 * A Skill is a versioned manifest plus steps. The manifest is what the runtime's guards enforce — which triggers may
 * start it, which tools it may call, which memory namespace it may touch, which sub-agents it may dispatch — so it is
 * validated here, stored validated in `skill_versions` with its hash, and a run is pinned to one version.
 */
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import { z } from "zod";
import {
  actionTool,
  conditionFields,
  DeclarativeSchema,
  schemaHasPath,
  templateRefs,
  type DeclarativeSpec,
} from "./declarative-spec.js";
import { ValidationError } from "./errors.js";

/** `github.pull_request.opened`, `slack.app_mention`, `trigger.custom_name`… */
export const TriggerNameSchema = z
  .string()
  .regex(/^[a-z0-9_]+(\.[a-z0-9_]+)+$/, "a dotted trigger name such as github.pull_request.opened");
/** `github.read.diff`, `slack.post_message`, `memory.read`… */
export const ToolNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, "a dotted tool name such as github.read.diff");
export const MemoryNamespaceSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "a memory namespace: lower case, digits, . _ -");
export const SkillSlugSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a skill slug: lower case, digits, -");

export const APPROVER_ROLES = ["owner", "admin", "member"] as const;

export const ApprovalSchema = z
  .object({
    /** Tools (from `tools`) that wait for a human's approval before they act. */
    tools: z.array(ToolNameSchema).min(1).max(16),
    /** The Slack channel the Approve / Deny message goes to (the workspace's Slack team); none: the api alone. */
    slackChannel: z
      .string()
      .regex(/^[CG][A-Z0-9]{2,30}$/, "a Slack channel id such as C0123ABCD")
      .optional(),
    /** Minutes until an undecided approval expires (the run then finishes `denied`). */
    expiresAfterMinutes: z.number().int().min(1).max(10_080),
    /** Who may decide: workspace members with one of these roles (humans only; never a bot or automation token). */
    roles: z.array(z.enum(APPROVER_ROLES)).min(1).max(3),
  })
  .strict();
export type Approval = z.infer<typeof ApprovalSchema>;

export const NOTIFY_CHANNELS = ["slack", "email", "pagerduty"] as const;
export const MODEL_PROVIDERS = ["anthropic", "bedrock", "vertex", "offline"] as const;

export const SkillManifestSchema = z
  .object({
    slug: SkillSlugSchema,
    name: z.string().min(1).max(200),
    description: z.string().max(2000).optional(),
    triggers: z.array(TriggerNameSchema).min(1).max(32),
    tools: z.array(ToolNameSchema).max(64),
    memory: z.object({ namespace: MemoryNamespaceSchema }).strict().nullable(),
    subAgents: z
      .object({ allowed: z.array(SkillSlugSchema).max(16), maxDepth: z.number().int().min(0).max(5) })
      .strict(),
    model: z
      .object({
        /** Preferred provider; `offline` forces the deterministic offline model. Otherwise the workspace's BYOK key decides. */
        provider: z.enum(MODEL_PROVIDERS).optional(),
        id: z.string().min(1).max(200),
      })
      .strict(),
    maxIterations: z.number().int().min(1).max(50),
    acceptance: z
      .object({
        /** The published acceptance-rate threshold, 0..1. */
        threshold: z.number().min(0).max(1),
        /** Rolling window: the last N decided actions. */
        window: z.number().int().min(1).max(10_000),
        /** No pause until at least this many decisions. */
        minSamples: z.number().int().min(1).max(10_000),
      })
      .strict()
      .refine((a) => a.minSamples <= a.window, { message: "minSamples must not exceed window" }),
    notify: z.array(z.enum(NOTIFY_CHANNELS)).max(3),
    /**
     * Effect tools that act only after a human's approval: the run parks (`waiting_approval`, no slot, no lease, its
     * journal kept), the Skill's Slack channel gets Approve / Deny buttons, and a member with one of `roles` decides.
     */
    approval: ApprovalSchema.optional(),
    /** A workspace's own Skill (docs/skills.md): its input, instructions, verdicts, actions, offline rules, callback. */
    declarative: DeclarativeSchema.optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (new Set(m.tools).size !== m.tools.length)
      ctx.addIssue({ code: "custom", path: ["tools"], message: "tools must be unique" });
    for (const [i, tool] of (m.approval?.tools ?? []).entries())
      if (!m.tools.includes(tool))
        ctx.addIssue({
          code: "custom",
          path: ["approval", "tools", i],
          message: "an approval tool must be one of the Skill's tools",
        });
    if (m.declarative) checkDeclarative(m.declarative, m.tools, m.triggers, ctx);
    if (new Set(m.triggers).size !== m.triggers.length)
      ctx.addIssue({ code: "custom", path: ["triggers"], message: "triggers must be unique" });
    const usesMemory = m.tools.some((t) => t.startsWith("memory."));
    if (usesMemory && m.memory === null)
      ctx.addIssue({ code: "custom", path: ["memory"], message: "memory tools need a memory namespace" });
    if (m.tools.includes("subagent.dispatch") && m.subAgents.allowed.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["subAgents"],
        message: "subagent.dispatch needs at least one allowed sub-agent",
      });
    }
  });

export type SkillManifest = z.infer<typeof SkillManifestSchema>;

/** A declarative Skill's parts must agree with each other and with its tools and triggers. */
function checkDeclarative(
  d: DeclarativeSpec,
  tools: readonly string[],
  triggers: readonly string[],
  ctx: z.RefinementCtx,
): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: "custom", path: ["declarative", ...path], message });
  for (const [i, t] of triggers.entries())
    if (!/^(trigger|github|slack)\./.test(t))
      ctx.addIssue({
        code: "custom",
        path: ["triggers", i],
        message: "a Skill's trigger is a producer's event (trigger.<type>), a GitHub or a Slack event",
      });
  const verdicts = d.verdicts.map((v) => v.name);
  if (new Set(verdicts).size !== verdicts.length) issue(["verdicts"], "verdicts must be unique");
  const templateOk = (template: string, path: (string | number)[]) => {
    for (const ref of templateRefs(template)) {
      const ok =
        (ref.scope === "input" && schemaHasPath(d.input, ref.path)) ||
        (ref.scope === "decision" &&
          ref.path.length === 1 &&
          ["verdict", "summary", "confidence"].includes(ref.path[0] ?? "")) ||
        (ref.scope === "skill" && ref.path.join(".") === "name") ||
        (ref.scope === "run" && ref.path.join(".") === "id");
      if (!ok)
        issue(
          path,
          `{{${ref.scope}.${ref.path.join(".")}}} names no declared input field (or decision.verdict|summary|confidence, skill.name, run.id)`,
        );
    }
  };
  for (const [verdict, actions] of Object.entries(d.actions)) {
    if (!verdicts.includes(verdict)) issue(["actions", verdict], `"${verdict}" is not one of the verdicts`);
    for (const [i, a] of actions.entries()) {
      const tool = actionTool(a);
      if (!tools.includes(tool)) issue(["actions", verdict, i], `this action needs the tool ${tool} in tools`);
      if ("callback" in a && !d.callback) issue(["actions", verdict, i], "a callback action needs callback.url");
      if ("slack" in a) templateOk(a.slack.text, ["actions", verdict, i, "slack", "text"]);
      if ("githubComment" in a) {
        const g = a.githubComment;
        templateOk(g.body, ["actions", verdict, i, "githubComment", "body"]);
        templateOk(g.repo, ["actions", verdict, i, "githubComment", "repo"]);
        if (typeof g.number === "string") templateOk(g.number, ["actions", verdict, i, "githubComment", "number"]);
      }
    }
  }
  if (d.offline) {
    const outcomes: { verdict: string; summary?: string | undefined; path: (string | number)[] }[] = [
      ...d.offline.rules.map((r, i) => ({ ...r, path: ["offline", "rules", i] })),
      { ...d.offline.otherwise, path: ["offline", "otherwise"] },
    ];
    for (const o of outcomes) {
      if (!verdicts.includes(o.verdict)) issue([...o.path, "verdict"], `"${o.verdict}" is not one of the verdicts`);
      if (o.summary) templateOk(o.summary, [...o.path, "summary"]);
    }
    for (const [i, r] of d.offline.rules.entries())
      for (const f of conditionFields(r.when))
        if (!schemaHasPath(d.input, f.split(".")))
          issue(["offline", "rules", i, "when"], `"${f}" is not a declared input field`);
  }
}

/** Validate a manifest or throw `ValidationError` naming the bad paths (never the values). */
export function parseSkillManifest(value: unknown): SkillManifest {
  const parsed = SkillManifestSchema.safeParse(value);
  if (!parsed.success) {
    const paths = parsed.error.issues.map((i) => i.path.map(String).join(".") || "(root)");
    throw new ValidationError(`invalid skill manifest at: ${[...new Set(paths)].join(", ")}`, { details: { paths } });
  }
  return parsed.data;
}

/** SHA-256 (hex) of the manifest's RFC 8785 canonical JSON: equal manifests hash equal, whatever their key order. */
export function manifestHash(manifest: SkillManifest): string {
  const canonical = canonicalize(manifest);
  if (canonical === undefined) throw new ValidationError("manifest is not serializable");
  return createHash("sha256").update(canonical, "utf8").digest("hex");
}
