/**
 * The api's typed client: the types are generated from the checked-in OpenAPI document (docs/api/openapi.json) by
 * openapi-typescript (`pnpm api:openapi` regenerates both; a test fails when either drifts from the served document),
 * and openapi-fetch is the runtime. Every path, parameter, body and answer — errors included — is typed from the
 * routes' own schemas.
 *
 *   const api = createApiClient({ baseUrl: 'http://127.0.0.1:8080', token });
 *   const { data, error, response } = await api.GET('/v1/runs', { params: { query: { status: 'failed' } } });
 */
import createClient, { type Client } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };
export type ApiClient = Client<paths>;
/** The error envelope every route answers with: `{"error":{"code","message"}}`. */
export type ApiError = { readonly error: { readonly code: string; readonly message: string } };

export interface ApiClientOptions {
  /** Where the api listens, e.g. `https://praxa.example.com` (no trailing `/v1`). */
  readonly baseUrl: string;
  /** An api token `praxa_tk_…`; absent for the routes that need none (health, the document). */
  readonly token?: string;
  /** A fetch to use instead of the global one (tests, proxies). */
  readonly fetch?: (input: Request) => Promise<Response>;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    ...(options.token ? { headers: { authorization: `Bearer ${options.token}` } } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}
