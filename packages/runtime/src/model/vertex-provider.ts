/**
 * The Vertex provider: Anthropic models on Google Cloud Vertex AI through `@anthropic-ai/vertex-sdk` (Anthropic's
 * client with Vertex's transport: `…/publishers/anthropic/models/<model>:streamRawPredict`), authenticated as the
 * workspace's own service account: google-auth-library's `GoogleAuth({ credentials })` signs a JWT assertion with the
 * service account's key and exchanges it at Google's OAuth token endpoint for an access token (cloud-platform scope),
 * kept in memory for this provider (one run).
 *
 * The service account JSON is customer input, so it is validated before google-auth-library sees it (Google's own
 * warning: "validate credential configurations from external sources"): it must be `type: service_account` with a
 * parseable private key, and only `client_email`, `private_key` and `private_key_id` are passed on. In particular an
 * `external_account` configuration (which can name a local file, a URL or an executable to run) is refused, and the
 * JSON's `token_uri` and `universe_domain` are ignored — the worker exchanges tokens only with Google's endpoint (or
 * the one its own configuration names, for loopback tests), never with a URL a customer wrote.
 *
 * A refused service account (the token endpoint answers 4xx, e.g. `invalid_grant`) is `ModelRequestError`, not
 * retried; token endpoint unreachable, 429 or 5xx is `ModelUnavailableError`. `maxRetries: 0`; `CLOUD_ML_REGION`,
 * `ANTHROPIC_VERTEX_PROJECT_ID`, `ANTHROPIC_VERTEX_BASE_URL` and Application Default Credentials are never consulted;
 * the SDK's logger and spans are off. Model ids: `claude-sonnet-4-5-20250929` becomes Vertex's
 * `claude-sonnet-4-5@20250929`; an id with `@` passes through.
 *
 * google-auth-library is a direct dependency, pinned to the version the Vertex SDK resolves (one copy, its own types).
 */
import { createPrivateKey } from "node:crypto";
import { AnthropicVertex } from "@anthropic-ai/vertex-sdk";
import { GoogleAuth } from "google-auth-library";
import { z } from "zod";
import { completeWithMessagesApi } from "./messages-api.js";
import { ModelCredentialInvalidError, ModelRequestError, ModelUnavailableError } from "./model-errors.js";
import type { ModelProvider, ModelRequest } from "./model-provider.js";

export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
export const VERTEX_SCOPE = "https://www.googleapis.com/auth/cloud-platform";

/** A Google Cloud service account key file, as the console downloads it; only the three fields we use are kept. */
export const ServiceAccountKeySchema = z
  .object({
    type: z.literal("service_account"),
    client_email: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,62}@[a-z0-9.-]+\.iam\.gserviceaccount\.com$|^[^@\s]{1,64}@[a-z0-9.-]{1,190}$/),
    private_key: z.string().min(100).max(8192).includes("PRIVATE KEY"),
    private_key_id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .optional(),
  })
  .transform((k) => ({
    client_email: k.client_email,
    private_key: k.private_key,
    ...(k.private_key_id === undefined ? {} : { private_key_id: k.private_key_id }),
  }));
export type ServiceAccountKey = z.output<typeof ServiceAccountKeySchema>;

/** Parses and checks a service account JSON (the key must load); errors name fields, never values. */
export function parseServiceAccountKey(json: string): ServiceAccountKey {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new ModelCredentialInvalidError("the Vertex service account is not JSON", {
      details: { fields: ["serviceAccountJson"] },
    });
  }
  const parsed = ServiceAccountKeySchema.safeParse(raw);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => `serviceAccountJson.${i.path.join(".")}`))];
    throw new ModelCredentialInvalidError("the Vertex credential is not a service account key Praxa can use", {
      details: { fields },
    });
  }
  try {
    createPrivateKey(parsed.data.private_key);
  } catch {
    throw new ModelCredentialInvalidError("the Vertex service account private key does not load", {
      details: { fields: ["serviceAccountJson.private_key"] },
    });
  }
  return parsed.data;
}

export interface VertexProviderOptions {
  readonly projectId: string;
  /** A Vertex region (`us-east5`, `europe-west1`, …), or `global`, `us`, `eu`. */
  readonly region: string;
  readonly serviceAccount: ServiceAccountKey;
  /** Loopback / private endpoint, including `/v1`; default Google's endpoint for the region. */
  readonly baseURL?: string | undefined;
  /** OAuth token endpoint (loopback in tests); default Google's. */
  readonly tokenUrl?: string | undefined;
  readonly timeoutMs?: number | undefined;
}

/** Vertex's spelling of a model id (see the module header). */
export function vertexModelId(model: string): string {
  if (model.includes("@")) return model;
  const dated = /^(.+)-(\d{8})$/.exec(model);
  return dated ? `${dated[1]}@${dated[2]}` : model;
}

/** The endpoint the SDK would pick for a region, computed here so no environment variable can change it. */
export function vertexBaseUrl(region: string): string {
  if (region === "global") return "https://aiplatform.googleapis.com/v1";
  if (region === "us" || region === "eu") return `https://aiplatform.${region}.rep.googleapis.com/v1`;
  return `https://${region}-aiplatform.googleapis.com/v1`;
}

/**
 * A token exchange failure by intent: a refusal (4xx) is not retried; anything else is "unavailable" — a 429 and a
 * 408 included (the token endpoint's own rate or timeout, Praxa's exchange, not the workspace's Vertex quota).
 */
function tokenError(err: unknown): Error {
  const status = (err as { response?: { status?: unknown }; status?: unknown } | null)?.response?.status;
  if (typeof status === "number" && status >= 400 && status < 500 && status !== 429 && status !== 408) {
    return new ModelRequestError("the workspace's Vertex service account was refused by the token endpoint", {
      details: { status },
    });
  }
  return new ModelUnavailableError(
    "could not obtain a Google access token for the Vertex service account",
    typeof status === "number" ? { status } : {},
  );
}

export function createVertexProvider(options: VertexProviderOptions): ModelProvider {
  const tokenUrl = options.tokenUrl;
  const redirectTokenExchange: typeof fetch | undefined =
    tokenUrl === undefined
      ? undefined
      : (input, init) => {
          const url = input instanceof URL ? input.href : typeof input === "string" ? input : input.url;
          return fetch(url === GOOGLE_TOKEN_URL ? tokenUrl : input, init);
        };
  const googleAuth = new GoogleAuth({
    credentials: { type: "service_account", ...options.serviceAccount },
    scopes: [VERTEX_SCOPE],
    ...(redirectTokenExchange === undefined
      ? {}
      : { clientOptions: { transporterOptions: { fetchImplementation: redirectTokenExchange } } }),
  });
  const client = new AnthropicVertex({
    region: options.region,
    projectId: options.projectId,
    googleAuth,
    baseURL: options.baseURL ?? vertexBaseUrl(options.region),
    maxRetries: 0,
    timeout: options.timeoutMs ?? 600_000,
    logLevel: "off",
    openTelemetry: { traces: false, propagation: false },
  });
  return {
    kind: "vertex",
    label: "vertex",
    async complete(request: ModelRequest, signal?: AbortSignal) {
      try {
        // Obtains (or reuses) the access token first, so a refused service account is told apart from an outage.
        await (await googleAuth.getClient()).getRequestHeaders();
      } catch (err) {
        throw tokenError(err);
      }
      return completeWithMessagesApi(client, "vertex", { ...request, model: vertexModelId(request.model) }, signal);
    },
  };
}
