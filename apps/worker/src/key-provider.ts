/**
 * The worker's key provider, from its config: AWS KMS (production: PRAXA_KMS_WRAP_KEY_ID wraps, PRAXA_KMS_SIGN_KEY_ID
 * signs checkpoints; both checked with KMS at boot) or the local key file (embedded default; in production only with
 * PRAXA_ALLOW_LOCAL_KEY_FILE_IN_PRODUCTION=true, logged at warn, and never created).
 */
import type { WorkerConfig } from "@praxa/config";
import { openKeyProvider, type KeyProvider } from "@praxa/crypto";

export type KeyProviderConfig = Pick<
  WorkerConfig,
  | "NODE_ENV"
  | "PRAXA_KEY_PROVIDER"
  | "PRAXA_KEY_FILE"
  | "PRAXA_KMS_WRAP_KEY_ID"
  | "PRAXA_KMS_SIGN_KEY_ID"
  | "AWS_REGION"
  | "PRAXA_KMS_ENDPOINT"
>;

export async function createKeyProvider(
  config: KeyProviderConfig,
  onLocalKeyFileInProduction?: () => void,
): Promise<KeyProvider> {
  return openKeyProvider({
    kind: config.PRAXA_KEY_PROVIDER,
    keyFile: config.PRAXA_KEY_FILE,
    kmsWrapKeyId: config.PRAXA_KMS_WRAP_KEY_ID,
    kmsSignKeyId: config.PRAXA_KMS_SIGN_KEY_ID,
    region: config.AWS_REGION,
    endpoint: config.PRAXA_KMS_ENDPOINT,
    production: config.NODE_ENV === "production",
    ...(onLocalKeyFileInProduction ? { onLocalKeyFileInProduction } : {}),
  });
}
