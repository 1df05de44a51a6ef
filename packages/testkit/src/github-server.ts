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
 * Source: GitHub REST API docs, "Authenticating as a GitHub App installation" and "Apps" endpoints. Limits: no rate
 * limits, no repository selection, one account per installation. Counts calls per route.
 */
import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { createGithubSandbox, type GithubSandbox } from './github-sandbox.js';
import { sendJson, startLoopbackServer, type LoopbackServer } from './loopback-server.js';

export interface GithubInstallationStub {
  readonly id: number;
  readonly account: string;
  readonly permissions: Readonly<Record<string, 'read' | 'write'>>;
  /** When it was installed (`created_at`); default: when it was added to the server. */
  readonly createdAt?: Date;
  /** Suspended installations answer with `suspended_at` set. */
  readonly suspended?: boolean;
}

export interface GithubServer extends LoopbackServer {
  readonly calls: Readonly<Record<string, number>>;
  /** Tokens minted so far, newest last. */
  readonly tokens: readonly string[];
  /** How long minted tokens live (default one hour, as on GitHub). */
  tokenLifetimeMs: number;
  /** The repositories, pull requests and reviews installations can reach. */
  readonly sandbox: GithubSandbox;
  /** Installation lookup (keys-oauth): an installation made after start, as if an org installed the App now. */
  addInstallation(stub: GithubInstallationStub): void;
}

function verifyAppJwt(authorization: string | undefined, appId: number, publicKey: KeyObject, nowSeconds: number): boolean {
  const m = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/i.exec(authorization ?? '');
  if (!m) return false;
  const [, h, p, s] = m;
  try {
    const header = JSON.parse(Buffer.from(h ?? '', 'base64url').toString('utf8')) as { alg?: string };
    const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString('utf8')) as { iss?: unknown; iat?: number; exp?: number };
    if (header.alg !== 'RS256') return false;
    if (String(payload.iss) !== String(appId)) return false;
    if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number') return false;
    if (payload.iat > nowSeconds + 60 || payload.exp < nowSeconds || payload.exp - payload.iat > 600 + 60) return false;
    return verify('sha256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s ?? '', 'base64url'));
  } catch {
    return false;
  }
}

export async function startGithubServer(app: { appId: number; privateKeyPem: string; installations: readonly GithubInstallationStub[]; botLogin?: string }): Promise<GithubServer> {
  const publicKey = createPublicKey(app.privateKeyPem);
  // ── installation lookup (keys-oauth): installations added after start, each with its created_at ──
  const installations: GithubInstallationStub[] = app.installations.map((i) => ({ createdAt: new Date(), ...i }));
  const calls: Record<string, number> = {};
  const tokens: string[] = [];
  const issued = new Map<string, { installationId: number; expiresAt: number }>();
  const repos = createGithubSandbox(app.botLogin ?? 'praxa[bot]');
  const state = { tokenLifetimeMs: 3_600_000 };
  const server = await startLoopbackServer((req, res) => {
    const route = req.path.replace(/\/\d+/g, '/:id').split('?')[0] ?? req.path;
    const key = `${req.method} ${route}`;
    calls[key] = (calls[key] ?? 0) + 1;
    if (req.path.startsWith('/repos/')) {
      const presented = /^(?:token|Bearer) (ghs_[A-Za-z0-9]+)$/.exec(req.headers.authorization ?? '')?.[1];
      const grant = presented === undefined ? undefined : issued.get(presented);
      if (!grant || grant.expiresAt <= Date.now()) return sendJson(res, 401, { message: 'Bad credentials' });
      const inst = installations.find((i) => i.id === grant.installationId);
      if (!inst || !repos.handle(req, res, inst.account)) return sendJson(res, 404, { message: 'Not Found' });
      return;
    }
    const m = /^\/app\/installations\/(\d+)(\/access_tokens)?$/.exec(req.path.split('?')[0] ?? '');
    if (!m) return sendJson(res, 404, { message: 'Not Found' });
    if (!verifyAppJwt(req.headers.authorization, app.appId, publicKey, Math.floor(Date.now() / 1000))) {
      return sendJson(res, 401, { message: 'A JSON web token could not be decoded' });
    }
    const inst = installations.find((i) => i.id === Number(m[1]));
    if (!inst) return sendJson(res, 404, { message: 'Not Found' });
    if (m[2] && req.method === 'POST') {
      const token = `ghs_${randomBytes(18).toString('hex')}`;
      tokens.push(token);
      issued.set(token, { installationId: inst.id, expiresAt: Date.now() + state.tokenLifetimeMs });
      return sendJson(res, 201, { token, expires_at: new Date(Date.now() + state.tokenLifetimeMs).toISOString(), permissions: inst.permissions, repository_selection: 'all' });
    }
    if (!m[2] && req.method === 'GET') {
      return sendJson(res, 200, {
        id: inst.id, account: { login: inst.account, type: 'Organization' }, app_id: app.appId, permissions: inst.permissions, events: ['pull_request', 'issue_comment'],
        created_at: (inst.createdAt ?? new Date()).toISOString(), suspended_at: inst.suspended === true ? (inst.createdAt ?? new Date()).toISOString() : null, target_type: 'Organization', repository_selection: 'all',
      });
    }
    return sendJson(res, 405, { message: 'Method Not Allowed' });
  });
  // Object.assign would copy the accessor's current value, not the accessor: define it on the server itself.
  const extended = Object.assign(server, {
    calls,
    tokens,
    sandbox: repos.sandbox,
    addInstallation: (stub: GithubInstallationStub): void => {
      installations.push({ createdAt: new Date(), ...stub });
    },
  });
  Object.defineProperty(extended, 'tokenLifetimeMs', {
    get: () => state.tokenLifetimeMs,
    set: (v: number) => {
      state.tokenLifetimeMs = v;
    },
    enumerable: true,
  });
  return extended as typeof extended & { tokenLifetimeMs: number };
}
