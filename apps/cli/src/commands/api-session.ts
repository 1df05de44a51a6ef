/**
 * The CLI verbs that go through the api (`skills`, `runs`) use the operator's own api token — PRAXA_API_TOKEN, a human
 * token from `pnpm praxa tokens create`, never a flag, so it stays out of shell history and process lists — against
 * PRAXA_API_URL (default http://127.0.0.1:3002), through the generated client (packages/api-client). The api and the
 * database decide who may do what; the CLI holds no database credential for these.
 */
import { createApiClient, type ApiClient } from "@praxa/api-client";
import { parseApiToken, PraxaError, ValidationError } from "@praxa/core";
import type { ConfigSource } from "@praxa/config";

/** The api refused the request: its code and message, and its HTTP status (which decides the exit code). */
class ApiRefusedError extends PraxaError {
  readonly code: string;
  readonly httpStatus: number;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.code = code;
    this.httpStatus = status;
  }
}

export function apiFromEnv(env: ConfigSource): ApiClient {
  const token = env.PRAXA_API_TOKEN;
  if (!token || !parseApiToken(token))
    throw new ValidationError("set PRAXA_API_TOKEN to your own api token (pnpm praxa tokens create --kind human …)");
  const base = (env.PRAXA_API_URL ?? `http://127.0.0.1:${env.API_PORT ?? "3002"}`).replace(/\/+$/, "");
  return createApiClient({ baseUrl: base, token });
}

/** The answer's data, or the api's refusal as an ApiRefusedError. */
export function answered<T>(result: {
  readonly data?: T | undefined;
  readonly error?: unknown;
  readonly response: Response;
}): T {
  if (result.data !== undefined) return result.data;
  const refused = result.error as { error?: { code?: unknown; message?: unknown } } | undefined;
  const code = typeof refused?.error?.code === "string" ? refused.error.code : `HTTP_${result.response.status}`;
  const message = typeof refused?.error?.message === "string" ? refused.error.message : "the api refused the request";
  throw new ApiRefusedError(result.response.status, code, message);
}
