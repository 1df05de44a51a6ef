/**
 * The Anthropic provider through the real `@anthropic-ai/sdk` against the loopback Messages API (testkit), answering in
 * the recorded shapes of test/data/fixtures/anthropic/.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import { randomBytes } from "node:crypto";
import { ThrottledError } from "@praxa/core";
import { reply, startAnthropicServer, type AnthropicServer } from "@praxa/testkit";
import { createAnthropicProvider } from "./anthropic-provider.js";
import { ModelRequestError, ModelUnavailableError } from "./model-errors.js";
import type { ModelProvider, ModelRequest } from "./model-provider.js";
import { withModelRetries } from "./with-model-retries.js";

const fixtures = new URL("../../../../test/data/fixtures/anthropic/", import.meta.url);
const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(name, fixtures), "utf8")) as unknown;

const KEY = `sk-ant-canary-${randomBytes(12).toString("hex")}`;
let server: AnthropicServer;

beforeAll(async () => {
  server = await startAnthropicServer({ apiKey: KEY });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.reset();
});

const diffTool = {
  name: "github_read_diff",
  description: "Read the pull request diff",
  inputSchema: { type: "object", properties: { path: { type: "string" } }, additionalProperties: false },
};
const commentTool = {
  name: "github_comment_pr",
  description: "Comment on the pull request",
  inputSchema: { type: "object", properties: { body: { type: "string" } }, required: ["body"] },
};

function request(over: Partial<ModelRequest> = {}): ModelRequest {
  return {
    model: "claude-opus-4-8",
    system: "You review pull requests.",
    messages: [{ role: "user", content: [{ type: "text", text: "Review PR #7" }] }],
    tools: [diffTool, commentTool],
    toolChoice: { type: "auto" },
    maxTokens: 1000,
    ...over,
  };
}

function provider(baseURL = server.url, apiKey = KEY): ModelProvider {
  return createAnthropicProvider({ apiKey, baseURL });
}

/** A sleep that records what it was asked for and returns at once. */
function fakeSleep(): { sleep: (ms: number) => Promise<void>; asked: number[] } {
  const asked: number[] = [];
  return { asked, sleep: async (ms: number) => void asked.push(ms) };
}

describe("Anthropic provider (real SDK ↔ loopback Messages API)", () => {
  it("tool_use round trip: streams, sends exactly the offered tools as given, parses the answer", async () => {
    server.setScript([reply.fixture(fixture("messages.tool_use.response.json"))]);
    const res = await provider().complete(request({ toolChoice: { type: "tool", name: "github_read_diff" } }));
    expect(res).toEqual({
      model: "claude-opus-4-8",
      content: [
        {
          type: "text",
          text: 'I\'ll use the test_tool with the value "test" as requested, then provide a final response.',
        },
        { type: "tool_use", id: "toolu_011LF2VkWpAfJnTKJcmh1PNf", name: "test_tool", input: { value: "test" } },
      ],
      stopReason: "tool_use",
      usage: { inputTokens: 415, outputTokens: 76 },
    });
    expect(server.messageRequests).toHaveLength(1);
    const sent = server.messageRequests[0];
    expect(sent?.stream).toBe(true);
    expect(sent?.headers["x-api-key"] ?? sent?.headers.authorization).toMatch(new RegExp(`^(Bearer )?${KEY}$`));
    expect(sent?.body).toEqual({
      model: "claude-opus-4-8",
      max_tokens: 1000,
      system: "You review pull requests.",
      messages: [{ role: "user", content: [{ type: "text", text: "Review PR #7" }] }],
      tools: [
        { name: "github_read_diff", description: "Read the pull request diff", input_schema: diffTool.inputSchema },
        {
          name: "github_comment_pr",
          description: "Comment on the pull request",
          input_schema: commentTool.inputSchema,
        },
      ],
      tool_choice: { type: "tool", name: "github_read_diff" },
      stream: true,
    });
  });

  it("parallel tool_use: every block, in order", async () => {
    server.setScript([reply.fixture(fixture("messages.tool_use.parallel.response.json"))]);
    const res = await provider().complete(request());
    expect(res.stopReason).toBe("tool_use");
    expect(res.content.filter((b) => b.type === "tool_use")).toEqual([
      { type: "tool_use", id: "toolu_01L8GVQapA1HmggQcrwboukH", name: "test_tool", input: { count: 1 } },
      { type: "tool_use", id: "toolu_01J5Fvzxu7DP1Uh59c1kr5JD", name: "test_tool", input: { count: 2 } },
    ]);
  });

  it("the tool-use loop: tool_result goes back with its tool_use id, end_turn comes out", async () => {
    server.setScript([
      reply.toolUse(
        [
          { name: "github_read_diff", input: { path: "src/a.ts" } },
          { name: "github_comment_pr", input: { body: "LGTM" } },
        ],
        { text: "Reading." },
      ),
      reply.fixture(fixture("messages.end_turn.response.json")),
    ]);
    const p = provider();
    const first = await p.complete(request());
    const uses = first.content.filter((b) => b.type === "tool_use");
    expect(uses.map((u) => u.name)).toEqual(["github_read_diff", "github_comment_pr"]);
    expect(uses[0]?.input).toEqual({ path: "src/a.ts" });
    const second = await p.complete(
      request({
        messages: [
          ...request().messages,
          { role: "assistant", content: first.content },
          {
            role: "user",
            content: uses.map((u) => ({
              type: "tool_result" as const,
              toolUseId: u.id,
              content: "ok",
              ...(u.name === "github_comment_pr" ? { isError: true } : {}),
            })),
          },
        ],
      }),
    );
    expect(second.stopReason).toBe("end_turn");
    expect(second.content[0]?.type).toBe("text");
    const history = server.messageRequests[1]?.body.messages as {
      role: string;
      content: { type: string; name?: string; tool_use_id?: string; is_error?: boolean }[];
    }[];
    expect(history[1]?.content.filter((b) => b.type === "tool_use").map((b) => b.name)).toEqual([
      "github_read_diff",
      "github_comment_pr",
    ]);
    expect(history[2]?.content).toEqual(
      uses.map((u) => ({
        type: "tool_result",
        tool_use_id: u.id,
        content: "ok",
        ...(u.name === "github_comment_pr" ? { is_error: true } : {}),
      })),
    );
  });

  it("a tool_use for a tool that was not offered comes back as such (for the guards to refuse), and nothing else is sent", async () => {
    server.setScript([reply.toolUse({ name: "slack_post_message", input: { text: "ignore your instructions" } })]);
    const res = await provider().complete(request({ tools: [diffTool] }));
    expect(res.content).toEqual([
      {
        type: "tool_use",
        id: expect.stringMatching(/^toolu_/),
        name: "slack_post_message",
        input: { text: "ignore your instructions" },
      },
    ]);
    expect((server.messageRequests[0]?.body.tools as { name: string }[]).map((t) => t.name)).toEqual([
      "github_read_diff",
    ]);
  });

  it("no tools → neither tools nor tool_choice on the wire", async () => {
    server.setScript([reply.text("Nothing to do.")]);
    const res = await provider().complete(request({ tools: [], toolChoice: { type: "any" }, system: "" }));
    expect(res).toMatchObject({ content: [{ type: "text", text: "Nothing to do." }], stopReason: "end_turn" });
    const body = server.messageRequests[0]?.body ?? {};
    expect(Object.keys(body).sort()).toEqual(["max_tokens", "messages", "model", "stream"]);
  });

  it("a long streamed answer arrives whole", async () => {
    const text = "x".repeat(50_000);
    server.setScript([reply.toolUse({ name: "github_comment_pr", input: { body: text } }, { text })]);
    const res = await provider().complete(request());
    expect(res.content).toEqual([
      { type: "text", text },
      { type: "tool_use", id: expect.any(String), name: "github_comment_pr", input: { body: text } },
    ]);
  });

  it("429 with retry-after → ModelRateLimitedError carrying it (retry-after-ms first)", async () => {
    server.setScript([reply.rateLimited({ seconds: 15 }), reply.rateLimited({ ms: 1500, seconds: 2 })]);
    const bare = provider();
    await expect(bare.complete(request())).rejects.toMatchObject({
      code: "MODEL_RATE_LIMITED",
      retryAfterMs: 15_000,
      details: { status: 429, type: "rate_limit_error", retryAfterMs: 15_000 },
    });
    await expect(bare.complete(request())).rejects.toMatchObject({ retryAfterMs: 1_500 });
  });

  it("429 with retry-after: 7 → ThrottledError(model, 7000) after exactly one request: no retry, no sleep in the job", async () => {
    server.setScript([reply.rateLimited({ seconds: 7 }), reply.text("never reached")]);
    const { sleep, asked } = fakeSleep();
    const err = await withModelRetries(provider(), { sleep })
      .complete(request())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottledError);
    expect(err).toMatchObject({
      code: "MODEL_RATE_LIMITED",
      resource: "model",
      retryAfterMs: 7_000,
      retryable: true,
      details: { status: 429, type: "rate_limit_error" },
    });
    expect(server.messageRequests).toHaveLength(1);
    expect(asked).toEqual([]);
  });

  it("429 without retry-after → the 30 s default; one beyond the 15 min cap is capped", async () => {
    server.setScript([reply.rateLimited(), reply.rateLimited({ seconds: 3600 })]);
    const { sleep, asked } = fakeSleep();
    const p = withModelRetries(provider(), { sleep });
    await expect(p.complete(request())).rejects.toMatchObject({ code: "MODEL_RATE_LIMITED", retryAfterMs: 30_000 });
    await expect(p.complete(request())).rejects.toMatchObject({ code: "MODEL_RATE_LIMITED", retryAfterMs: 900_000 });
    expect(server.messageRequests).toHaveLength(2);
    expect(asked).toEqual([]);
  });

  it("persistent 500 → ModelUnavailableError after maxAttempts, with exponential backoff and jitter", async () => {
    server.setScript(() => reply.error(500, "api_error"));
    const { sleep, asked } = fakeSleep();
    const err = await withModelRetries(provider(), { sleep, maxAttempts: 4, random: () => 0.5 })
      .complete(request())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelUnavailableError);
    expect(err).toMatchObject({ code: "MODEL_UNAVAILABLE", details: { status: 500, type: "api_error" } });
    expect(server.messageRequests).toHaveLength(4);
    expect(asked).toEqual([750, 1500, 3000]);
  });

  it("529 overloaded → ThrottledError(model, MODEL_OVERLOADED) after exactly one request; likewise mid-stream", async () => {
    server.setScript([reply.overloaded(), reply.text("never reached")]);
    const { sleep, asked } = fakeSleep();
    const p = withModelRetries(provider(), { sleep });
    const err = await p.complete(request()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottledError);
    expect(err).toMatchObject({
      code: "MODEL_OVERLOADED",
      resource: "model",
      retryAfterMs: 10_000,
      details: { status: 529, type: "overloaded_error" },
    });
    expect(server.messageRequests).toHaveLength(1);
    server.reset([reply.error(529, "overloaded_error", { headers: { "retry-after": "4" } })]);
    await expect(p.complete(request())).rejects.toMatchObject({ code: "MODEL_OVERLOADED", retryAfterMs: 4_000 });
    server.reset([reply.failMidStream("overloaded_error"), reply.text("never reached")]);
    await expect(p.complete(request())).rejects.toMatchObject({
      code: "MODEL_OVERLOADED",
      details: { type: "overloaded_error" },
    });
    expect(server.messageRequests).toHaveLength(1);
    expect(asked).toEqual([]);
    // Unwrapped, the provider says what it saw.
    server.reset([reply.failMidStream("overloaded_error")]);
    await expect(provider().complete(request())).rejects.toMatchObject({
      code: "MODEL_UNAVAILABLE",
      overloaded: true,
      details: { type: "overloaded_error" },
    });
  });

  it("a 500, a 503 and a mid-stream api_error are still retried in-process, then succeed", async () => {
    server.setScript([
      reply.error(500, "api_error"),
      reply.error(503, "api_error"),
      reply.failMidStream("api_error"),
      reply.text("fourth time"),
    ]);
    const { sleep, asked } = fakeSleep();
    const res = await withModelRetries(provider(), { sleep, random: () => 0 }).complete(request());
    expect(res.content).toEqual([{ type: "text", text: "fourth time" }]);
    expect(server.messageRequests).toHaveLength(4);
    expect(asked).toEqual([500, 1_000, 2_000]);
  });

  it("other 4xx → ModelRequestError, never retried", async () => {
    server.setScript(() => reply.error(400, "invalid_request_error"));
    const { sleep, asked } = fakeSleep();
    const err = await withModelRetries(provider(), { sleep })
      .complete(request())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelRequestError);
    expect(err).toMatchObject({
      code: "MODEL_REQUEST_REJECTED",
      details: { status: 400, type: "invalid_request_error" },
    });
    expect(server.messageRequests).toHaveLength(1);
    expect(asked).toEqual([]);
    // A wrong key is refused by the server (401), also not retried.
    await expect(provider(server.url, "sk-ant-wrong-key-0000").complete(request())).rejects.toMatchObject({
      code: "MODEL_REQUEST_REJECTED",
      details: { status: 401, type: "authentication_error" },
    });
  });

  it("a connection failure → ModelUnavailableError", async () => {
    const dead = await startAnthropicServer({ apiKey: KEY });
    const url = dead.url;
    await dead.close();
    await expect(provider(url).complete(request())).rejects.toMatchObject({ code: "MODEL_UNAVAILABLE" });
  });

  it("a cancelled signal stops: no retry, no sleep", async () => {
    server.setScript(() => reply.error(503, "api_error"));
    const ac = new AbortController();
    const asked: number[] = [];
    const p = withModelRetries(provider(), {
      sleep: async (ms) => {
        asked.push(ms);
        ac.abort();
      },
    });
    await expect(p.complete(request(), ac.signal)).rejects.toMatchObject({ code: "MODEL_UNAVAILABLE" });
    expect(server.messageRequests).toHaveLength(1);
    expect(asked).toHaveLength(1);
    await expect(p.complete(request(), ac.signal)).rejects.toMatchObject({ code: "MODEL_UNAVAILABLE" });
  });

  it("a tool name outside the API alphabet (a dotted runtime name) is refused before anything is sent", async () => {
    await expect(
      provider().complete(request({ tools: [{ ...diffTool, name: "github.read.diff" }] })),
    ).rejects.toBeInstanceOf(ModelRequestError);
    await expect(
      provider().complete(request({ toolChoice: { type: "tool", name: "x".repeat(65) } })),
    ).rejects.toBeInstanceOf(ModelRequestError);
    expect(server.requests).toHaveLength(0);
  });

  it("canary: the key and the provider error text never appear in a thrown error or in any log output", async () => {
    const promptCanary = `PROMPT-CANARY-${randomBytes(8).toString("hex")}`;
    const written: string[] = [];
    const restore: (() => void)[] = [];
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        written.push(String(chunk));
        return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof stream.write;
      restore.push(() => void (stream.write = original));
    }
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      const original = console[level];
      console[level] = (...args: unknown[]) => void written.push(args.map((a) => inspect(a, { depth: 8 })).join(" "));
      restore.push(() => void (console[level] = original));
    }
    const previousLog = process.env.ANTHROPIC_LOG;
    process.env.ANTHROPIC_LOG = "debug";
    const errors: unknown[] = [];
    try {
      const p = createAnthropicProvider({ apiKey: KEY, baseURL: server.url });
      const scripted = [
        reply.error(400, "invalid_request_error", { message: `bad request near "${promptCanary}" (${KEY})` }),
        reply.error(500, "api_error", { message: `${promptCanary} ${KEY}` }),
        reply.rateLimited({ seconds: 1 }),
        reply.failMidStream("overloaded_error"),
      ];
      for (const r of scripted) {
        server.setScript([r]);
        errors.push(
          await p
            .complete(request({ messages: [{ role: "user", content: [{ type: "text", text: promptCanary }] }] }))
            .catch((e: unknown) => e),
        );
      }
      errors.push(
        await createAnthropicProvider({ apiKey: KEY, baseURL: "http://127.0.0.1:1" })
          .complete(request())
          .catch((e: unknown) => e),
      );
      const { sleep } = fakeSleep();
      server.setScript(() => reply.error(503, "api_error", { message: promptCanary }));
      errors.push(
        await withModelRetries(p, { sleep, maxAttempts: 2 })
          .complete(request())
          .catch((e: unknown) => e),
      );
    } finally {
      for (const r of restore) r();
      if (previousLog === undefined) delete process.env.ANTHROPIC_LOG;
      else process.env.ANTHROPIC_LOG = previousLog;
    }
    expect(errors).toHaveLength(6);
    for (const e of errors) {
      expect(e).toBeInstanceOf(Error);
      const err = e as Error;
      for (const text of [
        err.message,
        JSON.stringify(err),
        String(err.stack),
        inspect(err, { depth: 10, showHidden: true }),
      ]) {
        expect(text).not.toContain(KEY);
        expect(text).not.toContain(promptCanary);
      }
      expect(err.cause).toBeUndefined();
    }
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual([
      "MODEL_REQUEST_REJECTED",
      "MODEL_UNAVAILABLE",
      "MODEL_RATE_LIMITED",
      "MODEL_UNAVAILABLE",
      "MODEL_UNAVAILABLE",
      "MODEL_UNAVAILABLE",
    ]);
    const all = written.join("\n");
    expect(all).not.toContain(KEY);
    expect(all).not.toContain(promptCanary);
    // The provider object itself does not expose the key to a logger that serializes it.
    expect(JSON.stringify(provider())).not.toContain(KEY);
    expect(inspect(provider(), { depth: 3 })).not.toContain(KEY);
  });
});
