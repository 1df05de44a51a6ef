/**
 * GitHub as a GitHub App installation — Praxa's bot user on GitHub. Installation tokens are minted on demand from the
 * App's private key (`@octokit/auth-app`: an RS256 JWT, then `POST /app/installations/:id/access_tokens`). A fresh auth
 * instance per mint, so no plaintext token lingers in an in-process cache: the only cache is the sealed one in the
 * vault (see apps/worker). Whatever comes back must be an installation token (`ghs_`), or it is refused.
 */
import { createAppAuth } from '@octokit/auth-app';
import { request } from '@octokit/request';
import { UnavailableError } from '@praxa/core';
import { assertBotCredential } from './bot-credentials.js';

export interface GithubAppConfig {
  readonly appId: number;
  readonly privateKeyPem: string;
  /** https://api.github.com, a GitHub Enterprise Server URL, or the sandbox. */
  readonly baseUrl: string;
}

export interface InstallationToken {
  readonly token: string;
  readonly expiresAt: Date;
  /** `name:read|write`, as recorded on the integration. */
  readonly permissions: readonly string[];
}

export function permissionsToScopes(permissions: Readonly<Record<string, string | undefined>>): string[] {
  return Object.entries(permissions)
    .filter((e): e is [string, string] => typeof e[1] === 'string')
    .map(([name, level]) => `${name}:${level}`)
    .sort();
}

export async function mintInstallationToken(app: GithubAppConfig, installationId: number): Promise<InstallationToken> {
  const auth = createAppAuth({ appId: app.appId, privateKey: app.privateKeyPem, request: request.defaults({ baseUrl: app.baseUrl }) });
  let result: { token: string; expiresAt: string; permissions?: Record<string, string | undefined> };
  try {
    result = await auth({ type: 'installation', installationId });
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    throw new UnavailableError(`GitHub refused to mint an installation token${typeof status === 'number' ? ` (HTTP ${status})` : ''}`, { cause: err });
  }
  assertBotCredential('github', result.token);
  return { token: result.token, expiresAt: new Date(result.expiresAt), permissions: permissionsToScopes(result.permissions ?? {}) };
}
