/**
 * The KeyProvider an app's settings ask for: the local key file (the embedded default) or AWS KMS (one key id for
 * wraps and checkpoint signatures, as the worker and monitor are configured). Plain settings in, so any app maps its
 * own config slice onto it.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { ConfigError } from '@praxa/core';
import { AwsKmsKeyProvider } from './aws-kms-key-provider.js';
import type { KeyProvider } from './key-provider.js';
import { LocalKeyProvider } from './local-key-provider.js';

export interface KeyProviderSettings {
  readonly kind: 'local' | 'aws-kms';
  readonly keyFile: string;
  readonly kmsKeyId?: string | undefined;
  readonly region?: string | undefined;
  /** Tests and the offline demo only: a loopback KMS. */
  readonly endpoint?: string | undefined;
}

export async function openKeyProvider(s: KeyProviderSettings): Promise<KeyProvider> {
  if (s.kind === 'local') return LocalKeyProvider.open({ path: s.keyFile });
  if (!s.kmsKeyId) throw new ConfigError([{ key: 'PRAXA_KMS_KEY_ID', problem: 'required when PRAXA_KEY_PROVIDER=aws-kms' }]);
  const client = new KMSClient({ ...(s.region ? { region: s.region } : {}), ...(s.endpoint ? { endpoint: s.endpoint } : {}) });
  return new AwsKmsKeyProvider({ client, wrappingKeyId: s.kmsKeyId, signingKeyId: s.kmsKeyId });
}
