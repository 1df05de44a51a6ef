/**
 * The Messages API adapter shared by the Anthropic, Bedrock and Vertex providers (all three SDKs are Anthropic's
 * client with a different transport): our `ModelRequest` → the API's request, the streamed final `Message` → our
 * `ModelResponse` (zod-parsed: model output is input to us), and SDK errors → our errors by intent.
 *
 * - Streaming (`messages.stream(…).finalMessage()`), so a long answer is a live connection, never an HTTP timeout.
 * - Tools pass through as given — the provider offers exactly the tools the request lists, nothing else, under the
 *   names it is given (the executor spells them for the wire: `wireToolName`, `github.read.diff` → `github_read_diff`),
 *   and the model's `tool_use` names come back exactly as the model wrote them, for the guards to judge. A name outside
 *   the API's alphabet (`^[a-zA-Z0-9_-]{1,64}$`) is refused before anything is sent.
 * - Errors keep only the HTTP status and the API's error *type* (a fixed vocabulary): never the provider's message,
 *   which can echo the prompt, and never the SDK error as `cause` (its message and body are the provider's text).
 */
import { ValidationError } from "@praxa/core";
import { APIConnectionError, APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import type Anthropic from "@anthropic-ai/sdk";
import { ModelRateLimitedError, ModelRequestError, ModelUnavailableError } from "./model-errors.js";
import {
  ModelResponseSchema,
  type ModelContentBlock,
  type ModelRequest,
  type ModelResponse,
} from "./model-provider.js";

type WireParams = Anthropic.Messages.MessageCreateParamsNonStreaming;
type WireMessage = Anthropic.Messages.Message;

/** What the three SDK clients have in common that we use. */
export interface MessagesClient {
  readonly messages: Pick<Anthropic["messages"], "stream">;
}

const WIRE_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** A tool name as it goes on the wire: unchanged, or refused when the API would refuse it. */
function checkedToolName(name: string): string {
  if (!WIRE_TOOL_NAME.test(name))
    throw new ModelRequestError("a tool name is not in the model API alphabet", { details: { reason: "tool_name" } });
  return name;
}

function blockToWire(block: ModelContentBlock): Anthropic.Messages.ContentBlockParam {
  switch (block.type) {
    case "text":
      return { type: "text", text: block.text };
    case "tool_use":
      return { type: "tool_use", id: block.id, name: block.name, input: block.input ?? {} };
    case "tool_result":
      return {
        type: "tool_result",
        tool_use_id: block.toolUseId,
        content: block.content,
        ...(block.isError === undefined ? {} : { is_error: block.isError }),
      };
  }
}

/** Our request in the Messages API's shape: exactly the tools given, the tool choice only when there are tools. */
export function toWireParams(request: ModelRequest): WireParams {
  const params: WireParams = {
    model: request.model,
    max_tokens: request.maxTokens,
    messages: request.messages.map((m) => ({ role: m.role, content: m.content.map(blockToWire) })),
  };
  if (request.system.length > 0) params.system = request.system;
  if (request.tools.length > 0) {
    params.tools = request.tools.map((t) => {
      if (t.inputSchema.type !== "object")
        throw new ModelRequestError("a tool input schema must be an object schema", {
          details: { reason: "input_schema" },
        });
      return {
        name: checkedToolName(t.name),
        description: t.description,
        input_schema: t.inputSchema as Anthropic.Messages.Tool.InputSchema,
      };
    });
    const tc = request.toolChoice;
    params.tool_choice = tc.type === "tool" ? { type: "tool", name: checkedToolName(tc.name) } : { type: tc.type };
  }
  return params;
}

/**
 * The API's final message as our response. Only text and tool_use blocks are accepted (we never ask for anything
 * else); `model_context_window_exceeded` reads as `max_tokens` (the answer ran out of room either way).
 */
export function fromWireMessage(message: WireMessage): ModelResponse {
  const content: unknown[] = message.content.map((b) => {
    if (b.type === "text") return { type: "text", text: b.text };
    if (b.type === "tool_use") return { type: "tool_use", id: b.id, name: b.name, input: b.input };
    return { type: b.type };
  });
  const stop = message.stop_reason === "model_context_window_exceeded" ? "max_tokens" : message.stop_reason;
  const parsed = ModelResponseSchema.safeParse({
    model: message.model,
    content,
    stopReason: stop,
    usage: { inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens },
  });
  if (!parsed.success) {
    // Paths and issue codes only: never the offending values (model output).
    const where = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}:${i.code}`).slice(0, 8);
    throw new ValidationError("the model answered in a shape Praxa does not accept", { details: { issues: where } });
  }
  return parsed.data;
}

/** `retry-after-ms` (milliseconds) first, then `retry-after` (seconds, or an HTTP date); `null` when absent or bad. */
export function retryAfterMsFrom(headers: Headers | undefined, nowMs: number = Date.now()): number | null {
  if (headers === undefined) return null;
  const ms = headers.get("retry-after-ms");
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const ra = headers.get("retry-after");
  if (ra === null) return null;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Math.round(Number(ra) * 1000);
  const at = Date.parse(ra);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** The API's error type when it is one of its fixed words (`rate_limit_error`, `throttlingException`, …); anything else is dropped. */
function safeErrorType(type: unknown): string | undefined {
  return typeof type === "string" && /^[A-Za-z_]{1,64}$/.test(type) ? type : undefined;
}

/**
 * Error types that arrive without an HTTP status: an `error` event in the middle of a stream (Anthropic's types, and
 * the Bedrock SDK's names for AWS event-stream exception frames).
 */
const STREAM_RATE_LIMITED = new Set(["rate_limit_error", "throttlingException"]);
const STREAM_UNAVAILABLE = new Set([
  "overloaded_error",
  "api_error",
  "internalServerException",
  "serviceUnavailableException",
  "modelStreamErrorException",
  "modelTimeoutException",
]);

/** An SDK (or transport) failure as our error by intent. Messages are fixed strings; see the module header. */
export function toModelError(err: unknown, provider: string, signal?: AbortSignal): Error {
  if (
    err instanceof ModelRequestError ||
    err instanceof ModelUnavailableError ||
    err instanceof ModelRateLimitedError ||
    err instanceof ValidationError
  )
    return err;
  if (err instanceof APIUserAbortError || signal?.aborted === true) {
    return new ModelUnavailableError(`the ${provider} request was cancelled`, {});
  }
  if (err instanceof APIConnectionError) {
    // Includes timeouts, and the SDKs' own credential failures (AWS credential chain, Google token exchange).
    return new ModelUnavailableError(`could not reach the ${provider} model endpoint`, {});
  }
  if (err instanceof APIError) {
    const status = err.status;
    const type = safeErrorType(err.type);
    const details = { ...(status === undefined ? {} : { status }), ...(type === undefined ? {} : { type }) };
    if (status === 429 || (status === undefined && type !== undefined && STREAM_RATE_LIMITED.has(type))) {
      return new ModelRateLimitedError(
        `the ${provider} model endpoint is rate limiting this workspace's key`,
        retryAfterMsFrom(err.headers),
        details,
      );
    }
    if (
      (status !== undefined && status >= 500) ||
      (status === undefined && (type === undefined || STREAM_UNAVAILABLE.has(type)))
    ) {
      return new ModelUnavailableError(`the ${provider} model endpoint is unavailable`, {
        retryAfterMs: retryAfterMsFrom(err.headers),
        // Anthropic's 529 (relayed as is by Vertex) and its `overloaded_error` type, also as a mid-stream event.
        overloaded: status === 529 || type === "overloaded_error",
        details,
      });
    }
    return new ModelRequestError(`the ${provider} model endpoint refused the request`, { details });
  }
  // Not the SDK's: a bug or a local failure. Its name only — a message could carry anything.
  const name = err instanceof Error && /^[A-Za-z]{1,64}$/.test(err.name) ? err.name : "unknown";
  return new ModelRequestError(`the ${provider} model call failed`, { details: { error: name } });
}

/** One model call through any of the three SDK clients: streamed, parsed, errors mapped. */
export async function completeWithMessagesApi(
  client: MessagesClient,
  provider: string,
  request: ModelRequest,
  signal?: AbortSignal,
): Promise<ModelResponse> {
  const params = toWireParams(request);
  let message: WireMessage;
  try {
    const stream = client.messages.stream(params, signal === undefined ? {} : { signal });
    message = await stream.finalMessage();
  } catch (err) {
    throw toModelError(err, provider, signal);
  }
  return fromWireMessage(message);
}
