/**
 * The keys job: key material is created and rotated only here, in the worker, which alone can use the key provider to
 * unwrap. Under the workspace's key-operation lease (Postgres refuses any install without it): make the tenant's data
 * key if it has none (KMS GenerateDataKey, context {tenant_id}), open it, generate a new X25519 workspace key pair,
 * wrap its private half under the tenant key (AAD-bound to tenant + workspace + key id + public key) and install it —
 * the previous active key is retired, not destroyed, so old ciphertexts still open.
 */
import { randomBytes } from 'node:crypto';
import { UnavailableError, type WorkspaceId } from '@praxa/core';
import { createTenantKey, createWorkspaceKey, openTenantKey, type KeyProvider, type TenantKey } from '@praxa/crypto';
import { acquireKeyOperation, installTenantKey, installWorkspaceKey, keysState, releaseKeyOperation, type Database } from '@praxa/db';

export interface KeysJobDeps {
  readonly database: Database;
  readonly provider: KeyProvider;
  readonly holder: string;
}

/** Key ids in the database's format (lower-case, prefixed). */
const keyId = (prefix: 'tdk' | 'wk') => `${prefix}_${randomBytes(16).toString('hex')}`;

export async function runKeysJob(deps: KeysJobDeps, workspaceId: WorkspaceId, operation: 'create' | 'rotate'): Promise<{ keyId: string; created: boolean }> {
  const lease = await acquireKeyOperation(deps.database, workspaceId, deps.holder, 60);
  if (!lease) throw new UnavailableError('another key operation holds this workspace’s lease; retry later');
  try {
    const state = await keysState(deps.database, lease);
    const tenantId = state[0]?.tenant_id;
    if (!tenantId) throw new UnavailableError('workspace has no tenant');
    const active = state.find((r) => r.workspace_key_status === 'active');
    if (operation === 'create' && active?.workspace_key_id) return { keyId: active.workspace_key_id, created: false };

    let tenantKey: TenantKey;
    const stored = state[0];
    if (stored?.tenant_key_id && stored.tenant_wrapped_key) {
      tenantKey = await openTenantKey(deps.provider, { keyId: stored.tenant_key_id, tenantId, wrappedDataKey: stored.tenant_wrapped_key, uses: 0 });
    } else {
      tenantKey = await createTenantKey(deps.provider, tenantId, { keyId: keyId('tdk') });
      const record = tenantKey.toRecord();
      await installTenantKey(deps.database, lease, record.keyId, Buffer.from(record.wrappedDataKey), deps.provider.kind);
    }
    const wk = await createWorkspaceKey(tenantKey, workspaceId, { keyId: keyId('wk') });
    if (!wk.wrappedPrivateKey) throw new UnavailableError('workspace key was not wrapped');
    await installWorkspaceKey(deps.database, lease, { keyId: wk.keyId, tenantKeyId: tenantKey.keyId, publicKey: Buffer.from(wk.publicKey), wrappedPrivateKey: Buffer.from(wk.wrappedPrivateKey) });
    return { keyId: wk.keyId, created: true };
  } finally {
    await releaseKeyOperation(deps.database, lease);
  }
}
