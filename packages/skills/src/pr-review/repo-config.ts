/**
 * Configuration as code: a repository may carry `.praxa.yaml` on its default branch, read as the bot. It can only
 * narrow what the Skill does — ignore paths, add path instructions, raise the bar for an approval, drop tools or
 * triggers — never add a tool, a trigger or a namespace: a file that tries is refused with
 * `RepoConfigWidensManifestError` and the run proceeds under the pinned manifest. Its SHA-256 goes into the run (a
 * recorded step) and the audit event, so one repository's settings can never leak into another's run.
 *
 *   version: 1
 *   review:
 *     ignore: ["docs/generated/**", "*.lock"]
 *     path_instructions:
 *       - path: "src/payments/**"
 *         instructions: "Every change needs a failure-mode test."
 *     review_drafts: false
 *     review_bots: false
 *     approve_min_confidence: 0.8
 *   tools: [github.read.diff, github.comment.pr]      # optional, a subset of the manifest's
 *   triggers: [github.pull_request.opened]            # optional, a subset of the manifest's
 */
import { createHash } from "node:crypto";
import { parse } from "yaml";
import { z } from "zod";
import { PraxaError, ToolNameSchema, TriggerNameSchema, type SkillManifest } from "@praxa/core";
import type { PreparedRun, RunProblem } from "@praxa/runtime";

export const REPO_CONFIG_PATH = ".praxa.yaml";

export class RepoConfigInvalidError extends PraxaError {
  readonly code = "REPO_CONFIG_INVALID";
  readonly httpStatus = 400;
}
export class RepoConfigWidensManifestError extends PraxaError {
  readonly code = "REPO_CONFIG_WIDENS_MANIFEST";
  readonly httpStatus = 400;
}

const Glob = z.string().min(1).max(300);
export const RepoConfigSchema = z
  .object({
    version: z.literal(1),
    review: z
      .object({
        ignore: z.array(Glob).max(100).default([]),
        path_instructions: z
          .array(z.object({ path: Glob, instructions: z.string().min(1).max(2_000) }).strict())
          .max(50)
          .default([]),
        review_drafts: z.boolean().default(false),
        review_bots: z.boolean().default(false),
        approve_min_confidence: z.number().min(0).max(1).optional(),
      })
      .strict()
      .default({ ignore: [], path_instructions: [], review_drafts: false, review_bots: false }),
    tools: z.array(ToolNameSchema).max(64).optional(),
    triggers: z.array(TriggerNameSchema).max(32).optional(),
  })
  .strict();
export type RepoConfig = z.infer<typeof RepoConfigSchema>;

/** `**` any path, `*` within a segment, `?` one character. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? "";
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i += glob[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export function matchesAny(path: string, globs: readonly string[]): boolean {
  return globs.some(
    (g) => globToRegExp(g).test(path) || (!g.includes("/") && globToRegExp(g).test(path.split("/").pop() ?? "")),
  );
}

/** Parse a `.praxa.yaml` against the pinned manifest: settings, a narrowed manifest (or none), and the problems. */
export function applyRepoConfig(text: string | null, pinned: SkillManifest): PreparedRun {
  if (text === null) return { manifest: null, settings: {}, auditInput: {}, problems: [] };
  const sha256 = createHash("sha256").update(text, "utf8").digest("hex");
  const problems: RunProblem[] = [];
  let raw: unknown;
  try {
    raw = parse(text, { maxAliasCount: 10 });
  } catch {
    problems.push({ code: new RepoConfigInvalidError("").code, message: ".praxa.yaml is not valid YAML" });
    return { manifest: null, settings: { configSha256: sha256 }, auditInput: { repoConfigSha256: sha256 }, problems };
  }
  const parsed = RepoConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const paths = [...new Set(parsed.error.issues.map((i) => i.path.map(String).join(".") || "(root)"))];
    problems.push({
      code: new RepoConfigInvalidError("").code,
      message: `.praxa.yaml is invalid at: ${paths.join(", ")}`,
    });
    return { manifest: null, settings: { configSha256: sha256 }, auditInput: { repoConfigSha256: sha256 }, problems };
  }
  const c = parsed.data;
  const extraTools = (c.tools ?? []).filter((t) => !pinned.tools.includes(t));
  const extraTriggers = (c.triggers ?? []).filter((t) => !pinned.triggers.includes(t));
  let manifest: SkillManifest | null = null;
  if (extraTools.length > 0 || extraTriggers.length > 0) {
    const err = new RepoConfigWidensManifestError(
      ".praxa.yaml may only narrow the Skill: it tried to add a tool or trigger",
    );
    problems.push({
      code: err.code,
      message: `.praxa.yaml tried to add ${[...extraTools.map((t) => `tool ${t}`), ...extraTriggers.map((t) => `trigger ${t}`)].join(", ")} — refused; the Skill runs as published`,
    });
  } else if (c.tools !== undefined || c.triggers !== undefined) {
    // Tools needed to do the job at all stay (a review without its diff or its comment is no review).
    manifest = { ...pinned, tools: c.tools ?? pinned.tools, triggers: c.triggers ?? pinned.triggers };
  }
  const settings = {
    configSha256: sha256,
    ignore: c.review.ignore,
    pathInstructions: c.review.path_instructions.map((p) => ({ path: p.path, instructions: p.instructions })),
    reviewDrafts: c.review.review_drafts,
    reviewBots: c.review.review_bots,
    ...(c.review.approve_min_confidence === undefined ? {} : { approveMinConfidence: c.review.approve_min_confidence }),
  };
  return { manifest, settings, auditInput: { repoConfigSha256: sha256 }, problems };
}
