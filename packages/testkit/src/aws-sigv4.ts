/**
 * AWS Signature Version 4 verification for loopback AWS services, done for real with node:crypto: the canonical
 * request is rebuilt from what arrived on the wire and the signature recomputed with the known secret, exactly as AWS
 * does. Source: AWS General Reference, "Create a signed AWS API request" (canonical request, string to sign, signing
 * key derivation), and the Smithy `@smithy/signature-v4` conventions the SDKs follow (non-S3 services URI-encode the
 * already-encoded path once more; `x-amz-content-sha256` is signed and must match the body).
 *
 * Checks: the `AWS4-HMAC-SHA256` Authorization header; the credential scope's date, region and service; `x-amz-date`
 * within 15 minutes; `host` signed; a signed `x-amz-content-sha256` equal to the body's SHA-256; for temporary
 * credentials, a signed `x-amz-security-token` equal to the session token issued with them; then the signature.
 * S3 flavour (`s3: true`, used by `s3-server.ts`): the path is canonicalised exactly as it arrived (S3 neither
 * normalises nor double-encodes it), `x-amz-content-sha256` is required and may be `UNSIGNED-PAYLOAD`.
 * Presigned (query-string) requests — `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
 * `X-Amz-SignedHeaders`, `X-Amz-Signature` — are verified by `verifySigV4Presigned`: the same canonical request with
 * the query minus the signature and the payload hash `UNSIGNED-PAYLOAD`, refused once `X-Amz-Date + X-Amz-Expires`
 * has passed. Failures carry the S3 error code real AWS answers with (`code`).
 * Honest limits: no chunked (`STREAMING-…`) payloads, no SigV4a.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { RecordedRequest } from "./loopback-server.js";

export interface AwsSecret {
  readonly secretAccessKey: string;
  /** Set for temporary credentials (STS): the request must carry it in `x-amz-security-token`. */
  readonly sessionToken?: string;
}

/** The S3 error code AWS answers a refused signature with (other services map `reason` themselves). */
export type SigV4FailureCode =
  | "AccessDenied"
  | "AuthorizationHeaderMalformed"
  | "AuthorizationQueryParametersError"
  | "InvalidAccessKeyId"
  | "InvalidRequest"
  | "InvalidToken"
  | "NotImplemented"
  | "RequestTimeTooSkewed"
  | "SignatureDoesNotMatch"
  | "XAmzContentSHA256Mismatch";

export type SigV4Result =
  | { readonly ok: true; readonly accessKeyId: string; readonly region: string }
  | { readonly ok: false; readonly reason: string; readonly code: SigV4FailureCode };

export interface SigV4Options {
  readonly service: string;
  readonly region?: string;
  readonly secrets: ReadonlyMap<string, AwsSecret>;
  readonly now?: Date;
  /** S3 rules: the path canonicalised as it arrived, `x-amz-content-sha256` required, `UNSIGNED-PAYLOAD` allowed. */
  readonly s3?: boolean;
}

const fail = (code: SigV4FailureCode, reason: string): SigV4Result => ({ ok: false, code, reason });
const SKEW_MS = 15 * 60_000;

const escapeUri = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256Hex = (data: string | Buffer): string => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string): Buffer => createHmac("sha256", key).update(data, "utf8").digest();

function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const seg of rawPath.split("/")) {
    if (seg.length === 0 || seg === ".") continue;
    if (seg === "..") segments.pop();
    else segments.push(seg);
  }
  const normalized = `${rawPath.startsWith("/") ? "/" : ""}${segments.join("/")}${segments.length > 0 && rawPath.endsWith("/") ? "/" : ""}`;
  return escapeUri(normalized).replace(/%2F/g, "/");
}

function canonicalQuery(rawQuery: string): string {
  const params = new URLSearchParams(rawQuery);
  const keys = [...new Set(params.keys())].filter((k) => k.toLowerCase() !== "x-amz-signature").sort();
  return keys
    .map((k) =>
      params
        .getAll(k)
        .map((v) => `${escapeUri(k)}=${escapeUri(v)}`)
        .sort()
        .join("&"),
    )
    .join("&");
}

function parseAmzDate(amzDate: string, date: string): number | undefined {
  const dm = /^(\d{8})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dm || dm[1] !== date) return undefined;
  const t = Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${dm[2]}:${dm[3]}:${dm[4]}Z`);
  return Number.isNaN(t) ? undefined : t;
}

/** Rebuilds the canonical request and compares the signature (constant time). */
function signatureMatches(
  req: RecordedRequest,
  c: {
    s3: boolean;
    signedHeaderList: string;
    payloadHash: string;
    amzDate: string;
    date: string;
    region: string;
    service: string;
    secretAccessKey: string;
    signature: string;
  },
): boolean {
  const [rawPath = "/", rawQuery = ""] = req.path.split("?", 2) as [string?, string?];
  const signed = c.signedHeaderList.split(";");
  const canonicalRequest = [
    req.method,
    c.s3 ? rawPath : canonicalPath(rawPath),
    canonicalQuery(rawQuery),
    signed.map((h) => `${h}:${(req.headers[h] ?? "").trim().replace(/\s+/g, " ")}`).join("\n") + "\n",
    c.signedHeaderList,
    c.payloadHash,
  ].join("\n");
  const scope = `${c.date}/${c.region}/${c.service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", c.amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  let key: Buffer = hmac(`AWS4${c.secretAccessKey}`, c.date);
  for (const part of [c.region, c.service, "aws4_request"]) key = hmac(key, part);
  const expected = createHmac("sha256", key).update(stringToSign, "utf8").digest();
  const given = Buffer.from(c.signature, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const SIGNATURE_MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your key and signing method.";

/**
 * Verifies a request's SigV4 `Authorization` header against the known secrets (by access key id). `service` must
 * match the scope; `region`, when given, too.
 */
export function verifySigV4(req: RecordedRequest, options: SigV4Options): SigV4Result {
  const auth = req.headers.authorization ?? "";
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return fail("AccessDenied", "missing or malformed AWS4-HMAC-SHA256 Authorization header");
  const [, accessKeyId = "", date = "", region = "", service = "", signedHeaderList = "", signature = ""] = m;
  if (service !== options.service)
    return fail(
      "AuthorizationHeaderMalformed",
      `credential scope names service ${service}, expected ${options.service}`,
    );
  if (options.region !== undefined && region !== options.region)
    return fail("AuthorizationHeaderMalformed", `credential scope names region ${region}`);
  const secret = options.secrets.get(accessKeyId);
  if (secret === undefined) return fail("InvalidAccessKeyId", "The security token included in the request is invalid.");
  const amzDate = req.headers["x-amz-date"] ?? "";
  const signedAt = parseAmzDate(amzDate, date);
  if (signedAt === undefined)
    return fail("AccessDenied", "x-amz-date missing or not matching the credential scope date");
  if (Math.abs((options.now ?? new Date()).getTime() - signedAt) > SKEW_MS) {
    return fail("RequestTimeTooSkewed", "The difference between the request time and the current time is too large.");
  }
  const signed = signedHeaderList.split(";");
  if (!signed.includes("host")) return fail("AccessDenied", "host must be a signed header");
  for (const h of signed)
    if (req.headers[h] === undefined) return fail("AccessDenied", `signed header ${h} is missing`);
  if (
    secret.sessionToken !== undefined &&
    (req.headers["x-amz-security-token"] !== secret.sessionToken || !signed.includes("x-amz-security-token"))
  ) {
    return fail("InvalidToken", "The security token included in the request is invalid.");
  }
  const s3 = options.s3 === true;
  const bodyHash = sha256Hex(req.body);
  const declared = req.headers["x-amz-content-sha256"];
  if (s3) {
    if (declared === undefined || !signed.includes("x-amz-content-sha256"))
      return fail("InvalidRequest", "Missing required header for this request: x-amz-content-sha256");
    if (declared.startsWith("STREAMING-"))
      return fail("NotImplemented", "chunked (STREAMING-…) payloads are not supported by the loopback server");
  }
  if (declared !== undefined && declared !== "UNSIGNED-PAYLOAD" && declared !== bodyHash) {
    return fail(
      "XAmzContentSHA256Mismatch",
      "The provided x-amz-content-sha256 header does not match what was computed.",
    );
  }
  if (declared === "UNSIGNED-PAYLOAD" && !s3)
    return fail("XAmzContentSHA256Mismatch", "UNSIGNED-PAYLOAD is accepted only by S3");
  const ok = signatureMatches(req, {
    s3,
    signedHeaderList,
    payloadHash: declared ?? bodyHash,
    amzDate,
    date,
    region,
    service,
    secretAccessKey: secret.secretAccessKey,
    signature,
  });
  if (!ok) return fail("SignatureDoesNotMatch", SIGNATURE_MISMATCH);
  return { ok: true, accessKeyId, region };
}

/** Whether the request carries query-string (presigned) authentication. */
export function isPresignedRequest(req: RecordedRequest): boolean {
  const rawQuery = req.path.split("?", 2)[1] ?? "";
  return new URLSearchParams(rawQuery).has("X-Amz-Algorithm");
}

/**
 * Verifies a presigned (query-string) SigV4 request — S3's presigned GET: the signature covers the query minus
 * `X-Amz-Signature`, the signed headers, and the payload hash `UNSIGNED-PAYLOAD`. Refused once
 * `X-Amz-Date + X-Amz-Expires` (at most 7 days) has passed, or when signed more than 15 minutes in the future.
 */
export function verifySigV4Presigned(req: RecordedRequest, options: SigV4Options): SigV4Result {
  const rawQuery = req.path.split("?", 2)[1] ?? "";
  const q = new URLSearchParams(rawQuery);
  const need = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
  ];
  for (const name of need) {
    if (q.getAll(name).length !== 1)
      return fail(
        "AuthorizationQueryParametersError",
        `Query-string authentication version 4 requires the ${need.join(", ")} parameters.`,
      );
  }
  if (req.headers.authorization !== undefined)
    return fail(
      "InvalidRequest",
      "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified",
    );
  if (q.get("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256")
    return fail("AuthorizationQueryParametersError", 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  const cm = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(q.get("X-Amz-Credential") ?? "");
  if (!cm) return fail("AuthorizationQueryParametersError", "Error parsing the X-Amz-Credential parameter.");
  const [, accessKeyId = "", date = "", region = "", service = ""] = cm;
  if (service !== options.service)
    return fail(
      "AuthorizationQueryParametersError",
      `credential scope names service ${service}, expected ${options.service}`,
    );
  if (options.region !== undefined && region !== options.region)
    return fail("AuthorizationQueryParametersError", `credential scope names region ${region}`);
  const secret = options.secrets.get(accessKeyId);
  if (secret === undefined)
    return fail("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
  const amzDate = q.get("X-Amz-Date") ?? "";
  const signedAt = parseAmzDate(amzDate, date);
  if (signedAt === undefined)
    return fail(
      "AuthorizationQueryParametersError",
      "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\" and match the credential date",
    );
  const expiresText = q.get("X-Amz-Expires") ?? "";
  const expires = /^\d{1,6}$/.test(expiresText) ? Number(expiresText) : NaN;
  if (!(expires >= 1 && expires <= 604_800))
    return fail("AuthorizationQueryParametersError", "X-Amz-Expires must be between 1 and 604800 seconds");
  const now = (options.now ?? new Date()).getTime();
  if (signedAt - now > SKEW_MS) return fail("AccessDenied", "Request is not valid yet");
  if (now > signedAt + expires * 1000) return fail("AccessDenied", "Request has expired");
  const signedHeaderList = q.get("X-Amz-SignedHeaders") ?? "";
  if (!/^[a-z0-9;-]+$/.test(signedHeaderList))
    return fail("AuthorizationQueryParametersError", "X-Amz-SignedHeaders is malformed");
  const signed = signedHeaderList.split(";");
  if (!signed.includes("host")) return fail("AccessDenied", "host must be a signed header");
  for (const h of signed)
    if (req.headers[h] === undefined) return fail("AccessDenied", `signed header ${h} is missing`);
  if (secret.sessionToken !== undefined && q.get("X-Amz-Security-Token") !== secret.sessionToken)
    return fail("InvalidToken", "The provided token is malformed or otherwise invalid.");
  const signature = q.get("X-Amz-Signature") ?? "";
  if (!/^[0-9a-f]{64}$/.test(signature)) return fail("SignatureDoesNotMatch", SIGNATURE_MISMATCH);
  const ok = signatureMatches(req, {
    s3: options.s3 === true,
    signedHeaderList,
    payloadHash: "UNSIGNED-PAYLOAD",
    amzDate,
    date,
    region,
    service,
    secretAccessKey: secret.secretAccessKey,
    signature,
  });
  if (!ok) return fail("SignatureDoesNotMatch", SIGNATURE_MISMATCH);
  return { ok: true, accessKeyId, region };
}
