/**
 * What the api needs to install bot users. Slack: the app's OAuth client (exchanges install codes; opens nothing).
 * GitHub: the App id, slug and private key — the key signs App JWTs for one call, the installation lookup; it opens no
 * sealed credential (docs/security.md). Either may be absent: its routes then answer `INTEGRATION_NOT_CONFIGURED`.
 */
import type { GithubAppConfig, SlackAppConfig } from "@praxa/connectors";

export interface InstallConfig {
  /** Where browsers reach the api; callbacks are `{publicUrl}/v1/integrations/<provider>/callback`. */
  readonly publicUrl: string;
  readonly slack?: SlackAppConfig & {
    /** Bot scopes to ask for; default: what the workspace's Skills need, plus `chat:write` (notifications). */
    readonly botScopes?: readonly string[];
  };
  readonly github?: GithubAppConfig & {
    readonly slug: string;
    /** https://github.com, or a GitHub Enterprise Server / sandbox web URL. */
    readonly webUrl: string;
  };
}

export function callbackUrl(config: InstallConfig, provider: "github" | "slack"): string {
  return `${config.publicUrl.replace(/\/+$/, "")}/v1/integrations/${provider}/callback`;
}
