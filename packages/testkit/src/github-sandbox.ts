/**
 * The sandbox GitHub's repositories: pull requests with their files (unified diff patches), file contents at a commit,
 * reviews and review comments — the REST routes a review bot uses, with GitHub's shapes:
 *   GET  /repos/:owner/:repo/pulls/:n                 GET  /repos/:owner/:repo/pulls/:n/files
 *   GET  /repos/:owner/:repo/contents/:path?ref=      GET  /repos/:owner/:repo/pulls/:n/reviews
 *   POST /repos/:owner/:repo/pulls/:n/reviews          GET  /repos/:owner/:repo/pulls/:n/comments
 *   GET  /repos/:owner/:repo/compare/:base...:head     (over the PR's recorded commits)
 *   GET  /repos/:owner/:repo/commits?author&path        (the history set with addCommits)
 * Requests must carry an installation token this server minted (`Authorization: token ghs_…` or `Bearer`), still
 * valid, for an installation whose account owns the repository. As on GitHub, an inline review comment must point at
 * a line of the diff (RIGHT side) or the whole review is refused with 422, and `commit_id` must be the head sha.
 * Source: GitHub REST API docs (Pulls, Reviews, Review comments, Repository contents). Limits: no pagination beyond
 * one page of 100, no multi-line comments, no review dismissal.
 */
import type { ServerResponse } from "node:http";
import type { RecordedRequest } from "./loopback-server.js";
import { sendJson } from "./loopback-server.js";

export interface SandboxFile {
  readonly filename: string;
  readonly status?: "added" | "modified" | "removed" | "renamed";
  /** A unified diff hunk set, as GitHub returns it in `patch`. */
  readonly patch: string;
}

export interface SandboxPullRequest {
  readonly owner: string;
  readonly repo: string;
  readonly number: number;
  title: string;
  body: string;
  draft?: boolean;
  author: { login: string; type: "User" | "Bot" };
  headSha: string;
  baseRef: string;
  files: SandboxFile[];
  /** Path → content at the head commit. */
  contents?: Record<string, string>;
  /**
   * The PR's commits, oldest first, each with the files it changed (patches relative to its parent). Optional: when
   * given, `GET /repos/:o/:r/compare/:base...:head` answers with the files changed by the commits after `base` up to
   * `head` (a later commit's patch of a file replaces an earlier one's). Push a commit and set `headSha` to model a
   * `synchronize`.
   */
  commits?: { sha: string; files: SandboxFile[] }[];
}

export interface SandboxReview {
  readonly id: number;
  readonly body: string;
  readonly event: string;
  readonly commitId: string;
  readonly user: string;
  readonly comments: readonly { path: string; line: number; body: string }[];
}

export interface GithubSandbox {
  /**
   * When true, a created review is stored but its HTTP answer is held until `releaseHeld()` — so a test can kill the
   * client between GitHub's effect and the client learning of it (the crash window idempotency must cover).
   */
  holdReviewResponses: boolean;
  releaseHeld(): number;
  addPullRequest(pr: SandboxPullRequest): void;
  /** The repository's commit history on its default branch (author login and the paths each commit touched). */
  addCommits(owner: string, repo: string, commits: readonly { author: string; paths: readonly string[] }[]): void;
  /** A file on a branch (e.g. `.praxa.yaml` on `main`); `null` deletes it. */
  setBranchFile(owner: string, repo: string, branch: string, path: string, content: string | null): void;
  pullRequest(owner: string, repo: string, number: number): SandboxPullRequest | undefined;
  reviews(owner: string, repo: string, number: number): readonly SandboxReview[];
  /** Comments on an issue or PR's conversation (`POST /repos/:o/:r/issues/:n/comments`), oldest first. */
  issueComments(owner: string, repo: string, number: number): readonly SandboxIssueComment[];
}

export interface SandboxIssueComment {
  readonly id: number;
  readonly body: string;
  readonly user: string;
}

/** Lines a comment may target: the RIGHT-side line numbers of added or context lines in the patch. */
export function commentableLines(patch: string): Set<number> {
  const lines = new Set<number>();
  let right = 0;
  for (const line of patch.split("\n")) {
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (hunk) {
      right = Number(hunk[1]);
      continue;
    }
    if (line.startsWith("-")) continue;
    if (line.startsWith("+") || line.startsWith(" ")) {
      lines.add(right);
      right += 1;
    }
  }
  return lines;
}

export function createGithubSandbox(botLogin: string) {
  const prs = new Map<string, SandboxPullRequest>();
  const reviews = new Map<string, SandboxReview[]>();
  const issueComments = new Map<string, SandboxIssueComment[]>();
  let nextId = 1000;
  const key = (o: string, r: string, n: number): string => `${o.toLowerCase()}/${r.toLowerCase()}#${n}`;

  const held: (() => void)[] = [];
  const branchFiles = new Map<string, Map<string, string>>();
  const history = new Map<string, { author: string; paths: readonly string[] }[]>();
  const sandbox: GithubSandbox = {
    holdReviewResponses: false,
    releaseHeld() {
      const n = held.length;
      for (const answer of held.splice(0)) answer();
      return n;
    },
    addPullRequest(pr) {
      prs.set(key(pr.owner, pr.repo, pr.number), pr);
    },
    addCommits(owner, repo, commits) {
      const k = `${owner.toLowerCase()}/${repo.toLowerCase()}`;
      history.set(k, [...(history.get(k) ?? []), ...commits]);
    },
    setBranchFile(owner, repo, branch, path, content) {
      const k = `${owner.toLowerCase()}/${repo.toLowerCase()}@${branch}`;
      const files = branchFiles.get(k) ?? new Map<string, string>();
      if (content === null) files.delete(path);
      else files.set(path, content);
      branchFiles.set(k, files);
    },
    pullRequest: (o, r, n) => prs.get(key(o, r, n)),
    reviews: (o, r, n) => reviews.get(key(o, r, n)) ?? [],
    issueComments: (o, r, n) => issueComments.get(key(o, r, n)) ?? [],
  };

  const prJson = (pr: SandboxPullRequest) => ({
    number: pr.number,
    title: pr.title,
    body: pr.body,
    draft: pr.draft ?? false,
    state: "open",
    user: { login: pr.author.login, type: pr.author.type },
    head: { sha: pr.headSha, ref: `feature-${pr.number}`, repo: { full_name: `${pr.owner}/${pr.repo}` } },
    base: { ref: pr.baseRef, repo: { full_name: `${pr.owner}/${pr.repo}` } },
    html_url: `https://github.sandbox/${pr.owner}/${pr.repo}/pull/${pr.number}`,
  });
  const reviewJson = (pr: SandboxPullRequest, rv: SandboxReview) => ({
    id: rv.id,
    body: rv.body,
    state: rv.event === "APPROVE" ? "APPROVED" : rv.event === "REQUEST_CHANGES" ? "CHANGES_REQUESTED" : "COMMENTED",
    commit_id: rv.commitId,
    user: { login: rv.user, type: "Bot" },
    html_url: `https://github.sandbox/${pr.owner}/${pr.repo}/pull/${pr.number}#pullrequestreview-${rv.id}`,
  });

  const fileJson = (f: SandboxFile) => {
    const adds = f.patch.split("\n").filter((l) => l.startsWith("+")).length;
    const dels = f.patch.split("\n").filter((l) => l.startsWith("-")).length;
    return {
      filename: f.filename,
      status: f.status ?? "modified",
      additions: adds,
      deletions: dels,
      changes: adds + dels,
      patch: f.patch,
    };
  };

  /** Handles a repository route for an installation account; returns false when the path is not a repository route. */
  function handle(req: RecordedRequest, res: ServerResponse, account: string): boolean {
    const [path, query = ""] = req.path.split("?");
    const commitsRoute = /^\/repos\/([^/]+)\/([^/]+)\/commits$/.exec(path ?? "");
    if (commitsRoute && req.method === "GET") {
      const [, o = "", r = ""] = commitsRoute;
      if (o.toLowerCase() !== account.toLowerCase()) {
        sendJson(res, 404, { message: "Not Found" });
        return true;
      }
      const q = new URLSearchParams(query);
      const author = q.get("author");
      const under = q.get("path");
      const perPage = Math.min(Number(q.get("per_page") ?? 30), 100);
      const list = (history.get(`${o.toLowerCase()}/${r.toLowerCase()}`) ?? [])
        .map((c, i) => ({ ...c, sha: (i + 1).toString(16).padStart(40, "c") }))
        .filter(
          (c) =>
            (author === null || c.author.toLowerCase() === author.toLowerCase()) &&
            (under === null || c.paths.some((p) => p === under || p.startsWith(`${under.replace(/\/$/, "")}/`))),
        )
        .reverse()
        .slice(0, perPage);
      sendJson(
        res,
        200,
        list.map((c) => ({
          sha: c.sha,
          author: { login: c.author, type: "User" },
          commit: { message: "commit", author: { name: c.author } },
        })),
      );
      return true;
    }
    const cmp = /^\/repos\/([^/]+)\/([^/]+)\/compare\/([0-9a-f]{7,40})\.\.\.([0-9a-f]{7,40})$/.exec(path ?? "");
    if (cmp) {
      const [, o = "", r = "", base, head] = cmp;
      const pr = [...prs.values()].find(
        (p) =>
          p.owner.toLowerCase() === o.toLowerCase() &&
          p.repo.toLowerCase() === r.toLowerCase() &&
          p.commits?.some((c) => c.sha === head),
      );
      const commits = pr?.commits ?? [];
      const from = commits.findIndex((c) => c.sha === base);
      const to = commits.findIndex((c) => c.sha === head);
      if (o.toLowerCase() !== account.toLowerCase() || !pr || from < 0 || to < 0 || from > to) {
        sendJson(res, 404, { message: "Not Found" });
        return true;
      }
      const files = new Map<string, SandboxFile>();
      for (const c of commits.slice(from + 1, to + 1)) for (const f of c.files) files.set(f.filename, f);
      sendJson(res, 200, {
        status: "ahead",
        ahead_by: to - from,
        behind_by: 0,
        total_commits: to - from,
        files: [...files.values()].map(fileJson),
      });
      return true;
    }
    // Issue (and PR conversation) comments: any issue number of the account's repositories exists here.
    const ic = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/.exec(path ?? "");
    if (ic) {
      const [o, r, n] = [decodeURIComponent(ic[1] ?? ""), decodeURIComponent(ic[2] ?? ""), Number(ic[3])];
      if (o.toLowerCase() !== account.toLowerCase()) {
        sendJson(res, 404, { message: "Not Found" });
        return true;
      }
      const k = key(o, r, n);
      const url = (id: number) => `https://github.com/${o}/${r}/issues/${n}#issuecomment-${id}`;
      const json = (c: SandboxIssueComment) => ({
        id: c.id,
        body: c.body,
        html_url: url(c.id),
        user: { login: c.user, type: "Bot" },
      });
      if (req.method === "GET") {
        sendJson(res, 200, (issueComments.get(k) ?? []).map(json));
        return true;
      }
      if (req.method === "POST") {
        let body: { body?: unknown };
        try {
          body = JSON.parse(req.body.toString("utf8")) as { body?: unknown };
        } catch {
          sendJson(res, 400, { message: "Problems parsing JSON" });
          return true;
        }
        if (typeof body.body !== "string" || body.body.length === 0 || body.body.length > 65_536) {
          sendJson(res, 422, { message: "Validation Failed", errors: [{ field: "body", code: "missing_field" }] });
          return true;
        }
        const comment: SandboxIssueComment = { id: nextId++, body: body.body, user: botLogin };
        issueComments.set(k, [...(issueComments.get(k) ?? []), comment]);
        sendJson(res, 201, json(comment));
        return true;
      }
      sendJson(res, 404, { message: "Not Found" });
      return true;
    }
    const m = /^\/repos\/([^/]+)\/([^/]+)\/(pulls\/(\d+)(\/files|\/reviews|\/comments)?|contents\/(.+))$/.exec(
      path ?? "",
    );
    if (!m) return false;
    const owner = decodeURIComponent(m[1] ?? "");
    const repo = decodeURIComponent(m[2] ?? "");
    if (owner.toLowerCase() !== account.toLowerCase()) {
      sendJson(res, 404, { message: "Not Found" });
      return true;
    }
    if (m[6] !== undefined) {
      const ref = new URLSearchParams(query).get("ref");
      const filePath = decodeURIComponent(m[6]);
      const onBranch =
        ref === null
          ? undefined
          : branchFiles.get(`${owner.toLowerCase()}/${repo.toLowerCase()}@${ref}`)?.get(filePath);
      if (req.method === "GET" && onBranch !== undefined) {
        sendJson(res, 200, {
          type: "file",
          encoding: "base64",
          path: filePath,
          name: filePath.split("/").pop(),
          content: Buffer.from(onBranch).toString("base64"),
          sha: ref,
        });
        return true;
      }
      const pr = [...prs.values()].find(
        (p) =>
          p.owner.toLowerCase() === owner.toLowerCase() &&
          p.repo.toLowerCase() === repo.toLowerCase() &&
          (ref === null || p.headSha === ref),
      );
      const content = pr?.contents?.[filePath];
      if (req.method !== "GET" || content === undefined) {
        sendJson(res, 404, { message: "Not Found" });
        return true;
      }
      sendJson(res, 200, {
        type: "file",
        encoding: "base64",
        path: filePath,
        name: filePath.split("/").pop(),
        content: Buffer.from(content).toString("base64"),
        sha: pr?.headSha,
      });
      return true;
    }
    const pr = prs.get(key(owner, repo, Number(m[4])));
    if (!pr) {
      sendJson(res, 404, { message: "Not Found" });
      return true;
    }
    const sub = m[5];
    const list = reviews.get(key(owner, repo, pr.number)) ?? [];
    if (sub === undefined && req.method === "GET") sendJson(res, 200, prJson(pr));
    else if (sub === "/files" && req.method === "GET") sendJson(res, 200, pr.files.map(fileJson));
    else if (sub === "/reviews" && req.method === "GET")
      sendJson(
        res,
        200,
        list.map((rv) => reviewJson(pr, rv)),
      );
    else if (sub === "/comments" && req.method === "GET") {
      sendJson(
        res,
        200,
        list.flatMap((rv) =>
          rv.comments.map((c, i) => ({
            id: rv.id * 100 + i,
            pull_request_review_id: rv.id,
            path: c.path,
            line: c.line,
            side: "RIGHT",
            body: c.body,
            user: { login: rv.user, type: "Bot" },
          })),
        ),
      );
    } else if (sub === "/reviews" && req.method === "POST") {
      let body: { event?: unknown; body?: unknown; commit_id?: unknown; comments?: unknown };
      try {
        body = JSON.parse(req.body.toString("utf8")) as typeof body;
      } catch {
        sendJson(res, 400, { message: "Problems parsing JSON" });
        return true;
      }
      const event = typeof body.event === "string" ? body.event : "COMMENT";
      if (!["APPROVE", "REQUEST_CHANGES", "COMMENT"].includes(event) || typeof body.body !== "string") {
        sendJson(res, 422, { message: "Unprocessable Entity" });
        return true;
      }
      if (body.commit_id !== undefined && body.commit_id !== pr.headSha) {
        sendJson(res, 422, { message: "Unprocessable Entity", errors: ["commit_id is not part of the pull request"] });
        return true;
      }
      const comments = Array.isArray(body.comments)
        ? (body.comments as { path?: unknown; line?: unknown; body?: unknown }[])
        : [];
      const parsed: { path: string; line: number; body: string }[] = [];
      for (const c of comments) {
        const file = pr.files.find((f) => f.filename === c.path);
        if (
          !file ||
          typeof c.line !== "number" ||
          typeof c.body !== "string" ||
          !commentableLines(file.patch).has(c.line)
        ) {
          sendJson(res, 422, {
            message: "Unprocessable Entity",
            errors: ["Pull request review thread line must be part of the diff"],
          });
          return true;
        }
        parsed.push({ path: file.filename, line: c.line, body: c.body });
      }
      const review: SandboxReview = {
        id: nextId++,
        body: body.body,
        event,
        commitId: pr.headSha,
        user: botLogin,
        comments: parsed,
      };
      reviews.set(key(owner, repo, pr.number), [...list, review]);
      const answer = (): void => {
        if (!res.destroyed) sendJson(res, 200, reviewJson(pr, review));
      };
      if (sandbox.holdReviewResponses) held.push(answer);
      else answer();
    } else sendJson(res, 405, { message: "Method Not Allowed" });
    return true;
  }

  return { sandbox, handle };
}
