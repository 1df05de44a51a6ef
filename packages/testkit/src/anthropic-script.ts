/**
 * The scripted model behind the loopback Anthropic, Bedrock and Vertex servers: a test says what the "model" answers
 * (a queue of replies, or a function of the request), and this module renders a reply in the Messages API's shapes —
 * a JSON `message`, or the same message as the server-sent events the API streams — and checks a request the way the
 * real API does before any reply is chosen.
 *
 * Script API (small on purpose):
 *   - `reply.text('…')`                           an `end_turn` answer
 *   - `reply.toolUse({ name, input }, …)`          one or several (parallel) `tool_use` blocks, `stop_reason: tool_use`
 *   - `reply.fixture(json)`                        a recorded response body (e.g. test/data/fixtures/anthropic/*.json)
 *   - `reply.rateLimited({ seconds?, ms? })`       429 `rate_limit_error` with `retry-after` / `retry-after-ms`
 *   - `reply.overloaded()`, `reply.error(status, type, { headers?, message? })`   529 `overloaded_error`; any error
 *   - `reply.failMidStream(type?)`                 when streaming: `message_start` then an SSE `error` event
 *   A script is `readonly ScriptedReply[]` (consumed in order; when exhausted the server answers 400
 *   `invalid_request_error` "loopback script exhausted", which no client retries) or `(request) => ScriptedReply`
 *   ("always 500": `() => reply.error(500, 'api_error')`).
 *
 * Shapes: `Message` (id, type, role, model, content, stop_reason, stop_sequence, usage) and the streaming events
 * `message_start`, `content_block_start`, `ping`, `content_block_delta` (`text_delta` / `input_json_delta`),
 * `content_block_stop`, `message_delta`, `message_stop`, `error` — as recorded in test/data/fixtures/anthropic/ and
 * documented in the Messages API reference ("Streaming Messages", "Errors").
 *
 * Request checks (what the real API refuses with 400 `invalid_request_error`): `model` a non-empty string,
 * `max_tokens` a positive integer, `messages` a non-empty array of user/assistant turns, tool names matching
 * `^[a-zA-Z0-9_-]{1,64}$` and unique, `input_schema` an object schema, `tool_choice` only with tools and naming one of
 * them, every `tool_result` answering a `tool_use` of the assistant turn just before it and every `tool_use` of an
 * earlier assistant turn answered in the next user turn.
 *
 * Honest limits: token counts in `usage` are estimates (bytes / 4), not a tokenizer's; no images, documents, thinking,
 * server tools, prompt caching, stop sequences or `tool_choice: none` semantics; the model never "decides" anything —
 * it says what the script says, including a `tool_use` for a tool the request did not offer (the real model can, and
 * the runtime's guards must refuse it).
 */
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";

export interface AnthropicTextBlock {
  readonly type: "text";
  readonly text: string;
}
export interface AnthropicToolUseBlock {
  readonly type: "tool_use";
  readonly id: string;
  readonly name: string;
  readonly input: unknown;
}
export type AnthropicResponseBlock = AnthropicTextBlock | AnthropicToolUseBlock;

export interface AnthropicUsage {
  readonly input_tokens: number;
  readonly output_tokens: number;
}

/** A `Message` as the Messages API returns it (the fields this loopback produces). */
export interface AnthropicMessage {
  readonly id: string;
  readonly type: "message";
  readonly role: "assistant";
  readonly model: string;
  readonly content: readonly AnthropicResponseBlock[];
  readonly stop_reason: string;
  readonly stop_sequence: null;
  readonly usage: AnthropicUsage;
}

export interface ToolCall {
  readonly name: string;
  readonly input: unknown;
  /** Default: a fresh `toolu_…` id. */
  readonly id?: string;
}

export type ScriptedReply =
  | {
      readonly kind: "message";
      readonly content: readonly AnthropicResponseBlock[];
      readonly stopReason: string;
      readonly usage?: AnthropicUsage;
      readonly model?: string;
      readonly id?: string;
    }
  | {
      readonly kind: "error";
      readonly status: number;
      readonly errorType: string;
      readonly headers: Readonly<Record<string, string>>;
      /** Default: the API's generic wording for the type. A test may make it echo "the prompt", as real errors can. */
      readonly message?: string;
    }
  | { readonly kind: "fail-mid-stream"; readonly errorType: string };

/** A request the server accepted (authenticated and valid), as the script sees it. */
export interface ScriptedRequest {
  /** 0-based position among accepted model requests on this server. */
  readonly index: number;
  /** The request body, parsed (on Bedrock and Vertex without `model` — see `model`). */
  readonly body: Readonly<Record<string, unknown>>;
  /** The model the request named (body on Anthropic, path on Bedrock and Vertex). */
  readonly model: string;
  readonly stream: boolean;
  /** Wire names of the tools the request offered, in order. */
  readonly tools: readonly string[];
  readonly headers: Readonly<Record<string, string>>;
}

export type AnthropicScript = readonly ScriptedReply[] | ((request: ScriptedRequest) => ScriptedReply);

const B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
function randomId(prefix: string): string {
  const bytes = randomBytes(22);
  let s = "";
  for (const b of bytes) s += B62[b % 62];
  return `${prefix}01${s}`;
}

export const reply = {
  text(text: string): ScriptedReply {
    return { kind: "message", content: [{ type: "text", text }], stopReason: "end_turn" };
  },
  /** One call, or several for parallel tool use; `options.text` adds the usual leading text block. */
  toolUse(calls: ToolCall | readonly ToolCall[], options: { text?: string } = {}): ScriptedReply {
    const list = Array.isArray(calls) ? (calls as readonly ToolCall[]) : [calls as ToolCall];
    const content: AnthropicResponseBlock[] = [];
    if (options.text !== undefined) content.push({ type: "text", text: options.text });
    for (const c of list)
      content.push({ type: "tool_use", id: c.id ?? randomId("toolu_"), name: c.name, input: c.input });
    return { kind: "message", content, stopReason: "tool_use" };
  },
  /** A recorded response body: its content, stop_reason, usage, model and id are replayed as they are. */
  fixture(json: unknown): ScriptedReply {
    const m = json as {
      content?: unknown;
      stop_reason?: unknown;
      usage?: { input_tokens?: unknown; output_tokens?: unknown };
      model?: unknown;
      id?: unknown;
    };
    if (!Array.isArray(m.content) || typeof m.stop_reason !== "string")
      throw new TypeError("reply.fixture: not a Messages API response body");
    const usage =
      typeof m.usage?.input_tokens === "number" && typeof m.usage.output_tokens === "number"
        ? { input_tokens: m.usage.input_tokens, output_tokens: m.usage.output_tokens }
        : undefined;
    return {
      kind: "message",
      content: m.content as AnthropicResponseBlock[],
      stopReason: m.stop_reason,
      ...(usage === undefined ? {} : { usage }),
      ...(typeof m.model === "string" ? { model: m.model } : {}),
      ...(typeof m.id === "string" ? { id: m.id } : {}),
    };
  },
  rateLimited(retryAfter: { seconds?: number; ms?: number } = {}): ScriptedReply {
    const headers: Record<string, string> = {};
    if (retryAfter.seconds !== undefined) headers["retry-after"] = String(retryAfter.seconds);
    if (retryAfter.ms !== undefined) headers["retry-after-ms"] = String(retryAfter.ms);
    return { kind: "error", status: 429, errorType: "rate_limit_error", headers };
  },
  overloaded(): ScriptedReply {
    return { kind: "error", status: 529, errorType: "overloaded_error", headers: {} };
  },
  error(
    status: number,
    errorType: string,
    options: { headers?: Readonly<Record<string, string>>; message?: string } = {},
  ): ScriptedReply {
    return {
      kind: "error",
      status,
      errorType,
      headers: options.headers ?? {},
      ...(options.message === undefined ? {} : { message: options.message }),
    };
  },
  failMidStream(errorType = "overloaded_error"): ScriptedReply {
    return { kind: "fail-mid-stream", errorType };
  },
} as const;

/** Fixed, generic messages per error type (as the API words them); never anything from the request. */
const ERROR_MESSAGES: Readonly<Record<string, string>> = {
  invalid_request_error: "invalid request",
  authentication_error: "invalid x-api-key",
  permission_error: "your API key does not have permission to use the specified resource",
  not_found_error: "not found",
  request_too_large: "request exceeds the maximum allowed number of bytes",
  rate_limit_error: "Number of request tokens has exceeded your per-minute rate limit",
  api_error: "Internal server error",
  overloaded_error: "Overloaded",
};
export function errorMessageFor(type: string): string {
  return ERROR_MESSAGES[type] ?? "error";
}

/** The Messages API error body: `{type:"error", error:{type,message}, request_id}`. */
export function anthropicErrorBody(type: string, message: string = errorMessageFor(type)): Record<string, unknown> {
  return { type: "error", error: { type, message }, request_id: randomId("req_") };
}

export class ScriptPlayer {
  private script: AnthropicScript;
  private position = 0;
  /** Accepted requests, in order. */
  readonly requests: ScriptedRequest[] = [];

  constructor(script: AnthropicScript = []) {
    this.script = script;
  }

  setScript(script: AnthropicScript): void {
    this.script = script;
    this.position = 0;
  }

  /** Forget the accepted requests and set a new script (default: an empty queue). */
  reset(script: AnthropicScript = []): void {
    this.requests.length = 0;
    this.setScript(script);
  }

  enqueue(...replies: ScriptedReply[]): void {
    if (typeof this.script === "function") {
      this.script = replies;
      this.position = 0;
    } else this.script = [...this.script, ...replies];
  }

  /** The reply for an accepted request (recorded), or `null` when a queue script is exhausted. */
  next(request: Omit<ScriptedRequest, "index">): ScriptedReply | null {
    const accepted: ScriptedRequest = { ...request, index: this.requests.length };
    this.requests.push(accepted);
    if (typeof this.script === "function") return this.script(accepted);
    const r = this.script[this.position];
    if (r === undefined) return null;
    this.position += 1;
    return r;
  }
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks a Messages request body as the API does (see the header); returns the problem or `null`. `modelInBody`:
 * Bedrock and Vertex carry the model in the path, not the body.
 */
export function checkMessagesRequest(body: unknown, modelInBody: boolean): string | null {
  if (!isRecord(body)) return "body: expected an object";
  if (modelInBody && (typeof body.model !== "string" || body.model.length === 0)) return "model: Field required";
  if (typeof body.max_tokens !== "number" || !Number.isInteger(body.max_tokens) || body.max_tokens < 1)
    return "max_tokens: Field required";
  if (body.system !== undefined && typeof body.system !== "string" && !Array.isArray(body.system))
    return "system: Input should be a valid string";
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return "messages: at least one message is required";
  const tools = body.tools === undefined ? [] : body.tools;
  if (!Array.isArray(tools)) return "tools: Input should be a valid list";
  const names = new Set<string>();
  for (const [i, t] of tools.entries()) {
    if (!isRecord(t) || typeof t.name !== "string" || !TOOL_NAME.test(t.name))
      return `tools.${i}.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`;
    if (names.has(t.name)) return "tools: Tool names must be unique.";
    names.add(t.name);
    if (!isRecord(t.input_schema) || t.input_schema.type !== "object")
      return `tools.${i}.input_schema: Input should be an object schema`;
  }
  if (body.tool_choice !== undefined) {
    const tc = body.tool_choice;
    if (!isRecord(tc) || !["auto", "any", "tool", "none"].includes(String(tc.type)))
      return "tool_choice: Input tag does not match any of the expected tags";
    if (tools.length === 0 && tc.type !== "none")
      return "tool_choice: tool_choice may only be specified while providing tools.";
    if (tc.type === "tool" && (typeof tc.name !== "string" || !names.has(tc.name)))
      return "tool_choice.name: the named tool was not provided";
  }
  let pending: Set<string> | null = null; // tool_use ids of the previous assistant turn
  for (const [i, m] of messages.entries()) {
    if (!isRecord(m) || (m.role !== "user" && m.role !== "assistant"))
      return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    const content: unknown[] =
      typeof m.content === "string" ? [{ type: "text", text: m.content }] : Array.isArray(m.content) ? m.content : [];
    if (typeof m.content !== "string" && !Array.isArray(m.content))
      return `messages.${i}.content: Input should be a valid list`;
    const resultIds = new Set<string>();
    const useIds = new Set<string>();
    for (const b of content) {
      if (!isRecord(b) || typeof b.type !== "string")
        return `messages.${i}.content: Input should be a valid content block`;
      if (b.type === "tool_result") {
        if (m.role !== "user") return `messages.${i}: tool_result blocks are only allowed in user messages`;
        if (typeof b.tool_use_id !== "string" || pending === null || !pending.has(b.tool_use_id)) {
          return `messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
        }
        resultIds.add(b.tool_use_id);
      } else if (b.type === "tool_use") {
        if (m.role !== "assistant") return `messages.${i}: tool_use blocks are only allowed in assistant messages`;
        if (typeof b.id !== "string" || typeof b.name !== "string")
          return `messages.${i}.content: tool_use needs id and name`;
        useIds.add(b.id);
      } else if (b.type === "text") {
        if (typeof b.text !== "string") return `messages.${i}.content: text blocks need text`;
      }
    }
    if (pending !== null) {
      if (m.role !== "user")
        return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after`;
      for (const id of pending)
        if (!resultIds.has(id))
          return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${id}`;
    }
    pending = m.role === "assistant" && useIds.size > 0 ? useIds : null;
  }
  return null;
}

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(Buffer.byteLength(text, "utf8") / 4));
}

/** The full `Message` a scripted reply stands for. */
export function messageOf(
  r: Extract<ScriptedReply, { kind: "message" }>,
  model: string,
  requestBytes: number,
): AnthropicMessage {
  return {
    id: r.id ?? randomId("msg_"),
    type: "message",
    role: "assistant",
    model: r.model ?? model,
    content: r.content,
    stop_reason: r.stopReason,
    stop_sequence: null,
    usage: r.usage ?? {
      input_tokens: Math.max(1, Math.ceil(requestBytes / 4)),
      output_tokens: estimateTokens(JSON.stringify(r.content)),
    },
  };
}

function chunks(s: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out;
}

/**
 * The streaming events of a message, in order, as the API sends them: `message_start` (empty content, no stop
 * reason), per block `content_block_start` / deltas / `content_block_stop` (a `ping` after the first start), then
 * `message_delta` (stop reason, output tokens) and `message_stop`. `failMidStream` ends after `message_start` with an
 * `error` event instead.
 */
export function streamEventsOf(message: AnthropicMessage, failWith?: string): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [
    {
      type: "message_start",
      message: {
        ...message,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: message.usage.input_tokens, output_tokens: 1 },
      },
    },
  ];
  if (failWith !== undefined) {
    events.push({ type: "error", error: { type: failWith, message: errorMessageFor(failWith) } });
    return events;
  }
  message.content.forEach((block, index) => {
    if (block.type === "text") {
      events.push({ type: "content_block_start", index, content_block: { type: "text", text: "" } });
      if (index === 0) events.push({ type: "ping" });
      for (const piece of chunks(block.text, 24))
        events.push({ type: "content_block_delta", index, delta: { type: "text_delta", text: piece } });
    } else {
      events.push({
        type: "content_block_start",
        index,
        content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
      });
      if (index === 0) events.push({ type: "ping" });
      events.push({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: "" } });
      for (const piece of chunks(JSON.stringify(block.input ?? {}), 12))
        events.push({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: piece } });
    }
    events.push({ type: "content_block_stop", index });
  });
  events.push({
    type: "message_delta",
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: message.usage.output_tokens },
  });
  events.push({ type: "message_stop" });
  return events;
}

/** Writes events as `text/event-stream` (`event: <type>\ndata: <json>\n\n`), in several writes like a real stream. */
export function writeSse(
  res: ServerResponse,
  events: readonly Record<string, unknown>[],
  headers: Readonly<Record<string, string>> = {},
): void {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...headers });
  for (const e of events) res.write(`event: ${String(e.type)}\ndata: ${JSON.stringify(e)}\n\n`);
  res.end();
}

export function newRequestId(): string {
  return randomId("req_");
}
