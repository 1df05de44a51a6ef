/**
 * The Bedrock provider: Anthropic models on Amazon Bedrock through `@anthropic-ai/bedrock-sdk` (Anthropic's client
 * with Bedrock's transport: SigV4-signed `InvokeModel…` calls), with the workspace's own AWS credentials, in one of
 * two forms:
 *  - **access keys** (`accessKeyId` + `secretAccessKey`): requests are signed with them directly.
 *  - **a role** (`roleArn`): Praxa's own AWS identity (the worker's — the default AWS credential chain: instance
 *    profile, environment, …; or explicit `source` keys) calls STS `AssumeRole` for the workspace's role, with
 *    `ExternalId` = the workspace id (so the customer's trust policy can require it: the confused-deputy guard) and a
 *    15-minute session, through `fromTemporaryCredentials` of `@aws-sdk/credential-providers` (a direct dependency,
 *    the same version the Bedrock SDK uses for its credential chain). The temporary keys are kept in memory only, for this provider
 *    (one run), and renewed 5 minutes before they expire. A role that cannot be assumed (AccessDenied) is a
 *    `ModelRequestError` (not retried); STS unreachable or throttling (`Throttling`) is `ModelUnavailableError`.
 *
 * Streaming on Bedrock is `InvokeModelWithResponseStream` (AWS event-stream frames the SDK turns back into the
 * Messages API's events). `maxRetries: 0`; the `AWS_BEARER_TOKEN_BEDROCK`, `ANTHROPIC_BEDROCK_BASE_URL` and
 * `AWS_REGION` variables are never consulted (everything comes from the credential); the SDK's logger and spans are
 * off. Model ids: a manifest's Anthropic id (`claude-sonnet-4-5-20250929`) becomes the geographic cross-region
 * inference profile Bedrock serves on-demand (`us.anthropic.claude-sonnet-4-5-20250929-v1:0` in a `us-*` region,
 * `eu.` / `apac.` / `us-gov.` likewise); an id that already names a Bedrock model or profile (`…anthropic.…`) passes
 * through unchanged.
 */
import type { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import { AnthropicBedrock, type ClientOptions as BedrockClientOptions } from "@anthropic-ai/bedrock-sdk";
import { completeWithMessagesApi } from "./messages-api.js";
import { ModelRequestError, ModelUnavailableError } from "./model-errors.js";
import type { ModelProvider, ModelRequest } from "./model-provider.js";

export interface AwsAccessKeys {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

export type BedrockCredentials =
  | ({ readonly kind: "access-keys" } & AwsAccessKeys)
  | {
      readonly kind: "assume-role";
      readonly roleArn: string;
      /** Sent as `ExternalId`; the workspace id. */
      readonly externalId?: string | undefined;
      /** `RoleSessionName` (what CloudTrail shows), `[\w+=,.@-]{2,64}`. Default `praxa-worker`. */
      readonly sessionName?: string | undefined;
      /** Praxa's own identity that assumes the role; default: the AWS default credential chain of the worker. */
      readonly source?: AwsAccessKeys | undefined;
      /** STS endpoint (loopback in tests); default: the regional STS endpoint of `region`. */
      readonly stsEndpoint?: string | undefined;
    };

export interface BedrockProviderOptions {
  readonly region: string;
  readonly credentials: BedrockCredentials;
  /** Loopback / VPC endpoint URL; default `https://bedrock-runtime.<region>.amazonaws.com`. */
  readonly baseURL?: string | undefined;
  readonly timeoutMs?: number | undefined;
}

type AwsIdentityProvider = ReturnType<typeof fromTemporaryCredentials>;
type AwsIdentity = Awaited<ReturnType<AwsIdentityProvider>>;
type ProviderChainResolver = NonNullable<BedrockClientOptions["providerChainResolver"]>;

const GEO_PREFIXES: readonly [RegExp, string][] = [
  [/^us-gov-/, "us-gov."],
  [/^us-/, "us."],
  [/^eu-/, "eu."],
  [/^ap-/, "apac."],
];

/** The Bedrock model id (or inference profile) for a manifest's model id; see the module header. */
export function bedrockModelId(model: string, region: string): string {
  if (model.includes("anthropic.")) return model;
  const prefix = GEO_PREFIXES.find(([re]) => re.test(region))?.[1] ?? "";
  return `${prefix}anthropic.${model}-v1:0`;
}

/** Temporary credentials for the workspace's role, cached until 5 minutes before they expire. */
function assumedRoleCredentials(
  region: string,
  c: Extract<BedrockCredentials, { kind: "assume-role" }>,
): AwsIdentityProvider {
  const params: Parameters<typeof fromTemporaryCredentials>[0] = {
    params: {
      RoleArn: c.roleArn,
      RoleSessionName: c.sessionName ?? "praxa-worker",
      ...(c.externalId === undefined ? {} : { ExternalId: c.externalId }),
      DurationSeconds: 900,
    },
    ...(c.source === undefined
      ? {}
      : {
          masterCredentials: {
            accessKeyId: c.source.accessKeyId,
            secretAccessKey: c.source.secretAccessKey,
            ...(c.source.sessionToken === undefined ? {} : { sessionToken: c.source.sessionToken }),
          },
        }),
    clientConfig: { region, maxAttempts: 1, ...(c.stsEndpoint === undefined ? {} : { endpoint: c.stsEndpoint }) },
  };
  // Loaded on first use, not at import: only the assume-role path needs the AWS SDK's credential providers.
  let loaded: AwsIdentityProvider | undefined;
  const inner: AwsIdentityProvider = async () => {
    const { fromTemporaryCredentials: assume } = await import("@aws-sdk/credential-providers");
    loaded ??= assume(params);
    return loaded();
  };
  let cached: AwsIdentity | undefined;
  let pending: Promise<AwsIdentity> | undefined;
  return async () => {
    if (
      cached !== undefined &&
      (cached.expiration === undefined || cached.expiration.getTime() - Date.now() > 5 * 60_000)
    )
      return cached;
    pending ??= inner().finally(() => (pending = undefined));
    cached = await pending;
    return cached;
  };
}

/**
 * STS's own throttling (HTTP 400 `Throttling`, "Rate exceeded"; the SDKs' other spellings too). It counts against the
 * account that calls AssumeRole — Praxa's, not the workspace's — and is brief: an in-process retry, never a refusal.
 */
const STS_THROTTLED = new Set([
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
]);

/** An STS / credential-chain failure by intent: a refusal is not retried, anything else is "unavailable". */
function credentialError(err: unknown): Error {
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  const name = typeof e?.name === "string" && /^[A-Za-z]{1,64}$/.test(e.name) ? e.name : "unknown";
  const status = typeof e?.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : undefined;
  if (STS_THROTTLED.has(name) || status === 429) {
    return new ModelUnavailableError("AWS STS is throttling role assumption for the Bedrock role", {
      ...(status === undefined ? {} : { status }),
      details: { type: name },
    });
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return new ModelRequestError("the workspace's Bedrock role could not be assumed", {
      details: { status, type: name },
    });
  }
  return new ModelUnavailableError("could not obtain AWS credentials for the Bedrock role", {
    details: { type: name },
  });
}

export function createBedrockProvider(options: BedrockProviderOptions): ModelProvider {
  const common = {
    awsRegion: options.region,
    baseURL: options.baseURL ?? `https://bedrock-runtime.${options.region}.amazonaws.com`,
    apiKey: null,
    maxRetries: 0,
    timeout: options.timeoutMs ?? 600_000,
    logLevel: "off" as const,
    openTelemetry: { traces: false, propagation: false },
  };
  const c = options.credentials;
  let client: AnthropicBedrock;
  let resolveCredentials: AwsIdentityProvider | undefined;
  if (c.kind === "access-keys") {
    client = new AnthropicBedrock({
      ...common,
      awsAccessKey: c.accessKeyId,
      awsSecretKey: c.secretAccessKey,
      awsSessionToken: c.sessionToken ?? null,
    });
  } else {
    const provider = assumedRoleCredentials(options.region, c);
    resolveCredentials = provider;
    const resolver: ProviderChainResolver = async () => provider;
    client = new AnthropicBedrock({ ...common, providerChainResolver: resolver });
  }
  return {
    kind: "bedrock",
    label: "bedrock",
    async complete(request: ModelRequest, signal?: AbortSignal) {
      if (resolveCredentials !== undefined) {
        try {
          await resolveCredentials();
        } catch (err) {
          throw credentialError(err);
        }
      }
      return completeWithMessagesApi(
        client,
        "bedrock",
        { ...request, model: bedrockModelId(request.model, options.region) },
        signal,
      );
    },
  };
}
