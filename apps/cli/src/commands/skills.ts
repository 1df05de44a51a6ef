/**
 * `pnpm praxa skills resume <skill> --reason "…"` and `pnpm praxa skills pause <skill> --reason "…"` — the operator's
 * own api token (PRAXA_API_TOKEN: a human token from `pnpm praxa tokens create`, never a flag, so it stays out of shell
 * history and process lists) calls the api (PRAXA_API_URL, default http://127.0.0.1:3002). The api and the database
 * decide: only a human owner or admin may resume; the CLI holds no database credential for this.
 */
import { parseId, ValidationError } from "@praxa/core";
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
