/**
 * GitHub's answers by what they mean, through the real `@octokit/auth-app`, `@octokit/request` and `@octokit/rest`
 * against the testkit's sandbox GitHub answering rate limits, an uninstalled App and refusals the way GitHub does.
 * Every refusal costs exactly one request: nothing here waits or retries in-process.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync } from "node:crypto";
import { IntegrationGoneError, NotFoundError, ThrottledError, UnavailableError } from "@praxa/core";
import { startGithubServer, type GithubServer } from "@praxa/testkit";
import {
  GithubAppCredentialsError,
  GithubInstallationNotFoundError,
  GithubTokenRefusedError,
  lookupInstallation,
  mintInstallationToken,
  type GithubAppConfig,
} from "./github-app.js";
import { GITHUB_RESET_MARGIN_MS, GITHUB_SECONDARY_DEFAULT_MS, githubThrottle } from "./github-errors.js";
import { createGithubRepoClient, GithubRequestError } from "./github-repo-client.js";

const APP_ID = 777;
const pem = (): string =>
  generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
const appKey = pem();
const INSTALLATION = 4242;
let gh: GithubServer;
let app: GithubAppConfig;

beforeAll(async () => {
  gh = await startGithubServer({
    appId: APP_ID,
    privateKeyPem: appKey,
    installations: [
      { id: INSTALLATION, account: "acme", permissions: { pull_requests: "write", contents: "read" } },
      { id: 5151, account: "leaving", permissions: { pull_requests: "read" } },
    ],
  });
  app = { appId: APP_ID, privateKeyPem: appKey, baseUrl: gh.url };
  gh.sandbox.addPullRequest({
    owner: "acme",
    repo: "shop",
    number: 7,
    title: "Add the cart",
    body: "",
    author: { login: "dev", type: "User" },
    headSha: "a".repeat(40),
    baseRef: "main",
    files: [{ filename: "cart.ts", patch: "@@ -0,0 +1 @@\n+export {};" }],
  });
});
afterAll(async () => {
  await gh?.close();
});

const tokenCalls = (): number => gh.calls["POST /app/installations/:id/access_tokens"] ?? 0;
let before = 0;
beforeEach(() => {
  before = tokenCalls();
});

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
}

describe("minting an installation token", () => {
  it("a secondary rate limit (403 + retry-after) → ThrottledError(github) with GitHub's wait, after one request", async () => {
    gh.failNext("access_tokens", { kind: "secondary-rate-limit", retryAfterSeconds: 30 });
    const err = await failure(mintInstallationToken(app, INSTALLATION));
    expect(err).toBeInstanceOf(ThrottledError);
    expect(err).toMatchObject({
      code: "GITHUB_RATE_LIMITED",
      resource: "github",
      retryAfterMs: 30_000,
      retryable: true,
      details: { status: 403, limit: "secondary", retryAfterGiven: true, installationId: INSTALLATION },
    });
    expect(tokenCalls() - before).toBe(1);
    // Neither GitHub's text nor anything else from the answer is in the message.
    expect((err as Error).message).not.toMatch(/secondary rate limit|Support|request ID/i);
  });

  it("a primary rate limit (x-ratelimit-remaining 0) → wait until x-ratelimit-reset", async () => {
    const resetAt = new Date(Date.now() + 120_000);
    gh.failNext("access_tokens", { kind: "primary-rate-limit", resetAt });
    const t0 = Date.now();
    const err = await failure(mintInstallationToken(app, INSTALLATION));
    const t1 = Date.now();
    expect(err).toBeInstanceOf(ThrottledError);
    expect(err).toMatchObject({ code: "GITHUB_RATE_LIMITED", resource: "github", details: { limit: "primary" } });
    // reset is whole epoch seconds: the wait is reset − now (+ margin), whenever "now" fell in [t0, t1].
    const reset = Math.floor(resetAt.getTime() / 1000) * 1000;
    const wait = (err as ThrottledError).retryAfterMs;
    expect(wait).toBeGreaterThanOrEqual(reset - t1 + GITHUB_RESET_MARGIN_MS);
    expect(wait).toBeLessThanOrEqual(reset - t0 + GITHUB_RESET_MARGIN_MS);
    expect(tokenCalls() - before).toBe(1);
  });

  it("404 (the App was uninstalled, or the installation never existed) → IntegrationGoneError, permanent, one request", async () => {
    gh.removeInstallation(5151);
    const gone = await failure(mintInstallationToken(app, 5151));
    expect(gone).toBeInstanceOf(IntegrationGoneError);
    expect(gone).toMatchObject({
      code: "INTEGRATION_GONE",
      resource: "github",
      retryable: false,
      details: { installationId: 5151 },
    });
    const never = await failure(mintInstallationToken(app, 999_999));
    expect(never).toBeInstanceOf(IntegrationGoneError);
    expect(tokenCalls() - before).toBe(2);
  });

  it("401 (GitHub refuses the App's own JWT) → GithubAppCredentialsError: permanent, the operator's, not INTEGRATION_GONE", async () => {
    const err = await failure(mintInstallationToken({ ...app, privateKeyPem: pem() }, INSTALLATION));
    expect(err).toBeInstanceOf(GithubAppCredentialsError);
    expect(err).toMatchObject({ code: "GITHUB_APP_CREDENTIALS_REJECTED", retryable: false, details: { status: 401 } });
    expect(tokenCalls() - before).toBe(1);
  });

  it("422 (more than granted) and a plain 403 are refused for good; a 5xx is retryable", async () => {
    const more = await failure(mintInstallationToken(app, INSTALLATION, { permissions: { administration: "write" } }));
    expect(more).toBeInstanceOf(GithubTokenRefusedError);
    expect(more).toMatchObject({ code: "GITHUB_TOKEN_REFUSED", retryable: false, details: { status: 422 } });
    gh.failNext("access_tokens", { kind: "status", status: 403, message: "This installation has been suspended" });
    await expect(mintInstallationToken(app, INSTALLATION)).rejects.toMatchObject({
      code: "GITHUB_TOKEN_REFUSED",
      details: { status: 403 },
    });
    gh.failNext("access_tokens", { kind: "status", status: 502 });
    const down = await failure(mintInstallationToken(app, INSTALLATION));
    expect(down).toBeInstanceOf(UnavailableError);
    expect(down).toMatchObject({ retryable: true, details: { status: 502 } });
    expect(tokenCalls() - before).toBe(3);
  });
});

describe("the installation lookup (as the App)", () => {
  it("(the api, a person waiting) rate limited → UNAVAILABLE with GitHub's wait; 401 → GITHUB_REQUEST_REJECTED; unknown → not found", async () => {
    gh.failNext("installation", { kind: "secondary-rate-limit", retryAfterSeconds: 5, status: 429 });
    const limited = await failure(lookupInstallation(app, INSTALLATION));
    expect(limited).toBeInstanceOf(UnavailableError);
    expect(limited).toMatchObject({ details: { retryAfterMs: 5_000, installationId: INSTALLATION } });
    await expect(lookupInstallation({ ...app, privateKeyPem: pem() }, INSTALLATION)).rejects.toMatchObject({
      code: "GITHUB_REQUEST_REJECTED",
      details: { status: 401 },
    });
    await expect(lookupInstallation(app, 999_999)).rejects.toBeInstanceOf(GithubInstallationNotFoundError);
    expect((await lookupInstallation(app, INSTALLATION)).account).toBe("acme");
  });
});

describe("repository calls as the installation's bot", () => {
  const repo = { owner: "acme", repo: "shop" };
  let client: ReturnType<typeof createGithubRepoClient>;
  const repoCalls = (): number => gh.repoRequests.length;
  beforeAll(async () => {
    const { token } = await mintInstallationToken(app, INSTALLATION);
    client = createGithubRepoClient({ token, baseUrl: gh.url, installationId: INSTALLATION });
  });

  it("answers normally", async () => {
    expect(await client.pullRequest(repo, 7)).toMatchObject({ number: 7, title: "Add the cart" });
  });

  it("secondary 403 with retry-after, without it, and a 429 primary → ThrottledError, one request each", async () => {
    const n = repoCalls();
    gh.failNext("repos", { kind: "secondary-rate-limit", retryAfterSeconds: 90 });
    await expect(client.pullRequest(repo, 7)).rejects.toMatchObject({
      code: "GITHUB_RATE_LIMITED",
      resource: "github",
      retryAfterMs: 90_000,
      details: { status: 403, limit: "secondary", installationId: INSTALLATION },
    });
    gh.failNext("repos", { kind: "secondary-rate-limit", retryAfterSeconds: null });
    const noHeader = await failure(client.pullRequestFiles(repo, 7));
    expect(noHeader).toBeInstanceOf(ThrottledError);
    expect(noHeader).toMatchObject({ retryAfterMs: GITHUB_SECONDARY_DEFAULT_MS, details: { retryAfterGiven: false } });
    gh.failNext("repos", { kind: "primary-rate-limit", resetAt: new Date(Date.now() + 600_000), status: 429 });
    const primary = await failure(client.reviews(repo, 7));
    expect(primary).toBeInstanceOf(ThrottledError);
    expect(primary).toMatchObject({ details: { status: 429, limit: "primary" } });
    expect((primary as ThrottledError).retryAfterMs).toBeGreaterThan(500_000);
    expect(repoCalls() - n).toBe(3);
  });

  it("a permission 403 is not a rate limit; 404 is NotFound; 5xx is Unavailable", async () => {
    gh.failNext("repos", { kind: "status", status: 403, message: "Resource not accessible by integration" });
    const refused = await failure(client.pullRequest(repo, 7));
    expect(refused).toBeInstanceOf(GithubRequestError);
    expect(refused).toMatchObject({ code: "GITHUB_REQUEST_REJECTED", retryable: false, details: { status: 403 } });
    await expect(client.pullRequest(repo, 404)).rejects.toBeInstanceOf(NotFoundError);
    gh.failNext("repos", { kind: "status", status: 503 });
    const down = await failure(client.pullRequest(repo, 7));
    expect(down).toBeInstanceOf(UnavailableError);
  });
});

describe("githubThrottle (the detection, on GitHub's documented shapes)", () => {
  const now = 1_800_000_000_000;
  const err = (status: number, headers: Record<string, string>, message = "x"): unknown => ({
    status,
    response: { headers, data: { message } },
  });
  it("reads retry-after (seconds or a date), an exhausted window, the secondary message, a bare 429", () => {
    expect(githubThrottle(err(403, { "retry-after": "12" }), "t", now)?.retryAfterMs).toBe(12_000);
    expect(
      githubThrottle(err(403, { "retry-after": new Date(now + 20_000).toUTCString() }), "t", now)?.retryAfterMs,
    ).toBe(20_000);
    expect(
      githubThrottle(err(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now / 1000 + 30) }), "t", now)
        ?.retryAfterMs,
    ).toBe(30_000 + GITHUB_RESET_MARGIN_MS);
    expect(
      githubThrottle(err(403, {}, "You have exceeded a secondary rate limit. Please wait"), "t", now)?.retryAfterMs,
    ).toBe(60_000);
    expect(githubThrottle(err(429, {}), "t", now)?.retryAfterMs).toBe(60_000);
    expect(
      githubThrottle(err(403, {}, "You have triggered an abuse detection mechanism."), "t", now)?.retryAfterMs,
    ).toBe(60_000);
    // Capped at an hour; a permission 403, a 404 and a 500 are not throttling.
    expect(githubThrottle(err(403, { "retry-after": "86400" }), "t", now)?.retryAfterMs).toBe(3_600_000);
    expect(githubThrottle(err(403, { "x-ratelimit-remaining": "12" }, "Resource not accessible"), "t", now)).toBe(null);
    expect(githubThrottle(err(404, { "retry-after": "1" }), "t", now)).toBe(null);
    expect(githubThrottle(err(500, { "retry-after": "1" }), "t", now)).toBe(null);
    expect(githubThrottle(new Error("boom"), "t", now)).toBe(null);
  });
});
