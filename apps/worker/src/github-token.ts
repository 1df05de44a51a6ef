/**
 * An installation token for a run, as the workspace's GitHub bot. The vault is the only cache: a token still valid for
 * at least five minutes is opened from it (lease-checked); otherwise a new one is minted, sealed to the workspace key
 * with its expiry, and stored through `vault_put_secret`. The plaintext lives only inside the run.
 */
import { mintInstallationToken, type GithubAppConfig } from '@praxa/connectors';
import { sealCredential, type KeyProvider } from '@praxa/crypto';
import { vaultPutSecret, vaultTryReadForRun, workspacePublicKey, type RunLease, type WorkspaceScope } from '@praxa/db';
import { openVaultRecordForRun } from './credentials.js';

const REFRESH_MARGIN_MS = 5 * 60_000;

export async function installationTokenForRun(deps: { provider: KeyProvider; github: GithubAppConfig; now?: () => number }, scope: WorkspaceScope, lease: RunLease, installationId: number): Promise<string> {
  const now = deps.now ?? Date.now;
  const name = `github/installation/${installationId}`;
  const cached = await vaultTryReadForRun(scope, lease, name);
  if (cached?.expires_at && cached.expires_at.getTime() - now() > REFRESH_MARGIN_MS) {
    return Buffer.from(await openVaultRecordForRun(deps.provider, scope, lease, cached)).toString('utf8');
  }
  const minted = await mintInstallationToken(deps.github, installationId);
  const pub = await workspacePublicKey(scope);
  if (pub) {
    const sealed = await sealCredential({ keyId: pub.keyId, publicKey: pub.publicKey }, { workspaceId: scope.workspaceId, provider: 'github', purpose: 'installation_token' }, minted.token);
    await vaultPutSecret(scope, { name, provider: 'github', purpose: 'installation_token', ciphertext: Buffer.from(sealed), keyId: pub.keyId, expiresAt: minted.expiresAt });
  }
  return minted.token;
}
