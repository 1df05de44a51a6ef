/**
 * Which outside integrations an app's config sets up. Every integration is optional: an app starts with any subset,
 * names the ones it lacks once at boot (names and variable names only, never a value), and answers their routes
 * with 404 INTEGRATION_NOT_CONFIGURED (ingest, api) or a typed error to the run that needs one (worker).
 */
import type { ApiConfig, IngestConfig, WorkerConfig } from "./schemas.js";

export interface IntegrationStatus {
  /** `github`, `github-app`, `slack`, `slack-app`, `email`. */
  readonly name: string;
  readonly configured: boolean;
  /** The variables it needs that are unset (names only). */
  readonly missing: readonly string[];
}

function status(name: string, config: Readonly<Record<string, unknown>>, keys: readonly string[]): IntegrationStatus {
  const missing = keys.filter((k) => config[k] === undefined);
  return { name, configured: missing.length === 0, missing };
}

/** Ingest: the webhook receivers (signing secrets). */
export function ingestIntegrations(config: IngestConfig): readonly IntegrationStatus[] {
  return [status("github", config, ["GITHUB_WEBHOOK_SECRET"]), status("slack", config, ["SLACK_SIGNING_SECRET"])];
}

/** Api: the install flows (the GitHub App's install page and lookup, Slack's OAuth). */
export function apiIntegrations(config: ApiConfig): readonly IntegrationStatus[] {
  return [
    status("github-app", config, ["GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_SLUG"]),
    status("slack-app", config, ["SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"]),
  ];
}

/** Worker: the tools' identities (the GitHub App, the Slack app's token refresh) and the email relay. */
export function workerIntegrations(config: WorkerConfig): readonly IntegrationStatus[] {
  return [
    status("github-app", config, ["GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY"]),
    status("slack-app", config, ["SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"]),
    status("email", config, ["PRAXA_SMTP_URL"]),
  ];
}

/** The one boot log line's fields: `{ code: 'INTEGRATIONS_NOT_CONFIGURED', integrations: [...], missing: [...] }`. */
export function unconfiguredSummary(
  list: readonly IntegrationStatus[],
): { readonly integrations: string[]; readonly missing: string[] } | null {
  const off = list.filter((i) => !i.configured);
  if (off.length === 0) return null;
  return { integrations: off.map((i) => i.name), missing: off.flatMap((i) => i.missing) };
}
