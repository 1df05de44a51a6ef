/**
 * A loopback Vertex AI for Anthropic models, answering from the same scripts as the loopback Anthropic API
 * (`anthropic-script.ts`), plus the Google OAuth 2.0 token endpoint a service account exchanges its signed JWT at.
 *
 * Token endpoint (`POST /token`; Google's is `https://oauth2.googleapis.com/token`), as google-auth-library speaks it
 * and Google documents it ("Using OAuth 2.0 for Server to Server Applications"): a form body
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`. The JWT is verified for real: RS256, its
 * signature with the registered service account's public key (found by `iss` = client email; `kid`, when the account
 * has a key id, must match), `aud` = Google's token URL, `iat` not in the future (60 s skew), `exp` after now and at most
 * an hour after `iat`, `scope` including cloud-platform. The answer is `{access_token, expires_in, token_type}`;
 * refusals are 400 `{"error":"invalid_grant","error_description":…}`.
 *
 * Vertex (`POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:rawPredict` and
 * `:streamRawPredict`), as `@anthropic-ai/vertex-sdk` speaks it and the Vertex "Use Claude models" page documents it:
 * `Authorization: Bearer <access token>` issued here (else 401 UNAUTHENTICATED), a project the token's service account
 * may use and the server's region (else 403 PERMISSION_DENIED / 404 NOT_FOUND), a model id in Vertex's spelling
 * (`claude-…[@YYYYMMDD]`), a Messages request body without `model` and with `anthropic_version`. `rawPredict` answers
 * the `Message` JSON; `streamRawPredict` the same server-sent events the Messages API streams. Errors are Google's
 * `{"error":{"code","message","status"}}` (400 INVALID_ARGUMENT, 429 RESOURCE_EXHAUSTED, 500 INTERNAL, 503
 * UNAVAILABLE); a scripted 529 is passed through in the Messages API's `overloaded_error` shape (an assumption about how
 * Vertex relays the model's overload), and Google sends no `retry-after`, so scripted ones are dropped.
 *
 * Honest limits: no IAM beyond "this account may use these projects"; access tokens never expire while the server
 * runs; no count-tokens endpoint; no quota of its own.
 */
import { createPublicKey, randomBytes, verify, type KeyObject } from "node:crypto";
import type { ServerResponse } from "node:http";
import {
  anthropicErrorBody,
  checkMessagesRequest,
  errorMessageFor,
  messageOf,
  ScriptPlayer,
  streamEventsOf,
  writeSse,
  type AnthropicScript,
  type ScriptedReply,
  type ScriptedRequest,
} from "./anthropic-script.js";
import { sendJson, startLoopbackServer, type LoopbackServer, type RecordedRequest } from "./loopback-server.js";

export const GOOGLE_OAUTH_TOKEN_URL = "https://oauth2.googleapis.com/token";
const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";

export interface VertexServiceAccountStub {
  readonly clientEmail: string;
  /** PEM (public or private — only the public half is used). */
  readonly publicKeyPem: string;
  readonly privateKeyId?: string;
  /** Projects this account may call Vertex in. */
  readonly projects: readonly string[];
}

export interface VertexServerOptions {
  /** Default `us-east5`. */
  readonly region?: string;
  readonly serviceAccounts: readonly VertexServiceAccountStub[];
  readonly script?: AnthropicScript;
}

export interface VertexServer extends LoopbackServer {
  readonly region: string;
  /** Where to send the token exchange instead of Google's endpoint. */
  readonly tokenUrl: string;
  /** The Vertex base URL (`<url>/v1`). */
  readonly baseUrl: string;
  readonly messageRequests: readonly ScriptedRequest[];
  /** Token exchanges: the client email asking, and whether a token was issued. */
  readonly tokenRequests: readonly {
    readonly clientEmail: string | undefined;
    readonly issued: boolean;
    readonly reason?: string;
  }[];
  /** The next token exchange answers this HTTP status with an OAuth error body (`{error, error_description}`). */
  failNextToken(status: number, error?: string): void;
  setScript(script: AnthropicScript): void;
  enqueue(...replies: ScriptedReply[]): void;
  reset(script?: AnthropicScript): void;
}

const GOOGLE_STATUS: Readonly<Record<number, string>> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
};

function b64json(part: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as unknown;
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export async function startVertexServer(options: VertexServerOptions): Promise<VertexServer> {
  const region = options.region ?? "us-east5";
  const accounts = new Map<string, VertexServiceAccountStub & { key: KeyObject }>(
    options.serviceAccounts.map((a) => [a.clientEmail, { ...a, key: createPublicKey(a.publicKeyPem) }]),
  );
  const tokens = new Map<string, string>(); // access token → client email
  const tokenRequests: { clientEmail: string | undefined; issued: boolean; reason?: string }[] = [];
  const player = new ScriptPlayer(options.script ?? []);
  const tokenFaults: { status: number; error: string }[] = [];

  const googleFail = (res: ServerResponse, code: number, message: string): void => {
    const status = GOOGLE_STATUS[code] ?? (code >= 500 ? "INTERNAL" : "FAILED_PRECONDITION");
    sendJson(res, code, { error: { code, message, status } });
  };

  const token = (req: RecordedRequest, res: ServerResponse): void => {
    const fault = tokenFaults.shift();
    if (fault !== undefined) {
      tokenRequests.push({ clientEmail: undefined, issued: false, reason: fault.error });
      return sendJson(res, fault.status, { error: fault.error, error_description: "injected" });
    }
    const form = new URLSearchParams(req.body.toString("utf8"));
    const refuse = (reason: string, email?: string): void => {
      tokenRequests.push({ clientEmail: email, issued: false, reason });
      sendJson(res, 400, { error: "invalid_grant", error_description: reason });
    };
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer")
      return sendJson(res, 400, { error: "unsupported_grant_type", error_description: "Invalid grant_type" });
    const [h = "", p = "", s = "", ...rest] = (form.get("assertion") ?? "").split(".");
    const header = b64json(h);
    const claims = b64json(p);
    if (rest.length > 0 || header === null || claims === null) return refuse("Invalid JWT: malformed");
    const email = typeof claims.iss === "string" ? claims.iss : undefined;
    const account = email === undefined ? undefined : accounts.get(email);
    if (account === undefined) return refuse("Invalid JWT Signature.", email);
    if (header.alg !== "RS256") return refuse("Invalid JWT: alg must be RS256", email);
    if (account.privateKeyId !== undefined && header.kid !== undefined && header.kid !== account.privateKeyId)
      return refuse("Invalid JWT Signature.", email);
    if (!verify("sha256", Buffer.from(`${h}.${p}`), account.key, Buffer.from(s, "base64url")))
      return refuse("Invalid JWT Signature.", email);
    const now = Math.floor(Date.now() / 1000);
    if (claims.aud !== GOOGLE_OAUTH_TOKEN_URL) return refuse("Invalid JWT: aud must be the token endpoint", email);
    if (
      typeof claims.iat !== "number" ||
      typeof claims.exp !== "number" ||
      claims.iat > now + 60 ||
      claims.exp <= now ||
      claims.exp - claims.iat > 3600
    ) {
      return refuse(
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        email,
      );
    }
    if (typeof claims.scope !== "string" || !claims.scope.split(" ").includes(CLOUD_PLATFORM))
      return refuse("Invalid JWT: missing the cloud-platform scope", email);
    const accessToken = `ya29.loopback-${randomBytes(24).toString("base64url")}`;
    tokens.set(accessToken, account.clientEmail);
    tokenRequests.push({ clientEmail: email, issued: true });
    sendJson(res, 200, { access_token: accessToken, expires_in: 3599, token_type: "Bearer" });
  };

  const server = await startLoopbackServer((req, res) => {
    const [rawPath = ""] = req.path.split("?");
    if (req.method === "POST" && rawPath === "/token") return token(req, res);
    const route =
      /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/anthropic\/models\/([^/:]+):(rawPredict|streamRawPredict)$/.exec(
        rawPath,
      );
    if (route === null || req.method !== "POST")
      return googleFail(res, 404, "The requested URL was not found on this server.");
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const email = bearer === undefined ? undefined : tokens.get(bearer);
    if (email === undefined)
      return googleFail(
        res,
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
      );
    const [, project = "", location = "", rawModel = "", method] = route;
    if (!(accounts.get(email)?.projects ?? []).includes(decodeURIComponent(project)))
      return googleFail(
        res,
        403,
        `Permission 'aiplatform.endpoints.predict' denied on resource (or it may not exist).`,
      );
    if (decodeURIComponent(location) !== region)
      return googleFail(res, 404, `Publisher model in location ${location} was not found.`);
    const model = decodeURIComponent(rawModel);
    if (!/^claude-[a-z0-9.-]+(@\d{8})?$/.test(model))
      return googleFail(res, 404, `Publisher Model \`${model}\` not found.`);
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString("utf8"));
    } catch {
      return googleFail(res, 400, "Invalid JSON payload received.");
    }
    const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    if (typeof b.anthropic_version !== "string")
      return sendJson(res, 400, anthropicErrorBody("invalid_request_error", "anthropic_version: Field required"));
    if ("model" in b)
      return sendJson(res, 400, anthropicErrorBody("invalid_request_error", "model: Extra inputs are not permitted"));
    const problem = checkMessagesRequest(b, false);
    if (problem !== null) return sendJson(res, 400, anthropicErrorBody("invalid_request_error", problem));
    const stream = method === "streamRawPredict";
    if ((b.stream === true) !== stream)
      return googleFail(res, 400, "stream must be true for streamRawPredict and absent or false for rawPredict");
    const tools = Array.isArray(b.tools) ? (b.tools as { name: string }[]).map((t) => t.name) : [];
    const r = player.next({ body: b, model, stream, tools, headers: req.headers });
    if (r === null)
      return sendJson(
        res,
        400,
        anthropicErrorBody(
          "invalid_request_error",
          `loopback script exhausted: no reply scripted for request #${player.requests.length - 1}`,
        ),
      );
    if (r.kind === "error") {
      if (r.status === 529) return sendJson(res, 529, anthropicErrorBody(r.errorType, r.message));
      return googleFail(res, r.status === 401 ? 401 : r.status, r.message ?? errorMessageFor(r.errorType));
    }
    if (r.kind === "fail-mid-stream" && !stream) return sendJson(res, 529, anthropicErrorBody(r.errorType));
    const message = messageOf(
      r.kind === "message" ? r : { kind: "message", content: [], stopReason: "end_turn" },
      model.replace("@", "-"),
      req.body.length,
    );
    if (!stream) return sendJson(res, 200, message);
    return writeSse(res, streamEventsOf(message, r.kind === "fail-mid-stream" ? r.errorType : undefined));
  });

  return Object.assign(server, {
    region,
    tokenUrl: `${server.url}/token`,
    baseUrl: `${server.url}/v1`,
    messageRequests: player.requests,
    tokenRequests,
    failNextToken: (status: number, error = "rate_limit_exceeded") => void tokenFaults.push({ status, error }),
    setScript: (script: AnthropicScript) => player.setScript(script),
    enqueue: (...replies: ScriptedReply[]) => player.enqueue(...replies),
    reset: (script?: AnthropicScript) => {
      (server.requests as RecordedRequest[]).length = 0;
      tokenRequests.length = 0;
      tokenFaults.length = 0;
      player.reset(script);
    },
  });
}
