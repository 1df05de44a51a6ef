/**
 * GitHub as the installation's bot, for the runtime's tools: Octokit (`@octokit/rest`) authenticated with an
 * installation token (`ghs_…`, minted for the run; never a user token), against api.github.com, a GitHub Enterprise
 * Server or the sandbox. Errors are mapped to typed ones by status, never carrying GitHub's message text.
 */
import { Octokit } from "@octokit/rest";
import { NotFoundError, PraxaError, UnavailableError, type ErrorDetails } from "@praxa/core";
import { assertBotCredential } from "./bot-credentials.js";
import { githubStatus, githubThrottle } from "./github-errors.js";

export interface RepoRef {
  readonly owner: string;
  readonly repo: string;
}

export class GithubRequestError extends PraxaError {
  readonly code = "GITHUB_REQUEST_REJECTED";
  readonly httpStatus = 502;
}

/**
 * `401 Bad credentials` on a call made with an installation token that had not expired: GitHub revoked it (the App was
 * uninstalled or suspended, or the installation's permissions changed). GitHub did nothing; the caller mints a fresh
 * token once — which answers 404 (`IntegrationGoneError`) when the App is gone — and tries again.
 */
export class GithubTokenRejectedError extends PraxaError {
  readonly code = "GITHUB_TOKEN_REJECTED";
  readonly httpStatus = 502;
  override readonly retryable = true;
}

/**
 * A failed call by intent: a rate limit (`403`/`429` as GitHub documents it, github-errors.ts) is a
 * `ThrottledError({resource: "github"})` — checked first, since a secondary limit is a `403` too; `404` is
 * `NotFoundError`; `401` is a revoked token (`GithubTokenRejectedError`: mint a fresh one once); any other `4xx` is
 * refused for good (`GithubRequestError`); `5xx` and network failures are
 * `UnavailableError` (retried with backoff).
 */
function mapGithubError(err: unknown, what: string, ids: ErrorDetails): never {
  const throttled = githubThrottle(err, what, Date.now(), ids);
  if (throttled !== null) throw throttled;
  const status = githubStatus(err);
  if (status === 404) throw new NotFoundError(`GitHub: ${what} not found`, { cause: err });
  if (status === 401)
    throw new GithubTokenRejectedError(`GitHub rejected the installation token for ${what}`, { cause: err });
  if (status !== undefined && status >= 400 && status < 500)
    throw new GithubRequestError(`GitHub refused ${what} (HTTP ${status})`, { cause: err, details: { status } });
  throw new UnavailableError(`GitHub unavailable for ${what}${status === undefined ? "" : ` (HTTP ${status})`}`, {
    cause: err,
  });
}

export function createGithubRepoClient(options: {
  token: string;
  baseUrl: string;
  userAgent?: string;
  /** The installation the token acts for: added to a rate limit's details, so the worker can gate it. */
  installationId?: number;
}) {
  const ids: ErrorDetails = options.installationId === undefined ? {} : { installationId: options.installationId };
  assertBotCredential("github", options.token);
  // Octokit's own logger is silenced: its messages can carry URLs (repository names); errors are mapped to typed ones.
  const quiet = (): void => undefined;
  const octokit = new Octokit({
    auth: options.token,
    baseUrl: options.baseUrl,
    userAgent: options.userAgent ?? "praxa-bot",
    // No retry and no throttling plugin: a rate limit is handed to the queue, never waited for here (github-errors.ts).
    request: { retries: 0 },
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
  });
  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      return mapGithubError(err, what, ids);
    }
  };
  return {
    async pullRequest(r: RepoRef, number: number) {
      const { data } = await call("the pull request", () =>
        octokit.rest.pulls.get({ owner: r.owner, repo: r.repo, pull_number: number }),
      );
      return {
        number: data.number,
        title: data.title,
        body: data.body ?? "",
        draft: data.draft ?? false,
        author: data.user?.login ?? "ghost",
        authorIsBot: data.user?.type === "Bot",
        headSha: data.head.sha,
        baseRef: data.base.ref,
      };
    },
    async pullRequestFiles(r: RepoRef, number: number) {
      const files = await call("the pull request files", () =>
        octokit.paginate(octokit.rest.pulls.listFiles, {
          owner: r.owner,
          repo: r.repo,
          pull_number: number,
          per_page: 100,
        }),
      );
      return files.map((f) => ({
        filename: f.filename,
        status: f.status,
        additions: f.additions,
        deletions: f.deletions,
        patch: f.patch ?? null,
      }));
    },
    /** How many commits `author` made under `path` on the default branch (capped at 100: "0", "a few", "many" is what matters). */
    async authorCommitCount(r: RepoRef, author: string, path: string): Promise<number> {
      const { data } = await call("the commit history", () =>
        octokit.rest.repos.listCommits({ owner: r.owner, repo: r.repo, author, path, per_page: 100 }),
      );
      return data.length;
    },
    /** Files changed between two commits (GitHub's compare), e.g. the commits a `synchronize` pushed. */
    async compareFiles(r: RepoRef, base: string, head: string) {
      const { data } = await call("the comparison", () =>
        octokit.rest.repos.compareCommitsWithBasehead({ owner: r.owner, repo: r.repo, basehead: `${base}...${head}` }),
      );
      return (data.files ?? []).map((f) => ({
        filename: f.filename,
        status: f.status,
        additions: f.additions,
        deletions: f.deletions,
        patch: f.patch ?? null,
      }));
    },
    async fileContent(r: RepoRef, path: string, ref: string): Promise<string | null> {
      try {
        const { data } = await octokit.rest.repos.getContent({ owner: r.owner, repo: r.repo, path, ref });
        if (Array.isArray(data) || data.type !== "file" || !("content" in data)) return null;
        return Buffer.from(data.content, "base64").toString("utf8");
      } catch (err) {
        if ((err as { status?: unknown }).status === 404) return null;
        return mapGithubError(err, "a file", ids);
      }
    },
    async findReviewWithMarker(r: RepoRef, number: number, marker: string) {
      const reviews = await call("the reviews", () =>
        octokit.paginate(octokit.rest.pulls.listReviews, {
          owner: r.owner,
          repo: r.repo,
          pull_number: number,
          per_page: 100,
        }),
      );
      const hit = reviews.find((rv) => (rv.body ?? "").includes(marker));
      return hit ? { id: hit.id, url: hit.html_url } : null;
    },
    async createReview(
      r: RepoRef,
      number: number,
      review: {
        event: "APPROVE" | "REQUEST_CHANGES" | "COMMENT";
        body: string;
        commitId: string;
        comments: readonly { path: string; line: number; body: string }[];
      },
    ) {
      const { data } = await call("the review", () =>
        octokit.rest.pulls.createReview({
          owner: r.owner,
          repo: r.repo,
          pull_number: number,
          event: review.event,
          body: review.body,
          commit_id: review.commitId,
          comments: review.comments.map((c) => ({ path: c.path, line: c.line, side: "RIGHT" as const, body: c.body })),
        }),
      );
      return { id: data.id, url: data.html_url };
    },
    /** The PR's reviews (state, author, body) — what a person sees on the PR's conversation tab. */
    async reviews(r: RepoRef, number: number) {
      const list = await call("the reviews", () =>
        octokit.paginate(octokit.rest.pulls.listReviews, {
          owner: r.owner,
          repo: r.repo,
          pull_number: number,
          per_page: 100,
        }),
      );
      return list.map((rv) => ({
        id: rv.id,
        body: rv.body ?? "",
        state: rv.state,
        user: rv.user?.login ?? "ghost",
        commitId: rv.commit_id ?? "",
      }));
    },
    async reviewComments(r: RepoRef, number: number) {
      const comments = await call("the review comments", () =>
        octokit.paginate(octokit.rest.pulls.listReviewComments, {
          owner: r.owner,
          repo: r.repo,
          pull_number: number,
          per_page: 100,
        }),
      );
      return comments.map((c) => ({ path: c.path, line: c.line ?? null, body: c.body }));
    },
    /** The issue's (or PR conversation's) comment carrying `marker` — the idempotency check before commenting. */
    async findIssueCommentWithMarker(r: RepoRef, number: number, marker: string) {
      const comments = await call("the issue comments", () =>
        octokit.paginate(octokit.rest.issues.listComments, {
          owner: r.owner,
          repo: r.repo,
          issue_number: number,
          per_page: 100,
        }),
      );
      const hit = comments.find((c) => (c.body ?? "").includes(marker));
      return hit ? { id: hit.id, url: hit.html_url } : null;
    },
    /** A comment on an issue or a PR's conversation, as the bot. */
    async createIssueComment(r: RepoRef, number: number, body: string) {
      const { data } = await call("the issue comment", () =>
        octokit.rest.issues.createComment({ owner: r.owner, repo: r.repo, issue_number: number, body }),
      );
      return { id: data.id, url: data.html_url };
    },
  };
}

export type GithubRepoClient = ReturnType<typeof createGithubRepoClient>;
