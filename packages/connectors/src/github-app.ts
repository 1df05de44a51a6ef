/**
 * GitHub as a GitHub App installation — Praxa's bot user on GitHub. Installation tokens are minted on demand from the
 * App's private key (`@octokit/auth-app`: an RS256 JWT, then `POST /app/installations/:id/access_tokens`). A fresh auth
 * instance per mint, so no plaintext token lingers in an in-process cache: the only cache is the sealed one in the
 * vault (see apps/worker). Whatever comes back must be an installation token (`ghs_`), or it is refused.
 *
 * What GitHub's answer to the token request means (docs/failures.md):
 *  - `404`: the App is not installed there (uninstalled, or the installation never existed) → `IntegrationGoneError`,
 *    permanent: the worker marks the integration gone and fails its runs once;
 *  - `401`: GitHub refused the App's own JWT (wrong App id or private key, a clock far off) → `GithubAppCredentialsError`,
 *    permanent and the operator's to fix — nothing a workspace did;
 *  - `403` / `429` rate limits → `ThrottledError({resource: "github"})` (github-errors.ts);
 *  - another `403` (e.g. a suspended installation) or `422` (permissions or repositories the installation does not
 *    grant) → `GithubTokenRefusedError`, permanent for this run;
 *  - `5xx`, a network failure → `UnavailableError`, retried with backoff.
 */
import { createAppAuth } from "@octokit/auth-app";
import { request } from "@octokit/request";
import { z } from "zod";
import { IntegrationGoneError, PraxaError, UnavailableError } from "@praxa/core";
import { assertBotCredential } from "./bot-credentials.js";
import { githubStatus, githubThrottle } from "./github-errors.js";
import { GithubRequestError } from "./github-repo-client.js";

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

/** GitHub refused the App's own credentials (its JWT): the operator's configuration, not the workspace's. Permanent. */
export class GithubAppCredentialsError extends PraxaError {
  readonly code = "GITHUB_APP_CREDENTIALS_REJECTED";
  readonly httpStatus = 502;
}

/** GitHub refused this installation token request for good (a suspended installation, permissions not granted). */
export class GithubTokenRefusedError extends PraxaError {
  readonly code = "GITHUB_TOKEN_REFUSED";
  readonly httpStatus = 502;
}

/** A failed token request by intent; see the module header. GitHub's text is never copied. */
function tokenRequestError(err: unknown, installationId: number): PraxaError {
  const what = "the installation token";
  const status = githubStatus(err);
  const throttled = githubThrottle(err, what, Date.now(), { installationId });
  if (throttled !== null) return throttled;
  const details = { installationId, ...(status === undefined ? {} : { status }) };
  if (status === 404)
    return new IntegrationGoneError("the GitHub App is no longer installed there (GitHub answered 404 for its token)", {
      resource: "github",
      details,
    });
  if (status === 401)
    return new GithubAppCredentialsError(`GitHub refused the App's credentials for ${what} (HTTP 401)`, { details });
  if (status !== undefined && status >= 400 && status < 500)
    return new GithubTokenRefusedError(`GitHub refused ${what} (HTTP ${status})`, { details });
  return new UnavailableError(`GitHub unavailable for ${what}${status === undefined ? "" : ` (HTTP ${status})`}`, {
    details,
  });
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
    throw tokenRequestError(err, installationId);
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
 * The installation lookup runs in the api while a person waits on the install callback (no run to give back), so its
 * failures stay within the codes that route declares: `404` → `GITHUB_INSTALLATION_NOT_FOUND`; a rate limit →
 * `UNAVAILABLE` carrying GitHub's wait (`retryAfterMs`: try the install again then); another `4xx` (the App's JWT
 * refused included) → `GITHUB_REQUEST_REJECTED`; `5xx` or no answer → `UNAVAILABLE`.
 */
function lookupError(err: unknown, installationId: number): PraxaError {
  const status = githubStatus(err);
  if (status === 404) return new GithubInstallationNotFoundError("GitHub does not know this installation of the App");
  const throttled = githubThrottle(err, "the installation lookup");
  if (throttled !== null)
    return new UnavailableError("GitHub is rate limiting the App; try the install again later", {
      details: { installationId, retryAfterMs: throttled.retryAfterMs },
    });
  const details = { installationId, ...(status === undefined ? {} : { status }) };
  if (status !== undefined && status >= 400 && status < 500)
    return new GithubRequestError(`GitHub refused the installation lookup (HTTP ${status})`, { details });
  return new UnavailableError(
    `GitHub refused the installation lookup${status === undefined ? "" : ` (HTTP ${status})`}`,
    { details },
  );
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
    throw lookupError(err, installationId);
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
