/**
 * A loopback GitHub REST API, enough for a GitHub App acting as its installations (what `@octokit/auth-app` calls):
 *  - `GET /app/installations/:id` and `POST /app/installations/:id/access_tokens`, authenticated by the App's JWT
 *    (`Authorization: Bearer <JWT>`, RS256). The JWT is really verified against the App's public key, with `iss` = app id
 *    and `iat`/`exp` checked as GitHub documents (exp at most 10 minutes ahead).
 *  - installation tokens (`ghs_…`) with `expires_at` and the installation's permissions.
 * Repository routes (pull requests, files, contents, reviews) are served by the sandbox of github-sandbox.ts for
 * requests carrying a token this server minted.
 *  - the installation lookup answers `account`, `app_id`, `permissions`, `created_at` and `suspended_at`, as GitHub's
 *    "Get an installation for the authenticated app" does; `addInstallation` adds one after start (an org installing
 *    the App now).
 *  - a token request may narrow the token (`repositories`: names in the installation's account; `permissions`: each at
 *    most what the installation was granted, else 422 as on GitHub); the grant is recorded (`grants`) and enforced on
 *    every repository route: another repository answers 404, a route needing a permission the token lacks 403
 *    ("Resource not accessible by integration").
 *  - `removeInstallation(id)` is the App being uninstalled: the token request then answers `404 Not Found` (as for an
 *    installation that never existed) and the tokens it issued stop working (`401 Bad credentials`), as on GitHub.
 *  - `failNext(target, fault)` makes the next request to `access_tokens`, the installation lookup or a repository route
 *    answer a rate limit the way GitHub documents it ("Rate limits for the REST API"), after authentication:
 *      primary:   `403` (or `429`), `x-ratelimit-remaining: 0`, `x-ratelimit-reset: <epoch s>`, `x-ratelimit-used`,
 *                 `x-ratelimit-limit`, `x-ratelimit-resource: core`, message "API rate limit exceeded for …";
 *      secondary: `403` (or `429`), `retry-after: <s>` unless told none, message "You have exceeded a secondary rate
 *                 limit…", with the primary window not exhausted;
 *    or any status with GitHub's error body (`message`, `documentation_url`, `status`).
 * Source: GitHub REST API docs, "Authenticating as a GitHub App installation", "Create an installation access token
 * for an app", "Apps" endpoints and "Rate limits for the REST API". Limits: rate limits only when injected, no
 * `repository_ids` (names only), one account per installation. Counts calls per route.
 */
import { createPublicKey, randomBytes, verify, type KeyObject } from "node:crypto";
import type { ServerResponse } from "node:http";
import { createGithubSandbox, type GithubSandbox } from "./github-sandbox.js";
import { sendJson, startLoopbackServer, type LoopbackServer } from "./loopback-server.js";

export interface GithubInstallationStub {
  readonly id: number;
  readonly account: string;
  readonly permissions: Readonly<Record<string, "read" | "write">>;
  /** When it was installed (`created_at`); default: when it was added to the server. */
  readonly createdAt?: Date;
  /** Suspended installations answer with `suspended_at` set. */
  readonly suspended?: boolean;
}

/** What one minted token may do: its installation, the repositories (null: all) and permissions it was narrowed to. */
export interface GithubTokenGrant {
  readonly token: string;
  readonly installationId: number;
  readonly repositories: readonly string[] | null;
  readonly permissions: Readonly<Record<string, "read" | "write">>;
}

/** A fault `failNext` injects (see the module header). */
export type GithubFault =
  | { readonly kind: "primary-rate-limit"; readonly resetAt: Date; readonly status?: 403 | 429 }
  | {
      readonly kind: "secondary-rate-limit";
      /** Seconds in `retry-after`; `null` sends none. Default 60. */
      readonly retryAfterSeconds?: number | null;
      readonly status?: 403 | 429;
    }
  | { readonly kind: "status"; readonly status: number; readonly message?: string };

/** Where a fault applies: the token request, the installation lookup, or any repository route. */
export type GithubFaultTarget = "access_tokens" | "installation" | "repos";

export interface GithubServer extends LoopbackServer {
  readonly calls: Readonly<Record<string, number>>;
  /** Every token minted, with what it was narrowed to, oldest first. */
  readonly grants: readonly GithubTokenGrant[];
  /** The grant of each repository request, in order: which token (installation, narrowing) acted on which path. */
  readonly repoRequests: readonly {
    readonly method: string;
    readonly path: string;
    readonly status: number;
    readonly grant: GithubTokenGrant | null;
  }[];
  /** Tokens minted so far, newest last. */
  readonly tokens: readonly string[];
  /** How long minted tokens live (default one hour, as on GitHub). */
  tokenLifetimeMs: number;
  /** The repositories, pull requests and reviews installations can reach. */
  readonly sandbox: GithubSandbox;
  /** Installation lookup (keys-oauth): an installation made after start, as if an org installed the App now. */
  addInstallation(stub: GithubInstallationStub): void;
  /** The App is uninstalled from this installation: its token request answers 404, its tokens 401. */
  removeInstallation(id: number): void;
  /** The next request to `target` answers `fault` (queued: several calls queue several faults). */
  failNext(target: GithubFaultTarget, fault: GithubFault): void;
}

const DOCS = "https://docs.github.com/rest";

/** GitHub's answer for an injected fault: status, headers and body as its documentation shows them. */
function sendFault(res: ServerResponse, fault: GithubFault, installationId: number | null): void {
  const limit = { "x-ratelimit-limit": "5000", "x-ratelimit-resource": "core" };
  if (fault.kind === "primary-rate-limit") {
    return sendJson(
      res,
      fault.status ?? 403,
      {
        message: `API rate limit exceeded for installation ID ${installationId ?? 0}.`,
        documentation_url: `${DOCS}/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limits`,
        status: String(fault.status ?? 403),
      },
      {
        ...limit,
        "x-ratelimit-remaining": "0",
        "x-ratelimit-used": "5000",
        "x-ratelimit-reset": String(Math.floor(fault.resetAt.getTime() / 1000)),
      },
    );
  }
  if (fault.kind === "secondary-rate-limit") {
    const retryAfter = fault.retryAfterSeconds === undefined ? 60 : fault.retryAfterSeconds;
    return sendJson(
      res,
      fault.status ?? 403,
      {
        message:
          "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out " +
          "to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.",
        documentation_url: `${DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits`,
        status: String(fault.status ?? 403),
      },
      {
        ...limit,
        "x-ratelimit-remaining": "4990",
        "x-ratelimit-used": "10",
        "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 3600),
        ...(retryAfter === null ? {} : { "retry-after": String(retryAfter) }),
      },
    );
  }
  const message =
    fault.message ?? { 401: "Bad credentials", 403: "Forbidden", 404: "Not Found" }[fault.status] ?? "Server Error";
  return sendJson(res, fault.status, { message, documentation_url: DOCS, status: String(fault.status) });
}

/** The permission a repository route needs (GitHub's "Permissions required for GitHub Apps" tables). */
function requiredPermission(method: string, path: string): [string, "read" | "write"] | null {
  const p = path.split("?")[0] ?? "";
  if (
    /^\/repos\/[^/]+\/[^/]+\/pulls\/\d+(\/reviews|\/comments)?$/.test(p) ||
    /^\/repos\/[^/]+\/[^/]+\/pulls\/\d+\/files$/.test(p)
  ) {
    return ["pull_requests", method === "GET" ? "read" : "write"];
  }
  if (/^\/repos\/[^/]+\/[^/]+\/(contents\/.+|commits|compare\/.+)$/.test(p))
    return ["contents", method === "GET" ? "read" : "write"];
  if (/^\/repos\/[^/]+\/[^/]+\/issues\/\d+\/comments$/.test(p)) return ["issues", method === "GET" ? "read" : "write"];
  return null;
}

const LEVEL = { read: 1, write: 2 } as const;

function verifyAppJwt(
  authorization: string | undefined,
  appId: number,
  publicKey: KeyObject,
  nowSeconds: number,
): boolean {
  const m = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/i.exec(authorization ?? "");
  if (!m) return false;
  const [, h, p, s] = m;
  try {
    const header = JSON.parse(Buffer.from(h ?? "", "base64url").toString("utf8")) as { alg?: string };
    const payload = JSON.parse(Buffer.from(p ?? "", "base64url").toString("utf8")) as {
      iss?: unknown;
      iat?: number;
      exp?: number;
    };
    if (header.alg !== "RS256") return false;
    if (String(payload.iss) !== String(appId)) return false;
    if (typeof payload.iat !== "number" || typeof payload.exp !== "number") return false;
    if (payload.iat > nowSeconds + 60 || payload.exp < nowSeconds || payload.exp - payload.iat > 600 + 60) return false;
    return verify("sha256", Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s ?? "", "base64url"));
  } catch {
    return false;
  }
}

export async function startGithubServer(app: {
  appId: number;
  privateKeyPem: string;
  installations: readonly GithubInstallationStub[];
  botLogin?: string;
}): Promise<GithubServer> {
  const publicKey = createPublicKey(app.privateKeyPem);
  // ── installation lookup (keys-oauth): installations added after start, each with its created_at ──
  const installations: GithubInstallationStub[] = app.installations.map((i) => ({ createdAt: new Date(), ...i }));
  const calls: Record<string, number> = {};
  const tokens: string[] = [];
  const grants: GithubTokenGrant[] = [];
  const repoRequests: { method: string; path: string; status: number; grant: GithubTokenGrant | null }[] = [];
  const issued = new Map<string, { installationId: number; expiresAt: number; grant: GithubTokenGrant }>();
  const repos = createGithubSandbox(app.botLogin ?? "praxa[bot]");
  const state = { tokenLifetimeMs: 3_600_000 };
  const faults: Record<GithubFaultTarget, GithubFault[]> = { access_tokens: [], installation: [], repos: [] };
  const server = await startLoopbackServer((req, res) => {
    const route = req.path.replace(/\/\d+/g, "/:id").split("?")[0] ?? req.path;
    const key = `${req.method} ${route}`;
    calls[key] = (calls[key] ?? 0) + 1;
    if (req.path.startsWith("/repos/")) {
      const presented = /^(?:token|Bearer) (ghs_[A-Za-z0-9]+)$/.exec(req.headers.authorization ?? "")?.[1];
      const issuedTo = presented === undefined ? undefined : issued.get(presented);
      res.on("finish", () =>
        repoRequests.push({
          method: req.method,
          path: req.path,
          status: res.statusCode,
          grant: issuedTo?.grant ?? null,
        }),
      );
      const answer = (status: number, body: unknown): void => sendJson(res, status, body);
      if (!issuedTo || issuedTo.expiresAt <= Date.now()) return answer(401, { message: "Bad credentials" });
      const inst = installations.find((i) => i.id === issuedTo.installationId);
      // Uninstalling the App revokes the installation's tokens.
      if (!inst) return answer(401, { message: "Bad credentials", documentation_url: DOCS, status: "401" });
      const fault = faults.repos.shift();
      if (fault) return sendFault(res, fault, inst.id);
      const repoName = decodeURIComponent(/^\/repos\/[^/]+\/([^/?]+)/.exec(req.path)?.[1] ?? "").toLowerCase();
      const { repositories, permissions } = issuedTo.grant;
      if (repositories !== null && !repositories.some((r) => r.toLowerCase() === repoName))
        return answer(404, { message: "Not Found" });
      const needed = requiredPermission(req.method, req.path);
      const held = needed ? permissions[needed[0]] : undefined;
      if (needed && (held === undefined || LEVEL[held] < LEVEL[needed[1]]))
        return answer(403, { message: "Resource not accessible by integration" });
      if (!repos.handle(req, res, inst.account)) return answer(404, { message: "Not Found" });
      return;
    }
    const m = /^\/app\/installations\/(\d+)(\/access_tokens)?$/.exec(req.path.split("?")[0] ?? "");
    if (!m) return sendJson(res, 404, { message: "Not Found" });
    if (!verifyAppJwt(req.headers.authorization, app.appId, publicKey, Math.floor(Date.now() / 1000))) {
      return sendJson(res, 401, { message: "A JSON web token could not be decoded" });
    }
    const fault = faults[m[2] ? "access_tokens" : "installation"].shift();
    if (fault) return sendFault(res, fault, Number(m[1]));
    const inst = installations.find((i) => i.id === Number(m[1]));
    if (!inst)
      return sendJson(res, 404, {
        message: "Not Found",
        documentation_url: `${DOCS}/apps/apps#${m[2] ? "create-an-installation-access-token-for-an-app" : "get-an-installation-for-the-authenticated-app"}`,
        status: "404",
      });
    if (m[2] && req.method === "POST") {
      let asked: { repositories?: unknown; repository_ids?: unknown; permissions?: unknown } = {};
      try {
        asked = req.body.length === 0 ? {} : (JSON.parse(req.body.toString("utf8")) as typeof asked);
      } catch {
        return sendJson(res, 400, { message: "Problems parsing JSON" });
      }
      if (asked.repository_ids !== undefined)
        return sendJson(res, 422, { message: "repository_ids is not supported by the sandbox; use repositories" });
      let repositories: string[] | null = null;
      if (asked.repositories !== undefined) {
        if (
          !Array.isArray(asked.repositories) ||
          asked.repositories.length === 0 ||
          !asked.repositories.every((r): r is string => typeof r === "string" && /^[A-Za-z0-9_.-]{1,100}$/.test(r))
        ) {
          return sendJson(res, 422, {
            message:
              "There is at least one repository that does not exist or is not accessible to the parent installation.",
          });
        }
        repositories = asked.repositories;
      }
      let permissions: Record<string, "read" | "write"> = { ...inst.permissions };
      if (asked.permissions !== undefined) {
        if (typeof asked.permissions !== "object" || asked.permissions === null)
          return sendJson(res, 422, { message: "Invalid permissions" });
        permissions = {};
        for (const [name, level] of Object.entries(asked.permissions as Record<string, unknown>)) {
          if (level !== "read" && level !== "write") return sendJson(res, 422, { message: "Invalid permissions" });
          const granted = name === "metadata" ? "read" : inst.permissions[name];
          if (granted === undefined || LEVEL[granted] < LEVEL[level])
            return sendJson(res, 422, { message: "The permissions requested are not granted to this installation." });
          permissions[name] = level;
        }
      }
      const token = `ghs_${randomBytes(18).toString("hex")}`;
      const grant: GithubTokenGrant = { token, installationId: inst.id, repositories, permissions };
      tokens.push(token);
      grants.push(grant);
      issued.set(token, { installationId: inst.id, expiresAt: Date.now() + state.tokenLifetimeMs, grant });
      return sendJson(res, 201, {
        token,
        expires_at: new Date(Date.now() + state.tokenLifetimeMs).toISOString(),
        permissions,
        repository_selection: repositories === null ? "all" : "selected",
        ...(repositories === null
          ? {}
          : {
              repositories: repositories.map((name, i) => ({
                id: inst.id * 1000 + i,
                name,
                full_name: `${inst.account}/${name}`,
              })),
            }),
      });
    }
    if (!m[2] && req.method === "GET") {
      return sendJson(res, 200, {
        id: inst.id,
        account: { login: inst.account, type: "Organization" },
        app_id: app.appId,
        permissions: inst.permissions,
        events: ["pull_request", "issue_comment"],
        created_at: (inst.createdAt ?? new Date()).toISOString(),
        suspended_at: inst.suspended === true ? (inst.createdAt ?? new Date()).toISOString() : null,
        target_type: "Organization",
        repository_selection: "all",
      });
    }
    return sendJson(res, 405, { message: "Method Not Allowed" });
  });
  // Object.assign would copy the accessor's current value, not the accessor: define it on the server itself.
  const extended = Object.assign(server, {
    calls,
    tokens,
    grants,
    repoRequests,
    sandbox: repos.sandbox,
    addInstallation: (stub: GithubInstallationStub): void => {
      installations.push({ createdAt: new Date(), ...stub });
    },
    removeInstallation: (id: number): void => {
      const at = installations.findIndex((i) => i.id === id);
      if (at >= 0) installations.splice(at, 1);
    },
    failNext: (target: GithubFaultTarget, fault: GithubFault): void => {
      faults[target].push(fault);
    },
  });
  Object.defineProperty(extended, "tokenLifetimeMs", {
    get: () => state.tokenLifetimeMs,
    set: (v: number) => {
      state.tokenLifetimeMs = v;
    },
    enumerable: true,
  });
  return extended as typeof extended & { tokenLifetimeMs: number };
}
