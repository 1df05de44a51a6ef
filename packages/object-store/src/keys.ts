/**
 * Object keys of a workspace. Every key is `ws/<workspace_id>/<segment>/…/<segment>`; the store refuses, before any
 * I/O, a key or prefix that is not inside its own workspace's prefix. A segment is 1–255 characters from a small
 * allow-list — letters, digits, `.`, `_`, `-`, `=`, `+`, `@`, `,`, `~` — and does not start with `.`; so `..`, `.`,
 * empty segments (`a//b`), absolute paths, backslashes, `%`-encoded separators, control characters, whitespace and
 * look-alike Unicode (fullwidth dots, division slashes) are all refused, with a typed `WorkspaceScopeError` that names
 * the rule, never the key.
 */
import { WorkspaceIdSchema, WorkspaceScopeError, type WorkspaceId } from "@praxa/core";

const SEGMENT = /^[A-Za-z0-9_\-=+@,~][A-Za-z0-9._\-=+@,~]{0,254}$/;
const PARTIAL = /^[A-Za-z0-9._\-=+@,~]{0,255}$/;
/** S3's limit on a key, in UTF-8 bytes (every allowed character is one byte). */
export const MAX_KEY_LENGTH = 1024;

/** The caller's scope: anything that carries a workspace id (a db `WorkspaceScope`, a fixture, a job's context). */
export interface WorkspaceScoped {
  readonly workspaceId: WorkspaceId;
}

export function workspacePrefix(workspaceId: WorkspaceId): string {
  if (!WorkspaceIdSchema.safeParse(workspaceId).success)
    throw new WorkspaceScopeError("object store: not a workspace id");
  return `ws/${workspaceId}/`;
}

function refuse(rule: string): never {
  throw new WorkspaceScopeError(`object key refused: ${rule}`, { details: { rule } });
}

function checkCommon(value: unknown, prefix: string): string {
  if (typeof value !== "string") refuse("not a string");
  if (value.length === 0) refuse("empty");
  if (value.length > MAX_KEY_LENGTH) refuse("longer than 1024 characters");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) refuse("control character");
  if (value.startsWith("/")) refuse("absolute path");
  if (value.includes("\\")) refuse("backslash");
  if (value.includes("%")) refuse("percent-encoding");
  if (!value.startsWith("ws/")) refuse("outside the ws/<workspace_id>/ prefix");
  if (!value.startsWith(prefix)) refuse("another workspace's prefix");
  return value.slice(prefix.length);
}

/** Returns `key` when it names an object inside the workspace; otherwise throws `WorkspaceScopeError`. */
export function assertObjectKey(workspaceId: WorkspaceId, key: unknown): string {
  const rest = checkCommon(key, workspacePrefix(workspaceId));
  if (rest.length === 0) refuse("no object name after the workspace prefix");
  for (const seg of rest.split("/")) checkSegment(seg);
  return key as string;
}

/**
 * Returns `prefix` when it is a listing prefix inside the workspace: `ws/<id>/`, then whole segments, then optionally a
 * partial last segment (`ws/<id>/exports/2026-`); otherwise throws `WorkspaceScopeError`.
 */
export function assertObjectPrefix(workspaceId: WorkspaceId, prefix: unknown): string {
  const rest = checkCommon(prefix, workspacePrefix(workspaceId));
  const parts = rest.split("/");
  const last = parts.pop() ?? "";
  for (const seg of parts) checkSegment(seg);
  if (!PARTIAL.test(last)) refuse("character outside the allowed set");
  if (last === "." || last === "..") refuse("dot segment");
  return prefix as string;
}

function checkSegment(seg: string): void {
  if (seg.length === 0) refuse("empty segment");
  if (seg === "." || seg === "..") refuse("dot segment");
  if (seg.startsWith(".")) refuse("segment starts with a dot");
  if (!SEGMENT.test(seg)) refuse("character outside the allowed set");
}

/** Builds `ws/<id>/<segments…>` from validated segments. */
export function objectKey(workspaceId: WorkspaceId, segments: readonly string[]): string {
  if (segments.length === 0) refuse("no object name after the workspace prefix");
  for (const seg of segments) checkSegment(String(seg));
  return assertObjectKey(workspaceId, `${workspacePrefix(workspaceId)}${segments.join("/")}`);
}
