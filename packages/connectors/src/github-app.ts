/**
 * GitHub as a GitHub App installation — Praxa's bot user on GitHub. Installation tokens are minted on demand from the
 * App's private key (`@octokit/auth-app`: an RS256 JWT, then `POST /app/installations/:id/access_tokens`). A fresh auth
 * instance per mint, so no plaintext token lingers in an in-process cache: the only cache is the sealed one in the
 * vault (see apps/worker). Whatever comes back must be an installation token (`ghs_`), or it is refused.
 */
import { createAppAuth } from "@octokit/auth-app";
import { request } from "@octokit/request";
import { z } from "zod";
import { PraxaError, UnavailableError } from "@praxa/core";
import { assertBotCredential } from "./bot-credentials.js";

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
    .filter((e): e is [string, string] => typeof e[1] === "string")
    .map(([name, level]) => `${name}:${level}`)
    .sort();
}

/**
 * What a token is narrowed to (GitHub's `repositories` and `permissions` fields of the access_tokens request): the
 * repository names (without owner — they are the installation account's) and the permissions it may use. Omitted
 * fields mean "all the installation has"; a run always narrows.
 */
export interface InstallationTokenScope {
  readonly repositories?: readonly string[];
  readonly permissions?: Readonly<Record<string, "read" | "write">>;
}

export async function mintInstallationToken(
  app: GithubAppConfig,
  installationId: number,
  scope: InstallationTokenScope = {},
): Promise<InstallationToken> {
  const auth = createAppAuth({
    appId: app.appId,
    privateKey: app.privateKeyPem,
    request: request.defaults({ baseUrl: app.baseUrl }),
  });
  let result: { token: string; expiresAt: string; permissions?: Record<string, string | undefined> };
  try {
    result = await auth({
      type: "installation",
      installationId,
      ...(scope.repositories ? { repositoryNames: [...scope.repositories] } : {}),
      ...(scope.permissions ? { permissions: { ...scope.permissions } } : {}),
    });
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    throw new UnavailableError(
      `GitHub refused to mint an installation token${typeof status === "number" ? ` (HTTP ${status})` : ""}`,
      { cause: err },
    );
  }
  assertBotCredential("github", result.token);
  return {
    token: result.token,
    expiresAt: new Date(result.expiresAt),
    permissions: permissionsToScopes(result.permissions ?? {}),
  };
}

const InstallationAnswer = z.object({
  id: z.number().int().positive(),
  app_id: z.number().int().positive(),
  account: z.object({ login: z.string().min(1), type: z.string().optional() }).nullable(),
  permissions: z.record(z.string(), z.string()),
  created_at: z.string().optional(),
  suspended_at: z.string().nullable().optional(),
});

export interface GithubInstallationInfo {
  readonly id: number;
  readonly appId: number;
  readonly account: string;
  readonly accountType: string | null;
  /** `name:read|write`, sorted — what the integration records as granted. */
  readonly permissions: readonly string[];
  readonly createdAt: Date | null;
  readonly suspended: boolean;
}

/** GitHub does not know this installation for this App (wrong id, uninstalled, or another App's). */
export class GithubInstallationNotFoundError extends PraxaError {
  readonly code = "GITHUB_INSTALLATION_NOT_FOUND";
  readonly httpStatus = 404;
}

/**
 * `GET /app/installations/{id}` as the App (an RS256 App JWT, nothing else): which account installed it, with which
 * permissions, when. No installation token is minted here.
 */
export async function lookupInstallation(
  app: GithubAppConfig,
  installationId: number,
): Promise<GithubInstallationInfo> {
  const auth = createAppAuth({ appId: app.appId, privateKey: app.privateKeyPem });
  let data: unknown;
  try {
    const { token } = await auth({ type: "app" });
    const res = await request("GET /app/installations/{installation_id}", {
      baseUrl: app.baseUrl,
      installation_id: installationId,
      headers: { authorization: `bearer ${token}` },
    });
    data = res.data;
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    if (status === 404) throw new GithubInstallationNotFoundError("GitHub does not know this installation of the App");
    throw new UnavailableError(
      `GitHub refused the installation lookup${typeof status === "number" ? ` (HTTP ${status})` : ""}`,
    );
  }
  const parsed = InstallationAnswer.safeParse(data);
  if (!parsed.success || parsed.data.account === null)
    throw new UnavailableError("GitHub answered the installation lookup with an unexpected shape");
  const i = parsed.data;
  const account = parsed.data.account;
  const created = i.created_at === undefined ? null : new Date(i.created_at);
  return {
    id: i.id,
    appId: i.app_id,
    account: account.login,
    accountType: account.type ?? null,
    permissions: permissionsToScopes(i.permissions),
    createdAt: created !== null && !Number.isNaN(created.getTime()) ? created : null,
    suspended: i.suspended_at !== undefined && i.suspended_at !== null,
  };
}
