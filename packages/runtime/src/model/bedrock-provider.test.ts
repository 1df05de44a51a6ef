/**
 * The Bedrock provider through the real `@anthropic-ai/bedrock-sdk` (SigV4, event-stream streaming) and the real
 * `@aws-sdk/credential-providers` STS client against the loopback Bedrock Runtime + STS (testkit), which verifies
 * every signature.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import { ThrottledError } from "@praxa/core";
import { reply, startBedrockServer, type BedrockServer } from "@praxa/testkit";
import { bedrockModelId, createBedrockProvider, type BedrockCredentials } from "./bedrock-provider.js";
import { ModelRequestError, ModelUnavailableError } from "./model-errors.js";
import type { ModelProvider, ModelRequest } from "./model-provider.js";
import { withModelRetries } from "./with-model-retries.js";

const fixtures = new URL("../../../../test/data/fixtures/anthropic/", import.meta.url);
const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(name, fixtures), "utf8")) as unknown;

const REGION = "eu-west-1";
const KEY_ID = "AKIAPRAXATEST0000001";
const SECRET = `canary/${randomBytes(20).toString("base64")}`;
const PRAXA_KEY_ID = "AKIAPRAXAWORKER00001";
const PRAXA_SECRET = randomBytes(30).toString("base64");
const ROLE = "arn:aws:iam::123456789012:role/praxa-bedrock";
const WORKSPACE = "ws_01jtestworkspace0000000000";

let server: BedrockServer;
beforeAll(async () => {
  server = await startBedrockServer({
    region: REGION,
    accessKeys: { [KEY_ID]: SECRET, [PRAXA_KEY_ID]: PRAXA_SECRET },
    roles: [{ arn: ROLE, externalId: WORKSPACE }],
  });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

const tools = [
  { name: "github_read_diff", description: "Read the diff", inputSchema: { type: "object", properties: {} } },
  {
    name: "github_comment_pr",
    description: "Comment",
    inputSchema: { type: "object", properties: { body: { type: "string" } } },
  },
];
function request(over: Partial<ModelRequest> = {}): ModelRequest {
  return {
    model: "claude-opus-4-8",
    system: "Review.",
    messages: [{ role: "user", content: [{ type: "text", text: "PR #7" }] }],
    tools,
    toolChoice: { type: "auto" },
    maxTokens: 800,
    ...over,
  };
}
const keys: BedrockCredentials = { kind: "access-keys", accessKeyId: KEY_ID, secretAccessKey: SECRET };
const role = (over: Partial<Extract<BedrockCredentials, { kind: "assume-role" }>> = {}): BedrockCredentials => ({
  kind: "assume-role",
  roleArn: ROLE,
  externalId: WORKSPACE,
  source: { accessKeyId: PRAXA_KEY_ID, secretAccessKey: PRAXA_SECRET },
  stsEndpoint: server.url,
  ...over,
});
const provider = (credentials: BedrockCredentials = keys, baseURL = server.url): ModelProvider =>
  createBedrockProvider({ region: REGION, credentials, baseURL });
function fakeSleep(): { sleep: (ms: number) => Promise<void>; asked: number[] } {
  const asked: number[] = [];
  return { asked, sleep: async (ms: number) => void asked.push(ms) };
}

describe("bedrockModelId", () => {
  it("maps an Anthropic id to the geographic inference profile, passes Bedrock ids through", () => {
    expect(bedrockModelId("claude-sonnet-4-5-20250929", "us-east-1")).toBe(
      "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    );
    expect(bedrockModelId("claude-sonnet-4-5-20250929", "eu-central-1")).toBe(
      "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
    );
    expect(bedrockModelId("claude-sonnet-4-5-20250929", "ap-northeast-1")).toBe(
      "apac.anthropic.claude-sonnet-4-5-20250929-v1:0",
    );
    expect(bedrockModelId("claude-sonnet-4-5-20250929", "us-gov-west-1")).toBe(
      "us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0",
    );
    expect(bedrockModelId("claude-3-haiku-20240307", "sa-east-1")).toBe("anthropic.claude-3-haiku-20240307-v1:0");
    expect(bedrockModelId("anthropic.claude-3-5-sonnet-20240620-v1:0", "us-east-1")).toBe(
      "anthropic.claude-3-5-sonnet-20240620-v1:0",
    );
    expect(bedrockModelId("global.anthropic.claude-opus-4-8-v1:0", "us-east-1")).toBe(
      "global.anthropic.claude-opus-4-8-v1:0",
    );
  });
});

describe("Bedrock provider (real SDK ↔ loopback Bedrock Runtime, SigV4 verified)", () => {
  it("tool_use round trip over InvokeModelWithResponseStream: Bedrock path and body, exactly the offered tools", async () => {
    server.setScript([reply.fixture(fixture("messages.tool_use.response.json"))]);
    const res = await provider().complete(request({ toolChoice: { type: "tool", name: "github_comment_pr" } }));
    expect(res).toMatchObject({
      content: [
        { type: "text" },
        { type: "tool_use", id: "toolu_011LF2VkWpAfJnTKJcmh1PNf", name: "test_tool", input: { value: "test" } },
      ],
      stopReason: "tool_use",
      usage: { inputTokens: 415, outputTokens: 76 },
    });
    expect(server.requests.map((r) => r.path)).toEqual([
      "/model/eu.anthropic.claude-opus-4-8-v1:0/invoke-with-response-stream",
    ]);
    expect(server.signedBy).toEqual([KEY_ID]);
    const sent = server.messageRequests[0];
    expect(sent?.model).toBe("eu.anthropic.claude-opus-4-8-v1:0");
    expect(sent?.stream).toBe(true);
    expect(sent?.body).toEqual({
      anthropic_version: expect.any(String),
      max_tokens: 800,
      system: "Review.",
      messages: [{ role: "user", content: [{ type: "text", text: "PR #7" }] }],
      tools: [
        { name: "github_read_diff", description: "Read the diff", input_schema: tools[0]?.inputSchema },
        { name: "github_comment_pr", description: "Comment", input_schema: tools[1]?.inputSchema },
      ],
      tool_choice: { type: "tool", name: "github_comment_pr" },
    });
    expect(server.requests[0]?.headers["content-type"]).toMatch(/json/);
  });

  it("parallel tool_use, then tool_result → end_turn", async () => {
    server.setScript([
      reply.fixture(fixture("messages.tool_use.parallel.response.json")),
      reply.fixture(fixture("messages.end_turn.response.json")),
    ]);
    const p = provider();
    const first = await p.complete(request());
    const uses = first.content.filter((b) => b.type === "tool_use");
    expect(uses.map((u) => u.input)).toEqual([{ count: 1 }, { count: 2 }]);
    const second = await p.complete(
      request({
        messages: [
          ...request().messages,
          { role: "assistant", content: first.content },
          {
            role: "user",
            content: uses.map((u) => ({ type: "tool_result" as const, toolUseId: u.id, content: "done" })),
          },
        ],
      }),
    );
    expect(second.stopReason).toBe("end_turn");
    expect(server.messageRequests).toHaveLength(2);
  });

  it("a long answer streams through the event-stream framing intact", async () => {
    const text = "é".repeat(30_000);
    server.setScript([reply.toolUse({ name: "github_comment_pr", input: { body: text } }, { text })]);
    const res = await provider().complete(request());
    expect(res.content).toEqual([
      { type: "text", text },
      { type: "tool_use", id: expect.any(String), name: "github_comment_pr", input: { body: text } },
    ]);
  });

  it("the loopback really checks the signature: the SDK-signed request replays, any tampering is refused", async () => {
    server.setScript(() => reply.text("ok"));
    await provider().complete(request());
    const signed = server.requests[0];
    if (signed === undefined) throw new Error("no request recorded");
    const replay = async (over: {
      body?: string;
      headers?: Record<string, string>;
      path?: string;
    }): Promise<number> => {
      const headers = { ...signed.headers, ...over.headers };
      delete headers["content-length"];
      delete headers.host;
      delete headers.connection;
      const res = await fetch(`${server.url}${over.path ?? signed.path}`, {
        method: "POST",
        headers,
        body: over.body ?? signed.body,
      });
      await res.arrayBuffer();
      return res.status;
    };
    expect(await replay({})).toBe(200);
    const body = signed.body.toString("utf8");
    expect(await replay({ body: body.replace("PR #7", "PR #8") })).toBe(403);
    expect(
      await replay({ body: body.replace("PR #7", "PR #8"), headers: { "x-amz-content-sha256": "UNSIGNED-PAYLOAD" } }),
    ).toBe(403);
    expect(await replay({ path: signed.path.replace("opus", "sonnet") })).toBe(403);
    expect(await replay({ headers: { "x-amz-date": "20200101T000000Z" } })).toBe(403);
    expect(await replay({ headers: { "anthropic-beta": "x" } })).toBe(200); // an unsigned extra header changes nothing
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(signed.headers.authorization ?? "")?.[1]?.split(";") ?? [];
    const victim = signedHeaders.find((h) => h.startsWith("x-stainless") || h === "content-type");
    expect(victim).toBeDefined();
    expect(await replay({ headers: { [victim ?? "content-type"]: "tampered" } })).toBe(403);
  });

  it("a wrong secret is refused by the signature check (403, not retried)", async () => {
    server.setScript(() => reply.text("never"));
    const { sleep, asked } = fakeSleep();
    const err = await withModelRetries(
      provider({ kind: "access-keys", accessKeyId: KEY_ID, secretAccessKey: "x".repeat(40) }),
      { sleep },
    )
      .complete(request())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelRequestError);
    expect(err).toMatchObject({ details: { status: 403 } });
    expect(server.messageRequests).toHaveLength(0);
    expect(asked).toEqual([]);
  });

  it("ThrottlingException (429, no retry-after on Bedrock) → ThrottledError(model) after one request, 30 s default", async () => {
    server.setScript([reply.rateLimited({ seconds: 9 }), reply.text("never reached")]);
    const { sleep, asked } = fakeSleep();
    const err = await withModelRetries(provider(), { sleep })
      .complete(request())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottledError);
    expect(err).toMatchObject({
      code: "MODEL_RATE_LIMITED",
      resource: "model",
      retryAfterMs: 30_000,
      details: { status: 429, retryAfterGiven: false },
    });
    expect(server.messageRequests).toHaveLength(1);
    expect(asked).toEqual([]);
    // A throttlingException frame in the middle of the stream is the same quota.
    server.reset([reply.failMidStream("rate_limit_error"), reply.text("never reached")]);
    await expect(withModelRetries(provider(), { sleep }).complete(request())).rejects.toMatchObject({
      code: "MODEL_RATE_LIMITED",
      resource: "model",
      details: { type: "throttlingException" },
    });
    expect(server.messageRequests).toHaveLength(1);
    expect(asked).toEqual([]);
  });

  it("ServiceUnavailableException (503, Bedrock's overload) is not the key's quota: retried in-process", async () => {
    server.setScript([reply.overloaded(), reply.failMidStream("overloaded_error"), reply.text("ok")]);
    const { sleep, asked } = fakeSleep();
    const res = await withModelRetries(provider(), { sleep, random: () => 0 }).complete(request());
    expect(res.content).toEqual([{ type: "text", text: "ok" }]);
    expect(server.messageRequests).toHaveLength(3);
    expect(asked).toEqual([500, 1_000]);
  });

  it("persistent 500 → ModelUnavailableError after max attempts; a mid-stream exception frame is unavailable too", async () => {
    server.setScript(() => reply.error(500, "api_error"));
    const { sleep, asked } = fakeSleep();
    const err = await withModelRetries(provider(), { sleep, maxAttempts: 3, random: () => 0 })
      .complete(request())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelUnavailableError);
    expect(err).toMatchObject({ details: { status: 500 } });
    expect(server.messageRequests).toHaveLength(3);
    expect(asked).toEqual([500, 1_000]);
    server.reset([reply.failMidStream("overloaded_error"), reply.failMidStream("rate_limit_error")]);
    await expect(provider().complete(request())).rejects.toMatchObject({
      code: "MODEL_UNAVAILABLE",
      details: { type: "serviceUnavailableException" },
    });
    await expect(provider().complete(request())).rejects.toMatchObject({
      code: "MODEL_RATE_LIMITED",
      details: { type: "throttlingException" },
    });
  });

  it("roleArn: Praxa assumes the workspace role via STS (ExternalId = workspace), once, and signs with the temporary keys", async () => {
    server.setScript([reply.text("one"), reply.text("two")]);
    const p = provider(role());
    await p.complete(request());
    await p.complete(request());
    expect(server.assumeRoleCalls).toHaveLength(1);
    const call = server.assumeRoleCalls[0];
    expect(call).toMatchObject({
      callerAccessKeyId: PRAXA_KEY_ID,
      roleArn: ROLE,
      externalId: WORKSPACE,
      roleSessionName: "praxa-worker",
    });
    expect(call?.issuedAccessKeyId).toMatch(/^ASIA/);
    expect(server.signedBy).toEqual([call?.issuedAccessKeyId, call?.issuedAccessKeyId]);
    expect(
      server.requests
        .filter((r) => r.path.startsWith("/model/"))
        .every((r) => typeof r.headers["x-amz-security-token"] === "string"),
    ).toBe(true);
  });

  it("roleArn refused (wrong ExternalId, unknown role) → ModelRequestError before any model request; STS down → unavailable", async () => {
    server.setScript(() => reply.text("never"));
    await expect(provider(role({ externalId: "ws_someone_else" })).complete(request())).rejects.toMatchObject({
      code: "MODEL_REQUEST_REJECTED",
      details: { status: 403, type: "AccessDenied" },
    });
    await expect(
      provider(role({ roleArn: "arn:aws:iam::123456789012:role/other" })).complete(request()),
    ).rejects.toBeInstanceOf(ModelRequestError);
    expect(server.messageRequests).toHaveLength(0);
    expect(server.assumeRoleCalls.map((c) => c.issuedAccessKeyId)).toEqual([undefined, undefined]);
    await expect(provider(role({ stsEndpoint: "http://127.0.0.1:1" })).complete(request())).rejects.toBeInstanceOf(
      ModelUnavailableError,
    );
  });

  it("STS throttling (400 Throttling) is Praxa's own brief limit, not a refusal: retried in-process, then assumed", async () => {
    server.setScript([reply.text("assumed after a throttle")]);
    server.failNextAssumeRole(400, "Throttling");
    const p = provider(role());
    await expect(p.complete(request())).rejects.toMatchObject({
      code: "MODEL_UNAVAILABLE",
      details: { status: 400, type: "Throttling" },
    });
    server.failNextAssumeRole(400, "Throttling");
    const { sleep, asked } = fakeSleep();
    const res = await withModelRetries(provider(role()), { sleep, random: () => 0 }).complete(request());
    expect(res.content).toEqual([{ type: "text", text: "assumed after a throttle" }]);
    expect(asked).toEqual([500]);
    expect(server.assumeRoleCalls.map((c) => c.issuedAccessKeyId === undefined)).toEqual([true, true, false]);
  });

  it("canary: the secret key and provider error text never appear in a thrown error", async () => {
    const promptCanary = `PROMPT-CANARY-${randomBytes(6).toString("hex")}`;
    const errors: unknown[] = [];
    for (const r of [
      reply.error(400, "invalid_request_error", { message: `${promptCanary} ${SECRET}` }),
      reply.error(500, "api_error", { message: promptCanary }),
      reply.failMidStream("api_error"),
    ]) {
      server.setScript([r]);
      errors.push(
        await provider()
          .complete(request({ messages: [{ role: "user", content: [{ type: "text", text: promptCanary }] }] }))
          .catch((e: unknown) => e),
      );
    }
    errors.push(
      await provider({ kind: "access-keys", accessKeyId: KEY_ID, secretAccessKey: SECRET }, "http://127.0.0.1:1")
        .complete(request())
        .catch((e: unknown) => e),
    );
    errors.push(
      await provider(
        role({ externalId: "wrong", source: { accessKeyId: PRAXA_KEY_ID, secretAccessKey: PRAXA_SECRET } }),
      )
        .complete(request())
        .catch((e: unknown) => e),
    );
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual([
      "MODEL_REQUEST_REJECTED",
      "MODEL_UNAVAILABLE",
      "MODEL_UNAVAILABLE",
      "MODEL_UNAVAILABLE",
      "MODEL_REQUEST_REJECTED",
    ]);
    for (const e of errors) {
      const err = e as Error;
      for (const text of [
        err.message,
        JSON.stringify(err),
        String(err.stack),
        inspect(err, { depth: 10, showHidden: true }),
      ]) {
        for (const secret of [SECRET, PRAXA_SECRET, promptCanary]) expect(text).not.toContain(secret);
      }
    }
    expect(inspect(provider(), { depth: 4 })).not.toContain(SECRET);
  });
});
