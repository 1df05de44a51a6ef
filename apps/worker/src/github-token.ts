/**
 * An installation token for a run, as the workspace's GitHub bot, narrowed to what the run may touch: the run's
 * repository and the permissions its Skill's tools need (GitHub's `repositories` / `permissions` on the access_tokens
 * request). The vault is the only cache, under a name that says what the token is narrowed to — a token minted for
 * repo X is never opened for a run on repo Y. A token still valid for at least five minutes is opened from it
 * (lease-checked); otherwise a new one is minted, sealed to the workspace key with its expiry, and stored through
 * `vault_put_secret`. The plaintext lives only inside the run.
 */
import { createHash } from "node:crypto";
import { mintInstallationToken, type GithubAppConfig, type InstallationTokenScope } from "@praxa/connectors";
import { sealCredential, type KeyProvider } from "@praxa/crypto";
import {
  vaultPutSecret,
  vaultTryReadForRun,
  workspaceKeysForRun,
  workspacePublicKey,
  type RunLease,
  type WorkspaceScope,
} from "@praxa/db";
import { openSealedRecord } from "./credentials.js";

const REFRESH_MARGIN_MS = 5 * 60_000;
const VAULT_NAME = /^[a-z0-9][a-z0-9._:/-]{0,127}$/;

/**
 * The vault name of a token: `github/installation/<id>/<repos:names or any>/<permissions or any>`, e.g.
 * `github/installation/5150/repos:shop/contents:read.pull_requests:write` (GitHub repository names are case-insensitive);
 * when that would not fit the vault's name rule, `github/installation/<id>/sha256:<digest of the same text>`.
 */
export function installationTokenVaultName(installationId: number, scope: InstallationTokenScope): string {
  // Repository names hold neither `:` nor `/`; permissions are `name:level` — so the name is unambiguous.
  const repos = scope.repositories
    ? `repos:${[...scope.repositories]
        .map((r) => r.toLowerCase())
        .sort()
        .join(":")}`
    : "any";
  const perms = scope.permissions
    ? Object.entries(scope.permissions)
        .map(([k, v]) => `${k}:${v}`)
        .sort()
        .join(".")
    : "any";
  const readable = `github/installation/${installationId}/${repos}/${perms}`;
  if (VAULT_NAME.test(readable)) return readable;
  return `github/installation/${installationId}/sha256:${createHash("sha256").update(`${repos}/${perms}`).digest("hex")}`;
}

export async function installationTokenForRun(
  deps: { provider: KeyProvider; github: GithubAppConfig; now?: () => number },
  scope: WorkspaceScope,
  lease: RunLease,
  installationId: number,
  narrowTo: InstallationTokenScope = {},
  /** Skip the vault's copy (GitHub rejected it with 401: revoked before its expiry) and mint a new one. */
  options: { readonly fresh?: boolean } = {},
): Promise<string> {
  const now = deps.now ?? Date.now;
  const name = installationTokenVaultName(installationId, narrowTo);
  // The cached token and the key material to open it with, read together (one round trip; both lease-checked).
  const [cached, keys] =
    options.fresh === true
      ? [null, null]
      : await Promise.all([vaultTryReadForRun(scope, lease, name), workspaceKeysForRun(scope, lease)]);
  if (cached?.expires_at && keys && cached.expires_at.getTime() - now() > REFRESH_MARGIN_MS) {
    return Buffer.from(await openSealedRecord(deps.provider, scope, cached, async () => keys)).toString("utf8");
  }
  const minted = await mintInstallationToken(deps.github, installationId, narrowTo);
  const pub = await workspacePublicKey(scope);
  if (pub) {
    const sealed = await sealCredential(
      { keyId: pub.keyId, publicKey: pub.publicKey },
      { workspaceId: scope.workspaceId, provider: "github", purpose: "installation_token" },
      minted.token,
    );
    await vaultPutSecret(scope, {
      name,
      provider: "github",
      purpose: "installation_token",
      ciphertext: Buffer.from(sealed),
      keyId: pub.keyId,
      expiresAt: minted.expiresAt,
    });
  }
  return minted.token;
}
