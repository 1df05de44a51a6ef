/**
 * A loopback Amazon S3, enough for the object store: `PutObject`, `GetObject`, `HeadObject`, `ListObjectsV2`
 * (prefix, max-keys, continuation-token, start-after), `DeleteObject`, `DeleteObjects`, and presigned `GetObject`.
 *
 * Wire format (the REST-XML protocol the real `@aws-sdk/client-s3` speaks), path-style addressing only
 * (`forcePathStyle: true`): `/<bucket>/<key>`; `GET /<bucket>?list-type=2`; `POST /<bucket>?delete` with a `<Delete>`
 * XML body. Errors are S3's XML bodies — `<Error><Code>NoSuchKey</Code><Message>…</Message><Key>…</Key>
 * <RequestId>…</RequestId></Error>` — with S3's codes and statuses (HEAD errors carry no body, as S3's do). Sources:
 * Amazon S3 API Reference — PutObject, GetObject, HeadObject, ListObjectsV2, DeleteObject, DeleteObjects, "Error
 * responses" (the list of error codes); "Authenticating Requests (AWS Signature Version 4)" incl. "Query string
 * authentication" for presigned URLs.
 *
 * What it does honestly:
 * - Every request's SigV4 signature is verified for real (`aws-sigv4.ts`, S3 rules: the path as it arrived,
 *   `x-amz-content-sha256` required and equal to the body's hash unless `UNSIGNED-PAYLOAD`, `x-amz-date` within 15
 *   minutes of the server's clock). Presigned GETs are verified from the query string (`X-Amz-Expires` honoured). An
 *   unknown access key → `InvalidAccessKeyId`; a wrong secret or a tampered URL → `SignatureDoesNotMatch`; an expired
 *   presigned URL → `AccessDenied` ("Request has expired"); clock skew → `RequestTimeTooSkewed`.
 * - `Content-MD5` and `x-amz-checksum-crc32` are verified when sent (`BadDigest`); `DeleteObjects` requires one of
 *   them, as S3 does. A stored CRC32 is returned on GET/HEAD when the client asks (`x-amz-checksum-mode: ENABLED`).
 * - `x-amz-server-side-encryption: aws:kms` with `x-amz-server-side-encryption-aws-kms-key-id` is recorded per object
 *   and echoed on PUT/GET/HEAD (the bytes are not encrypted here — there is no KMS behind it).
 * - `clock` lets a test move the server's time (presigned expiry, skew) without waiting.
 * - `calls` counts the operations that reached the server (signature failures included), `requests` logs them.
 *
 * Honest limits: no virtual-hosted addressing, no multipart uploads, no `delimiter`/common prefixes, no ranges,
 * versioning, ACLs, bucket policies, conditional requests or chunked (`aws-chunked`) uploads; one region.
 */
import { createHash, randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { crc32 } from "node:zlib";
import { isPresignedRequest, verifySigV4, verifySigV4Presigned, type AwsSecret } from "./aws-sigv4.js";
import { startLoopbackServer, type LoopbackServer, type RecordedRequest } from "./loopback-server.js";

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface S3StoredObject {
  readonly key: string;
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
  readonly lastModified: Date;
  readonly sse: string | undefined;
  readonly sseKmsKeyId: string | undefined;
  readonly crc32: string | undefined;
}

export interface S3ServerOptions {
  readonly region?: string;
  /** Buckets created at start (default `praxa-test`). */
  readonly buckets?: readonly string[];
  /** The server's clock (default: the real one). */
  readonly clock?: () => Date;
}

export interface S3Server extends LoopbackServer {
  readonly region: string;
  /** Long-term credentials the server accepts. */
  readonly credentials: S3Credentials;
  /** Calls per operation name (`PutObject`, `GetObject`, …, `Unknown`). */
  readonly calls: Readonly<Record<string, number>>;
  /** The objects of a bucket, by key. */
  objects(bucket?: string): ReadonlyMap<string, S3StoredObject>;
  /** Moves the server's clock by `ms` (presigned expiry and skew tests). */
  advanceClock(ms: number): void;
}

const xmlEscape = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
const xmlUnescape = (s: string): string =>
  s.replace(/&(lt|gt|quot|apos|amp|#x[0-9a-fA-F]+|#\d+);/g, (_, e: string) => {
    if (e === "lt") return "<";
    if (e === "gt") return ">";
    if (e === "quot") return '"';
    if (e === "apos") return "'";
    if (e === "amp") return "&";
    return String.fromCodePoint(e.startsWith("#x") ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
const NS = "http://s3.amazonaws.com/doc/2006-03-01/";
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

class S3Fault extends Error {
  constructor(
    readonly status: number,
    readonly s3Code: string,
    message: string,
    readonly extra: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

const crc32Base64 = (body: Buffer): string => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32(body) >>> 0);
  return b.toString("base64");
};

function operationOf(method: string, key: string | undefined, query: URLSearchParams): string {
  if (key === undefined) {
    if (method === "GET" && query.get("list-type") === "2") return "ListObjectsV2";
    if (method === "POST" && query.has("delete")) return "DeleteObjects";
    return "Unknown";
  }
  if (method === "PUT") return "PutObject";
  if (method === "GET") return "GetObject";
  if (method === "HEAD") return "HeadObject";
  if (method === "DELETE") return "DeleteObject";
  return "Unknown";
}

export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const region = options.region ?? "us-east-1";
  const credentials: S3Credentials = {
    accessKeyId: `AKIA${randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase()}`,
    secretAccessKey: randomUUID() + randomUUID(),
  };
  const secrets = new Map<string, AwsSecret>([
    [credentials.accessKeyId, { secretAccessKey: credentials.secretAccessKey }],
  ]);
  const buckets = new Map<string, Map<string, S3StoredObject>>();
  for (const b of options.buckets ?? ["praxa-test"]) buckets.set(b, new Map());
  const calls: Record<string, number> = {};
  let offsetMs = 0;
  const now = (): Date => new Date((options.clock?.() ?? new Date()).getTime() + offsetMs);

  const send = (res: ServerResponse, status: number, headers: Record<string, string>, body?: Buffer | string): void => {
    const requestId = randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase();
    const h: Record<string, string> = {
      "x-amz-request-id": requestId,
      "x-amz-id-2": Buffer.from(requestId).toString("base64"),
      date: now().toUTCString(),
      server: "AmazonS3",
      ...headers,
    };
    if (body !== undefined) h["content-length"] = String(Buffer.byteLength(body));
    res.writeHead(status, h);
    res.end(body);
  };

  const sendError = (res: ServerResponse, method: string, fault: S3Fault): void => {
    if (method === "HEAD") return send(res, fault.status, {});
    const extra = Object.entries(fault.extra)
      .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
      .join("");
    send(
      res,
      fault.status,
      { "content-type": "application/xml" },
      `${XML_HEAD}<Error><Code>${fault.s3Code}</Code><Message>${xmlEscape(fault.message)}</Message>${extra}<RequestId>${randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase()}</RequestId><HostId>loopback</HostId></Error>`,
    );
  };

  const objectHeaders = (o: S3StoredObject, req: RecordedRequest): Record<string, string> => {
    const h: Record<string, string> = {
      "content-type": o.contentType,
      etag: o.etag,
      "last-modified": o.lastModified.toUTCString(),
      "accept-ranges": "bytes",
    };
    if (o.sse !== undefined) h["x-amz-server-side-encryption"] = o.sse;
    if (o.sseKmsKeyId !== undefined) h["x-amz-server-side-encryption-aws-kms-key-id"] = o.sseKmsKeyId;
    if (o.crc32 !== undefined && req.headers["x-amz-checksum-mode"] === "ENABLED") h["x-amz-checksum-crc32"] = o.crc32;
    return h;
  };

  const verifyDigests = (req: RecordedRequest): string | undefined => {
    const md5 = req.headers["content-md5"];
    if (md5 !== undefined && md5 !== createHash("md5").update(req.body).digest("base64"))
      throw new S3Fault(400, "BadDigest", "The Content-MD5 you specified did not match what we received.");
    const crc = req.headers["x-amz-checksum-crc32"];
    if (crc !== undefined && crc !== crc32Base64(req.body))
      throw new S3Fault(400, "BadDigest", "The CRC32 you specified did not match the calculated checksum.");
    for (const h of Object.keys(req.headers)) {
      if (
        h.startsWith("x-amz-checksum-") &&
        h !== "x-amz-checksum-crc32" &&
        h !== "x-amz-checksum-mode" &&
        h !== "x-amz-checksum-algorithm"
      ) {
        throw new S3Fault(501, "NotImplemented", `checksum header ${h} is not supported by the loopback server`);
      }
    }
    if (md5 === undefined && crc === undefined) return undefined;
    return crc;
  };

  const handle = (
    req: RecordedRequest,
    res: ServerResponse,
    op: string,
    bucketName: string,
    key: string | undefined,
    query: URLSearchParams,
  ): void => {
    const sig = isPresignedRequest(req)
      ? verifySigV4Presigned(req, { service: "s3", region, secrets, now: now(), s3: true })
      : verifySigV4(req, { service: "s3", region, secrets, now: now(), s3: true });
    if (!sig.ok) {
      const status =
        sig.code === "NotImplemented"
          ? 501
          : sig.code === "InvalidRequest" ||
              sig.code === "AuthorizationHeaderMalformed" ||
              sig.code === "AuthorizationQueryParametersError" ||
              sig.code === "XAmzContentSHA256Mismatch"
            ? 400
            : 403;
      const extra: Record<string, string> = {};
      if (sig.code === "InvalidAccessKeyId") extra["AWSAccessKeyId"] = "redacted";
      if (sig.code === "RequestTimeTooSkewed") extra["ServerTime"] = now().toISOString();
      throw new S3Fault(status, sig.code, sig.reason, extra);
    }
    if (isPresignedRequest(req) && op !== "GetObject" && op !== "HeadObject")
      throw new S3Fault(403, "AccessDenied", "the loopback server accepts presigned GET/HEAD only");
    const bucket = buckets.get(bucketName);
    if (bucket === undefined)
      throw new S3Fault(404, "NoSuchBucket", "The specified bucket does not exist", { BucketName: bucketName });

    switch (op) {
      case "PutObject": {
        if (key === undefined) throw new S3Fault(400, "InvalidRequest", "a key is required");
        const length = req.headers["content-length"];
        if (length === undefined)
          throw new S3Fault(411, "MissingContentLength", "You must provide the Content-Length HTTP header.");
        const crc = verifyDigests(req);
        const sse = req.headers["x-amz-server-side-encryption"];
        if (sse !== undefined && sse !== "aws:kms" && sse !== "AES256")
          throw new S3Fault(400, "InvalidArgument", "The encryption method specified is not supported");
        const sseKmsKeyId = req.headers["x-amz-server-side-encryption-aws-kms-key-id"];
        if (sseKmsKeyId !== undefined && sse !== "aws:kms")
          throw new S3Fault(
            400,
            "InvalidArgument",
            "Server Side Encryption with KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
          );
        const etag = `"${createHash("md5").update(req.body).digest("hex")}"`;
        const stored: S3StoredObject = {
          key,
          body: req.body,
          contentType: req.headers["content-type"] ?? "binary/octet-stream",
          etag,
          lastModified: now(),
          sse,
          sseKmsKeyId:
            sse === "aws:kms" ? (sseKmsKeyId ?? `arn:aws:kms:${region}:000000000000:alias/aws/s3`) : undefined,
          crc32: crc ?? crc32Base64(req.body),
        };
        bucket.set(key, stored);
        const h: Record<string, string> = { etag };
        if (stored.sse !== undefined) h["x-amz-server-side-encryption"] = stored.sse;
        if (stored.sseKmsKeyId !== undefined) h["x-amz-server-side-encryption-aws-kms-key-id"] = stored.sseKmsKeyId;
        if (req.headers["x-amz-checksum-crc32"] !== undefined) h["x-amz-checksum-crc32"] = stored.crc32 ?? "";
        return send(res, 200, h, "");
      }
      case "GetObject":
      case "HeadObject": {
        if (req.headers.range !== undefined)
          throw new S3Fault(501, "NotImplemented", "ranges are not supported by the loopback server");
        const o = key === undefined ? undefined : bucket.get(key);
        if (o === undefined)
          throw new S3Fault(404, "NoSuchKey", "The specified key does not exist.", { Key: key ?? "" });
        if (op === "HeadObject") {
          res.writeHead(200, {
            ...objectHeaders(o, req),
            "content-length": String(o.body.length),
            "x-amz-request-id": randomUUID(),
          });
          return void res.end();
        }
        return send(res, 200, objectHeaders(o, req), o.body);
      }
      case "DeleteObject": {
        if (key !== undefined) bucket.delete(key);
        return send(res, 204, {});
      }
      case "ListObjectsV2": {
        if (query.has("delimiter"))
          throw new S3Fault(501, "NotImplemented", "delimiter is not supported by the loopback server");
        const prefix = query.get("prefix") ?? "";
        const maxKeysText = query.get("max-keys") ?? "1000";
        if (!/^\d+$/.test(maxKeysText))
          throw new S3Fault(400, "InvalidArgument", "Provided max-keys not an integer or within integer range");
        const maxKeys = Math.min(Number(maxKeysText), 1000);
        const token = query.get("continuation-token");
        let after = query.get("start-after") ?? "";
        if (token !== null) {
          const decoded = Buffer.from(token, "base64url").toString("utf8");
          if (!decoded.startsWith("k:") || Buffer.from(decoded, "utf8").toString("base64url") !== token)
            throw new S3Fault(400, "InvalidArgument", "The continuation token provided is incorrect");
          after = decoded.slice(2);
        }
        const keys = [...bucket.keys()]
          .filter((k) => k.startsWith(prefix) && k > after)
          .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        const page = keys.slice(0, maxKeys);
        const truncated = keys.length > page.length;
        const last = page[page.length - 1];
        const contents = page
          .map((k) => {
            const o = bucket.get(k) as S3StoredObject;
            return `<Contents><Key>${xmlEscape(k)}</Key><LastModified>${o.lastModified.toISOString()}</LastModified><ETag>${xmlEscape(o.etag)}</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
          })
          .join("");
        const body =
          `${XML_HEAD}<ListBucketResult xmlns="${NS}"><Name>${xmlEscape(bucketName)}</Name><Prefix>${xmlEscape(prefix)}</Prefix>` +
          `<KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>` +
          (token !== null ? `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>` : "") +
          (truncated && last !== undefined
            ? `<NextContinuationToken>${Buffer.from(`k:${last}`, "utf8").toString("base64url")}</NextContinuationToken>`
            : "") +
          `${contents}</ListBucketResult>`;
        return send(res, 200, { "content-type": "application/xml" }, body);
      }
      case "DeleteObjects": {
        if (verifyDigests(req) === undefined && req.headers["content-md5"] === undefined) {
          throw new S3Fault(400, "InvalidRequest", "Missing required header for this request: Content-MD5");
        }
        const xml = req.body.toString("utf8");
        if (!/^\s*(<\?xml[^>]*\?>\s*)?<Delete[\s>]/.test(xml))
          throw new S3Fault(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
          );
        const quiet = /<Quiet>\s*true\s*<\/Quiet>/.test(xml);
        const objects = [...xml.matchAll(/<Object>([\s\S]*?)<\/Object>/g)].map(
          (m) => /<Key>([\s\S]*?)<\/Key>/.exec(m[1] ?? "")?.[1],
        );
        if (objects.length === 0 || objects.length > 1000 || objects.some((k) => k === undefined)) {
          throw new S3Fault(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
          );
        }
        const deleted: string[] = [];
        for (const raw of objects) {
          const k = xmlUnescape(raw ?? "");
          bucket.delete(k);
          deleted.push(k);
        }
        const body = `${XML_HEAD}<DeleteResult xmlns="${NS}">${quiet ? "" : deleted.map((k) => `<Deleted><Key>${xmlEscape(k)}</Key></Deleted>`).join("")}</DeleteResult>`;
        return send(res, 200, { "content-type": "application/xml" }, body);
      }
      default:
        throw new S3Fault(
          501,
          "NotImplemented",
          "A header or query you provided requested a function that is not implemented.",
        );
    }
  };

  const server = await startLoopbackServer((req, res) => {
    const [rawPath = "/", rawQuery = ""] = req.path.split("?", 2) as [string?, string?];
    const query = new URLSearchParams(rawQuery);
    const m = /^\/([^/]+)(?:\/(.*))?$/.exec(rawPath);
    let bucketName = "";
    let key: string | undefined;
    try {
      bucketName = decodeURIComponent(m?.[1] ?? "");
      const rawKey = m?.[2];
      key = rawKey === undefined || rawKey === "" ? undefined : decodeURIComponent(rawKey);
    } catch {
      calls["Unknown"] = (calls["Unknown"] ?? 0) + 1;
      return sendError(res, req.method, new S3Fault(400, "InvalidURI", "Couldn't parse the specified URI."));
    }
    const op = m === null || !BUCKET_NAME.test(bucketName) ? "Unknown" : operationOf(req.method, key, query);
    calls[op] = (calls[op] ?? 0) + 1;
    try {
      if (op === "Unknown" && (m === null || !BUCKET_NAME.test(bucketName)))
        throw new S3Fault(400, "InvalidBucketName", "The specified bucket is not valid.");
      handle(req, res, op, bucketName, key, query);
    } catch (err) {
      if (err instanceof S3Fault) return sendError(res, req.method, err);
      throw err;
    }
  });

  return {
    ...server,
    region,
    credentials,
    calls,
    objects: (bucket = "praxa-test") => buckets.get(bucket) ?? new Map(),
    advanceClock: (ms: number) => {
      offsetMs += ms;
    },
  };
}
