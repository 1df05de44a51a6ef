/**
 * `/v1/notification-channels` — where a paused Skill is announced: a Slack channel (posted by the workspace's Slack
 * bot), an email address, or a PagerDuty service. A PagerDuty routing key is sealed to the workspace's public key
 * (the api seals, it can never open) and stored only through `vault_put_secret`; responses show its last four
 * characters, never the key. Admins configure; every member may list. Adding and deleting a channel each append a
 * signed `admin.channel.added` / `admin.channel.deleted` event (actor, channel id, kind; never a routing key) in the
 * same transaction.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { idSchema, IntegrationIdSchema, newId, PraxaError, WorkspaceScopeError } from "@praxa/core";
import { sealCredential } from "@praxa/crypto";
import {
  and,
  eq,
  isNull,
  schema,
  vaultDeleteSecret,
  vaultPutSecret,
  workspacePublicKey,
  type AuditSigner,
  type Database,
} from "@praxa/db";
import { appendAdminEvents, requireAuditSigner } from "../admin-audit.js";
import { WorkspaceKeyMissingError } from "../errors.js";
import { route } from "../route-builder.js";
import { exampleSlackChannel } from "../examples.js";
import { Deleted, Id, Timestamp } from "../schemas.js";

const Channel = z
  .object({
    id: Id("notificationChannel"),
    kind: z.enum(["slack", "email", "pagerduty"]),
    target: z.string(),
    integrationId: Id("integration").nullable(),
    fingerprint: z.string().nullable(),
    createdBy: z.string(),
    createdAt: Timestamp,
  })
  .strict();

class SlackIntegrationMissingError extends PraxaError {
  readonly code = "SLACK_INTEGRATION_MISSING";
  readonly httpStatus = 409;
}

const ChannelBody = z.discriminatedUnion("kind", [
  z
    .object({
      kind: z.literal("slack"),
      channel: z.string().regex(/^[CG][A-Z0-9]{2,30}$/, "a Slack channel id (C…)"),
      integrationId: IntegrationIdSchema.optional(),
    })
    .strict(),
  z.object({ kind: z.literal("email"), address: z.email().max(320) }).strict(),
  z
    .object({
      kind: z.literal("pagerduty"),
      routingKey: z.string().regex(/^[A-Za-z0-9]{32}$/, "a 32-character Events API v2 integration key"),
    })
    .strict(),
]);

const c = schema.notificationChannels;
const publicFields = {
  id: c.id,
  kind: c.kind,
  target: c.target,
  integrationId: c.integrationId,
  fingerprint: c.fingerprint,
  createdBy: c.createdBy,
  createdAt: c.createdAt,
};

export function registerNotificationChannelRoutes(
  app: FastifyInstance,
  db: Database,
  auditSigner: AuditSigner | undefined,
): void {
  route(app, db, {
    method: "GET",
    url: "/v1/notification-channels",
    tag: "notification-channels",
    summary: "List notification channels",
    operationId: "listNotificationChannels",
    response: z.object({ channels: z.array(Channel) }).strict(),
    handler: async ({ scope }) => ({
      channels: await scope.db.select(publicFields).from(c).where(isNull(c.disabledAt)).orderBy(c.createdAt),
    }),
  });

  route(app, db, {
    method: "POST",
    url: "/v1/notification-channels",
    tag: "notification-channels",
    summary: "Add a notification channel (a PagerDuty key is sealed; its last four characters come back)",
    operationId: "createNotificationChannel",
    errors: ["UNAVAILABLE", "WORKSPACE_KEY_MISSING", "SLACK_INTEGRATION_MISSING"],
    examples: { body: exampleSlackChannel },
    response: Channel,
    roles: ["owner", "admin"],
    status: 201,
    bodyLimit: 4 * 1024,
    body: ChannelBody,
    handler: async ({ scope, caller, body }) => {
      requireAuditSigner(auditSigner);
      const id = newId("notificationChannel");
      const base = { workspaceId: caller.workspaceId, id, createdBy: caller.memberId };
      if (body.kind === "email") {
        await scope.db.insert(c).values({ ...base, kind: "email", target: body.address });
      } else if (body.kind === "slack") {
        const i = schema.integrations;
        const found = await scope.db
          .select({ id: i.id })
          .from(i)
          .where(
            and(
              eq(i.provider, "slack"),
              eq(i.status, "active"),
              body.integrationId ? eq(i.id, body.integrationId) : undefined,
            ),
          );
        if (found.length !== 1 || !found[0])
          throw new SlackIntegrationMissingError(
            body.integrationId
              ? "no such active Slack integration in this workspace"
              : "install the Slack app first (or name its integrationId)",
          );
        await scope.db.insert(c).values({ ...base, kind: "slack", target: body.channel, integrationId: found[0].id });
      } else {
        const pub = await workspacePublicKey(scope);
        if (!pub)
          throw new WorkspaceKeyMissingError(
            "this workspace has no key yet; the worker creates it (pnpm praxa keys rotate --workspace …)",
          );
        const vaultName = `notify/pagerduty/${id}`;
        const sealed = await sealCredential(
          { keyId: pub.keyId, publicKey: pub.publicKey },
          { workspaceId: caller.workspaceId, provider: "pagerduty", purpose: "routing_key" },
          body.routingKey,
        );
        await vaultPutSecret(scope, {
          name: vaultName,
          provider: "pagerduty",
          purpose: "routing_key",
          ciphertext: Buffer.from(sealed),
          keyId: pub.keyId,
        });
        const fingerprint = body.routingKey.slice(-4);
        await scope.db
          .insert(c)
          .values({ ...base, kind: "pagerduty", target: `PagerDuty …${fingerprint}`, vaultName, fingerprint });
      }
      const [row] = await scope.db.select(publicFields).from(c).where(eq(c.id, id));
      // The event names the channel's kind and its public target (an email address, a Slack channel id, `PagerDuty …last4`).
      await appendAdminEvents(scope, auditSigner, caller, [
        {
          kind: "admin.channel.added",
          targetId: id,
          details: { kind: body.kind },
          output: { target: row?.target ?? null, integration_id: row?.integrationId ?? null },
        },
      ]);
      if (!row) throw new WorkspaceScopeError("the channel was not recorded");
      return row;
    },
  });

  route(app, db, {
    method: "DELETE",
    url: "/v1/notification-channels/:id",
    tag: "notification-channels",
    summary: "Delete a notification channel",
    operationId: "deleteNotificationChannel",
    errors: ["UNAVAILABLE"],
    response: Deleted,
    roles: ["owner", "admin"],
    params: z.object({ id: idSchema("notificationChannel") }).strict(),
    handler: async ({ scope, caller, params }) => {
      requireAuditSigner(auditSigner);
      const [row] = await scope.db
        .update(c)
        .set({ disabledAt: new Date() })
        .where(and(eq(c.id, params.id), isNull(c.disabledAt)))
        .returning({ vaultName: c.vaultName, kind: c.kind });
      if (!row) throw new WorkspaceScopeError("no such channel in this workspace");
      if (row.vaultName) await vaultDeleteSecret(scope, row.vaultName);
      await appendAdminEvents(scope, auditSigner, caller, [
        {
          kind: "admin.channel.deleted",
          targetId: params.id,
          details: { kind: row.kind },
          output: { status: "deleted" },
        },
      ]);
      return { deleted: true as const };
    },
  });
}
