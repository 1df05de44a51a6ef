/**
 * Slack as the workspace's bot user, through the OAuth v2 install flow (Slack "Installing with OAuth"):
 *  - `GET /v1/integrations/slack/install` (owner/admin): the authorize URL — bot scopes only, never a `user_scope` —
 *    with a state bound to this workspace and member (see oauth-state.ts), and the `__Host-praxa_install` cookie that
 *    binds it to this browser (install-binding.ts).
 *  - `GET /v1/integrations/slack/callback?code&state`: Slack's redirect. The state is consumed only with that cookie
 *    (else `INSTALL_NOT_BOUND`, and the code is never exchanged); the code is exchanged with `oauth.v2.access`; any
 *    user token in the answer is dropped before anything is stored; the bot token (with token rotation: the
 *    `xoxe.xoxb-` token, its `xoxe-` refresh token and expiry) is sealed to the workspace's public key and stored
 *    through `vault_put_secret`; the integration records the granted scopes, `pending_confirmation`: the answer shows
 *    the Slack team (id and name) for the member to confirm (integration-confirm.ts) before anything uses it. Nothing
 *    that answers or logs carries a token.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { ValidationError } from "@praxa/core";
import {
  encodeSlackBotTokenRecord,
  exchangeSlackCode,
  neededPermissions,
  SLACK_BOT_TOKEN_PURPOSE,
  slackBotVaultName,
  slackInstallUrl,
} from "@praxa/connectors";
import { sealCredential } from "@praxa/crypto";
import { vaultPutSecret, withWorkspace, workspacePublicKey, type Database } from "@praxa/db";
import type { AuditSigner } from "@praxa/db";
import { IntegrationNotConfiguredError, OAuthDeniedError, WorkspaceKeyMissingError } from "../errors.js";
import { installBindingHash, installNonceOf, newInstallNonce, setInstallCookie } from "../install-binding.js";
import { callbackUrl, type InstallConfig } from "../install-config.js";
import { confirmDeadline, pendingInstallAnswer } from "./integration-confirm.js";
import { upsertIntegration } from "../integration-upsert.js";
import { latestManifests } from "./integrations.js";
import { consumeOAuthState, issueOAuthState } from "../oauth-state.js";
import { publicRoute, route } from "../route-builder.js";
import { PendingInstall } from "./integration-confirm.js";
import { Timestamp } from "../schemas.js";

const CallbackQuery = z.object({
  // Slack may add other parameters to its redirect: not strict.
  state: z.string().min(1).max(200),
  code: z.string().min(1).max(1000).optional(),
  error: z.string().min(1).max(100).optional(),
});

const keyMissing = (): WorkspaceKeyMissingError =>
  new WorkspaceKeyMissingError(
    "this workspace has no key yet; the worker creates it (pnpm praxa keys rotate --workspace …)",
  );

export function registerSlackInstallRoutes(
  app: FastifyInstance,
  db: Database,
  config: InstallConfig | undefined,
  auditSigner: AuditSigner | undefined,
): void {
  const slackConfig = () => {
    if (!config?.slack)
      throw new IntegrationNotConfiguredError(
        "Slack is not configured on this Praxa (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET)",
      );
    return { install: config, slack: config.slack };
  };

  route(app, db, {
    method: "GET",
    url: "/v1/integrations/slack/install",
    tag: "integrations",
    summary: "Start a Slack install: the authorize URL, and the cookie binding it to this browser",
    operationId: "startSlackInstall",
    errors: ["INTEGRATION_NOT_CONFIGURED", "WORKSPACE_KEY_MISSING"],
    response: z.object({ url: z.string(), scopes: z.array(z.string()), expiresAt: Timestamp }).strict(),
    roles: ["owner", "admin"],
    handler: async ({ scope, caller, reply, afterCommit }) => {
      const { install, slack } = slackConfig();
      if (!(await workspacePublicKey(scope))) throw keyMissing();
      const scopes =
        slack.botScopes ??
        [...new Set([...neededPermissions("slack", await latestManifests(scope)), "chat:write"])].sort();
      const redirectUri = callbackUrl(install, "slack");
      const nonce = newInstallNonce();
      const { state, expiresAt } = await issueOAuthState(
        scope,
        "slack",
        caller.memberId,
        redirectUri,
        installBindingHash(nonce),
      );
      afterCommit(async () => setInstallCookie(reply, nonce));
      const url = slackInstallUrl(
        slack.clientId,
        scopes,
        state,
        redirectUri,
        `${slack.baseUrl.replace(/\/+$/, "")}/oauth/v2/authorize`,
      );
      return { url, scopes, expiresAt: expiresAt.toISOString() };
    },
  });

  publicRoute(app, {
    method: "GET",
    url: "/v1/integrations/slack/callback",
    tag: "integrations",
    summary: "Slack's redirect after an install (a browser, with the install cookie; no api token)",
    operationId: "slackInstallCallback",
    query: CallbackQuery,
    errors: [
      "INTEGRATION_NOT_CONFIGURED",
      "WORKSPACE_KEY_MISSING",
      "OAUTH_DENIED",
      "OAUTH_STATE_INVALID",
      "INSTALL_NOT_BOUND",
      "INTEGRATION_CLAIMED",
      "UNAVAILABLE",
      "SLACK_OAUTH_FAILED",
      "OAUTH_ANSWER_INVALID",
    ],
    response: PendingInstall,
    handler: async ({ query: q, request: req, reply }) => {
      const { install, slack } = slackConfig();
      const nonce = installNonceOf(req);
      const consumed = await consumeOAuthState(db, "slack", q.state, nonce);
      if (q.error !== undefined) throw new OAuthDeniedError("the Slack install was not approved");
      if (q.code === undefined) throw new ValidationError("invalid query: code is required");
      // The user token Slack may add under authed_user is dropped inside exchangeSlackCode (parseSlackOAuthAnswer).
      const bot = await exchangeSlackCode(slack, q.code, consumed.redirectUri ?? callbackUrl(install, "slack"));
      const confirmBy = confirmDeadline();
      const integration = await withWorkspace(db, consumed.workspaceId, async (scope) => {
        const pub = await workspacePublicKey(scope);
        if (!pub) throw keyMissing();
        const recorded = await upsertIntegration(
          scope,
          {
            provider: "slack",
            externalId: bot.teamId,
            grantedScopes: bot.grantedScopes,
            botIdentity: {
              kind: "slack_bot",
              user_id: bot.botUserId,
              app_id: bot.appId,
              team_id: bot.teamId,
              ...(bot.teamName !== null ? { team_name: bot.teamName } : {}),
            },
            installedBy: consumed.memberId,
            confirmation: { bindingSha256: consumed.bindingSha256, confirmBy },
          },
          auditSigner,
        );
        const sealed = await sealCredential(
          { keyId: pub.keyId, publicKey: pub.publicKey },
          { workspaceId: scope.workspaceId, provider: "slack", purpose: SLACK_BOT_TOKEN_PURPOSE },
          encodeSlackBotTokenRecord({ botToken: bot.botToken, refreshToken: bot.refreshToken }),
        );
        await vaultPutSecret(scope, {
          name: slackBotVaultName(bot.teamId),
          provider: "slack",
          purpose: SLACK_BOT_TOKEN_PURPOSE,
          ciphertext: Buffer.from(sealed),
          keyId: pub.keyId,
          ...(bot.expiresAt !== null ? { expiresAt: bot.expiresAt } : {}),
        });
        return recorded;
      });
      // The cookie lives on (same nonce) for the confirmation window.
      if (nonce !== null) setInstallCookie(reply, nonce);
      return {
        ...pendingInstallAnswer(
          integration,
          { provider: "slack", teamId: bot.teamId, teamName: bot.teamName },
          confirmBy,
        ),
        rotation: bot.refreshToken !== null,
      };
    },
  });
}
