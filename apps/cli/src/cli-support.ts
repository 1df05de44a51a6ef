/**
 * The CLI's conventions in one place: exit codes (and the one mapping from an error to its exit code), the error line,
 * `--json` output and progress on stderr.
 *
 * Exit codes — documented in `praxa --help` and docs/operations.md:
 *   0  ok
 *   1  a verification or check failed (`audit verify`, `audit replay`), or the database or the api refused the
 *      operation (not found, forbidden, conflict)
 *   2  usage: an unknown command or option, a missing or invalid argument, a file named that cannot be read or parsed
 *   3  operational: the database, Redis or the api unreachable, invalid configuration, a key provider failing, anything
 *      unexpected
 */
import { CommanderError } from "commander";
import { isPraxaError } from "@praxa/core";

export const EXIT = { ok: 0, failed: 1, usage: 2, operational: 3 } as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  ok
  1  a verification or check failed (audit verify, audit replay), or the database or api refused the operation
  2  usage: unknown command or option, missing or invalid argument, a named file unreadable or malformed
  3  operational: database, Redis or api unreachable, invalid configuration, key provider failure, unexpected error

--json (on every command that reports data) prints one JSON document on stdout and nothing else there; on an error
that document is {"error":{"code","message"}}.`;

/** PraxaError codes that mean the command was given something wrong. */
const USAGE_CODES: ReadonlySet<string> = new Set(["VALIDATION_FAILED", "INVALID_ID"]);
/** PraxaError codes of an environment problem (besides every retryable error and every 5xx one). */
const OPERATIONAL_CODES: ReadonlySet<string> = new Set([
  "CONFIG_INVALID",
  "UNAVAILABLE",
  "INTERNAL",
  "REDIS_POLICY",
  "KEY_UNAVAILABLE",
  "KEY_PROVIDER_FAILED",
  "KEY_FILE_INSECURE",
  "KEY_FILE_INVALID",
  "RATE_LIMITED",
]);
/** Commander's "errors" that are a normal end: help and version shown. */
const COMMANDER_DONE: ReadonlySet<string> = new Set(["commander.helpDisplayed", "commander.version"]);
/** Socket-level failures: something we needed did not answer. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);
/** A file named on the command line that cannot be read. */
const FILE_CODES: ReadonlySet<string> = new Set(["ENOENT", "EISDIR", "EACCES", "ENOTDIR"]);

function errno(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown } | null;
  if (e === null || typeof e !== "object") return undefined;
  if (typeof e.code === "string" && (NETWORK_CODES.has(e.code) || FILE_CODES.has(e.code))) return e.code;
  // fetch() wraps the socket error in `cause`; a connect to several addresses throws an AggregateError.
  if (e.cause !== undefined && e.cause !== err) return errno(e.cause);
  if (Array.isArray(e.errors) && e.errors.length > 0) return errno(e.errors[0]);
  return undefined;
}

/** What an error means to a script: its code and a message safe to print (never a secret, a prompt or user content). */
export function describeError(err: unknown): {
  readonly code: string;
  readonly message: string;
  readonly exitCode: number;
} {
  if (err instanceof CommanderError)
    return {
      code: "USAGE",
      message: err.message.replace(/^error: /, ""),
      exitCode: COMMANDER_DONE.has(err.code) ? EXIT.ok : EXIT.usage,
    };
  if (isPraxaError(err)) {
    const exitCode = USAGE_CODES.has(err.code)
      ? EXIT.usage
      : OPERATIONAL_CODES.has(err.code) || err.retryable || err.httpStatus >= 500
        ? EXIT.operational
        : EXIT.failed;
    return { code: err.code, message: err.message, exitCode };
  }
  const code = errno(err);
  if (code !== undefined && NETWORK_CODES.has(code))
    return {
      code: "UNAVAILABLE",
      message: `a dependency (database, Redis or the api) is unreachable (${code})`,
      exitCode: EXIT.operational,
    };
  if (code !== undefined)
    return { code: "FILE_UNREADABLE", message: `a file named cannot be read (${code})`, exitCode: EXIT.usage };
  const name = err instanceof Error ? err.name : "unknown";
  // A named file that is not JSON (SyntaxError from JSON.parse) or not of its schema (ZodError).
  if (name === "SyntaxError" || name === "ZodError")
    return {
      code: "FILE_MALFORMED",
      message: "a file named is not what the command expects (malformed JSON or wrong shape)",
      exitCode: EXIT.usage,
    };
  return { code: "UNEXPECTED", message: `unexpected error: ${name}`, exitCode: EXIT.operational };
}

/** The exit code of an error (see the header). */
export function exitCodeFor(err: unknown): number {
  return describeError(err).exitCode;
}

/** `done/total` on stderr, rewritten in place — only when stderr is a terminal (never into a pipe or a log). */
export function progressOnStderr(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
): ((done: number, total: number) => void) | undefined {
  if (!stream.isTTY) return undefined;
  let shown = "";
  return (done, total) => {
    const line = `${label}: ${done}/${total}`;
    if (line === shown) return;
    shown = line;
    stream.write(`\r${line}${done >= total ? "\n" : ""}`);
  };
}
