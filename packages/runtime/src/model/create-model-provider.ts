/**
 * From a workspace's model credential, opened for this run (the JSON the api sealed: `LlmKeyBody` in
 * apps/api/src/llm-keys.ts), to a ready, retried `ModelProvider`:
 *   anthropic {apiKey} → `createAnthropicProvider`
 *   bedrock   {region, accessKeyId + secretAccessKey | roleArn} → `createBedrockProvider` (a role is assumed with
 *             ExternalId = the workspace id)
 *   vertex    {projectId, region, serviceAccountJson} → `createVertexProvider`
 * wrapped in `withModelRetries`. The credential is parsed here with zod (the worker trusts nothing it did not check),
 * a little stricter than the api where a value ends up in a URL: a Vertex region or project that is not one is refused
 * (they become part of Google's host name and path). Errors name fields, never values.
 *
 * `endpoints` are for loopback tests and private gateways (worker configuration, never the credential): a credential
 * cannot point the worker at a URL.
 */
import { z } from "zod";
import { createAnthropicProvider } from "./anthropic-provider.js";
import { createBedrockProvider, type AwsAccessKeys } from "./bedrock-provider.js";
import { ModelCredentialInvalidError } from "./model-errors.js";
import type { ModelProvider } from "./model-provider.js";
import { createVertexProvider, parseServiceAccountKey } from "./vertex-provider.js";
import { withModelRetries, type ModelRetryOptions } from "./with-model-retries.js";

export const ModelCredentialSchema = z.discriminatedUnion("provider", [
  z.object({ provider: z.literal("anthropic"), apiKey: z.string().regex(/^sk-ant-[A-Za-z0-9_-]{8,}$/) }).strict(),
  z
    .object({
      provider: z.literal("bedrock"),
      region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/),
      accessKeyId: z
        .string()
        .regex(/^A[KS]IA[0-9A-Z]{12,}$/)
        .optional(),
      secretAccessKey: z.string().min(20).max(128).optional(),
      roleArn: z
        .string()
        .regex(/^arn:aws(-[a-z]+)?:iam::\d{12}:role\/[\w+=,.@/-]+$/)
        .optional(),
    })
    .strict()
    .refine((b) => (b.roleArn !== undefined) !== (b.accessKeyId !== undefined && b.secretAccessKey !== undefined), {
      message: "give accessKeyId + secretAccessKey, or roleArn",
    }),
  z
    .object({
      provider: z.literal("vertex"),
      // A Google Cloud project id (6–30 characters), or a legacy domain-scoped one (`example.com:project`).
      projectId: z.string().regex(/^([a-z0-9.-]{1,63}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/),
      // `us-east5`, `europe-west1`, `northamerica-northeast1`, … or `global` / `us` / `eu`.
      region: z.string().regex(/^(global|us|eu|[a-z]+-[a-z]+\d{1,2})$/),
      serviceAccountJson: z.string().min(20).max(16_384),
    })
    .strict(),
]);
export type ModelCredential = z.infer<typeof ModelCredentialSchema>;

/** Where the providers connect, when not the public endpoints (worker configuration). */
export interface ModelEndpoints {
  readonly anthropicBaseUrl?: string | undefined;
  readonly bedrockBaseUrl?: string | undefined;
  readonly bedrockStsEndpoint?: string | undefined;
  /** Praxa's own AWS identity for assuming a workspace's role; default: the worker's AWS default credential chain. */
  readonly bedrockSourceCredentials?: AwsAccessKeys | undefined;
  readonly vertexBaseUrl?: string | undefined;
  readonly vertexTokenUrl?: string | undefined;
}

export interface CreateModelProviderOptions {
  /** The workspace the credential belongs to (the run's, from its row): a Bedrock role's ExternalId. */
  readonly workspaceId: string;
  readonly endpoints?: ModelEndpoints;
  readonly retry?: ModelRetryOptions;
  readonly timeoutMs?: number;
}

/** Parses the opened credential (bytes or text of its JSON). */
export function parseModelCredential(credential: Uint8Array | string): ModelCredential {
  let raw: unknown;
  try {
    const text =
      typeof credential === "string" ? credential : new TextDecoder("utf-8", { fatal: true }).decode(credential);
    raw = JSON.parse(text);
  } catch {
    throw new ModelCredentialInvalidError("the model credential is not JSON", { details: { fields: ["(root)"] } });
  }
  const parsed = ModelCredentialSchema.safeParse(raw);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join(".") || "(root)"))];
    throw new ModelCredentialInvalidError("the model credential is not one Praxa can use", { details: { fields } });
  }
  return parsed.data;
}

/** `praxa-<workspace>` within STS's RoleSessionName alphabet and length (what the customer's CloudTrail shows). */
function sessionNameFor(workspaceId: string): string {
  return `praxa-${workspaceId.replace(/[^\w+=,.@-]/g, "-")}`.slice(0, 64);
}

export function createModelProvider(
  credential: Uint8Array | string | ModelCredential,
  options: CreateModelProviderOptions,
): ModelProvider {
  const c =
    typeof credential === "string" || credential instanceof Uint8Array ? parseModelCredential(credential) : credential;
  const e = options.endpoints ?? {};
  let provider: ModelProvider;
  switch (c.provider) {
    case "anthropic":
      provider = createAnthropicProvider({
        apiKey: c.apiKey,
        baseURL: e.anthropicBaseUrl,
        timeoutMs: options.timeoutMs,
      });
      break;
    case "bedrock":
      provider = createBedrockProvider({
        region: c.region,
        baseURL: e.bedrockBaseUrl,
        timeoutMs: options.timeoutMs,
        credentials:
          c.roleArn !== undefined
            ? {
                kind: "assume-role",
                roleArn: c.roleArn,
                externalId: options.workspaceId,
                sessionName: sessionNameFor(options.workspaceId),
                source: e.bedrockSourceCredentials,
                stsEndpoint: e.bedrockStsEndpoint,
              }
            : { kind: "access-keys", accessKeyId: c.accessKeyId ?? "", secretAccessKey: c.secretAccessKey ?? "" },
      });
      break;
    case "vertex":
      provider = createVertexProvider({
        projectId: c.projectId,
        region: c.region,
        serviceAccount: parseServiceAccountKey(c.serviceAccountJson),
        baseURL: e.vertexBaseUrl,
        tokenUrl: e.vertexTokenUrl,
        timeoutMs: options.timeoutMs,
      });
      break;
  }
  return withModelRetries(provider, options.retry);
}
