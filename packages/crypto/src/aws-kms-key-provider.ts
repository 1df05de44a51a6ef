/**
 * `AwsKmsKeyProvider`: the production `KeyProvider`, over AWS KMS with `@aws-sdk/client-kms`.
 *
 * - Data keys: `GenerateDataKey` (KeySpec AES_256) under a symmetric KMS key; wrap: `Encrypt`; unwrap: `Decrypt`
 *   with the expected `KeyId`. Every call carries the `EncryptionContext` (which names the tenant), which KMS binds
 *   to the ciphertext: a different context → `InvalidCiphertextException` → `DecryptFailedError` (reason
 *   `kms-refused`). KMS rotates the backing key behind the key id; old ciphertexts keep decrypting.
 * - Signing: `Sign` with an asymmetric SIGN_VERIFY key, MessageType RAW (≤ 4096 bytes, the same limit the local
 *   provider enforces). The algorithm follows the key's spec, learned once from `GetPublicKey`:
 *   ECC_NIST_P256 → ECDSA_SHA_256 (DER signatures; the recommended spec), ECC_NIST_EDWARDS25519 → ED25519_SHA_512.
 *   Any other spec → `KeyProviderError`.
 * - Two keys, because KMS gives a key one usage for life: a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key wraps, an
 *   asymmetric SIGN_VERIFY key signs (KMS refuses Encrypt on the one and Sign on the other with
 *   `InvalidKeyUsageException`). `checkKeys()` (called at boot) asks KMS for both keys' usage and spec — `DescribeKey`
 *   on the wrapping key, `GetPublicKey` on the signing key — so a wrong key stops the process at start, not at the
 *   first run.
 * - SDK and transport errors are mapped by aws-kms-errors.ts.
 */
import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetPublicKeyCommand,
  SignCommand,
  type KMSClient,
  type SigningAlgorithmSpec,
} from "@aws-sdk/client-kms";
import { copyBytes } from "./bytes.js";
import { parseEncryptionContext, type EncryptionContext } from "./encryption-context.js";
import { mapKmsError, type KmsOperation } from "./aws-kms-errors.js";
import { KeyProviderError } from "./errors.js";
import {
  assertSignMessage,
  assertWrapPlaintext,
  DATA_KEY_BYTES,
  type DataKey,
  type KeyProvider,
  type SigningAlgorithm,
  type SigningPublicKey,
} from "./key-provider.js";

export interface AwsKmsKeyProviderOptions {
  /** A KMS client (region, credentials, endpoint are its business). */
  readonly client: KMSClient;
  /** The symmetric ENCRYPT_DECRYPT key for data keys and wraps: key id, ARN, alias name or alias ARN. */
  readonly wrappingKeyId: string;
  /** The asymmetric SIGN_VERIFY key for checkpoints (ECC_NIST_P256 or ECC_NIST_EDWARDS25519). */
  readonly signingKeyId: string;
}

const SPEC_TO_ALGORITHM: Readonly<
  Record<string, { readonly kms: SigningAlgorithmSpec; readonly ours: SigningAlgorithm }>
> = {
  ECC_NIST_P256: { kms: "ECDSA_SHA_256", ours: "ecdsa-p256-sha256" },
  ECC_NIST_EDWARDS25519: { kms: "ED25519_SHA_512", ours: "ed25519" },
};

interface SigningKeyInfo {
  readonly publicKey: SigningPublicKey;
  readonly kmsAlgorithm: SigningAlgorithmSpec;
}

export class AwsKmsKeyProvider implements KeyProvider {
  readonly kind = "aws-kms" as const;
  private readonly client: KMSClient;
  private readonly wrappingKeyId: string;
  private readonly signingKeyId: string;
  private signingKey: Promise<SigningKeyInfo> | undefined;

  constructor(options: AwsKmsKeyProviderOptions) {
    this.client = options.client;
    this.wrappingKeyId = options.wrappingKeyId;
    this.signingKeyId = options.signingKeyId;
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    const ctx = parseEncryptionContext(context);
    const out = await this.call("GenerateDataKey", () =>
      this.client.send(
        new GenerateDataKeyCommand({ KeyId: this.wrappingKeyId, KeySpec: "AES_256", EncryptionContext: { ...ctx } }),
      ),
    );
    if (out.Plaintext?.length !== DATA_KEY_BYTES || out.CiphertextBlob === undefined) {
      throw new KeyProviderError("KMS GenerateDataKey returned no usable data key", {
        details: { operation: "GenerateDataKey" },
      });
    }
    return { plaintext: copyBytes(out.Plaintext), wrapped: copyBytes(out.CiphertextBlob) };
  }

  async wrap(plaintext: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    const ctx = parseEncryptionContext(context);
    assertWrapPlaintext(plaintext);
    const out = await this.call("Encrypt", () =>
      this.client.send(
        new EncryptCommand({ KeyId: this.wrappingKeyId, Plaintext: plaintext, EncryptionContext: { ...ctx } }),
      ),
    );
    if (out.CiphertextBlob === undefined)
      throw new KeyProviderError("KMS Encrypt returned no ciphertext", { details: { operation: "Encrypt" } });
    return copyBytes(out.CiphertextBlob);
  }

  async unwrap(wrapped: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    const ctx = parseEncryptionContext(context);
    const out = await this.call("Decrypt", () =>
      this.client.send(
        new DecryptCommand({ KeyId: this.wrappingKeyId, CiphertextBlob: wrapped, EncryptionContext: { ...ctx } }),
      ),
    );
    if (out.Plaintext === undefined)
      throw new KeyProviderError("KMS Decrypt returned no plaintext", { details: { operation: "Decrypt" } });
    return copyBytes(out.Plaintext);
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    assertSignMessage(message);
    const { kmsAlgorithm } = await this.signingKeyInfo();
    const out = await this.call("Sign", () =>
      this.client.send(
        new SignCommand({
          KeyId: this.signingKeyId,
          Message: message,
          MessageType: "RAW",
          SigningAlgorithm: kmsAlgorithm,
        }),
      ),
    );
    if (out.Signature === undefined)
      throw new KeyProviderError("KMS Sign returned no signature", { details: { operation: "Sign" } });
    return copyBytes(out.Signature);
  }

  /**
   * Boot check: the wrapping key is a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key and the signing key a SIGN_VERIFY key of a
   * supported spec, and they are two keys. Throws `KeyProviderError` with `details.role` ('wrap' | 'sign').
   */
  async checkKeys(): Promise<void> {
    const out = await this.call("DescribeKey", () =>
      this.client.send(new DescribeKeyCommand({ KeyId: this.wrappingKeyId })),
    );
    const meta = out.KeyMetadata;
    if (meta?.KeyUsage !== "ENCRYPT_DECRYPT" || meta.KeySpec !== "SYMMETRIC_DEFAULT") {
      throw new KeyProviderError(
        "the KMS wrapping key must be a SYMMETRIC_DEFAULT key with key usage ENCRYPT_DECRYPT",
        {
          details: {
            operation: "DescribeKey",
            role: "wrap",
            keySpec: meta?.KeySpec ?? "",
            keyUsage: meta?.KeyUsage ?? "",
          },
        },
      );
    }
    let signing: SigningKeyInfo;
    try {
      signing = await this.signingKeyInfo();
    } catch (err) {
      if (err instanceof KeyProviderError && err.details?.["role"] === undefined) {
        throw new KeyProviderError(err.message, { cause: err, details: { ...err.details, role: "sign" } });
      }
      throw err;
    }
    if (meta.Arn !== undefined && meta.Arn === signing.publicKey.keyId) {
      throw new KeyProviderError("the KMS wrapping and signing keys are one key", {
        details: { operation: "DescribeKey", role: "sign" },
      });
    }
  }

  async publicKey(): Promise<SigningPublicKey> {
    return (await this.signingKeyInfo()).publicKey;
  }

  /** `GetPublicKey` once per provider; a failure is not cached. */
  private signingKeyInfo(): Promise<SigningKeyInfo> {
    this.signingKey ??= this.fetchSigningKey().catch((err: unknown) => {
      this.signingKey = undefined;
      throw err;
    });
    return this.signingKey;
  }

  private async fetchSigningKey(): Promise<SigningKeyInfo> {
    const out = await this.call("GetPublicKey", () =>
      this.client.send(new GetPublicKeyCommand({ KeyId: this.signingKeyId })),
    );
    const spec = out.KeySpec ?? "";
    const algorithm = SPEC_TO_ALGORITHM[spec];
    if (
      out.KeyUsage !== "SIGN_VERIFY" ||
      algorithm === undefined ||
      !(out.SigningAlgorithms ?? []).includes(algorithm.kms)
    ) {
      throw new KeyProviderError(
        "the KMS signing key must be a SIGN_VERIFY key of spec ECC_NIST_P256 or ECC_NIST_EDWARDS25519",
        {
          details: { operation: "GetPublicKey", keySpec: spec, keyUsage: out.KeyUsage ?? "" },
        },
      );
    }
    if (out.PublicKey === undefined || out.KeyId === undefined) {
      throw new KeyProviderError("KMS GetPublicKey returned no public key", { details: { operation: "GetPublicKey" } });
    }
    return {
      publicKey: { keyId: out.KeyId, algorithm: algorithm.ours, spki: copyBytes(out.PublicKey) },
      kmsAlgorithm: algorithm.kms,
    };
  }

  private async call<T>(operation: KmsOperation, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (err) {
      throw mapKmsError(operation, err);
    }
  }
}
