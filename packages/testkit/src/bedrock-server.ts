/**
 * A loopback Amazon Bedrock Runtime for Anthropic models, answering from the same scripts as the loopback Anthropic
 * API (`anthropic-script.ts`), plus the STS `AssumeRole` a cross-account role needs.
 *
 * Bedrock wire format, as `@anthropic-ai/bedrock-sdk` speaks it and the Bedrock API reference documents it:
 *  - `POST /model/{modelId}/invoke` (InvokeModel): the Messages request body without `model` and `stream`, with
 *    `anthropic_version`; the answer is the `Message` JSON.
 *  - `POST /model/{modelId}/invoke-with-response-stream` (InvokeModelWithResponseStream): the answer is
 *    `application/vnd.amazon.eventstream` — binary event-stream frames (`aws-event-stream.ts`), one `chunk` event per
 *    Messages streaming event, its JSON base64 in `{"bytes": …}`; a scripted mid-stream failure is an exception frame.
 *  - Errors: the status and `x-amzn-ErrorType` header with `{"message": …}`: 400 ValidationException, 403
 *    AccessDeniedException / UnrecognizedClientException (bad signature), 404 ResourceNotFoundException, 429
 *    ThrottlingException, 500 InternalServerException, 503 ServiceUnavailableException (a scripted 529 "overloaded").
 *    Bedrock sends no `retry-after`, so scripted retry-after headers are dropped here, as they would be.
 *  - Every request's SigV4 signature (service `bedrock`, the server's region) is verified for real (`aws-sigv4.ts`)
 *    against the access keys the test registers, or the temporary ones this server's STS issued.
 *
 * STS (AWS Query protocol, as `@aws-sdk/client-sts` / `fromTemporaryCredentials` speak it): `POST /` with a form body
 * `Action=AssumeRole&Version=2011-06-15&RoleArn=…&RoleSessionName=…[&ExternalId=…][&DurationSeconds=…]`, signed
 * (service `sts`) with a registered key; the role must be registered, and its `externalId`, when set, must match. The
 * answer is the `AssumeRoleResponse` XML with `ASIA…` temporary credentials and a session token, which Bedrock requests
 * must then carry (`x-amz-security-token`). Errors are `ErrorResponse` XML (403 AccessDenied, 400 ValidationError).
 * Source: AWS STS API Reference, AssumeRole; "AWS Query protocol" in the Smithy specification.
 *
 * Honest limits: model ids are checked for Bedrock's shape (`[geo.]anthropic.<name>-v<n>[:<m>]`), not against a
 * catalogue; no IAM policy evaluation beyond "this key / this role"; temporary credentials never expire while the
 * server runs (their `Expiration` is reported); no guardrails, no provisioned throughput, no Converse API.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import {
  checkMessagesRequest,
  errorMessageFor,
  messageOf,
  ScriptPlayer,
  streamEventsOf,
  type AnthropicScript,
  type ScriptedReply,
  type ScriptedRequest,
} from "./anthropic-script.js";
import { bedrockChunkFrame, bedrockExceptionFrame } from "./aws-event-stream.js";
import { verifySigV4, type AwsSecret } from "./aws-sigv4.js";
import { sendJson, startLoopbackServer, type LoopbackServer, type RecordedRequest } from "./loopback-server.js";

export interface BedrockRole {
  readonly arn: string;
  /** When set, AssumeRole must present exactly this `ExternalId` (the confused-deputy guard). */
  readonly externalId?: string;
}

export interface BedrockServerOptions {
  /** Default `us-east-1`. Requests must be signed for it. */
  readonly region?: string;
  /** Long-term access keys (`AKIA…`) the server accepts: id → secret. */
  readonly accessKeys: Readonly<Record<string, string>>;
  /** Roles STS will let a registered key assume. */
  readonly roles?: readonly BedrockRole[];
  readonly script?: AnthropicScript;
}

export interface AssumeRoleCall {
  readonly callerAccessKeyId: string;
  readonly roleArn: string;
  readonly roleSessionName: string;
  readonly externalId: string | undefined;
  /** The access key id issued (undefined when refused). */
  readonly issuedAccessKeyId: string | undefined;
}

export interface BedrockServer extends LoopbackServer {
  readonly region: string;
  /** Accepted model requests, parsed, in order (`model` from the path). */
  readonly messageRequests: readonly ScriptedRequest[];
  /** Every AssumeRole call, refused ones included. */
  readonly assumeRoleCalls: readonly AssumeRoleCall[];
  /** Access key id each accepted model request was signed with. */
  readonly signedBy: readonly string[];
  /**
   * The next AssumeRole answers this STS error instead (after its signature is checked), e.g. STS's own throttling:
   * HTTP 400 `<Code>Throttling</Code>` "Rate exceeded".
   */
  failNextAssumeRole(status: number, code: string, message?: string): void;
  setScript(script: AnthropicScript): void;
  enqueue(...replies: ScriptedReply[]): void;
  reset(script?: AnthropicScript): void;
}

const MODEL_ID = /^([a-z-]{2,8}\.)?anthropic\.[a-z0-9][a-z0-9.-]*-v\d+(:\d+)?$/;

/** Bedrock's exception name and status for a scripted (Anthropic-style) error. */
function bedrockError(status: number): { status: number; type: string } {
  if (status === 429) return { status, type: "ThrottlingException" };
  if (status === 529 || status === 503) return { status: 503, type: "ServiceUnavailableException" };
  if (status >= 500) return { status: 500, type: "InternalServerException" };
  if (status === 401 || status === 403) return { status: 403, type: "AccessDeniedException" };
  if (status === 404) return { status, type: "ResourceNotFoundException" };
  return { status: 400, type: "ValidationException" };
}

/** The event-stream exception type for a scripted mid-stream failure. */
function streamExceptionFor(anthropicType: string): string {
  if (anthropicType === "rate_limit_error") return "throttlingException";
  if (anthropicType === "overloaded_error") return "serviceUnavailableException";
  if (anthropicType === "api_error") return "internalServerException";
  return "modelStreamErrorException";
}

const xmlEscape = (s: string): string => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const randomKeyId = (prefix: string): string => prefix + [...randomBytes(16)].map((b) => ALNUM[b % 32]).join("");

export async function startBedrockServer(options: BedrockServerOptions): Promise<BedrockServer> {
  const region = options.region ?? "us-east-1";
  const secrets = new Map<string, AwsSecret>(
    Object.entries(options.accessKeys).map(([id, secretAccessKey]) => [id, { secretAccessKey }]),
  );
  const longTerm = new Set(Object.keys(options.accessKeys));
  const roles = new Map((options.roles ?? []).map((r) => [r.arn, r]));
  const player = new ScriptPlayer(options.script ?? []);
  const assumeRoleCalls: AssumeRoleCall[] = [];
  const signedBy: string[] = [];
  const stsFaults: { status: number; code: string; message: string }[] = [];

  const bedrockFail = (res: ServerResponse, status: number, type: string, message: string): void =>
    sendJson(
      res,
      status,
      { message },
      {
        "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
        "x-amzn-requestid": randomUUID(),
      },
    );

  const stsXml = (res: ServerResponse, status: number, xml: string): void => {
    const text = `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`;
    res.writeHead(status, {
      "content-type": "text/xml",
      "content-length": Buffer.byteLength(text),
      "x-amzn-requestid": randomUUID(),
    });
    res.end(text);
  };
  const stsFail = (res: ServerResponse, status: number, code: string, message: string): void =>
    stsXml(
      res,
      status,
      `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
    );

  const assumeRole = (req: RecordedRequest, res: ServerResponse): void => {
    const form = new URLSearchParams(req.body.toString("utf8"));
    if (form.get("Action") !== "AssumeRole" || form.get("Version") !== "2011-06-15")
      return stsFail(res, 400, "InvalidAction", "Could not find operation");
    const sig = verifySigV4(req, { service: "sts", secrets });
    if (!sig.ok) return stsFail(res, 403, "SignatureDoesNotMatch", sig.reason);
    const roleArn = form.get("RoleArn") ?? "";
    const sessionName = form.get("RoleSessionName") ?? "";
    const externalId = form.get("ExternalId") ?? undefined;
    const call = { callerAccessKeyId: sig.accessKeyId, roleArn, roleSessionName: sessionName, externalId };
    const fault = stsFaults.shift();
    if (fault !== undefined) {
      assumeRoleCalls.push({ ...call, issuedAccessKeyId: undefined });
      return stsFail(res, fault.status, fault.code, fault.message);
    }
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
      assumeRoleCalls.push({ ...call, issuedAccessKeyId: undefined });
      return stsFail(
        res,
        400,
        "ValidationError",
        "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint",
      );
    }
    const role = roles.get(roleArn);
    // Only long-term keys may assume roles here (no role chaining).
    if (
      role === undefined ||
      !longTerm.has(sig.accessKeyId) ||
      (role.externalId !== undefined && role.externalId !== externalId)
    ) {
      assumeRoleCalls.push({ ...call, issuedAccessKeyId: undefined });
      return stsFail(
        res,
        403,
        "AccessDenied",
        `User is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
      );
    }
    const duration = Number(form.get("DurationSeconds") ?? "3600");
    const accessKeyId = randomKeyId("ASIA");
    const secretAccessKey = randomBytes(30).toString("base64");
    const sessionToken = randomBytes(96).toString("base64");
    secrets.set(accessKeyId, { secretAccessKey, sessionToken });
    assumeRoleCalls.push({ ...call, issuedAccessKeyId: accessKeyId });
    const expiration = new Date(Date.now() + duration * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const account = /^arn:aws:iam::(\d{12}):role\/(.+)$/.exec(roleArn);
    stsXml(
      res,
      200,
      `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><SourceIdentity/><AssumedRoleUser><AssumedRoleId>AROA${randomKeyId("")}:${xmlEscape(sessionName)}</AssumedRoleId><Arn>arn:aws:sts::${account?.[1] ?? "000000000000"}:assumed-role/${xmlEscape(account?.[2] ?? "role")}/${xmlEscape(sessionName)}</Arn></AssumedRoleUser><Credentials><AccessKeyId>${accessKeyId}</AccessKeyId><SecretAccessKey>${xmlEscape(secretAccessKey)}</SecretAccessKey><SessionToken>${xmlEscape(sessionToken)}</SessionToken><Expiration>${expiration}</Expiration></Credentials><PackedPolicySize>0</PackedPolicySize></AssumeRoleResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
    );
  };

  const server = await startLoopbackServer((req, res) => {
    const [rawPath = ""] = req.path.split("?");
    if (req.method === "POST" && rawPath === "/") return assumeRole(req, res);
    const route = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/.exec(rawPath);
    if (route === null || req.method !== "POST")
      return bedrockFail(res, 404, "UnknownOperationException", "Unknown operation");
    const sig = verifySigV4(req, { service: "bedrock", region, secrets });
    if (!sig.ok)
      return bedrockFail(
        res,
        403,
        sig.reason.startsWith("The security token") ? "UnrecognizedClientException" : "InvalidSignatureException",
        sig.reason,
      );
    const model = decodeURIComponent(route[1] ?? "");
    const stream = route[2] === "invoke-with-response-stream";
    if (!MODEL_ID.test(model))
      return bedrockFail(res, 400, "ValidationException", "The provided model identifier is invalid.");
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString("utf8"));
    } catch {
      return bedrockFail(
        res,
        400,
        "ValidationException",
        "Malformed input request, please reformat your input and try again.",
      );
    }
    const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    if (typeof b.anthropic_version !== "string")
      return bedrockFail(
        res,
        400,
        "ValidationException",
        "Malformed input request: #: required key [anthropic_version] not found",
      );
    for (const extraneous of ["model", "stream"]) {
      if (extraneous in b)
        return bedrockFail(
          res,
          400,
          "ValidationException",
          `Malformed input request: #: extraneous key [${extraneous}] is not permitted`,
        );
    }
    const problem = checkMessagesRequest(b, false);
    if (problem !== null) return bedrockFail(res, 400, "ValidationException", problem);
    const tools = Array.isArray(b.tools) ? (b.tools as { name: string }[]).map((t) => t.name) : [];
    const r = player.next({ body: b, model, stream, tools, headers: req.headers });
    signedBy.push(sig.accessKeyId);
    if (r === null)
      return bedrockFail(
        res,
        400,
        "ValidationException",
        `loopback script exhausted: no reply scripted for request #${player.requests.length - 1}`,
      );
    if (r.kind === "error") {
      const e = bedrockError(r.status);
      return bedrockFail(res, e.status, e.type, r.message ?? errorMessageFor(r.errorType));
    }
    if (r.kind === "fail-mid-stream" && !stream) {
      const e = bedrockError(529);
      return bedrockFail(res, e.status, e.type, errorMessageFor(r.errorType));
    }
    const message = messageOf(
      r.kind === "message" ? r : { kind: "message", content: [], stopReason: "end_turn" },
      model.replace(/^([a-z-]{2,8}\.)?anthropic\./, "").replace(/-v\d+(:\d+)?$/, ""),
      req.body.length,
    );
    const meta = {
      "x-amzn-requestid": randomUUID(),
      "x-amzn-bedrock-input-token-count": String(message.usage.input_tokens),
      "x-amzn-bedrock-output-token-count": String(message.usage.output_tokens),
      "x-amzn-bedrock-invocation-latency": "1",
    };
    if (!stream) return sendJson(res, 200, message, meta);
    res.writeHead(200, {
      "content-type": "application/vnd.amazon.eventstream",
      "x-amzn-bedrock-content-type": "application/json",
      "x-amzn-requestid": meta["x-amzn-requestid"],
    });
    const events = streamEventsOf(message, r.kind === "fail-mid-stream" ? r.errorType : undefined);
    for (const e of events) {
      if (e.type === "error") {
        const t = (e.error as { type: string }).type;
        res.write(bedrockExceptionFrame(streamExceptionFor(t), errorMessageFor(t)));
      } else res.write(bedrockChunkFrame(e));
    }
    res.end();
  });

  return Object.assign(server, {
    region,
    messageRequests: player.requests,
    assumeRoleCalls,
    signedBy,
    failNextAssumeRole: (status: number, code: string, message = "Rate exceeded") =>
      void stsFaults.push({ status, code, message }),
    setScript: (script: AnthropicScript) => player.setScript(script),
    enqueue: (...replies: ScriptedReply[]) => player.enqueue(...replies),
    reset: (script?: AnthropicScript) => {
      (server.requests as RecordedRequest[]).length = 0;
      assumeRoleCalls.length = 0;
      signedBy.length = 0;
      stsFaults.length = 0;
      player.reset(script);
    },
  });
}
