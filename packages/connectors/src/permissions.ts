/**
 * What each tool needs from the installation it acts through, checked in code: a tool whose permission the
 * installation was not granted fails with a typed error before it calls out; an installation granted more than the
 * workspace's Skills need is reported (`excess`), so the customer can narrow it.
 * GitHub App permissions are `name:read|write` (write implies read); Slack bot scopes are plain names.
 */
import { PraxaError } from "@praxa/core";

export class PermissionMissingError extends PraxaError {
  readonly code = "INTEGRATION_PERMISSION_MISSING";
  readonly httpStatus = 403;
}

export const TOOL_PERMISSIONS: Readonly<
  Record<string, { readonly provider: "github" | "slack"; readonly needs: readonly string[] }>
> = {
  "github.read.diff": { provider: "github", needs: ["pull_requests:read", "contents:read"] },
  "github.read.file": { provider: "github", needs: ["contents:read"] },
  "github.comment.pr": { provider: "github", needs: ["pull_requests:write"] },
  "github.comment.issue": { provider: "github", needs: ["issues:write"] },
  "slack.post_message": { provider: "slack", needs: ["chat:write"] },
};

export const TRIGGER_PERMISSIONS: Readonly<
  Record<string, { readonly provider: "github" | "slack"; readonly needs: readonly string[] }>
> = {
  "slack.app_mention": { provider: "slack", needs: ["app_mentions:read"] },
  "slack.message.im": { provider: "slack", needs: ["im:history"] },
};

function covers(granted: ReadonlySet<string>, need: string): boolean {
  if (granted.has(need)) return true;
  const [name, level] = need.split(":");
  return level === "read" && granted.has(`${name ?? ""}:write`);
}

/** Throws PermissionMissingError naming the missing permissions (names only, never tokens). */
export function requireToolPermissions(tool: string, granted: readonly string[]): void {
  const spec = TOOL_PERMISSIONS[tool];
  if (!spec) return;
  const set = new Set(granted);
  const missing = spec.needs.filter((n) => !covers(set, n));
  if (missing.length > 0)
    throw new PermissionMissingError(`the installation lacks what ${tool} needs`, { details: { missing } });
}

/** The permissions a set of Skills needs from one provider, from their tools and triggers. */
export function neededPermissions(
  provider: "github" | "slack",
  manifests: readonly { readonly tools: readonly string[]; readonly triggers: readonly string[] }[],
): string[] {
  const need = new Set<string>();
  for (const m of manifests) {
    for (const t of m.tools)
      if (TOOL_PERMISSIONS[t]?.provider === provider) for (const n of TOOL_PERMISSIONS[t]?.needs ?? []) need.add(n);
    for (const t of m.triggers)
      if (TRIGGER_PERMISSIONS[t]?.provider === provider)
        for (const n of TRIGGER_PERMISSIONS[t]?.needs ?? []) need.add(n);
  }
  return [...need].sort();
}

/** Granted permissions no Skill needs (a `write` that only a `read` is needed for counts as excess too). */
export function excessPermissions(granted: readonly string[], needed: readonly string[]): string[] {
  const need = new Set(needed);
  return granted.filter((g) => !need.has(g)).sort();
}

/**
 * GitHub's `permissions` object for an installation token narrowed to `needed` (`name:read|write`; write wins over
 * read), as `POST /app/installations/{id}/access_tokens` takes it. An empty set asks for `metadata:read` only — never
 * for "everything the installation has", which is what omitting the field would mean.
 */
export function githubTokenPermissions(needed: readonly string[]): Record<string, "read" | "write"> {
  const out: Record<string, "read" | "write"> = {};
  for (const n of needed) {
    const [name, level] = n.split(":");
    if (!name || (level !== "read" && level !== "write")) continue;
    if (out[name] !== "write") out[name] = level;
  }
  if (Object.keys(out).length === 0) out["metadata"] = "read";
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}
