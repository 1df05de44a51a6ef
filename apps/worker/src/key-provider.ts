/** The worker's key provider, from its config: the local key file (embedded default) or AWS KMS. */
import { KMSClient } from '@aws-sdk/client-kms';
import { ConfigError } from '@praxa/core';
import type { WorkerConfig } from '@praxa/config';
import { AwsKmsKeyProvider, LocalKeyProvider, type KeyProvider } from '@praxa/crypto';

export async function createKeyProvider(config: Pick<WorkerConfig, 'PRAXA_KEY_PROVIDER' | 'PRAXA_KEY_FILE' | 'PRAXA_KMS_KEY_ID' | 'AWS_REGION' | 'PRAXA_KMS_ENDPOINT'>): Promise<KeyProvider> {
  if (config.PRAXA_KEY_PROVIDER === 'local') return LocalKeyProvider.open({ path: config.PRAXA_KEY_FILE });
  if (!config.PRAXA_KMS_KEY_ID) throw new ConfigError([{ key: 'PRAXA_KMS_KEY_ID', problem: 'required when PRAXA_KEY_PROVIDER=aws-kms' }]);
  const client = new KMSClient({ ...(config.AWS_REGION ? { region: config.AWS_REGION } : {}), ...(config.PRAXA_KMS_ENDPOINT ? { endpoint: config.PRAXA_KMS_ENDPOINT } : {}) });
  return new AwsKmsKeyProvider({ client, wrappingKeyId: config.PRAXA_KMS_KEY_ID, signingKeyId: config.PRAXA_KMS_KEY_ID });
}
