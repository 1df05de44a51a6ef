/** What a verified webhook becomes before it touches the database: a trigger, an installation and a minimal input. */
export interface IntakeEvent {
  readonly source: "github" | "slack";
  /** GitHub installation id or Slack team id; resolved to a workspace by `ingest_resolve_installation`. */
  readonly externalId: string;
  readonly trigger: string;
  /** The minimum the Skill needs (repo, PR number, head sha, channel, message ts) — never the whole payload. */
  readonly input: Readonly<Record<string, string | number | boolean | null>>;
  /** The actor, to recognise events caused by our own bot. */
  readonly actor: { readonly login: string | null; readonly isBot: boolean; readonly appId: number | null };
}

/** Why a verified webhook starts no run. */
export type IgnoreReason =
  | "unsupported_event"
  | "malformed_event"
  | "own_app"
  | "unknown_installation"
  | "no_subscribed_skill"
  | "ping"
  | "not_a_pull_request"
  | "not_a_member";

export type MappedEvent =
  { readonly kind: "event"; readonly event: IntakeEvent } | { readonly kind: "ignored"; readonly reason: IgnoreReason };
