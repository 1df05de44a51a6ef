/**
 * What the runtime's tools reach the world through, for one run this worker holds: GitHub as the bot of the
 * installation the run came through (recorded on the run row by ingest; a token minted for that installation only,
 * narrowed to the run's repository and its Skill's permissions, or opened from the sealed cache under the lease),
 * memory facts of the workspace (RLS-scoped), sub-agent dispatch (a child run row on this run's subject through a
 * definer function, its model-written task sealed to the workspace key, then its `{runId}` job), Slack as the team's
 * bot (its rotating token refreshed under a vault lock, see slack-token.ts).
 */
import {
  createGithubRepoClient,
  GithubTokenRejectedError,
  createSlackBotClient,
  githubTokenPermissions,
  neededPermissions,
  type GithubAppConfig,
  type InstallationTokenScope,
  type SlackAppConfig,
} from "@praxa/connectors";
import { IntegrationNotConfiguredError, newId, PraxaError, type WorkspaceId } from "@praxa/core";
import type { KeyProvider } from "@praxa/crypto";
import {
  and,
  dispatchSubagentRun,
  eq,
  readMemoryFacts,
  schema,
  withWorkspace,
  writeMemoryFact,
  type Database,
  type RunLease,
} from "@praxa/db";
import { SubAgentInputInvalidError, type ToolEnvironment } from "@praxa/runtime";
import { egressPolicy, type EgressOptions, type EgressPolicy } from "@praxa/egress";
import { installationTokenForRun } from "./github-token.js";
import { sendSkillCallback } from "./skill-callback.js";
import { slackBotTokenForRun } from "./slack-token.js";
import { sealSubagentTask } from "./subagent-task.js";

/** The child's arguments as the database takes them: flat numbers, booleans and short tokens (else refused). */
function flatArgs(args: Readonly<Record<string, unknown>>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(args)) {
    if (v === undefined) continue;
    if (typeof v === "number" || typeof v === "boolean" || (typeof v === "string" && v.length <= 64)) out[k] = v;
    else throw new SubAgentInputInvalidError("the sub-agent input must be flat numbers, booleans and tokens");
  }
  return out;
}

export interface ToolEnvironmentDeps {
  readonly database: Database;
  readonly provider: KeyProvider;
  /** Bounds and allowed ranges of requests to customer-given URLs (Skill callbacks); default: public addresses only. */
  readonly egress?: EgressPolicy;
  readonly egressOptions?: EgressOptions;
  readonly github: GithubAppConfig | null;
  readonly slack: SlackAppConfig | null;
  readonly enqueueRun: (runId: string) => Promise<void>;
  readonly maxSubagentDepth: number;
}

/** The run needs an integration this workspace has not installed: not retryable. (One this worker lacks: `IntegrationNotConfiguredError`.) */
export class IntegrationMissingError extends PraxaError {
  readonly code = "INTEGRATION_MISSING";
  readonly httpStatus = 409;
}

/**
 * The run recorded no installation (a signed-producer, api or old run) and its workspace has several active GitHub
 * installations: which one to act through is not guessed. Not retryable.
 */
export class IntegrationAmbiguousError extends PraxaError {
  readonly code = "INTEGRATION_AMBIGUOUS";
  readonly httpStatus = 409;
}

/** Which installation a run's GitHub token is for, and what it is narrowed to. */
export interface RunGithubScope {
  /** The integration the run came through (agent_runs.integration_id); null: the workspace's only active one. */
  readonly integrationId: string | null;
  /** Repository names (without owner) and permissions the token is narrowed to. */
  readonly token: InstallationTokenScope;
  /**
   * The external ids of the active installations the run may act through, as its claim read them
   * (claim_run_context); absent: read here. A fresh token (after a 401) always reads them again.
   */
  readonly installations?: readonly string[];
}

/**
 * A run's GitHub scope from its row and pinned manifest: the installation it came through, its repository (`input.repo`,
 * `owner/name`; a run without one is narrowed by permissions only) and the permissions its tools and Skill need.
 */
export function runGithubScope(
  run: { readonly integration_id: string | null; readonly input: Readonly<Record<string, unknown>> },
  manifest: { readonly tools: readonly string[] },
  skillNeeds: readonly string[] = [],
  installations?: readonly string[],
): RunGithubScope {
  const repo =
    typeof run.input["repo"] === "string"
      ? /^[A-Za-z0-9_.-]+\/([A-Za-z0-9_.-]+)$/.exec(run.input["repo"])?.[1]
      : undefined;
  const permissions = githubTokenPermissions([
    ...neededPermissions("github", [{ tools: manifest.tools, triggers: [] }]),
    ...skillNeeds,
  ]);
  return {
    integrationId: run.integration_id,
    token: { ...(repo ? { repositories: [repo] } : {}), permissions },
    ...(installations ? { installations } : {}),
  };
}

export function createToolEnvironment(
  deps: ToolEnvironmentDeps,
  workspaceId: WorkspaceId,
  lease: RunLease,
  runGithub: RunGithubScope = { integrationId: null, token: {} },
  skillId: string | null = null,
): ToolEnvironment {
  const inScope = <T>(fn: Parameters<typeof withWorkspace<T>>[2]) => withWorkspace(deps.database, workspaceId, fn);
  let github: ReturnType<typeof createGithubRepoClient> | null = null;
  const slack = new Map<string, ReturnType<typeof createSlackBotClient>>();
  return {
    async github() {
      if (github) return github;
      const app = deps.github;
      if (!app)
        throw new IntegrationNotConfiguredError(
          "no GitHub App is configured for this worker (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY)",
        );
      let installationId = 0;
      const tokenFor = (fresh: boolean) =>
        inScope(async (s) => {
          const known = fresh ? undefined : runGithub.installations;
          let rows: readonly { externalId: string }[];
          if (known) rows = known.map((externalId) => ({ externalId }));
          else {
            const active = and(eq(schema.integrations.provider, "github"), eq(schema.integrations.status, "active"));
            rows = await s.db
              .select({ externalId: schema.integrations.externalId })
              .from(schema.integrations)
              .where(
                runGithub.integrationId === null
                  ? active
                  : and(active, eq(schema.integrations.id, runGithub.integrationId)),
              )
              .limit(2);
          }
          const row = rows[0];
          if (!row)
            throw new IntegrationMissingError(
              runGithub.integrationId === null
                ? "this workspace has no active GitHub installation"
                : "the GitHub installation this run came through is no longer active",
            );
          if (rows.length > 1)
            throw new IntegrationAmbiguousError("the run names no GitHub installation and this workspace has several");
          installationId = Number(row.externalId);
          return installationTokenForRun(
            { provider: deps.provider, github: app },
            s,
            lease,
            installationId,
            runGithub.token,
            { fresh },
          );
        });
      const client = createGithubRepoClient({ token: await tokenFor(false), baseUrl: app.baseUrl, installationId });
      github = withFreshTokenOnRejection(client, async () =>
        createGithubRepoClient({ token: await tokenFor(true), baseUrl: app.baseUrl, installationId }),
      );
      return github;
    },
    async slack(teamId) {
      const cached = slack.get(teamId);
      if (cached) return cached;
      const app = deps.slack;
      if (!app)
        throw new IntegrationNotConfiguredError(
          "no Slack app is configured for this worker (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET)",
        );
      const token = await slackBotTokenForRun(
        { database: deps.database, provider: deps.provider, slack: app },
        { workspaceId, lease },
        teamId,
      );
      const client = createSlackBotClient({ token, baseUrl: app.baseUrl, teamId });
      slack.set(teamId, client);
      return client;
    },
    async callback(request) {
      if (skillId === null) throw new IntegrationMissingError("this run has no Skill to sign a callback with");
      return sendSkillCallback(
        {
          database: deps.database,
          provider: deps.provider,
          egress: deps.egress ?? egressPolicy(),
          ...(deps.egressOptions ? { egressOptions: deps.egressOptions } : {}),
        },
        workspaceId,
        lease,
        skillId,
        request,
      );
    },
    async slackTeam() {
      const i = schema.integrations;
      const rows = await inScope((s) =>
        s.db
          .select({ externalId: i.externalId })
          .from(i)
          .where(and(eq(i.provider, "slack"), eq(i.status, "active")))
          .limit(2),
      );
      const row = rows[0];
      if (!row) throw new IntegrationMissingError("this workspace has no active Slack installation");
      if (rows.length > 1)
        throw new IntegrationAmbiguousError("this workspace has several Slack teams; the Skill must name its team");
      return row.externalId;
    },
    memory: {
      read: (namespace, keys) => inScope((s) => readMemoryFacts(s, namespace, keys)),
      write: (namespace, key, value) => inScope((s) => writeMemoryFact(s, namespace, key, value, newId("memoryFact"))),
    },
    async dispatchSubagent(request, step) {
      // The runtime validated the request against the child's declared input; the database takes flat tokens only.
      const args = flatArgs(request.args);
      const childRunId = newId("run");
      // The subject is not ours to give: dispatch_subagent_run copies it from this run's row. The task is sealed first.
      const child = await inScope(async (s) => {
        const taskSealed =
          request.task === null ? null : await sealSubagentTask(s, workspaceId, childRunId, request.task);
        return dispatchSubagentRun(s, lease, {
          childRunId,
          targetSlug: request.skill,
          step,
          args,
          taskSealed,
          maxDepth: deps.maxSubagentDepth,
        });
      });
      // The row is the outbox: if this enqueue is lost, the reconciler enqueues the queued child.
      await deps.enqueueRun(child.runId);
      return child;
    },
  };
}

type GithubRepoClient = ReturnType<typeof createGithubRepoClient>;

/**
 * GitHub answers 401 to a cached installation token that was revoked before its expiry (the App uninstalled or
 * suspended): mint a fresh token once — bypassing the vault's copy — and make the call again with it. GitHub did
 * nothing on a 401, so repeating an effect is safe; a mint that answers 404 surfaces as `IntegrationGoneError`.
 */
function withFreshTokenOnRejection(
  client: GithubRepoClient,
  remint: () => Promise<GithubRepoClient>,
): GithubRepoClient {
  let current = client;
  let reminted = false;
  const wrapped = {} as Record<string, unknown>;
  for (const key of Object.keys(client) as (keyof GithubRepoClient)[]) {
    wrapped[key] = async (...args: unknown[]) => {
      const call = (c: GithubRepoClient) => (c[key] as (...a: unknown[]) => Promise<unknown>)(...args);
      try {
        return await call(current);
      } catch (err) {
        if (!(err instanceof GithubTokenRejectedError) || reminted) throw err;
        reminted = true;
        current = await remint();
        return call(current);
      }
    };
  }
  return wrapped as GithubRepoClient;
}
