/**
 * GitHub's answers by what they mean, shared by the App (installation tokens, installation lookup) and the repository
 * client. Messages are fixed strings: GitHub's own message text (which can name repositories) is never copied.
 *
 * Rate limits, as GitHub documents them ("Rate limits for the REST API", "Exceeding the rate limit"):
 *  - primary: `403` or `429` with `x-ratelimit-remaining: 0` — do not retry before `x-ratelimit-reset` (UTC epoch
 *    seconds);
 *  - secondary: `403` or `429` whose message says it exceeded a secondary rate limit — wait `retry-after` seconds when
 *    given, else until `x-ratelimit-reset` when `x-ratelimit-remaining` is 0, else at least one minute.
 * Each is a `ThrottledError({resource: "github"})`: retryable, but never waited for in-process — the worker gives the
 * run back, delays it by `retryAfterMs` and gates the installation (docs/failures.md). A `403` that is none of these
 * is a permission refusal and stays one.
 *
 * Why not `@octokit/plugin-throttling` / `@octokit/plugin-retry`: both exist to wait inside the process — throttling
 * queues every request through Bottleneck and sleeps out a rate limit before retrying (its handlers only choose
 * whether to retry), and retry re-sends 5xx after an in-process backoff. A worker must not hold its slot through a
 * tenant's rate limit, so the waiting belongs to the queue; what is left of the plugins is their detection, which is
 * the few header checks below (written from GitHub's documentation, so a sandbox can prove each branch).
 */
import { ThrottledError, type ErrorDetails } from "@praxa/core";

/** Secondary limit with neither `retry-after` nor an exhausted primary window: GitHub says "at least one minute". */
export const GITHUB_SECONDARY_DEFAULT_MS = 60_000;
/** A `429` that names no wait at all (not documented by GitHub, but possible behind a proxy): the same minute. */
export const GITHUB_THROTTLE_DEFAULT_MS = 60_000;
/** Upper bound of any wait: a primary window resets within the hour. */
export const GITHUB_MAX_THROTTLE_MS = 60 * 60_000;
/** Added to a wait computed from `x-ratelimit-reset`, so a clock slightly behind GitHub's does not ask too early. */
export const GITHUB_RESET_MARGIN_MS = 1_000;

/** The parts of an `@octokit/request` `RequestError` (or any error shaped like one) that are read. */
interface GithubErrorShape {
  readonly status?: unknown;
  readonly message?: unknown;
  readonly response?: { readonly headers?: unknown; readonly data?: unknown };
}

export function githubStatus(err: unknown): number | undefined {
  const status = (err as GithubErrorShape | null)?.status;
  return typeof status === "number" ? status : undefined;
}

function header(err: unknown, name: string): string | undefined {
  const headers = (err as GithubErrorShape | null)?.response?.headers;
  if (typeof headers !== "object" || headers === null) return undefined;
  const v = (headers as Record<string, unknown>)[name];
  return typeof v === "string" || typeof v === "number" ? String(v).trim() : undefined;
}

function githubMessage(err: unknown): string {
  const data = (err as GithubErrorShape | null)?.response?.data;
  const fromBody = typeof data === "object" && data !== null ? (data as { message?: unknown }).message : undefined;
  if (typeof fromBody === "string") return fromBody;
  const own = (err as GithubErrorShape | null)?.message;
  return typeof own === "string" ? own : "";
}

/** `retry-after` in ms: seconds, or an HTTP date; `undefined` when absent or unreadable. */
function retryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * The `ThrottledError` a GitHub answer means, or `null` when it is not a rate limit. `what` names the call for the
 * message ("the installation token", "the pull request"); `extra` details (ids, never text) are added to it.
 */
export function githubThrottle(
  err: unknown,
  what: string,
  nowMs: number = Date.now(),
  extra: ErrorDetails = {},
): ThrottledError | null {
  const status = githubStatus(err);
  if (status !== 403 && status !== 429) return null;
  const retryAfter = retryAfterMs(header(err, "retry-after"), nowMs);
  const exhausted = header(err, "x-ratelimit-remaining") === "0";
  const reset = header(err, "x-ratelimit-reset");
  // "You have exceeded a secondary rate limit…"; older GitHub (and Enterprise Server) said "abuse detection mechanism".
  const secondary = /secondary rate limit|abuse detection/i.test(githubMessage(err));
  let waitMs: number;
  let kind: "primary" | "secondary";
  if (retryAfter !== undefined) {
    waitMs = retryAfter;
    kind = exhausted && !secondary ? "primary" : "secondary";
  } else if (exhausted) {
    waitMs =
      reset !== undefined && /^\d+$/.test(reset)
        ? Math.max(0, Number(reset) * 1000 - nowMs) + GITHUB_RESET_MARGIN_MS
        : GITHUB_SECONDARY_DEFAULT_MS;
    kind = "primary";
  } else if (secondary) {
    waitMs = GITHUB_SECONDARY_DEFAULT_MS;
    kind = "secondary";
  } else if (status === 429) {
    waitMs = GITHUB_THROTTLE_DEFAULT_MS;
    kind = "secondary";
  } else {
    return null; // a 403 that is a permission refusal
  }
  return new ThrottledError(`GitHub is rate limiting this installation (${what})`, {
    resource: "github",
    retryAfterMs: Math.min(waitMs, GITHUB_MAX_THROTTLE_MS),
    code: "GITHUB_RATE_LIMITED",
    details: { ...extra, status, limit: kind, retryAfterGiven: retryAfter !== undefined },
  });
}
