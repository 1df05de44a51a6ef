import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { reply, streamEventsOf, messageOf } from "./anthropic-script.js";
import { startAnthropicServer, type AnthropicServer } from "./anthropic-server.js";

const fixtures = new URL("../../../test/data/fixtures/anthropic/", import.meta.url);
const fixtureText = (name: string): string => readFileSync(new URL(name, fixtures), "utf8");
const fixture = (name: string): Record<string, unknown> => JSON.parse(fixtureText(name)) as Record<string, unknown>;

const KEY = "sk-ant-loopback-test-0001";
let server: AnthropicServer;

beforeAll(async () => {
  server = await startAnthropicServer({ apiKey: KEY });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

async function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": KEY, "anthropic-version": "2023-06-01", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The SSE text as (event, data) pairs. */
function parseSse(text: string): { event: string; data: Record<string, unknown> }[] {
  return text
    .split("\n\n")
    .filter((f) => f.trim().length > 0)
    .map((frame) => {
      const event = /^event: (.+)$/m.exec(frame)?.[1] ?? "";
      const data = JSON.parse(/^data: (.+)$/m.exec(frame)?.[1] ?? "null") as Record<string, unknown>;
      return { event, data };
    });
}

/** Event types with runs of the same type collapsed (delta counts differ with chunking). */
const shape = (events: { event: string }[]): string[] =>
  events.map((e) => e.event).filter((e, i, all) => e !== all[i - 1]);

describe("loopback Anthropic Messages API", () => {
  const request = fixture("messages.tool_use.request.json");

  it("answers the recorded tool_use request with the scripted fixture, as JSON", async () => {
    server.setScript([reply.fixture(fixture("messages.tool_use.response.json"))]);
    const res = await post(request);
    expect(res.status).toBe(200);
    expect(res.headers.get("request-id")).toMatch(/^req_/);
    const recorded = fixture("messages.tool_use.response.json");
    expect(await res.json()).toEqual({
      id: recorded.id,
      type: "message",
      role: "assistant",
      model: recorded.model,
      content: recorded.content,
      stop_reason: "tool_use",
      stop_sequence: null,
      usage: { input_tokens: 415, output_tokens: 76 },
    });
    expect(server.messageRequests).toHaveLength(1);
    expect(server.messageRequests[0]).toMatchObject({
      index: 0,
      model: "claude-opus-4-8",
      stream: false,
      tools: ["test_tool"],
    });
  });

  it("streams the same message as the recorded SSE does: same event sequence, deltas that rebuild the content", async () => {
    const recorded = parseSse(fixtureText("messages.tool_use.stream.sse.txt"));
    const content = [
      { type: "text" as const, text: "I'll check the current weather in Paris for you." },
      {
        type: "tool_use" as const,
        id: "toolu_01NRLabsLyVHZPKxbKvkfSMn",
        name: "get_weather",
        input: { location: "Paris" },
      },
    ];
    server.setScript([{ kind: "message", content, stopReason: "tool_use" }]);
    const res = await post({ ...request, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const ours = parseSse(await res.text());
    expect(shape(ours)).toEqual(shape(recorded));
    for (const events of [ours, recorded]) {
      const text = events
        .filter((e) => e.event === "content_block_delta" && (e.data.delta as { type: string }).type === "text_delta")
        .map((e) => (e.data.delta as { text: string }).text)
        .join("");
      const json = events
        .filter(
          (e) => e.event === "content_block_delta" && (e.data.delta as { type: string }).type === "input_json_delta",
        )
        .map((e) => (e.data.delta as { partial_json: string }).partial_json)
        .join("");
      expect(text).toBe(content[0]?.text);
      expect(JSON.parse(json)).toEqual({ location: "Paris" });
      expect(events.at(-2)?.data).toMatchObject({ type: "message_delta", delta: { stop_reason: "tool_use" } });
    }
  });

  it("the event generator keeps block indices and a message_start without content", () => {
    const m = messageOf(
      {
        kind: "message",
        content: [
          { type: "tool_use", id: "toolu_1", name: "a", input: { x: 1 } },
          { type: "tool_use", id: "toolu_2", name: "b", input: {} },
        ],
        stopReason: "tool_use",
      },
      "m",
      100,
    );
    const events = streamEventsOf(m);
    expect(events[0]).toMatchObject({ type: "message_start", message: { content: [], stop_reason: null } });
    expect(events.filter((e) => e.type === "content_block_start").map((e) => e.index)).toEqual([0, 1]);
  });

  it("429 carries retry-after headers and the documented error body", async () => {
    server.setScript([reply.rateLimited({ seconds: 15, ms: 15000 })]);
    const res = await post(request);
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("15");
    expect(res.headers.get("retry-after-ms")).toBe("15000");
    const rl = fixture("error.rate_limit_error.json");
    expect(await res.json()).toMatchObject({
      type: rl.type,
      error: rl.error,
      request_id: expect.stringMatching(/^req_/),
    });
  });

  it("refuses a wrong key (401), a missing or unknown version (400), an unknown route (404)", async () => {
    server.setScript(() => reply.text("never"));
    expect((await post(request, { "x-api-key": "sk-ant-other" })).status).toBe(401);
    expect((await post(request, { "x-api-key": "", authorization: `Bearer ${KEY}` })).status).toBe(200);
    const noVersion = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": KEY, "content-type": "application/json" },
      body: JSON.stringify(request),
    });
    expect(noVersion.status).toBe(400);
    expect((await post(request, { "anthropic-version": "1999-01-01" })).status).toBe(400);
    expect((await fetch(`${server.url}/v1/complete`, { method: "POST" })).status).toBe(404);
    expect(server.messageRequests).toHaveLength(1);
  });

  it("refuses what the API refuses: dotted tool names, tool_choice naming an absent tool, orphan tool_result", async () => {
    server.setScript(() => reply.text("never"));
    const bad = [
      { ...request, tools: [{ name: "github.read.diff", input_schema: { type: "object" } }] },
      { ...request, tool_choice: { type: "tool", name: "other" } },
      { model: "m", max_tokens: 10, tool_choice: { type: "any" }, messages: [{ role: "user", content: "x" }] },
      {
        ...request,
        messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_x", content: "r" }] }],
      },
      {
        ...request,
        messages: [
          { role: "user", content: "a" },
          { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "test_tool", input: {} }] },
          { role: "user", content: "no result" },
        ],
      },
      { ...request, max_tokens: 0 },
      { ...request, messages: [] },
      "not json",
    ];
    for (const body of bad) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    }
    expect(server.messageRequests).toHaveLength(0);
    // The recorded tool_result request is valid.
    expect((await post(fixture("messages.tool_result.request.json"))).status).toBe(200);
  });

  it("a queue script answers in order, then says it is exhausted (400, not retryable); a function sees the request", async () => {
    server.setScript([reply.text("one"), reply.overloaded()]);
    expect(((await (await post(request)).json()) as { content: { text: string }[] }).content[0]?.text).toBe("one");
    expect((await post(request)).status).toBe(529);
    const exhausted = await post(request);
    expect(exhausted.status).toBe(400);
    expect(JSON.stringify(await exhausted.json())).toContain("loopback script exhausted");
    server.setScript((r) => reply.toolUse({ name: r.tools[0] ?? "none", input: { n: r.index } }));
    const body = (await (await post(request)).json()) as {
      content: { name: string; input: unknown }[];
      stop_reason: string;
    };
    expect(body.stop_reason).toBe("tool_use");
    expect(body.content[0]).toMatchObject({ name: "test_tool", input: { n: 3 } });
    server.enqueue(reply.text("queued"));
    expect(((await (await post(request)).json()) as { content: { text: string }[] }).content[0]?.text).toBe("queued");
  });

  it("failMidStream: message_start, then an error event", async () => {
    server.setScript([reply.failMidStream()]);
    const events = parseSse(await (await post({ ...request, stream: true })).text());
    expect(events.map((e) => e.event)).toEqual(["message_start", "error"]);
    expect(events[1]?.data).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
  });
});
