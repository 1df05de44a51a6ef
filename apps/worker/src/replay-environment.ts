/**
 * What a replay's tools re-fetch through, for one replay request this worker holds (its own lease, not a run's):
 *  - GitHub: an installation token minted for this call from the App key, for the installation the run came through
 *    (or the workspace's only one), narrowed to the run's repository and to reading (`contents`, `pull_requests`);
 *    never cached, never stored.
 *  - Slack: the bot token of the team the replayed run came through, opened under the replay's lease
 *    (`replay_slack_secret`: no other team, no other secret; never refreshed — an expired rotating token is named).
 *    The thread is read as it stood at the decision: the run's own answer (the message carrying one of its step
 *    markers) and anything posted after the decision are left out; a thread gone (`thread_not_found`) or a message of
 *    it deleted since (Slack's tombstone) is `ReplayInputUnavailableError`, named — never guessed; a message edited
 *    after the decision is reported as such.
 *  - memory facts of the workspace (RLS-scoped reads). Every write, post and dispatch is refused.
 */
import {
  createGithubRepoClient,
  createSlackBotClient,
  decodeSlackBotTokenRecord,
  mintInstallationToken,
  SlackRequestError,
  slackMarkerBlockId,
  type GithubAppConfig,
  type SlackAppConfig,
} from "@praxa/connectors";
import {
  IntegrationNotConfiguredError,
  ReplayInputUnavailableError,
  ReplayNotPossibleError,
  type ReplayInputCheck,
  type WorkspaceId,
} from "@praxa/core";
import type { KeyProvider } from "@praxa/crypto";
import {
  and,
  eq,
  readMemoryFacts,
  replaySlackSecret,
  replayWorkspaceKeys,
  schema,
  withWorkspace,
  type Database,
  type ReplayLease,
} from "@praxa/db";
import type { SlackThreadEntry, SlackToolClient, ToolEnvironment } from "@praxa/runtime";
import { openSealedRecord } from "./credentials.js";

export interface ReplayEnvironmentDeps {
  readonly database: Database;
  readonly provider: KeyProvider;
  readonly github: GithubAppConfig | null;
  readonly slack: SlackAppConfig | null;
  readonly now?: () => number;
}

export interface ReplaySubject {
  readonly workspaceId: WorkspaceId;
  readonly lease: ReplayLease;
  readonly runId: string;
  /** The run row's integration and input (its repository, for GitHub). */
  readonly integrationId: string | null;
  readonly runInput: Readonly<Record<string, unknown>>;
  /** When the decision was recorded (the record's `occurred_at`) and the step of its audit event. */
  readonly decidedAt: Date;
  readonly recordStep: number;
}

/** Slack's `ts` (`seconds.micro`) in milliseconds. */
function slackTsMs(ts: string): number {
  const [s, us = "0"] = ts.split(".");
  return Number(s) * 1000 + Number(us.padEnd(6, "0").slice(0, 6)) / 1000;
}

/**
 * The thread as it stood when the decision was made: the run's own post and later messages left out; deleted ones
 * (tombstones) and a vanished thread named. Edits after the decision are noted in `findings`.
 */
export function threadAsOfDecision(
  client: Pick<SlackToolClient, "readThread">,
  subject: Pick<ReplaySubject, "runId" | "decidedAt" | "recordStep">,
  findings: ReplayInputCheck[],
): SlackToolClient {
  const own = new Set<string>();
  for (let step = 0; step <= subject.recordStep; step++)
    own.add(slackMarkerBlockId(`<!-- praxa:${subject.runId}:${step} -->`));
  const decidedMs = subject.decidedAt.getTime();
  return {
    async readThread(channel, threadTs): Promise<SlackThreadEntry[]> {
      let messages: SlackThreadEntry[];
      try {
        messages = await client.readThread(channel, threadTs);
      } catch (err) {
        if (err instanceof SlackRequestError && err.details?.["slackError"] === "thread_not_found")
          throw new ReplayInputUnavailableError(
            `the thread ${channel}/${threadTs} no longer exists (deleted since the decision): Slack answers thread_not_found`,
          );
        if (err instanceof SlackRequestError && err.details?.["slackError"] === "channel_not_found")
          throw new ReplayInputUnavailableError(
            `the channel ${channel} of the thread ${threadTs} is no longer readable by the bot (channel_not_found)`,
          );
        throw err;
      }
      const asOf = messages.filter((m) => !(m.blockIds ?? []).some((b) => own.has(b)) && slackTsMs(m.ts) <= decidedMs);
      const deleted = asOf.filter((m) => m.deleted === true).map((m) => m.ts);
      if (deleted.length > 0)
        throw new ReplayInputUnavailableError(
          `the message${deleted.length > 1 ? "s" : ""} ${deleted.join(", ")} of the thread ${channel}/${threadTs} no longer exist${deleted.length > 1 ? "" : "s"} (deleted since the decision; Slack shows only a placeholder)`,
        );
      for (const m of asOf)
        if (m.editedTs !== undefined && slackTsMs(m.editedTs) > decidedMs)
          findings.push({
            name: `slack message ${m.ts}`,
            source: "refetch",
            status: "changed",
            recordedHash: null,
            currentHash: null,
            note: `the message ${m.ts} of the thread ${channel}/${threadTs} was edited after the decision (at ${new Date(slackTsMs(m.editedTs)).toISOString()})`,
          });
      return asOf;
    },
    postMessage: () => Promise.reject(new ReplayNotPossibleError("a replay posts nothing")),
  };
}

export function createReplayEnvironment(
  deps: ReplayEnvironmentDeps,
  subject: ReplaySubject,
  findings: ReplayInputCheck[],
): ToolEnvironment {
  const inScope = <T>(fn: Parameters<typeof withWorkspace<T>>[2]) =>
    withWorkspace(deps.database, subject.workspaceId, fn);
  const now = deps.now ?? Date.now;
  const refuse = (what: string) => () => Promise.reject(new ReplayNotPossibleError(`a replay ${what}`));
  return {
    async github() {
      const app = deps.github;
      if (!app)
        throw new IntegrationNotConfiguredError(
          "no GitHub App is configured for this worker (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY)",
        );
      const i = schema.integrations;
      const active = and(eq(i.provider, "github"), eq(i.status, "active"));
      const rows = await inScope((s) =>
        s.db
          .select({ externalId: i.externalId })
          .from(i)
          .where(subject.integrationId ? and(active, eq(i.id, subject.integrationId)) : active)
          .limit(2),
      );
      if (rows.length !== 1 || !rows[0])
        throw new ReplayInputUnavailableError(
          subject.integrationId
            ? "the GitHub installation the run came through is no longer active: the bot cannot read its inputs again"
            : "the run recorded no GitHub installation and this workspace has none or several active",
        );
      const repoInput = subject.runInput["repo"];
      const repo =
        typeof repoInput === "string" ? /^[A-Za-z0-9_.-]+\/([A-Za-z0-9_.-]+)$/.exec(repoInput)?.[1] : undefined;
      const installationId = Number(rows[0].externalId);
      const minted = await mintInstallationToken(app, installationId, {
        ...(repo ? { repositories: [repo] } : {}),
        permissions: { contents: "read", pull_requests: "read" },
      });
      return createGithubRepoClient({ token: minted.token, baseUrl: app.baseUrl, installationId });
    },
    async slack(teamId) {
      const app = deps.slack;
      if (!app)
        throw new IntegrationNotConfiguredError(
          "no Slack app is configured for this worker (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET)",
        );
      const token = await inScope(async (scope) => {
        const secret = await replaySlackSecret(scope, subject.lease, teamId);
        if (!secret)
          throw new ReplayInputUnavailableError(
            `the Slack team ${teamId} the run came through is no longer installed in this workspace: its thread cannot be read again`,
          );
        if (secret.expires_at !== null && secret.expires_at.getTime() <= now())
          throw new ReplayInputUnavailableError(
            `the bot token of the Slack team ${teamId} has expired; the next run of a Skill refreshes it — replay again after one`,
          );
        const plain = await openSealedRecord(deps.provider, scope, secret, () =>
          replayWorkspaceKeys(scope, subject.lease),
        );
        return decodeSlackBotTokenRecord(Buffer.from(plain).toString("utf8")).botToken;
      });
      return threadAsOfDecision(createSlackBotClient({ token, baseUrl: app.baseUrl, teamId }), subject, findings);
    },
    slackTeam: refuse("posts nothing"),
    memory: {
      read: (namespace, keys) => inScope((s) => readMemoryFacts(s, namespace, keys)),
      write: refuse("writes nothing"),
    },
    dispatchSubagent: refuse("dispatches nothing"),
    callback: refuse("calls nobody back"),
  };
}
