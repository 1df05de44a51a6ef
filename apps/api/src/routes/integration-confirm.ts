/**
 * The second half of an install: the callback recorded the integration `pending_confirmation` and showed the member
 * which account installed it (GitHub account login and type, as GitHub told the App; Slack team id and name, as
 * `oauth.v2.access` told Praxa). Nothing uses a pending integration — ingest resolves only `active` installations,
 * the worker and the notification functions read only `active` ones — until
 *  - `POST /v1/integrations/:id/confirm` by the member who installed it (api token, owner/admin), from the same browser
 *    (the same `__Host-praxa_install` cookie: its nonce must hash to the one the state carried, constant-time), within
 *    10 minutes of the callback → `active`, with an `admin.integration.confirmed` audit event in the same transaction, and the
 *    cookie cleared. Anything else: `INSTALL_NOT_BOUND` (403) and nothing changes; not pending: `CONFLICT` (409).
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { ConflictError, IntegrationIdSchema, UnavailableError, WorkspaceScopeError } from "@praxa/core";
import { and, eq, schema, type AuditSigner, type Database } from "@praxa/db";
import { appendAdminEvents } from "../admin-audit.js";
import {
  clearInstallCookie,
  INSTALL_COOKIE_MAX_AGE_S,
  installBindingMatches,
  installNonceOf,
  InstallNotBoundError,
} from "../install-binding.js";
import type { IntegrationView } from "../integration-upsert.js";
import { route } from "../route-builder.js";
import { Id, JsonObject, Timestamp } from "../schemas.js";

/** The callback's answer: the pending integration, the installing account, how to confirm it. */
export const PendingInstall = z
  .object({
    integration: z
      .object({
        id: Id("integration"),
        provider: z.enum(["github", "slack"]),
        externalId: z.string(),
        status: z.string(),
        grantedScopes: z.array(z.string()),
        botIdentity: JsonObject,
      })
      .strict(),
    account: z.discriminatedUnion("provider", [
      z.object({ provider: z.literal("github"), login: z.string(), type: z.string().nullable() }).strict(),
      z.object({ provider: z.literal("slack"), teamId: z.string(), teamName: z.string().nullable() }).strict(),
    ]),
    confirm: z.object({ method: z.literal("POST"), url: z.string(), by: Timestamp }).strict(),
    note: z.string(),
    rotation: z.boolean().optional(),
  })
  .strict();

/** The installing account, as the provider told Praxa — for the member to recognise before confirming. */
export type InstallingAccount =
  | { readonly provider: "github"; readonly login: string; readonly type: string | null }
  | { readonly provider: "slack"; readonly teamId: string; readonly teamName: string | null };

/** How long after the callback the member may confirm (the install cookie is refreshed for as long). */
export const confirmDeadline = (now = Date.now()): Date => new Date(now + INSTALL_COOKIE_MAX_AGE_S * 1000);

/** The callback's answer: the pending integration, the account that installed it, and how to confirm it. */
export function pendingInstallAnswer(
  integration: IntegrationView,
  account: InstallingAccount,
  confirmBy: Date,
): z.output<typeof PendingInstall> {
  return {
    integration: { ...integration, grantedScopes: [...integration.grantedScopes] },
    account,
    confirm: {
      method: "POST" as const,
      url: `/v1/integrations/${integration.id}/confirm`,
      by: confirmBy.toISOString(),
    },
    note: "not active yet: confirm that this is the account you meant to connect, from this browser",
  };
}

export function registerIntegrationConfirmRoutes(
  app: FastifyInstance,
  db: Database,
  auditSigner: AuditSigner | undefined,
): void {
  route(app, db, {
    method: "POST",
    url: "/v1/integrations/:id/confirm",
    tag: "integrations",
    summary: "Confirm a pending installation (its installer, from the browser that started it)",
    operationId: "confirmIntegration",
    errors: ["UNAVAILABLE", "CONFLICT", "INSTALL_NOT_BOUND"],
    response: z.object({ integration: PendingInstall.shape.integration }).strict(),
    roles: ["owner", "admin"],
    params: z.object({ id: IntegrationIdSchema }).strict(),
    handler: async ({ scope, caller, params, request, reply, afterCommit }) => {
      if (!auditSigner)
        throw new UnavailableError(
          "audit signing is not configured on this api: installations are refused until it is",
        );
      const i = schema.integrations;
      const [row] = await scope.db
        .select({
          provider: i.provider,
          externalId: i.externalId,
          status: i.status,
          installedBy: i.installedBy,
          binding: i.confirmBindingSha256,
          confirmBy: i.confirmBy,
          botIdentity: i.botIdentity,
        })
        .from(i)
        .where(eq(i.id, params.id));
      if (!row) throw new WorkspaceScopeError("no such integration in this workspace");
      if (row.status !== "pending_confirmation")
        throw new ConflictError("this integration is not waiting for confirmation");
      const bound = installBindingMatches(installNonceOf(request), row.binding);
      if (
        !bound ||
        row.installedBy !== caller.memberId ||
        row.confirmBy === null ||
        row.confirmBy.getTime() <= Date.now()
      ) {
        throw new InstallNotBoundError(
          "only the member who installed it may confirm it, from the browser that started the install, within 10 minutes; install again",
        );
      }
      const [confirmed] = await scope.db
        .update(i)
        .set({ status: "active", confirmBindingSha256: null, confirmBy: null, updatedAt: new Date() })
        .where(and(eq(i.id, params.id), eq(i.status, "pending_confirmation")))
        .returning({
          id: i.id,
          provider: i.provider,
          externalId: i.externalId,
          status: i.status,
          grantedScopes: i.grantedScopes,
          botIdentity: i.botIdentity,
        });
      if (!confirmed) throw new ConflictError("this integration is not waiting for confirmation");
      await appendAdminEvents(scope, auditSigner, caller, [
        {
          kind: "admin.integration.confirmed",
          targetId: confirmed.id,
          details: { provider: row.provider, external_id: row.externalId, confirmed_by: caller.memberId },
          output: { integration_id: confirmed.id, status: confirmed.status },
        },
      ]);
      afterCommit(async () => clearInstallCookie(reply));
      return { integration: confirmed };
    },
  });
}
