/**
 * AwsKmsKeyProvider through the real AWS SDK (`@aws-sdk/client-kms`) against the loopback KMS.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DecryptCommand, GenerateDataKeyCommand, GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { createPublicKey, verify } from 'node:crypto';
import { PermissionDeniedError, UnavailableError } from '@praxa/core';
import { startKmsServer, type KmsServer } from '@praxa/testkit';
import { AwsKmsKeyProvider } from './aws-kms-key-provider.js';
import { mapKmsError } from './aws-kms-errors.js';
import { utf8 } from './bytes.js';
import { parseEncryptionContext } from './encryption-context.js';
import { DecryptFailedError, KeyNotFoundError, KeyProviderError, KeyUnavailableError } from './errors.js';
import { verifySignature } from './key-provider.js';
import { createTenantKey, openTenantKey } from './tenant-key.js';

let server: KmsServer;
let client: KMSClient;

const clientFor = (url: string): KMSClient =>
  new KMSClient({ region: 'us-west-1', endpoint: url, credentials: { accessKeyId: 'AKIDLOOPBACK', secretAccessKey: 'loopback' }, maxAttempts: 1 });

beforeAll(async () => {
  server = await startKmsServer();
  client = clientFor(server.url);
});
afterAll(async () => {
  client.destroy();
  await server.close();
});

const ctx = parseEncryptionContext({ tenant_id: 'tn_01jkms' });

describe('the AWS SDK against the loopback KMS', () => {
  it('right context → round trip; wrong context → the SDK surfaces InvalidCiphertextException', async () => {
    const generated = await client.send(
      new GenerateDataKeyCommand({ KeyId: 'alias/praxa-test', KeySpec: 'AES_256', EncryptionContext: { tenant_id: 'tn_01jkms' } }),
    );
    expect(generated.Plaintext).toHaveLength(32);
    expect(generated.KeyId).toBe(server.symmetricKey.arn);
    const ok = await client.send(new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob, EncryptionContext: { tenant_id: 'tn_01jkms' } }));
    expect(Buffer.from(ok.Plaintext ?? []).equals(Buffer.from(generated.Plaintext ?? []))).toBe(true);

    const wrong = await client
      .send(new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob, EncryptionContext: { tenant_id: 'tn_01jother' } }))
      .catch((e: unknown) => e);
    expect(wrong).toMatchObject({ name: 'InvalidCiphertextException', $fault: 'client' });
    expect(mapKmsError('Decrypt', wrong)).toBeInstanceOf(DecryptFailedError);
  });

  it('Sign + GetPublicKey: the signature verifies with the returned SubjectPublicKeyInfo DER', async () => {
    const message = utf8('checkpoint bytes');
    const pub = await client.send(new GetPublicKeyCommand({ KeyId: 'alias/praxa-audit' }));
    expect(pub.KeySpec).toBe('ECC_NIST_P256');
    expect(pub.SigningAlgorithms).toEqual(['ECDSA_SHA_256']);
    const signed = await client.send(new SignCommand({ KeyId: 'alias/praxa-audit', Message: message, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }));
    const key = createPublicKey({ key: Buffer.from(pub.PublicKey ?? []), format: 'der', type: 'spki' });
    expect(verify('sha256', message, key, Buffer.from(signed.Signature ?? []))).toBe(true);
  });
});

describe('AwsKmsKeyProvider', () => {
  it('maps a wrong encryption context to DecryptFailedError (reason kms-refused) and round-trips the right one', async () => {
    const provider = new AwsKmsKeyProvider({ client, wrappingKeyId: server.symmetricKey.keyId, signingKeyId: 'alias/praxa-audit' });
    const tenantKey = await createTenantKey(provider, 'tn_01jkms');
    const reopened = await openTenantKey(provider, tenantKey.toRecord());
    expect(reopened.keyId).toBe(tenantKey.keyId);
    const err = await openTenantKey(provider, { ...tenantKey.toRecord(), tenantId: 'tn_01jother' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecryptFailedError);
    expect(err).toMatchObject({ code: 'DECRYPT_FAILED', reason: 'kms-refused', details: { operation: 'Decrypt', awsError: 'InvalidCiphertextException' } });
  });

  it('sends every call with the EncryptionContext naming the tenant, and asks GetPublicKey once', async () => {
    const before = { ...server.calls };
    const provider = new AwsKmsKeyProvider({ client, wrappingKeyId: 'alias/praxa-test', signingKeyId: 'alias/praxa-audit' });
    const start = server.requests.length;
    const wrapped = await provider.wrap(utf8('x'), ctx);
    await provider.unwrap(wrapped, ctx);
    await provider.generateDataKey(ctx);
    for (const req of server.requests.slice(start)) {
      expect(JSON.parse(req.body.toString()).EncryptionContext).toEqual({ tenant_id: 'tn_01jkms' });
    }
    await provider.sign(utf8('a'));
    await provider.sign(utf8('b'));
    await provider.publicKey();
    expect((server.calls['GetPublicKey'] ?? 0) - (before['GetPublicKey'] ?? 0)).toBe(1);
    expect((server.calls['Sign'] ?? 0) - (before['Sign'] ?? 0)).toBe(2);
    expect((server.calls['Encrypt'] ?? 0) - (before['Encrypt'] ?? 0)).toBe(1);
    expect((server.calls['Decrypt'] ?? 0) - (before['Decrypt'] ?? 0)).toBe(1);
    expect((server.calls['GenerateDataKey'] ?? 0) - (before['GenerateDataKey'] ?? 0)).toBe(1);
  });

  it('signs with an ECC_NIST_EDWARDS25519 key as ED25519_SHA_512', async () => {
    const ed = server.createKey('ECC_NIST_EDWARDS25519', 'alias/praxa-audit-ed25519');
    const provider = new AwsKmsKeyProvider({ client, wrappingKeyId: 'alias/praxa-test', signingKeyId: ed.arn });
    const publicKey = await provider.publicKey();
    expect(publicKey).toMatchObject({ algorithm: 'ed25519', keyId: ed.arn });
    const message = utf8('checkpoint');
    expect(verifySignature(publicKey, message, await provider.sign(message))).toBe(true);
  });

  it('a ciphertext of another KMS key is refused (IncorrectKeyException → DecryptFailedError)', async () => {
    const other = server.createKey('SYMMETRIC_DEFAULT');
    const a = new AwsKmsKeyProvider({ client, wrappingKeyId: other.keyId, signingKeyId: 'alias/praxa-audit' });
    const b = new AwsKmsKeyProvider({ client, wrappingKeyId: 'alias/praxa-test', signingKeyId: 'alias/praxa-audit' });
    const err = await b.unwrap(await a.wrap(utf8('foreign'), ctx), ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DECRYPT_FAILED', details: { awsError: 'IncorrectKeyException' } });
  });

  it('maps an unknown key to KeyNotFoundError and a symmetric signing key to KeyProviderError', async () => {
    const missing = new AwsKmsKeyProvider({ client, wrappingKeyId: 'alias/does-not-exist', signingKeyId: server.symmetricKey.arn });
    await expect(missing.generateDataKey(ctx)).rejects.toThrow(KeyNotFoundError);
    await expect(missing.sign(utf8('x'))).rejects.toThrow(KeyProviderError);
  });

  it('maps an unreachable KMS to UnavailableError (retryable)', async () => {
    const dead = await startKmsServer();
    const url = dead.url;
    await dead.close();
    const offline = clientFor(url);
    try {
      const provider = new AwsKmsKeyProvider({ client: offline, wrappingKeyId: 'alias/praxa-test', signingKeyId: 'alias/praxa-audit' });
      const err = await provider.generateDataKey(ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnavailableError);
      expect((err as UnavailableError).retryable).toBe(true);
    } finally {
      offline.destroy();
    }
  });

  it('maps the remaining KMS error families', () => {
    const aws = (name: string, status = 400): unknown => Object.assign(new Error('m'), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
    expect(mapKmsError('Decrypt', aws('AccessDeniedException'))).toBeInstanceOf(PermissionDeniedError);
    expect(mapKmsError('Decrypt', aws('DisabledException'))).toBeInstanceOf(KeyUnavailableError);
    expect(mapKmsError('Decrypt', aws('KMSInvalidStateException'))).toBeInstanceOf(KeyUnavailableError);
    expect(mapKmsError('Decrypt', aws('ThrottlingException'))).toBeInstanceOf(UnavailableError);
    expect(mapKmsError('Decrypt', aws('KMSInternalException', 500))).toBeInstanceOf(UnavailableError);
    expect(mapKmsError('Encrypt', aws('InvalidKeyUsageException'))).toBeInstanceOf(KeyProviderError);
  });
});
