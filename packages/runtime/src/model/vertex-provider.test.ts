/**
 * The Vertex provider through the real `@anthropic-ai/vertex-sdk` and google-auth-library (a real RS256 JWT assertion
 * exchanged for an access token) against the loopback Vertex AI + OAuth token endpoint (testkit).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import { ThrottledError } from "@praxa/core";
import { reply, startVertexServer, type VertexServer } from "@praxa/testkit";
import { ModelCredentialInvalidError, ModelRequestError, ModelUnavailableError } from "./model-errors.js";
import type { ModelProvider, ModelRequest } from "./model-provider.js";
import { createVertexProvider, parseServiceAccountKey, vertexBaseUrl, vertexModelId } from "./vertex-provider.js";
import { withModelRetries } from "./with-model-retries.js";

const fixtures = new URL("../../../../test/data/fixtures/anthropic/", import.meta.url);
const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(name, fixtures), "utf8")) as unknown;

const PROJECT = "praxa-test-project";
const REGION = "us-east5";
const EMAIL = "praxa-runner@praxa-test-project.iam.gserviceaccount.com";
const KEY_ID = randomBytes(20).toString("hex");
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PRIVATE_PEM = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
const saJson = (over: Record<string, unknown> = {}): string =>
  JSON.stringify({
    type: "service_account",
    project_id: PROJECT,
    private_key_id: KEY_ID,
    private_key: PRIVATE_PEM,
    client_email: EMAIL,
    client_id: "100000000000000000001",
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    // A customer-written token_uri is never followed (it would be an SSRF from the worker).
    token_uri: "http://127.0.0.1:1/steal",
    universe_domain: "googleapis.com",
    ...over,
  });

let server: VertexServer;
beforeAll(async () => {
  server = await startVertexServer({
    region: REGION,
    serviceAccounts: [
      {
        clientEmail: EMAIL,
        publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
        privateKeyId: KEY_ID,
        projects: [PROJECT],
      },
    ],
  });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

const tools = [
  { name: "github_read_diff", description: "Read the diff", inputSchema: { type: "object", properties: {} } },
];
function request(over: Partial<ModelRequest> = {}): ModelRequest {
  return {
    model: "claude-sonnet-4-5-20250929",
    system: "Review.",
    messages: [{ role: "user", content: [{ type: "text", text: "PR #7" }] }],
    tools,
    toolChoice: { type: "any" },
    maxTokens: 900,
    ...over,
  };
}
const provider = (
  over: { json?: string; projectId?: string; tokenUrl?: string; baseURL?: string } = {},
): ModelProvider =>
  createVertexProvider({
    projectId: over.projectId ?? PROJECT,
    region: REGION,
    serviceAccount: parseServiceAccountKey(over.json ?? saJson()),
    baseURL: over.baseURL ?? server.baseUrl,
    tokenUrl: over.tokenUrl ?? server.tokenUrl,
  });
function fakeSleep(): { sleep: (ms: number) => Promise<void>; asked: number[] } {
  const asked: number[] = [];
  return { asked, sleep: async (ms: number) => void asked.push(ms) };
}

describe("Vertex naming", () => {
  it("model ids and endpoints", () => {
    expect(vertexModelId("claude-sonnet-4-5-20250929")).toBe("claude-sonnet-4-5@20250929");
    expect(vertexModelId("claude-opus-4-1@20250805")).toBe("claude-opus-4-1@20250805");
    expect(vertexModelId("claude-opus-4-8")).toBe("claude-opus-4-8");
    expect(vertexBaseUrl("europe-west1")).toBe("https://europe-west1-aiplatform.googleapis.com/v1");
    expect(vertexBaseUrl("global")).toBe("https://aiplatform.googleapis.com/v1");
    expect(vertexBaseUrl("eu")).toBe("https://aiplatform.eu.rep.googleapis.com/v1");
  });
});

describe("service account validation", () => {
  it("accepts a real key file and keeps only the fields it uses", () => {
    expect(Object.keys(parseServiceAccountKey(saJson())).sort()).toEqual([
      "client_email",
      "private_key",
      "private_key_id",
    ]);
  });
  it("refuses what is not a service account key, naming fields, never values", () => {
    const bad = [
      "not json",
      saJson({ type: "external_account", credential_source: { executable: { command: "/bin/sh -c id" } } }),
      saJson({ type: "authorized_user" }),
      saJson({ private_key: `-----BEGIN PRIVATE KEY-----\n${"A".repeat(200)}\n-----END PRIVATE KEY-----\n` }),
      saJson({ client_email: undefined }),
    ];
    for (const json of bad) {
      let err: unknown;
      try {
        parseServiceAccountKey(json);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ModelCredentialInvalidError);
      expect(JSON.stringify((err as ModelCredentialInvalidError).details)).not.toContain("PRIVATE KEY");
      expect((err as Error).message).not.toContain("/bin/sh");
    }
  });
});

describe("Vertex provider (real SDK + google-auth-library ↔ loopback Vertex AI and token endpoint)", () => {
  it("tool_use round trip over streamRawPredict, with a verified JWT-bearer token exchange", async () => {
    server.setScript([reply.fixture(fixture("messages.tool_use.response.json"))]);
    const res = await provider().complete(request());
    expect(res).toMatchObject({
      content: [{ type: "text" }, { type: "tool_use", name: "test_tool", input: { value: "test" } }],
      stopReason: "tool_use",
    });
    expect(server.tokenRequests).toEqual([{ clientEmail: EMAIL, issued: true }]);
    expect(server.requests.map((r) => r.path)).toEqual([
      "/token",
      `/v1/projects/${PROJECT}/locations/${REGION}/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict`,
    ]);
    const sent = server.messageRequests[0];
    expect(sent?.body).toEqual({
      anthropic_version: expect.any(String),
      max_tokens: 900,
      system: "Review.",
      messages: [{ role: "user", content: [{ type: "text", text: "PR #7" }] }],
      tools: [{ name: "github_read_diff", description: "Read the diff", input_schema: tools[0]?.inputSchema }],
      tool_choice: { type: "any" },
      stream: true,
    });
  });

  it("parallel tool_use, then tool_result → end_turn, one token for the run", async () => {
    server.setScript([
      reply.fixture(fixture("messages.tool_use.parallel.response.json")),
      reply.fixture(fixture("messages.end_turn.response.json")),
    ]);
    const p = provider();
    const first = await p.complete(request());
    const uses = first.content.filter((b) => b.type === "tool_use");
    expect(uses).toHaveLength(2);
    const second = await p.complete(
      request({
        messages: [
          ...request().messages,
          { role: "assistant", content: first.content },
          {
            role: "user",
            content: uses.map((u) => ({ type: "tool_result" as const, toolUseId: u.id, content: "ok" })),
          },
        ],
      }),
    );
    expect(second.stopReason).toBe("end_turn");
    expect(server.tokenRequests).toHaveLength(1);
    expect(server.messageRequests).toHaveLength(2);
  });

  it("a long streamed answer arrives whole", async () => {
    const text = "y".repeat(40_000);
    server.setScript([reply.toolUse({ name: "github_read_diff", input: { note: text } }, { text })]);
    const res = await provider().complete(request());
    expect(res.content).toEqual([
      { type: "text", text },
      { type: "tool_use", id: expect.any(String), name: "github_read_diff", input: { note: text } },
    ]);
  });

  it("a key the token endpoint does not know → ModelRequestError (not retried), no model request", async () => {
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 })
      .privateKey.export({ format: "pem", type: "pkcs8" })
      .toString();
    const { sleep, asked } = fakeSleep();
    const err = await withModelRetries(provider({ json: saJson({ private_key: other }) }), { sleep })
      .complete(request())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelRequestError);
    expect(err).toMatchObject({ details: { status: 400 } });
    expect(server.tokenRequests).toEqual([{ clientEmail: EMAIL, issued: false, reason: "Invalid JWT Signature." }]);
    expect(server.messageRequests).toHaveLength(0);
    expect(asked).toEqual([]);
  });

  it("a project the service account may not use → 403 → ModelRequestError", async () => {
    server.setScript(() => reply.text("never"));
    await expect(provider({ projectId: "someone-elses-project" }).complete(request())).rejects.toMatchObject({
      code: "MODEL_REQUEST_REJECTED",
      details: { status: 403 },
    });
    expect(server.messageRequests).toHaveLength(0);
  });

  it("429 RESOURCE_EXHAUSTED → ThrottledError(model) after one request; 529 → MODEL_OVERLOADED; 503 retried in-process", async () => {
    server.setScript([reply.rateLimited({ seconds: 30 }), reply.text("never reached")]);
    const { sleep, asked } = fakeSleep();
    const limited = await withModelRetries(provider(), { sleep })
      .complete(request())
      .catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(ThrottledError);
    expect(limited).toMatchObject({
      code: "MODEL_RATE_LIMITED",
      resource: "model",
      retryAfterMs: 30_000,
      details: { status: 429, retryAfterGiven: false },
    });
    expect(server.messageRequests).toHaveLength(1);

    server.reset([reply.overloaded(), reply.text("never reached")]);
    await expect(withModelRetries(provider(), { sleep }).complete(request())).rejects.toMatchObject({
      code: "MODEL_OVERLOADED",
      resource: "model",
      retryAfterMs: 10_000,
      details: { status: 529, type: "overloaded_error" },
    });
    expect(server.messageRequests).toHaveLength(1);
    server.reset([reply.failMidStream(), reply.text("never reached")]);
    await expect(withModelRetries(provider(), { sleep }).complete(request())).rejects.toMatchObject({
      code: "MODEL_OVERLOADED",
      details: { type: "overloaded_error" },
    });
    expect(server.messageRequests).toHaveLength(1);
    expect(asked).toEqual([]);

    server.reset(() => reply.error(503, "api_error"));
    const down = fakeSleep();
    const err = await withModelRetries(provider(), { sleep: down.sleep, maxAttempts: 3, random: () => 0 })
      .complete(request())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelUnavailableError);
    expect(server.messageRequests).toHaveLength(3);
    expect(down.asked).toEqual([500, 1_000]);
  });

  it("token endpoint 429 → ModelUnavailableError (google-auth-library retries it first), never a refusal", async () => {
    server.setScript(() => reply.text("never reached"));
    for (let i = 0; i < 6; i += 1) server.failNextToken(429);
    await expect(provider().complete(request())).rejects.toMatchObject({
      code: "MODEL_UNAVAILABLE",
      details: { status: 429 },
    });
    // gaxios (under google-auth-library) retries the exchange itself: 1 + 3 requests, all answered 429.
    expect(server.tokenRequests.map((t) => t.reason)).toEqual(Array(4).fill("rate_limit_exceeded"));
    expect(server.messageRequests).toHaveLength(0);
  });

  it("token endpoint unreachable → ModelUnavailableError", async () => {
    await expect(provider({ tokenUrl: "http://127.0.0.1:1/token" }).complete(request())).rejects.toBeInstanceOf(
      ModelUnavailableError,
    );
  });

  it("canary: the private key, the access token and provider error text never appear in a thrown error", async () => {
    const promptCanary = `PROMPT-CANARY-${randomBytes(6).toString("hex")}`;
    const errors: unknown[] = [];
    for (const r of [
      reply.error(400, "invalid_request_error", { message: promptCanary }),
      reply.error(500, "api_error", { message: promptCanary }),
      reply.failMidStream(),
    ]) {
      server.setScript([r]);
      errors.push(
        await provider()
          .complete(request({ messages: [{ role: "user", content: [{ type: "text", text: promptCanary }] }] }))
          .catch((e: unknown) => e),
      );
    }
    errors.push(
      await provider({
        json: saJson({
          private_key: generateKeyPairSync("rsa", { modulusLength: 2048 })
            .privateKey.export({ format: "pem", type: "pkcs8" })
            .toString(),
        }),
      })
        .complete(request())
        .catch((e: unknown) => e),
    );
    errors.push(
      await provider({ tokenUrl: "http://127.0.0.1:1/token" })
        .complete(request())
        .catch((e: unknown) => e),
    );
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual([
      "MODEL_REQUEST_REJECTED",
      "MODEL_UNAVAILABLE",
      "MODEL_UNAVAILABLE",
      "MODEL_REQUEST_REJECTED",
      "MODEL_UNAVAILABLE",
    ]);
    const keyBody = PRIVATE_PEM.split("\n")[5] ?? PRIVATE_PEM;
    for (const e of errors) {
      const err = e as Error;
      for (const text of [
        err.message,
        JSON.stringify(err),
        String(err.stack),
        inspect(err, { depth: 10, showHidden: true }),
      ]) {
        expect(text).not.toContain(keyBody);
        expect(text).not.toContain("ya29.");
        expect(text).not.toContain(promptCanary);
      }
    }
  });
});
