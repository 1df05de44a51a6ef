/**
 * A loopback Anthropic Messages API: `POST /v1/messages`, answering from a script the test provides (see
 * `anthropic-script.ts` for the script API, the shapes and the request checks).
 *
 * Wire format, as `@anthropic-ai/sdk` speaks it and the API documents it: the key in `x-api-key` (or, as SDK 1.x sends
 * it, `Authorization: Bearer <key>`), the API version in `anthropic-version`, a JSON body; the answer is a `Message` as JSON, or — when the body says `"stream": true` — the
 * same message as `text/event-stream` events. Errors are `{"type":"error","error":{"type","message"},"request_id"}`
 * with the status the API uses (400 invalid_request_error, 401 authentication_error, 404 not_found_error, 429
 * rate_limit_error with `retry-after` / `retry-after-ms` when scripted, 500 api_error, 529 overloaded_error), and
 * every response carries a `request-id` header. Source: test/data/fixtures/anthropic/ and the Messages API reference
 * ("Messages", "Streaming Messages", "Errors", "Versions").
 *
 * What it checks honestly: the key (401 otherwise), that `anthropic-version` is present and a known version (400),
 * the body (400, see the script module), and the route (404). Counts requests: `requests` (every HTTP request, from
 * the loopback frame) and `messageRequests` (accepted ones, parsed, in order — assert what was sent).
 *
 * Honest limits: no other endpoints (count_tokens, batches, models, files); no rate limiting of its own — a 429
 * happens only when the script says so; no `anthropic-beta` features.
 */
import { sendJson, startLoopbackServer, type LoopbackServer, type RecordedRequest } from "./loopback-server.js";
import {
  anthropicErrorBody,
  checkMessagesRequest,
  messageOf,
  newRequestId,
  ScriptPlayer,
  streamEventsOf,
  writeSse,
  type AnthropicScript,
  type ScriptedReply,
  type ScriptedRequest,
} from "./anthropic-script.js";

/** API versions the loopback accepts in `anthropic-version`: the documented one and the one the installed SDK sends. */
export const ANTHROPIC_API_VERSIONS: readonly string[] = ["2023-06-01", "2026-10-21"];

export interface AnthropicServerOptions {
  /** The only key the server accepts (in `x-api-key` or `Authorization: Bearer`). */
  readonly apiKey: string;
  readonly script?: AnthropicScript;
}

export interface AnthropicServer extends LoopbackServer {
  /** Model requests that passed authentication and validation, parsed, in order. */
  readonly messageRequests: readonly ScriptedRequest[];
  /** Replace the script (a queue restarts from its first reply). */
  setScript(script: AnthropicScript): void;
  /** Append replies to a queue script (replaces a function script). */
  enqueue(...replies: ScriptedReply[]): void;
  /** Forget every recorded request (`requests` and `messageRequests`) and set a new script (default: empty queue). */
  reset(script?: AnthropicScript): void;
}

export async function startAnthropicServer(options: AnthropicServerOptions): Promise<AnthropicServer> {
  const player = new ScriptPlayer(options.script ?? []);
  const server = await startLoopbackServer((req, res) => {
    const requestId = newRequestId();
    const fail = (status: number, type: string, message?: string, headers: Record<string, string> = {}): void =>
      sendJson(res, status, anthropicErrorBody(type, message), { "request-id": requestId, ...headers });
    const [path] = req.path.split("?");
    if (path !== "/v1/messages") return fail(404, "not_found_error", `Not found: ${req.method} ${path ?? ""}`);
    if (req.method !== "POST") return fail(405, "invalid_request_error", "Method Not Allowed");
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const presented = req.headers["x-api-key"] || bearer;
    if (presented !== options.apiKey) return fail(401, "authentication_error", "invalid x-api-key");
    const version = req.headers["anthropic-version"];
    if (version === undefined) return fail(400, "invalid_request_error", "anthropic-version: header is required");
    if (!ANTHROPIC_API_VERSIONS.includes(version))
      return fail(400, "invalid_request_error", "anthropic-version: invalid version");
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString("utf8"));
    } catch {
      return fail(400, "invalid_request_error", "There was an issue with your request body: invalid JSON");
    }
    const problem = checkMessagesRequest(body, true);
    if (problem !== null) return fail(400, "invalid_request_error", problem);
    const b = body as Record<string, unknown>;
    const stream = b.stream === true;
    const tools = Array.isArray(b.tools) ? (b.tools as { name: string }[]).map((t) => t.name) : [];
    const r = player.next({ body: b, model: String(b.model), stream, tools, headers: req.headers });
    if (r === null)
      return fail(
        400,
        "invalid_request_error",
        `loopback script exhausted: no reply scripted for request #${player.requests.length - 1}`,
      );
    if (r.kind === "error") return fail(r.status, r.errorType, r.message, { ...r.headers });
    if (r.kind === "fail-mid-stream" && !stream) return fail(529, r.errorType);
    const message = messageOf(
      r.kind === "message" ? r : { kind: "message", content: [], stopReason: "end_turn" },
      String(b.model),
      req.body.length,
    );
    if (!stream) return sendJson(res, 200, message, { "request-id": requestId });
    return writeSse(res, streamEventsOf(message, r.kind === "fail-mid-stream" ? r.errorType : undefined), {
      "request-id": requestId,
    });
  });
  return Object.assign(server, {
    messageRequests: player.requests,
    setScript: (script: AnthropicScript) => player.setScript(script),
    enqueue: (...replies: ScriptedReply[]) => player.enqueue(...replies),
    reset: (script?: AnthropicScript) => {
      (server.requests as RecordedRequest[]).length = 0;
      player.reset(script);
    },
  });
}
