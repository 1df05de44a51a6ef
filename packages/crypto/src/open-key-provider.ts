/**
 * The KeyProvider an app's settings ask for: AWS KMS (production: a symmetric wrapping key and an asymmetric signing
 * key, two keys) or the local key file (development, the demo, embedded installs; in production only by explicit
 * opt-in, and then never created). Plain settings in, so any app maps its own config slice onto it; the config
 * schema (`keyProviderRules` in @praxa/config) has already refused what production must not run with.
 */
import { KMSClient } from "@aws-sdk/client-kms";
import { ConfigError, isPraxaError } from "@praxa/core";
import { AwsKmsKeyProvider } from "./aws-kms-key-provider.js";
import { KeyNotFoundError, KeyProviderError } from "./errors.js";
import type { KeyProvider } from "./key-provider.js";
import { LocalKeyProvider } from "./local-key-provider.js";

export interface KeyProviderSettings {
  readonly kind: "local" | "aws-kms";
  readonly keyFile: string;
  /** The symmetric ENCRYPT_DECRYPT key (PRAXA_KMS_WRAP_KEY_ID). */
  readonly kmsWrapKeyId?: string | undefined;
  /** The asymmetric SIGN_VERIFY key (PRAXA_KMS_SIGN_KEY_ID). */
  readonly kmsSignKeyId?: string | undefined;
  readonly region?: string | undefined;
  /** Tests and the offline demo only: a loopback KMS. */
  readonly endpoint?: string | undefined;
  /** NODE_ENV=production: a missing local key file is a boot error, never created. */
  readonly production?: boolean;
  /** Told once when a production process runs on a local key file (the app logs it at warn). */
  readonly onLocalKeyFileInProduction?: () => void;
}

/** The variable a failed KMS boot check points at, by the operation that failed. */
const VARIABLE_OF: Readonly<Record<string, string>> = {
  DescribeKey: "PRAXA_KMS_WRAP_KEY_ID",
  GetPublicKey: "PRAXA_KMS_SIGN_KEY_ID",
};

export async function openKeyProvider(s: KeyProviderSettings): Promise<KeyProvider> {
  if (s.kind === "local") {
    if (s.production) s.onLocalKeyFileInProduction?.();
    return LocalKeyProvider.open({ path: s.keyFile, create: !s.production });
  }
  const missing = [
    ...(s.kmsWrapKeyId ? [] : [{ key: "PRAXA_KMS_WRAP_KEY_ID", problem: "required when PRAXA_KEY_PROVIDER=aws-kms" }]),
    ...(s.kmsSignKeyId ? [] : [{ key: "PRAXA_KMS_SIGN_KEY_ID", problem: "required when PRAXA_KEY_PROVIDER=aws-kms" }]),
  ];
  if (missing.length > 0 || !s.kmsWrapKeyId || !s.kmsSignKeyId) throw new ConfigError(missing);
  const client = new KMSClient({
    ...(s.region ? { region: s.region } : {}),
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
  });
  const provider = new AwsKmsKeyProvider({ client, wrappingKeyId: s.kmsWrapKeyId, signingKeyId: s.kmsSignKeyId });
  try {
    await provider.checkKeys();
  } catch (err) {
    if (err instanceof KeyProviderError || err instanceof KeyNotFoundError) {
      const role = err.details?.["role"];
      const key =
        role === "wrap"
          ? "PRAXA_KMS_WRAP_KEY_ID"
          : role === "sign"
            ? "PRAXA_KMS_SIGN_KEY_ID"
            : (VARIABLE_OF[String(err.details?.["operation"])] ?? "PRAXA_KEY_PROVIDER");
      const problem =
        key === "PRAXA_KMS_WRAP_KEY_ID"
          ? `KMS refused it as the wrapping key (${err.code}): it must name a SYMMETRIC_DEFAULT key with key usage ENCRYPT_DECRYPT`
          : `KMS refused it as the signing key (${err.code}): it must name an ECC_NIST_P256 (or ECC_NIST_EDWARDS25519) key with key usage SIGN_VERIFY`;
      client.destroy();
      throw new ConfigError([{ key, problem }], { cause: err });
    }
    client.destroy();
    throw isPraxaError(err) ? err : new KeyProviderError("the KMS key check failed", { cause: err });
  }
  return provider;
}
