/**
 * A loopback AWS KMS, enough for envelope encryption and signing: `GenerateDataKey`, `Encrypt`, `Decrypt`, `Sign`,
 * `GetPublicKey`.
 *
 * Wire format (AWS JSON 1.1 protocol, as the real `@aws-sdk/client-kms` speaks it): `POST /` with
 * `Content-Type: application/x-amz-json-1.1` and `X-Amz-Target: TrentService.<Operation>`; blobs (Plaintext,
 * CiphertextBlob, Message, Signature, PublicKey) are base64 strings in the JSON; errors are HTTP 400 with
 * `{"__type":"InvalidCiphertextException","Message":…}`. Source: AWS Key Management Service API Reference —
 * GenerateDataKey, Encrypt, Decrypt, Sign, GetPublicKey, "Common Errors" — and the "AWS JSON 1.1 protocol" page of
 * the Smithy specification.
 *
 * What it does honestly:
 * - Keys live in memory only. A symmetric key is 32 random bytes; ciphertext blobs are
 *   `0x01 ‖ key uuid (16) ‖ iv (12) ‖ tag (16) ‖ AES-256-GCM ciphertext`, with the EncryptionContext bound as AAD
 *   (its pairs sorted by key, as JSON) — so a different, missing or extra context pair fails to decrypt with
 *   `InvalidCiphertextException`, as real KMS does. A `KeyId` on Decrypt naming another key → `IncorrectKeyException`.
 * - Signing keys are real asymmetric keys from node:crypto: ECC_NIST_P256 (ECDSA_SHA_256, DER signatures) and
 *   ECC_NIST_EDWARDS25519 (ED25519_SHA_512). `GetPublicKey` returns the SubjectPublicKeyInfo DER, so signatures
 *   verify with it.
 * - KeyId may be a key id, key ARN, alias name (`alias/…`) or alias ARN.
 * - It counts calls per operation (`calls`) so tests can assert how often KMS was asked.
 *
 * Honest limits: the SigV4 `Authorization` header is required but its signature is not verified; no key policies,
 * grants, key states (disable, deletion), multi-region keys or automatic rotation; `MessageType: DIGEST` and
 * RSA/HMAC/SM2 keys are not supported (`UnsupportedOperationException`); ciphertext blobs are not interchangeable with
 * real KMS blobs; `GrantTokens` and `DryRun` are ignored; an `EncryptionAlgorithm` other than SYMMETRIC_DEFAULT is
 * refused.
 */
import {
  createCipheriv,
  createDecipheriv,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign as nodeSign,
  type KeyObject,
} from 'node:crypto';
import { sendJson, startLoopbackServer, type LoopbackServer } from './loopback-server.js';

export type KmsKeySpec = 'SYMMETRIC_DEFAULT' | 'ECC_NIST_P256' | 'ECC_NIST_EDWARDS25519';

export interface KmsKeyInfo {
  readonly keyId: string;
  readonly arn: string;
  readonly keySpec: KmsKeySpec;
  readonly alias: string | undefined;
}

export interface KmsServer extends LoopbackServer {
  /** Number of calls per `X-Amz-Target` operation name (e.g. `Decrypt`). */
  readonly calls: Readonly<Record<string, number>>;
  /** Created at start: a symmetric ENCRYPT_DECRYPT key, alias `alias/praxa-test`. */
  readonly symmetricKey: KmsKeyInfo;
  /** Created at start: an ECC_NIST_P256 SIGN_VERIFY key, alias `alias/praxa-audit`. */
  readonly signingKey: KmsKeyInfo;
  createKey(spec?: KmsKeySpec, alias?: string): KmsKeyInfo;
}

export interface KmsServerOptions {
  readonly region?: string;
  readonly account?: string;
}

interface StoredKey extends KmsKeyInfo {
  readonly secret?: Buffer;
  readonly privateKey?: KeyObject;
  readonly publicKeyDer?: Buffer;
}

class KmsFault extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const SIGNING_ALGORITHMS: Readonly<Record<string, readonly string[]>> = {
  ECC_NIST_P256: ['ECDSA_SHA_256'],
  ECC_NIST_EDWARDS25519: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'],
};

function contextAad(context: unknown): Buffer {
  if (context === undefined || context === null) return Buffer.alloc(0);
  if (typeof context !== 'object' || Array.isArray(context)) throw new KmsFault('ValidationException', 'EncryptionContext must be a map of strings');
  const entries = Object.entries(context as Record<string, unknown>);
  for (const [, v] of entries) if (typeof v !== 'string') throw new KmsFault('ValidationException', 'EncryptionContext values must be strings');
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(entries), 'utf8');
}

function blob(body: Record<string, unknown>, field: string, min: number, max: number): Buffer {
  const value = body[field];
  if (typeof value !== 'string') throw new KmsFault('ValidationException', `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must not be null`);
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length < min || bytes.length > max) {
    throw new KmsFault('ValidationException', `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length between ${min} and ${max}`);
  }
  return bytes;
}

export async function startKmsServer(options: KmsServerOptions = {}): Promise<KmsServer> {
  const region = options.region ?? 'us-west-1';
  const account = options.account ?? '000000000000';
  const keys = new Map<string, StoredKey>();
  const aliases = new Map<string, string>();
  const calls: Record<string, number> = {};
  const arnOf = (keyId: string): string => `arn:aws:kms:${region}:${account}:key/${keyId}`;

  const createKey = (spec: KmsKeySpec = 'SYMMETRIC_DEFAULT', alias?: string): KmsKeyInfo => {
    const keyId = randomUUID();
    const info = { keyId, arn: arnOf(keyId), keySpec: spec, alias };
    let stored: StoredKey;
    if (spec === 'SYMMETRIC_DEFAULT') stored = { ...info, secret: randomBytes(32) };
    else {
      const pair = spec === 'ECC_NIST_P256' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('ed25519');
      stored = { ...info, privateKey: pair.privateKey, publicKeyDer: pair.publicKey.export({ format: 'der', type: 'spki' }) };
    }
    keys.set(keyId, stored);
    if (alias !== undefined) aliases.set(alias, keyId);
    return info;
  };

  const resolve = (ref: unknown): StoredKey => {
    if (typeof ref !== 'string' || ref.length === 0) throw new KmsFault('ValidationException', "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must not be null");
    let id = ref;
    const arn = /^arn:aws:kms:[^:]*:[^:]*:(key\/.+|alias\/.+)$/.exec(ref);
    if (arn?.[1] !== undefined) id = arn[1].startsWith('key/') ? arn[1].slice(4) : arn[1];
    if (id.startsWith('alias/')) id = aliases.get(id) ?? id;
    const key = keys.get(id);
    if (key === undefined) throw new KmsFault('NotFoundException', `Key '${ref}' does not exist`);
    return key;
  };

  const symmetric = (key: StoredKey, op: string): Buffer => {
    if (key.secret === undefined) throw new KmsFault('InvalidKeyUsageException', `You cannot perform this operation (${op}) on a ${key.keySpec} key. The key usage is SIGN_VERIFY.`);
    return key.secret;
  };

  const encrypt = (key: StoredKey, plaintext: Buffer, context: unknown): Buffer => {
    const secret = symmetric(key, 'Encrypt');
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', secret, iv);
    cipher.setAAD(contextAad(context));
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.of(1), Buffer.from(key.keyId.replaceAll('-', ''), 'hex'), iv, cipher.getAuthTag(), ct]);
  };

  const operations: Readonly<Record<string, (body: Record<string, unknown>) => Record<string, unknown>>> = {
    GenerateDataKey: (body) => {
      const key = resolve(body['KeyId']);
      const spec = body['KeySpec'];
      const n = body['NumberOfBytes'];
      if ((spec === undefined) === (n === undefined)) throw new KmsFault('ValidationException', 'Please specify either number of bytes or key spec.');
      let length: number;
      if (spec === 'AES_256') length = 32;
      else if (spec === 'AES_128') length = 16;
      else if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 1024) length = n;
      else throw new KmsFault('ValidationException', 'KeySpec must be AES_256 or AES_128, or NumberOfBytes 1-1024');
      const plaintext = randomBytes(length);
      const ciphertext = encrypt(key, plaintext, body['EncryptionContext']);
      return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), CiphertextBlob: ciphertext.toString('base64') };
    },
    Encrypt: (body) => {
      const key = resolve(body['KeyId']);
      const algorithm = body['EncryptionAlgorithm'];
      if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') throw new KmsFault('UnsupportedOperationException', 'only SYMMETRIC_DEFAULT is supported by the loopback server');
      const ciphertext = encrypt(key, blob(body, 'Plaintext', 1, 4096), body['EncryptionContext']);
      return { KeyId: key.arn, CiphertextBlob: ciphertext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    Decrypt: (body) => {
      const data = blob(body, 'CiphertextBlob', 1, 6144);
      const invalid = new KmsFault('InvalidCiphertextException', 'The ciphertext is invalid, was not produced by this key, or was encrypted under a different encryption context.');
      if (data.length < 1 + 16 + 12 + 16 || data[0] !== 1) throw invalid;
      const hex = data.subarray(1, 17).toString('hex');
      const blobKeyId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      const key = keys.get(blobKeyId);
      if (key === undefined) throw invalid;
      if (body['KeyId'] !== undefined && resolve(body['KeyId']).keyId !== key.keyId) {
        throw new KmsFault('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
      }
      const decipher = createDecipheriv('aes-256-gcm', symmetric(key, 'Decrypt'), data.subarray(17, 29));
      decipher.setAuthTag(data.subarray(29, 45));
      decipher.setAAD(contextAad(body['EncryptionContext']));
      let plaintext: Buffer;
      try {
        plaintext = Buffer.concat([decipher.update(data.subarray(45)), decipher.final()]);
      } catch {
        throw invalid;
      }
      return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    Sign: (body) => {
      const key = resolve(body['KeyId']);
      if (key.privateKey === undefined) throw new KmsFault('InvalidKeyUsageException', 'You cannot perform this operation (Sign) on a key with key usage ENCRYPT_DECRYPT.');
      const message = blob(body, 'Message', 1, 4096);
      const algorithm = body['SigningAlgorithm'];
      if (typeof algorithm !== 'string' || !(SIGNING_ALGORITHMS[key.keySpec] ?? []).includes(algorithm)) {
        throw new KmsFault('InvalidKeyUsageException', `The signing algorithm is not valid for a ${key.keySpec} key.`);
      }
      if ((body['MessageType'] ?? 'RAW') !== 'RAW' || algorithm === 'ED25519_PH_SHA_512') {
        throw new KmsFault('UnsupportedOperationException', 'only MessageType RAW is supported by the loopback server');
      }
      const signature = nodeSign(key.keySpec === 'ECC_NIST_P256' ? 'sha256' : null, message, key.privateKey);
      return { KeyId: key.arn, Signature: signature.toString('base64'), SigningAlgorithm: algorithm };
    },
    GetPublicKey: (body) => {
      const key = resolve(body['KeyId']);
      if (key.publicKeyDer === undefined) throw new KmsFault('UnsupportedOperationException', 'GetPublicKey is not valid for a symmetric key.');
      return {
        KeyId: key.arn,
        PublicKey: key.publicKeyDer.toString('base64'),
        KeySpec: key.keySpec,
        CustomerMasterKeySpec: key.keySpec,
        KeyUsage: 'SIGN_VERIFY',
        SigningAlgorithms: SIGNING_ALGORITHMS[key.keySpec] ?? [],
      };
    },
  };

  const server = await startLoopbackServer((req, res) => {
    const target = req.headers['x-amz-target'] ?? '';
    const op = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : '';
    calls[op || '(none)'] = (calls[op || '(none)'] ?? 0) + 1;
    if (req.method !== 'POST' || !req.headers['content-type']?.startsWith('application/x-amz-json-1.1')) {
      return sendJson(res, 400, { __type: 'SerializationException', Message: 'expected POST with application/x-amz-json-1.1' });
    }
    if (!req.headers.authorization?.startsWith('AWS4-HMAC-SHA256 ')) {
      return sendJson(res, 400, { __type: 'MissingAuthenticationTokenException', Message: 'missing SigV4 Authorization' });
    }
    const handler = operations[op];
    if (handler === undefined) {
      return sendJson(res, 400, { __type: 'UnknownOperationException', Message: 'operation not supported by the loopback server' });
    }
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString('utf8') || '{}');
    } catch {
      return sendJson(res, 400, { __type: 'SerializationException', Message: 'body is not JSON' });
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return sendJson(res, 400, { __type: 'SerializationException', Message: 'body must be a JSON object' });
    }
    try {
      return sendJson(res, 200, handler(body as Record<string, unknown>));
    } catch (err) {
      if (err instanceof KmsFault) return sendJson(res, 400, { __type: err.type, Message: err.message }, { 'x-amzn-errortype': err.type });
      throw err;
    }
  });

  const symmetricKey = createKey('SYMMETRIC_DEFAULT', 'alias/praxa-test');
  const signingKey = createKey('ECC_NIST_P256', 'alias/praxa-audit');
  return Object.assign(server, { calls, symmetricKey, signingKey, createKey });
}
