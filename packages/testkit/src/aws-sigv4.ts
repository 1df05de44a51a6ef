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
 * Honest limits: no presigned (query-string) requests, no chunked (`STREAMING-…`) payloads, no SigV4a.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { RecordedRequest } from './loopback-server.js';

export interface AwsSecret {
  readonly secretAccessKey: string;
  /** Set for temporary credentials (STS): the request must carry it in `x-amz-security-token`. */
  readonly sessionToken?: string;
}

export type SigV4Result = { readonly ok: true; readonly accessKeyId: string; readonly region: string } | { readonly ok: false; readonly reason: string };

const escapeUri = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const seg of rawPath.split('/')) {
    if (seg.length === 0 || seg === '.') continue;
    if (seg === '..') segments.pop();
    else segments.push(seg);
  }
  const normalized = `${rawPath.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && rawPath.endsWith('/') ? '/' : ''}`;
  return escapeUri(normalized).replace(/%2F/g, '/');
}

function canonicalQuery(rawQuery: string): string {
  const params = new URLSearchParams(rawQuery);
  const keys = [...new Set(params.keys())].filter((k) => k.toLowerCase() !== 'x-amz-signature').sort();
  return keys
    .map((k) =>
      params
        .getAll(k)
        .map((v) => `${escapeUri(k)}=${escapeUri(v)}`)
        .sort()
        .join('&'),
    )
    .join('&');
}

/**
 * Verifies a request's SigV4 signature against the known secrets (by access key id). `service` must match the scope;
 * `region`, when given, too.
 */
export function verifySigV4(req: RecordedRequest, options: { service: string; region?: string; secrets: ReadonlyMap<string, AwsSecret>; now?: Date }): SigV4Result {
  const auth = req.headers.authorization ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { ok: false, reason: 'missing or malformed AWS4-HMAC-SHA256 Authorization header' };
  const [, accessKeyId = '', date = '', region = '', service = '', signedHeaderList = '', signature = ''] = m;
  if (service !== options.service) return { ok: false, reason: `credential scope names service ${service}, expected ${options.service}` };
  if (options.region !== undefined && region !== options.region) return { ok: false, reason: `credential scope names region ${region}` };
  const secret = options.secrets.get(accessKeyId);
  if (secret === undefined) return { ok: false, reason: 'The security token included in the request is invalid.' };
  const amzDate = req.headers['x-amz-date'] ?? '';
  const dm = /^(\d{8})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dm || dm[1] !== date) return { ok: false, reason: 'x-amz-date missing or not matching the credential scope date' };
  const signedAt = Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${dm[2]}:${dm[3]}:${dm[4]}Z`);
  if (Math.abs((options.now ?? new Date()).getTime() - signedAt) > 15 * 60_000) return { ok: false, reason: 'Signature expired or not yet valid (more than 15 minutes skew)' };
  const signed = signedHeaderList.split(';');
  if (!signed.includes('host')) return { ok: false, reason: 'host must be a signed header' };
  for (const h of signed) if (req.headers[h] === undefined) return { ok: false, reason: `signed header ${h} is missing` };
  if (secret.sessionToken !== undefined && (req.headers['x-amz-security-token'] !== secret.sessionToken || !signed.includes('x-amz-security-token'))) {
    return { ok: false, reason: 'The security token included in the request is invalid.' };
  }
  const bodyHash = sha256Hex(req.body);
  const declared = req.headers['x-amz-content-sha256'];
  if (declared !== undefined && declared !== bodyHash) return { ok: false, reason: 'The provided x-amz-content-sha256 header does not match what was computed.' };
  const [rawPath = '/', rawQuery = ''] = req.path.split('?', 2) as [string?, string?];
  const canonicalRequest = [
    req.method,
    canonicalPath(rawPath),
    canonicalQuery(rawQuery),
    signed.map((h) => `${h}:${(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}`).join('\n') + '\n',
    signedHeaderList,
    declared ?? bodyHash,
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key: Buffer = hmac(`AWS4${secret.secretAccessKey}`, date);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest();
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'The request signature we calculated does not match the signature you provided.' };
  }
  return { ok: true, accessKeyId, region };
}
