/**
 * From the opened BYOK credential JSON (the shapes the api seals) to a retried provider, for each provider, against
 * the loopbacks; and what the parser refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import {
  reply,
  startAnthropicServer,
  startBedrockServer,
  startVertexServer,
  type AnthropicServer,
  type BedrockServer,
  type VertexServer,
} from "@praxa/testkit";
import { createModelProvider, parseModelCredential } from "./create-model-provider.js";
import { ModelCredentialInvalidError } from "./model-errors.js";
import type { ModelRequest } from "./model-provider.js";

const WORKSPACE = "ws_01jcreatemodelprovider00000";
const ANTHROPIC_KEY = `sk-ant-api03-${randomBytes(16).toString("hex")}`;
const AWS_KEY_ID = "AKIAWORKSPACEKEY0001";
const AWS_SECRET = randomBytes(30).toString("base64");
const PRAXA_KEY_ID = "AKIAPRAXAWORKER00002";
const PRAXA_SECRET = randomBytes(30).toString("base64");
const ROLE = "arn:aws:iam::210987654321:role/PraxaBedrock";
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const SA = {
  type: "service_account",
  project_id: "acme-ml",
  private_key_id: "k1",
  private_key: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
  client_email: "runner@acme-ml.iam.gserviceaccount.com",
};

let anthropic: AnthropicServer;
let bedrock: BedrockServer;
let vertex: VertexServer;
beforeAll(async () => {
  anthropic = await startAnthropicServer({ apiKey: ANTHROPIC_KEY });
  bedrock = await startBedrockServer({
    region: "us-west-2",
    accessKeys: { [AWS_KEY_ID]: AWS_SECRET, [PRAXA_KEY_ID]: PRAXA_SECRET },
    roles: [{ arn: ROLE, externalId: WORKSPACE }],
  });
  vertex = await startVertexServer({
    region: "europe-west1",
    serviceAccounts: [
      {
        clientEmail: SA.client_email,
        publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
        privateKeyId: "k1",
        projects: ["acme-ml"],
      },
    ],
  });
});
afterAll(async () => {
  await Promise.all([anthropic.close(), bedrock.close(), vertex.close()]);
});

const endpoints = () => ({
  anthropicBaseUrl: anthropic.url,
  bedrockBaseUrl: bedrock.url,
  bedrockStsEndpoint: bedrock.url,
  bedrockSourceCredentials: { accessKeyId: PRAXA_KEY_ID, secretAccessKey: PRAXA_SECRET },
  vertexBaseUrl: vertex.baseUrl,
  vertexTokenUrl: vertex.tokenUrl,
});
const request: ModelRequest = {
  model: "claude-opus-4-8-20260115",
  system: "",
  messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
  tools: [],
  toolChoice: { type: "auto" },
  maxTokens: 100,
};
const bytes = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

describe("createModelProvider", () => {
  it("anthropic {apiKey} → the Anthropic provider, retried on a 5xx, a 429 thrown at once as ThrottledError", async () => {
    anthropic.reset([reply.error(503, "api_error", { headers: { "retry-after": "3" } }), reply.text("hello")]);
    const asked: number[] = [];
    const p = createModelProvider(bytes({ provider: "anthropic", apiKey: ANTHROPIC_KEY }), {
      workspaceId: WORKSPACE,
      endpoints: endpoints(),
      retry: { sleep: async (ms) => void asked.push(ms) },
    });
    expect(p.kind).toBe("anthropic");
    expect((await p.complete(request)).content).toEqual([{ type: "text", text: "hello" }]);
    expect(anthropic.messageRequests).toHaveLength(2);
    expect(asked).toEqual([3_000]);
    anthropic.reset([reply.rateLimited({ seconds: 3 }), reply.text("never reached")]);
    await expect(p.complete(request)).rejects.toMatchObject({
      code: "MODEL_RATE_LIMITED",
      resource: "model",
      retryAfterMs: 3_000,
    });
    expect(anthropic.messageRequests).toHaveLength(1);
    expect(asked).toEqual([3_000]);
  });

  it("bedrock {region, accessKeyId, secretAccessKey} → signed with those keys", async () => {
    bedrock.reset([reply.text("from bedrock")]);
    const p = createModelProvider(
      bytes({ provider: "bedrock", region: "us-west-2", accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET }),
      { workspaceId: WORKSPACE, endpoints: endpoints() },
    );
    expect(p.kind).toBe("bedrock");
    expect((await p.complete(request)).content).toEqual([{ type: "text", text: "from bedrock" }]);
    expect(bedrock.signedBy).toEqual([AWS_KEY_ID]);
    expect(bedrock.messageRequests[0]?.model).toBe("us.anthropic.claude-opus-4-8-20260115-v1:0");
  });

  it("bedrock {region, roleArn} → Praxa assumes the role with ExternalId = the workspace", async () => {
    bedrock.reset([reply.text("via role")]);
    const p = createModelProvider(bytes({ provider: "bedrock", region: "us-west-2", roleArn: ROLE }), {
      workspaceId: WORKSPACE,
      endpoints: endpoints(),
    });
    expect((await p.complete(request)).content).toEqual([{ type: "text", text: "via role" }]);
    expect(bedrock.assumeRoleCalls).toEqual([
      {
        callerAccessKeyId: PRAXA_KEY_ID,
        roleArn: ROLE,
        roleSessionName: `praxa-${WORKSPACE}`,
        externalId: WORKSPACE,
        issuedAccessKeyId: expect.stringMatching(/^ASIA/),
      },
    ]);
    // Another workspace presenting the same role ARN is refused by the role's trust policy (ExternalId).
    const other = createModelProvider(bytes({ provider: "bedrock", region: "us-west-2", roleArn: ROLE }), {
      workspaceId: "ws_01jsomeoneelse000000000000",
      endpoints: endpoints(),
    });
    await expect(other.complete(request)).rejects.toMatchObject({ code: "MODEL_REQUEST_REJECTED" });
    expect(bedrock.messageRequests).toHaveLength(1);
  });

  it("vertex {projectId, region, serviceAccountJson} → the Vertex provider", async () => {
    vertex.reset([reply.text("from vertex")]);
    const p = createModelProvider(
      bytes({
        provider: "vertex",
        projectId: "acme-ml",
        region: "europe-west1",
        serviceAccountJson: JSON.stringify(SA),
      }),
      { workspaceId: WORKSPACE, endpoints: endpoints() },
    );
    expect(p.kind).toBe("vertex");
    expect((await p.complete(request)).content).toEqual([{ type: "text", text: "from vertex" }]);
    expect(vertex.messageRequests[0]?.model).toBe("claude-opus-4-8@20260115");
  });

  it("refuses credentials it cannot use, naming fields and never values", () => {
    const secret = `sk-ant-${randomBytes(10).toString("hex")}`;
    const cases: [unknown, string[]][] = [
      [{ provider: "anthropic", apiKey: `x${secret}` }, ["apiKey"]],
      [{ provider: "anthropic", apiKey: secret, baseUrl: "http://evil" }, [""]],
      [{ provider: "openai", apiKey: secret }, ["provider"]],
      [
        { provider: "bedrock", region: "us-east-1", accessKeyId: AWS_KEY_ID, secretAccessKey: secret, roleArn: ROLE },
        [""],
      ],
      [{ provider: "bedrock", region: "us-east-1" }, [""]],
      [
        {
          provider: "vertex",
          projectId: "acme-ml",
          region: "169.254.169.254#",
          serviceAccountJson: JSON.stringify(SA),
        },
        ["region"],
      ],
      [
        { provider: "vertex", projectId: "acme/../../x", region: "us-east5", serviceAccountJson: JSON.stringify(SA) },
        ["projectId"],
      ],
    ];
    for (const [credential, fields] of cases) {
      let err: unknown;
      try {
        parseModelCredential(JSON.stringify(credential));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ModelCredentialInvalidError);
      const e = err as ModelCredentialInvalidError;
      expect(e.code).toBe("MODEL_CREDENTIAL_INVALID");
      for (const f of fields) expect((e.details?.fields as string[]).some((x) => x.includes(f))).toBe(true);
      for (const text of [e.message, JSON.stringify(e), JSON.stringify(e.details)]) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain("169.254");
      }
    }
    expect(() => parseModelCredential(new Uint8Array([0xff, 0xfe, 0x00]))).toThrow(ModelCredentialInvalidError);
    expect(() =>
      createModelProvider(
        JSON.stringify({
          provider: "vertex",
          projectId: "acme-ml",
          region: "us-east5",
          serviceAccountJson: '{"type":"external_account","audience":"x"}',
        }),
        { workspaceId: WORKSPACE },
      ),
    ).toThrow(ModelCredentialInvalidError);
  });
});
