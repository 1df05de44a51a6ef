/**
 * One interface for every model the runtime can call: Anthropic (Messages API), Bedrock and Vertex (Anthropic's SDKs
 * for them) and the offline model. The shapes are the Messages API's, trimmed to what the runtime uses, so a provider
 * is a thin adapter and the tool-use loop (run-executor) is written once.
 *
 * Errors by intent: a provider throws `ModelRateLimitedError` (429, carries the server's retry-after),
 * `ModelUnavailableError` (5xx / overloaded / network), or `ModelRequestError` (4xx other than 429: not retryable).
 * Retrying is done once, in `withModelRetries`, so every provider behaves the same and tests count requests.
 */
import { z } from "zod";

export const MODEL_PROVIDER_KINDS = ["anthropic", "bedrock", "vertex", "offline"] as const;
export type ModelProviderKind = (typeof MODEL_PROVIDER_KINDS)[number];

/** A tool offered to the model: only tools the guards allow are ever offered. */
export interface ModelToolSpec {
  readonly name: string;
  readonly description: string;
  /** JSON Schema (draft 2020-12 subset the Messages API accepts) of the tool's input. */
  readonly inputSchema: Readonly<Record<string, unknown>>;
}

export const ModelTextBlockSchema = z.object({ type: z.literal("text"), text: z.string() });
export const ModelToolUseBlockSchema = z.object({
  type: z.literal("tool_use"),
  id: z.string().min(1).max(200),
  name: z.string().min(1).max(200),
  input: z.unknown(),
});
export const ModelToolResultBlockSchema = z.object({
  type: z.literal("tool_result"),
  toolUseId: z.string().min(1).max(200),
  content: z.string(),
  isError: z.boolean().optional(),
});
export const ModelContentBlockSchema = z.discriminatedUnion("type", [
  ModelTextBlockSchema,
  ModelToolUseBlockSchema,
  ModelToolResultBlockSchema,
]);
export type ModelTextBlock = z.infer<typeof ModelTextBlockSchema>;
export type ModelToolUseBlock = z.infer<typeof ModelToolUseBlockSchema>;
export type ModelToolResultBlock = z.infer<typeof ModelToolResultBlockSchema>;
export type ModelContentBlock = z.infer<typeof ModelContentBlockSchema>;

export const ModelMessageSchema = z.object({
  role: z.enum(["user", "assistant"]),
  content: z.array(ModelContentBlockSchema),
});
export type ModelMessage = z.infer<typeof ModelMessageSchema>;

export type ModelToolChoice =
  { readonly type: "auto" } | { readonly type: "any" } | { readonly type: "tool"; readonly name: string };

export interface ModelRequest {
  /** The model id from the Skill's manifest (provider-specific spelling is the provider's job). */
  readonly model: string;
  readonly system: string;
  readonly messages: readonly ModelMessage[];
  readonly tools: readonly ModelToolSpec[];
  readonly toolChoice: ModelToolChoice;
  readonly maxTokens: number;
}

export const ModelStopReasonSchema = z.enum([
  "end_turn",
  "tool_use",
  "max_tokens",
  "stop_sequence",
  "pause_turn",
  "refusal",
]);

/** What every provider returns (parsed with zod at the provider boundary: model output is input to us). */
export const ModelResponseSchema = z.object({
  /** The model that answered, as the provider reports it (e.g. `claude-sonnet-4-5-20250929`, `offline-rules/1`). */
  model: z.string().min(1).max(200),
  content: z.array(ModelContentBlockSchema),
  stopReason: ModelStopReasonSchema,
  usage: z.object({ inputTokens: z.number().int().min(0), outputTokens: z.number().int().min(0) }),
});
export type ModelResponse = z.infer<typeof ModelResponseSchema>;

export interface ModelProvider {
  readonly kind: ModelProviderKind;
  /** Human-readable label printed with every output, e.g. `anthropic`, `offline (deterministic rules, not a language model)`. */
  readonly label: string;
  complete(request: ModelRequest, signal?: AbortSignal): Promise<ModelResponse>;
}
