/**
 * `pnpm praxa skills apply -f skill.yaml [--dry-run]` publishes a workspace's own Skill (see `applySkill`);
 * `pnpm praxa skills resume <skill> --reason "…"` and `pnpm praxa skills pause <skill> --reason "…"` — the operator's
 * own api token (PRAXA_API_TOKEN: a human token from `pnpm praxa tokens create`, never a flag, so it stays out of shell
 * history and process lists) calls the api (PRAXA_API_URL, default http://127.0.0.1:3002). The api and the database
 * decide: only a human owner or admin may resume; the CLI holds no database credential for this.
 */
import { parseId, SkillDocumentError, ValidationError } from "@praxa/core";
import { readSkillYaml } from "@praxa/skills";
import type { ConfigSource } from "@praxa/config";
import { answered, apiFromEnv } from "./api-session.js";

export interface SkillStatusChange {
  readonly action: "resume" | "pause";
  readonly skill: string;
  readonly reason: string;
}

export async function changeSkillStatus(
  env: ConfigSource,
  change: SkillStatusChange,
): Promise<Record<string, unknown>> {
  const skillId = parseId("skill", change.skill);
  const reason = change.reason.trim();
  if (reason.length < 1 || reason.length > 500) throw new ValidationError("--reason must be 1 to 500 characters");
  // The generated client (packages/api-client): path, body and answers typed from the api's OpenAPI document.
  const api = apiFromEnv(env);
  const request = { params: { path: { id: skillId } }, body: { reason } };
  return answered<Record<string, unknown>>(
    change.action === "resume"
      ? await api.POST("/v1/skills/{id}/resume", request)
      : await api.POST("/v1/skills/{id}/pause", request),
  );
}

export interface ApplyResult {
  readonly dryRun: boolean;
  readonly valid: boolean;
  /** Where the document is wrong: its own paths (`actions.escalate.0.slack.channel`), never its values. */
  readonly issues: readonly { readonly path: string; readonly message: string }[];
  readonly manifestHash: string | null;
  readonly skill?: { readonly id: string; readonly slug: string; readonly name: string };
  readonly version?: { readonly id: string; readonly version: number; readonly created: boolean };
  readonly next?: string | null;
}

/**
 * `pnpm praxa skills apply -f skill.yaml [--dry-run]`: read the document (YAML or JSON; a syntax error names its line),
 * have the api validate it (the same checks as publishing, the workspace's installations included), then — unless a
 * dry run — create the Skill (a new slug) or publish a new version of the Skill with that slug. The same document
 * again publishes nothing.
 */
export async function applySkill(env: ConfigSource, text: string, dryRun: boolean): Promise<ApplyResult> {
  let document: Record<string, unknown>;
  try {
    const read = readSkillYaml(text);
    if (read === null || typeof read !== "object" || Array.isArray(read))
      return {
        dryRun,
        valid: false,
        issues: [{ path: "(root)", message: "a Skill document is a mapping" }],
        manifestHash: null,
      };
    document = read as Record<string, unknown>;
  } catch (err) {
    if (err instanceof SkillDocumentError) return { dryRun, valid: false, issues: err.issues, manifestHash: null };
    throw err;
  }
  const api = apiFromEnv(env);
  const checked = answered(await api.POST("/v1/skills/validate", { body: { document } }));
  if (!checked.valid || dryRun) return { dryRun, ...checked };
  const slug = typeof document["slug"] === "string" ? document["slug"] : "";
  const listed = answered(await api.GET("/v1/skills", {}));
  const existing = listed.skills.find((s) => s.slug === slug);
  const published = existing
    ? answered(await api.PUT("/v1/skills/{id}", { params: { path: { id: existing.id } }, body: { document } }))
    : answered(await api.POST("/v1/skills", { body: { document } }));
  return {
    dryRun,
    ...checked,
    skill: published.skill,
    version: { id: published.version.id, version: published.version.version, created: published.version.created },
    next: published.next,
  };
}
