/**
 * `openCredentialsForRun`: the only place a workspace's credentials are opened — by a worker, for a run it holds
 * (every database read presents the lease), inside that run. The plaintext is returned to the caller for this run and
 * never logged, stored or returned past it; the workspace private key is dropped when this function returns.
 */
import {
  DecryptFailedError,
  openCredential,
  openTenantKey,
  openWorkspaceKey,
  sealedCredentialKeyId,
  type KeyProvider,
} from "@praxa/crypto";
import {
  vaultReadForRun,
  workspaceKeysForRun,
  type RunKeyMaterial,
  type RunLease,
  type VaultRecord,
  type WorkspaceScope,
} from "@praxa/db";

export async function openCredentialForRun(
  provider: KeyProvider,
  scope: WorkspaceScope,
  lease: RunLease,
  name: string,
): Promise<Uint8Array> {
  return openVaultRecordForRun(provider, scope, lease, await vaultReadForRun(scope, lease, name));
}

/** Open a vault record already read for this run (saves a second read when the caller looked it up first). */
export async function openVaultRecordForRun(
  provider: KeyProvider,
  scope: WorkspaceScope,
  lease: RunLease,
  secret: VaultRecord,
): Promise<Uint8Array> {
  return openSealedRecord(provider, scope, secret, () => workspaceKeysForRun(scope, lease));
}

/**
 * Open a sealed vault record with the workspace key it was sealed to, the key material read through `readKeys` (a
 * lease-checked definer function: a run's, or a notification's). The workspace private key is dropped on return.
 */
export async function openSealedRecord(
  provider: KeyProvider,
  scope: WorkspaceScope,
  secret: Pick<VaultRecord, "ciphertext" | "provider" | "purpose">,
  readKeys: () => Promise<readonly RunKeyMaterial[]>,
): Promise<Uint8Array> {
  const sealedKeyId = sealedCredentialKeyId(secret.ciphertext);
  const keys = await readKeys();
  const key = keys.find((k) => k.key_id === sealedKeyId);
  if (!key) throw new DecryptFailedError("wrong-key", { details: { keyId: sealedKeyId } });
  const tenantKey = await openTenantKey(provider, {
    keyId: key.tenant_key_id,
    tenantId: key.tenant_id,
    wrappedDataKey: key.tenant_wrapped_key,
    uses: 0,
  });
  const privateKey = await openWorkspaceKey(tenantKey, {
    keyId: key.key_id,
    tenantId: key.tenant_id,
    workspaceId: scope.workspaceId,
    publicKey: key.public_key,
    wrappedPrivateKey: key.wrapped_private_key,
  });
  return openCredential(
    privateKey,
    { workspaceId: scope.workspaceId, provider: secret.provider, purpose: secret.purpose },
    secret.ciphertext,
  );
}
