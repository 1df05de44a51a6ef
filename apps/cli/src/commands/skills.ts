/**
 * `pnpm praxa skills resume <skill> --reason "…"` and `pnpm praxa skills pause <skill> --reason "…"` — the operator's
 * own api token (PRAXA_API_TOKEN: a human token from `pnpm praxa tokens create`, never a flag, so it stays out of shell
 * history and process lists) calls the api (PRAXA_API_URL, default http://127.0.0.1:3002). The api and the database
 * decide: only a human owner or admin may resume; the CLI holds no database credential for this.
 */
import { createApiClient } from "@praxa/api-client";
import { parseApiToken, parseId, PraxaError, ValidationError } from "@praxa/core";
import type { ConfigSource } from "@praxa/config";

class ApiRefusedError extends PraxaError {
  readonly code: string;
  readonly httpStatus: number;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.code = code;
    this.httpStatus = status;
  }
}

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
  const token = env.PRAXA_API_TOKEN;
  if (!token || !parseApiToken(token))
    throw new ValidationError("set PRAXA_API_TOKEN to your own api token (pnpm praxa tokens create --kind human …)");
  const base = (env.PRAXA_API_URL ?? `http://127.0.0.1:${env.API_PORT ?? "3002"}`).replace(/\/+$/, "");
  // The generated client (packages/api-client): path, body and answers typed from the api's OpenAPI document.
  const api = createApiClient({ baseUrl: base, token });
  const request = { params: { path: { id: skillId } }, body: { reason } };
  const { data, error, response } =
    change.action === "resume"
      ? await api.POST("/v1/skills/{id}/resume", request)
      : await api.POST("/v1/skills/{id}/pause", request);
  if (data === undefined) {
    const refused = error as { error?: { code?: unknown; message?: unknown } } | undefined;
    const code = typeof refused?.error?.code === "string" ? refused.error.code : `HTTP_${response.status}`;
    const message = typeof refused?.error?.message === "string" ? refused.error.message : "the api refused the request";
    throw new ApiRefusedError(response.status, code, message);
  }
  return data;
}
