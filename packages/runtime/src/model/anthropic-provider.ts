/**
 * The Anthropic provider: the Messages API through `@anthropic-ai/sdk`, with the workspace's own key (BYOK), opened
 * by the caller for this run only. Streaming (see `messages-api.ts`), so long answers never hit an HTTP timeout.
 *
 * - `maxRetries: 0`: retrying is `withModelRetries`' job, once for every provider, so tests can count requests.
 * - `baseURL`: undefined means the real API (`https://api.anthropic.com`); `ANTHROPIC_BASE_URL` and the other
 *   `ANTHROPIC_*` variables are deliberately not consulted for the key or the URL — a run uses only what it is given.
 * - The key is never logged (the SDK's own logger is off) and never in an error (see `toModelError`); the SDK's own
 *   OpenTelemetry spans are off — the worker's spans carry only `{tool_name, ms, code, iter}`.
 */
import Anthropic from "@anthropic-ai/sdk";
import { completeWithMessagesApi } from "./messages-api.js";
import type { ModelProvider } from "./model-provider.js";

export const ANTHROPIC_API_URL = "https://api.anthropic.com";

export interface AnthropicProviderOptions {
  /** The workspace's key (`sk-ant-…`), opened for this run. */
  readonly apiKey: string;
  /** Loopback / gateway URL; undefined = the real API. */
  readonly baseURL?: string | undefined;
  /** Bound on one request (a stuck connection); streaming keeps healthy long answers alive. Default 10 minutes. */
  readonly timeoutMs?: number | undefined;
}

export function createAnthropicProvider(options: AnthropicProviderOptions): ModelProvider {
  const client = new Anthropic({
    apiKey: options.apiKey,
    baseURL: options.baseURL ?? ANTHROPIC_API_URL,
    maxRetries: 0,
    timeout: options.timeoutMs ?? 600_000,
    logLevel: "off",
    openTelemetry: { traces: false, propagation: false },
  });
  return {
    kind: "anthropic",
    label: "anthropic",
    complete: (request, signal) => completeWithMessagesApi(client, "anthropic", request, signal),
  };
}
