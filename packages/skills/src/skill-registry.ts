/** The built-in Skills by slug: what a worker can run. A run of a slug not here fails with `SKILL_UNKNOWN`. */
import { manifestHash, PraxaError, type SkillManifest } from "@praxa/core";
import { declarativeSkill } from "./declarative/declarative-skill.js";
import type { SkillDefinition } from "@praxa/runtime";
import { PR_REVIEW_MANIFEST, prReviewSkill } from "./pr-review/pr-review-skill.js";
import { SLACK_ANSWER_MANIFEST, slackAnswerSkill } from "./slack-answer/slack-answer-skill.js";

export class SkillUnknownError extends PraxaError {
  readonly code = "SKILL_UNKNOWN";
  readonly httpStatus = 404;
}

export const BUILTIN_SKILLS: ReadonlyMap<string, SkillDefinition> = new Map<string, SkillDefinition>([
  ["pr-review", prReviewSkill as unknown as SkillDefinition],
  ["slack-answer", slackAnswerSkill as unknown as SkillDefinition],
]);
export const BUILTIN_MANIFESTS: ReadonlyMap<string, SkillManifest> = new Map([
  ["pr-review", PR_REVIEW_MANIFEST],
  ["slack-answer", SLACK_ANSWER_MANIFEST],
]);

/**
 * The definition a run of this Skill version executes: a workspace's declarative Skill is compiled from its pinned
 * manifest (cached by the manifest's hash); any other is a built-in, by slug.
 */
export function resolveSkill(slug: string, manifest: SkillManifest): SkillDefinition {
  if (!manifest.declarative) return builtinSkill(slug);
  const key = manifestHash(manifest);
  const hit = compiled.get(key);
  if (hit) return hit;
  const skill = declarativeSkill(manifest) as unknown as SkillDefinition;
  if (compiled.size >= 256) compiled.clear();
  compiled.set(key, skill);
  return skill;
}
const compiled = new Map<string, SkillDefinition>();

export function builtinSkill(slug: string): SkillDefinition {
  const skill = BUILTIN_SKILLS.get(slug);
  if (!skill) throw new SkillUnknownError("no built-in Skill with this slug", { details: { slug } });
  return skill;
}
