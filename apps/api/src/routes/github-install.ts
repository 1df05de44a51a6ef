/**
 * GitHub as the workspace's bot user: a GitHub App installation.
 *  - `GET /v1/integrations/github/install` (owner/admin): the App's install page URL with a state bound to this
 *    workspace and member (oauth-state.ts), and the `__Host-praxa_install` cookie that binds it to this browser
 *    (install-binding.ts).
 *  - `GET /v1/integrations/github/callback?installation_id&setup_action&state` (the App's setup URL): the state is
 *    consumed only with that cookie (else `INSTALL_NOT_BOUND`, GitHub not asked); then, as the App (an App JWT — no
 *    installation token is minted here), `GET /app/installations/{id}` tells which account installed it with which
 *    permissions; the integration is recorded with them, `pending_confirmation`: the answer shows the account (login
 *    and type) for the member to confirm (integration-confirm.ts) before anything uses it.
 * The installation id on a setup redirect can be forged (GitHub's docs say so), so it is only believed when:
 *  - GitHub, asked as the App, knows it (another App's or a made-up id → 404), and it is not suspended;
 *  - it is new to Praxa and was created after the state was issued (minus clock skew) — or it is already this
 *    workspace's (a permissions update); an installation connected to another workspace is never moved.
 * User authorization is never requested nor accepted: a callback carrying an OAuth `code` (an App configured to
 * "request user authorization during installation") is refused with `UserCredentialRefusedError`, the code unused.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { ValidationError } from "@praxa/core";
import { GithubInstallationNotFoundError, lookupInstallation, UserCredentialRefusedError } from "@praxa/connectors";
import { withWorkspace, type Database } from "@praxa/db";
import type { AuditSigner } from "@praxa/db";
import { InstallationSuspendedError, InstallationUnverifiedError, IntegrationNotConfiguredError } from "../errors.js";
import { installBindingHash, installNonceOf, newInstallNonce, setInstallCookie } from "../install-binding.js";
import { callbackUrl, type InstallConfig } from "../install-config.js";
import { confirmDeadline, pendingInstallAnswer } from "./integration-confirm.js";
import { findIntegration, upsertIntegration } from "../integration-upsert.js";
import { consumeOAuthState, issueOAuthState } from "../oauth-state.js";
import { publicRoute, route } from "../route-builder.js";
import { PendingInstall } from "./integration-confirm.js";
import { Timestamp } from "../schemas.js";

/** Allowed difference between GitHub's clock (installation created_at) and ours (state issued). */
const CLOCK_SKEW_MS = 2 * 60_000;

const CallbackQuery = z.object({
  state: z.string().min(1).max(200),
  installation_id: z
    .string()
    .regex(/^[1-9]\d{0,15}$/)
    .optional(),
  setup_action: z.enum(["install", "update", "request"]).optional(),
  code: z.string().optional(),
});

export function registerGithubInstallRoutes(
  app: FastifyInstance,
  db: Database,
  config: InstallConfig | undefined,
  auditSigner: AuditSigner | undefined,
): void {
  const githubConfig = () => {
    if (!config?.github)
      throw new IntegrationNotConfiguredError(
        "the GitHub App is not configured on this Praxa (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY, GITHUB_APP_SLUG)",
      );
    return { install: config, github: config.github };
  };

  route(app, db, {
    method: "GET",
    url: "/v1/integrations/github/install",
    tag: "integrations",
    summary: "Start a GitHub App install: the install URL, and the cookie binding it to this browser",
    operationId: "startGithubInstall",
    errors: ["INTEGRATION_NOT_CONFIGURED"],
    response: z.object({ url: z.string(), expiresAt: Timestamp }).strict(),
    roles: ["owner", "admin"],
    handler: async ({ scope, caller, reply, afterCommit }) => {
      const { install, github } = githubConfig();
      const nonce = newInstallNonce();
      const { state, expiresAt } = await issueOAuthState(
        scope,
        "github",
        caller.memberId,
        callbackUrl(install, "github"),
        installBindingHash(nonce),
      );
      afterCommit(async () => setInstallCookie(reply, nonce));
      const url = new URL(
        `${github.webUrl.replace(/\/+$/, "")}/apps/${encodeURIComponent(github.slug)}/installations/new`,
      );
      url.searchParams.set("state", state);
      return { url: url.toString(), expiresAt: expiresAt.toISOString() };
    },
  });

  publicRoute(app, {
    method: "GET",
    url: "/v1/integrations/github/callback",
    tag: "integrations",
    summary: "The GitHub App's setup redirect (a browser, with the install cookie; no api token)",
    operationId: "githubInstallCallback",
    query: CallbackQuery,
    errors: [
      "INTEGRATION_NOT_CONFIGURED",
      "USER_CREDENTIAL_REFUSED",
      "OAUTH_STATE_INVALID",
      "INSTALL_NOT_BOUND",
      "GITHUB_INSTALLATION_NOT_FOUND",
      "INSTALLATION_SUSPENDED",
      "INSTALLATION_UNVERIFIED",
      "INTEGRATION_CLAIMED",
      "UNAVAILABLE",
      "GITHUB_REQUEST_REJECTED",
    ],
    response: PendingInstall,
    otherResponses: { 202: z.object({ status: z.literal("requested"), note: z.string() }).strict() },
    handler: async ({ query: q, request: req, reply }) => {
      const { github } = githubConfig();
      if (q.code !== undefined) {
        throw new UserCredentialRefusedError(
          "the GitHub App must not request user authorization during installation: Praxa acts only as the App installation, never with a user-to-server token",
        );
      }
      const nonce = installNonceOf(req);
      const consumed = await consumeOAuthState(db, "github", q.state, nonce);
      if (q.setup_action === "request") {
        // An organization member asked an owner to approve; nothing is installed yet.
        return reply.status(202).send({
          status: "requested",
          note: "once an organization owner approves, start the install again from Praxa",
        });
      }
      if (q.installation_id === undefined) throw new ValidationError("invalid query: installation_id is required");
      const installationId = Number(q.installation_id);
      const info = await lookupInstallation(github, installationId);
      if (info.appId !== github.appId)
        throw new GithubInstallationNotFoundError("GitHub does not know this installation of the App");
      if (info.suspended)
        throw new InstallationSuspendedError(
          "this installation is suspended on GitHub; unsuspend it, then install again",
        );
      const confirmBy = confirmDeadline();
      const integration = await withWorkspace(db, consumed.workspaceId, async (scope) => {
        const mine = await findIntegration(scope, "github", String(installationId));
        if (
          !mine &&
          (info.createdAt === null || info.createdAt.getTime() < consumed.createdAt.getTime() - CLOCK_SKEW_MS)
        ) {
          throw new InstallationUnverifiedError(
            "this installation was not made through this install link; install the App from Praxa",
          );
        }
        return upsertIntegration(
          scope,
          {
            provider: "github",
            externalId: String(installationId),
            grantedScopes: info.permissions,
            botIdentity: {
              kind: "github_app_installation",
              login: `${github.slug}[bot]`,
              app_id: info.appId,
              account: info.account,
              account_type: info.accountType,
            },
            installedBy: consumed.memberId,
            confirmation: { bindingSha256: consumed.bindingSha256, confirmBy },
          },
          auditSigner,
        );
      });
      // The cookie lives on (same nonce) for the confirmation window.
      if (nonce !== null) setInstallCookie(reply, nonce);
      return pendingInstallAnswer(
        integration,
        { provider: "github", login: info.account, type: info.accountType },
        confirmBy,
      );
    },
  });
}
