/**
 * Log redaction net by net (security row 8): every key name on the list is redacted, in every spelling the list
 * allows (case, `-`, `_`, prefixes and suffixes where the list has them); ordinary keys are not; every credential
 * shape is scrubbed from any string, keeping what is not secret (the scheme, the user of a URL).
 */
import { describe, expect, it } from "@jest/globals";
import { PraxaError } from "@praxa/core";
import { isSensitiveKey, redactDeep, REDACTED, scrubString } from "./redact.js";

const SENSITIVE = [
  "authorization",
  "Proxy-Authorization",
  "cookie",
  "Set-Cookie",
  "password",
  "passwd",
  "secret",
  "clientSecret",
  "token",
  "refresh_token",
  "tokenHash",
  "apiKey",
  "anthropic_api_key",
  "X-API-Key",
  "privateKey",
  "signing_private_key",
  "credential",
  "credentials",
  "signature",
  "X-Hub-Signature-256",
  "X-Slack-Signature",
  "webhook-signature",
  "prompt",
  "prompts",
  "system",
  "messages",
  "completion",
  "content",
  "body",
  "rawBody",
  "text",
  "diff",
  "patch",
  "input",
  "output",
  "plaintext",
  "dsn",
  "connectionString",
  "DATABASE_URL",
  "praxaDatabaseUrl",
];
const ORDINARY = [
  "workspaceId",
  "runId",
  "x-request-id",
  "status",
  "code",
  "ms",
  "toolName",
  "bodyLimit",
  "systemId",
  "contents",
  "keyId",
  "secretive_flag",
  "url",
  "signed",
  "inputs",
  "outputs",
  "password_hint",
];

describe("redaction by key name", () => {
  it.each(SENSITIVE)("%s is redacted at any depth", (key) => {
    expect(isSensitiveKey(key)).toBe(true);
    expect(redactDeep({ a: { b: [{ [key]: "CANARY-value" }] } })).toEqual({ a: { b: [{ [key]: REDACTED }] } });
  });

  it("an empty key name is not on the list", () => {
    expect(isSensitiveKey("")).toBe(false);
    expect(isSensitiveKey("-_")).toBe(false);
  });

  it.each(ORDINARY)("%s is not", (key) => {
    expect(isSensitiveKey(key)).toBe(false);
    expect(redactDeep({ [key]: "plain" })).toEqual({ [key]: "plain" });
  });
});

describe("redaction by value shape", () => {
  const SHAPES: [string, string][] = [
    ["Anthropic key", "sk-ant-api03-CANARYabc_def-1"],
    ["Slack bot token", "xoxb-1234-CANARY-abcdef"],
    ["Slack user token", "xoxp-1234-CANARY-abcdef"],
    ["Slack app token", "xoxa-1234-CANARY-abcdef"],
    ["Slack refresh token", "xoxe-1-CANARYabcdef"],
    ["Slack rotating token", "xoxe.xoxb-1-CANARYabcdef"],
    ["GitHub installation token", "ghs_CANARY0123456789abcdefXYZ"],
    ["GitHub OAuth token", "gho_CANARY0123456789abcdefXYZ"],
    ["GitHub PAT", "github_pat_CANARY0123456789_abcdefXYZ"],
    ["Standard Webhooks secret", "whsec_CANARY+/0123456789=="],
    ["praxa api token", "praxa_at_CANARY.0123-456_789"],
    ["praxa token", "praxa_tk_CANARY0123456789"],
    ["AWS access key id", "AKIACANARY0123456789"],
  ];
  it.each(SHAPES)("%s is replaced wherever it appears", (_name, secret) => {
    expect(scrubString(`before ${secret} after`)).toBe(`before ${REDACTED} after`);
    expect(redactDeep({ note: `x=${secret}` })).toEqual({ note: `x=${REDACTED}` });
  });

  it("a PEM private key is replaced from its BEGIN to its END, or to the end of the string when cut off", () => {
    const pem = "-----BEGIN PRIVATE KEY-----\nCANARYpem0123\n-----END PRIVATE KEY-----";
    expect(scrubString(`key: ${pem} done`)).toBe(`key: ${REDACTED} done`);
    expect(scrubString(`key: -----BEGIN EC PRIVATE KEY-----\nCANARYpem0123`)).toBe(`key: ${REDACTED}`);
  });

  it("a PEM key of any kind ends at its own END: text after it, and between two keys, is kept", () => {
    const rsa = "-----BEGIN RSA PRIVATE KEY-----\nCANARYrsa0123\n-----END RSA PRIVATE KEY-----";
    const ec = "-----BEGIN EC PRIVATE KEY-----\nCANARYec0123\n-----END EC PRIVATE KEY-----";
    expect(scrubString(`a ${rsa} b ${ec} c`)).toBe(`a ${REDACTED} b ${REDACTED} c`);
    expect(scrubString(`-----BEGIN PRIVATE KEY-----\nX\n-----END PRIVATE KEY-----\nafter`)).toBe(`${REDACTED}\nafter`);
  });

  it("Bearer and Basic credentials are found after any run of whitespace, and keep their scheme", () => {
    expect(scrubString("Bearer \t CANARYbearer0123456789 rest")).toBe(`Bearer ${REDACTED} rest`);
    expect(scrubString("x:Basic\nQ0FOQVJZdXNlcjpwYXNzd29yZA==")).toBe(`x:Basic ${REDACTED}`);
    expect(scrubString("xBearer CANARYbearer0123456789")).toBe("xBearer CANARYbearer0123456789");
  });

  it("Bearer and Basic credentials keep their scheme, whatever its case", () => {
    expect(scrubString("Authorization: Bearer CANARYbearer0123456789")).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(scrubString("Basic Q0FOQVJZdXNlcjpwYXNzd29yZA==")).toBe(`Basic ${REDACTED}`);
    expect(scrubString("bearer CANARYbearer0123456789")).toBe(`bearer ${REDACTED}`);
    expect(scrubString("BASIC Q0FOQVJZdXNlcjpwYXNzd29yZA==")).toBe(`BASIC ${REDACTED}`);
  });

  it("a URL password is replaced, the scheme and user kept", () => {
    expect(scrubString("postgres://praxa_api:CANARYpw@db:5432/praxa")).toBe(
      `postgres://praxa_api:${REDACTED}@db:5432/praxa`,
    );
    expect(scrubString("postgresql://u:CANARYpw@db/x")).toBe(`postgresql://u:${REDACTED}@db/x`);
    expect(scrubString("rediss://default:CANARYpw@cache:6380")).toBe(`rediss://default:${REDACTED}@cache:6380`);
    expect(scrubString("REDIS://default:CANARYpw@cache")).toBe(`REDIS://default:${REDACTED}@cache`);
  });

  it("leaves short look-alikes and ordinary text alone", () => {
    for (const s of [
      "sk-ant-abc",
      "xoxb-123",
      "ghs_short",
      "whsec_abc",
      "AKIA123",
      "Bearer abc",
      "postgres://db/praxa",
      "a plain sentence",
    ])
      expect(scrubString(s)).toBe(s);
  });
});

describe("redactDeep on other values", () => {
  it("keeps numbers, booleans, null and undefined; bounds depth and cycles", () => {
    expect(redactDeep({ n: 1, b: false, z: null, u: undefined })).toEqual({ n: 1, b: false, z: null, u: undefined });
    let deep: Record<string, unknown> = { leaf: "x" };
    for (let i = 0; i < 12; i++) deep = { d: deep };
    expect(JSON.stringify(redactDeep(deep))).toContain("[depth]");
    let deepList: unknown = ["x"];
    for (let i = 0; i < 12; i++) deepList = [deepList];
    expect(JSON.stringify(redactDeep(deepList))).toContain("[depth]");
    let nine: Record<string, unknown> = { leaf: "x" };
    for (let i = 0; i < 8; i++) nine = { d: nine };
    expect(JSON.stringify(redactDeep(nine))).not.toContain("[depth]");
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(redactDeep(cyclic)).toEqual({ a: 1, self: "[circular]" });
    const shared = { v: 1 };
    expect(redactDeep([shared, "ghs_CANARY0123456789abcdefXYZ"])).toEqual([{ v: 1 }, REDACTED]);
  });

  it("writes bytes as their length only", () => {
    expect(redactDeep({ blob: Buffer.from("CANARY-bytes") })).toEqual({ blob: "[12 bytes]" });
    expect(redactDeep({ blob: new Uint8Array(5) })).toEqual({ blob: "[5 bytes]" });
  });

  it("keeps a PraxaError’s message (scrubbed) and code, but only the name and a string code of any other error", () => {
    class TestError extends PraxaError {
      readonly code = "TEST_CODE";
      readonly httpStatus = 500;
    }
    expect(redactDeep(new TestError("failed with ghs_CANARY0123456789abcdefXYZ"))).toEqual({
      type: "TestError",
      message: `failed with ${REDACTED}`,
      code: "TEST_CODE",
    });
    const foreign = Object.assign(new TypeError("row (CANARY-user-content) violates"), { code: "23505" });
    expect(redactDeep(foreign)).toEqual({ type: "TypeError", code: "23505" });
    expect(redactDeep(Object.assign(new Error("x CANARY"), { code: 42 }))).toEqual({ type: "Error" });
  });
});
