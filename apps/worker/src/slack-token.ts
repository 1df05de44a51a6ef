/**
 * The Slack bot token for a run, as the workspace's Slack bot. The api stored it sealed at install (one vault record per
 * team: the bot token and, with Slack's token rotation, its `xoxe-` refresh token; the row's `expires_at` is the bot
 * token's expiry). Here, for a run the worker holds (every read presents the lease):
 *  - a token valid for more than five minutes is opened and returned;
 *  - otherwise the record is locked (`vault_lock_for_run`, FOR UPDATE) and read again — a concurrent run may have
 *    refreshed it while this one waited — and, if still near expiry, refreshed once through `oauth.v2.access`
 *    (`grant_type=refresh_token`); the new pair is sealed to the workspace key and stored through `vault_put_secret`
 *    (the vault's single write path, granted to the worker) before the lock is released.
 * Only for an `active` Slack integration of the run's workspace: a team whose install is still
 * `pending_confirmation` (its sealed token already in the vault) is not installed as far as a run is concerned.
 * Slack revokes a refresh token when it is used, so a refresh must never run twice for one token nor be rolled back
 * after Slack answered: this function owns its short transactions (it takes the database, not the caller's scope) and
 * commits the new pair at once, whatever the run does next. The plaintext is returned for this run only.
 * A refresh Slack refuses for good is `SlackReinstallNeededError` (`INTEGRATION_GONE`), a rate-limited one a
 * `ThrottledError({resource: "slack"})`; both carry the team id in their details (docs/failures.md).
 */
import { NotFoundError, PraxaError, ThrottledError, type WorkspaceId } from "@praxa/core";
import {
  decodeSlackBotTokenRecord,
  encodeSlackBotTokenRecord,
  refreshSlackBotToken,
  SLACK_BOT_TOKEN_PURPOSE,
  slackBotVaultName,
  SlackReinstallNeededError,
  type SlackAppConfig,
} from "@praxa/connectors";
import { sealCredential, type KeyProvider } from "@praxa/crypto";
import {
  and,
  eq,
  schema,
  sql,
  vaultLockForRun,
  vaultPutSecret,
  vaultTryReadForRun,
  withWorkspace,
  workspacePublicKey,
  type Database,
  type RunLease,
  type VaultRecord,
  type WorkspaceScope,
} from "@praxa/db";
import { openVaultRecordForRun } from "./credentials.js";

export const SLACK_REFRESH_MARGIN_MS = 5 * 60_000;

export interface SlackTokenDeps {
  readonly database: Database;
  readonly provider: KeyProvider;
  readonly slack: SlackAppConfig;
  readonly now?: () => number;
}

/** The run's workspace and lease (a `ClaimedRun` has both). */
export interface SlackRunRef {
  readonly workspaceId: WorkspaceId;
  readonly lease: RunLease;
}

export class SlackNotInstalledError extends PraxaError {
  readonly code = "SLACK_NOT_INSTALLED";
  readonly httpStatus = 404;
}

/** A refusal or a rate limit of the refresh, with the team it concerns in its details (the worker acts on the team). */
function withTeam(err: unknown, teamId: string): unknown {
  if (err instanceof SlackReinstallNeededError)
    return new SlackReinstallNeededError(err.message, { details: { ...err.details, teamId } });
  if (err instanceof ThrottledError)
    return new ThrottledError(err.message, {
      resource: err.resource,
      retryAfterMs: err.retryAfterMs,
      code: err.code,
      details: { ...err.details, teamId },
    });
  return err;
}

async function openRecord(provider: KeyProvider, scope: WorkspaceScope, lease: RunLease, record: VaultRecord) {
  return decodeSlackBotTokenRecord(
    Buffer.from(await openVaultRecordForRun(provider, scope, lease, record)).toString("utf8"),
  );
}

export async function slackBotTokenForRun(deps: SlackTokenDeps, run: SlackRunRef, teamId: string): Promise<string> {
  const now = deps.now ?? Date.now;
  const name = slackBotVaultName(teamId);
  const fresh = (r: VaultRecord): boolean =>
    r.expires_at === null || r.expires_at.getTime() - now() > SLACK_REFRESH_MARGIN_MS;
  const notInstalled = (): SlackNotInstalledError =>
    new SlackNotInstalledError("no Slack bot is installed for this team in this workspace");

  const current = await withWorkspace(deps.database, run.workspaceId, async (scope) => {
    const i = schema.integrations;
    const [active] = await scope.db
      .select({ id: i.id })
      .from(i)
      .where(and(eq(i.provider, "slack"), eq(i.status, "active"), sql`lower(${i.externalId}) = lower(${teamId})`));
    if (!active) throw notInstalled();
    const record = await vaultTryReadForRun(scope, run.lease, name);
    if (!record) throw notInstalled();
    return fresh(record) ? (await openRecord(deps.provider, scope, run.lease, record)).botToken : null;
  });
  if (current !== null) return current;

  return withWorkspace(deps.database, run.workspaceId, async (scope) => {
    const locked = await vaultLockForRun(scope, run.lease, name);
    if (!locked) throw notInstalled();
    const record = await openRecord(deps.provider, scope, run.lease, locked);
    if (fresh(locked) || record.refreshToken === null) return record.botToken;
    const pub = await workspacePublicKey(scope);
    if (!pub) throw new NotFoundError("this workspace has no active key to seal the refreshed token to");
    const refreshed = await refreshSlackBotToken(deps.slack, record.refreshToken, now()).catch((err: unknown) => {
      throw withTeam(err, teamId);
    });
    const sealed = await sealCredential(
      { keyId: pub.keyId, publicKey: pub.publicKey },
      { workspaceId: scope.workspaceId, provider: "slack", purpose: SLACK_BOT_TOKEN_PURPOSE },
      encodeSlackBotTokenRecord({ botToken: refreshed.botToken, refreshToken: refreshed.refreshToken }),
    );
    await vaultPutSecret(scope, {
      name,
      provider: "slack",
      purpose: SLACK_BOT_TOKEN_PURPOSE,
      ciphertext: Buffer.from(sealed),
      keyId: pub.keyId,
      expiresAt: refreshed.expiresAt,
    });
    return refreshed.botToken;
  });
}
