/**
 * `/v1/siem-subscriptions` — stream the workspace's audit log to its SIEM over signed webhooks (docs/siem.md).
 *
 * Creation checks the endpoint before anything is stored: the egress guard (a refused address is `422
 * EGRESS_REFUSED`, with no connection made), then a signed ownership challenge the endpoint must answer (`422
 * SIEM_ENDPOINT_UNVERIFIED` otherwise). The subscription's Ed25519 key pair is generated here: its public half
 * (`whpk_…`) is shown to the customer, its private half — like the optional `whsec_`, the Splunk token and the
 * Datadog key — is sealed to the workspace's public key (the api seals, only a worker opens) and stored through
 * `vault_put_secret`. A `whsec_` is shown once, at creation or rotation. Responses never carry a secret; the format's
 * credential shows its last four characters.
 *
 * Admins manage subscriptions; every member may list them. Each change appends a signed
 * `admin.siem_subscription.*` event in its own transaction. Testing asks the worker to send a signed test message on
 * its next pass (the api cannot sign: it never opens the key); the result shows in the listing.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { idSchema, newId, PraxaError } from "@praxa/core";
import {
  generateSiemSigningKey,
  generateWebhookSecret,
  siemPrivateKey,
  verifySiemEndpoint,
  type SiemFormat,
} from "@praxa/connectors";
import { eq, ne, schema, sql, vaultDeleteSecret, type AuditSigner, type Database } from "@praxa/db";
import { egressPolicy, resolveEgressTarget, type EgressOptions, type EgressPolicy } from "@praxa/egress";
import { appendAdminEvents, requireAuditSigner } from "../admin-audit.js";
import { route } from "../route-builder.js";
import { Deleted, Timestamp } from "../schemas.js";
import {
  Created,
  CreateBody,
  fields,
  load,
  s,
  seal,
  Subscription,
  vaultName,
  visible,
  type Row,
} from "./siem-subscription-store.js";

export interface SiemApiConfig {
  readonly egress: EgressPolicy;
  readonly egressOptions?: EgressOptions;
}

class SiemSubscriptionStateError extends PraxaError {
  readonly code = "CONFLICT";
  readonly httpStatus = 409;
}

const IdParams = z.object({ id: idSchema("siemSubscription") }).strict();

export function registerSiemSubscriptionRoutes(
  app: FastifyInstance,
  db: Database,
  auditSigner: AuditSigner | undefined,
  config: SiemApiConfig = { egress: egressPolicy() },
): void {
  route(app, db, {
    method: "GET",
    url: "/v1/siem-subscriptions",
    tag: "siem-subscriptions",
    summary: "List SIEM subscriptions (cursor, failures, last test)",
    operationId: "listSiemSubscriptions",
    response: z.object({ subscriptions: z.array(Subscription) }).strict(),
    handler: async ({ scope }) => ({
      subscriptions: (await scope.db.select(fields).from(s).where(ne(s.status, "deleted")).orderBy(s.createdAt)).map(
        visible,
      ),
    }),
  });

  route(app, db, {
    method: "POST",
    url: "/v1/siem-subscriptions",
    tag: "siem-subscriptions",
    summary: "Stream the audit log to an endpoint (verified by a signed challenge; refused addresses answer 422)",
    operationId: "createSiemSubscription",
    errors: ["UNAVAILABLE", "WORKSPACE_KEY_MISSING", "EGRESS_REFUSED", "SIEM_ENDPOINT_UNVERIFIED"],
    examples: { body: { format: "jsonl", url: "https://siem.example.com/praxa", hmac: true } },
    response: Created,
    roles: ["owner", "admin"],
    status: 201,
    bodyLimit: 8 * 1024,
    body: CreateBody,
    handler: async ({ scope, caller, body }) => {
      requireAuditSigner(auditSigner);
      // The guard first: a refused address gets no connection and no row.
      await resolveEgressTarget(body.url, config.egress);
      const id = newId("siemSubscription");
      const format: SiemFormat = body.format;
      const credential = body.format === "splunk-hec" ? body.token : body.format === "datadog" ? body.apiKey : null;
      const key = generateSiemSigningKey();
      const whsec = body.hmac ? generateWebhookSecret() : null;
      await verifySiemEndpoint(
        {
          subscriptionId: id,
          url: body.url,
          format,
          credential,
          signers: { ed25519: [siemPrivateKey(key.privateKeyPkcs8)], hmac: whsec ? [whsec] : [] },
        },
        // The challenge runs inside the request's transaction: bounded tighter than a delivery (5 s at most).
        { ...config.egress, timeoutMs: Math.min(config.egress.timeoutMs, 5_000) },
        config.egressOptions ?? {},
      );
      await seal(scope, vaultName(id, "ed25519", 1), "ed25519", key.privateKeyPkcs8);
      if (whsec) await seal(scope, vaultName(id, "hmac", 1), "hmac", whsec);
      if (credential) await seal(scope, vaultName(id, "credential"), "credential", credential);
      // "now": the stream starts after the newest event (this creation's own event is its first record).
      let cursor = 0;
      if (body.startAt === "now") {
        const [head] = await scope.db
          .select({ seq: sql<number>`coalesce(max(seq), 0)::bigint` })
          .from(schema.auditEvents);
        cursor = Number(head?.seq ?? 0);
      }
      await scope.db.insert(s).values({
        workspaceId: caller.workspaceId,
        id,
        endpointUrl: body.url,
        format,
        status: "active",
        batchMaxEvents: body.batchMaxEvents,
        batchMaxBytes: body.batchMaxBytes,
        keyGeneration: 1,
        publicKey: key.publicKey,
        hmacEnabled: body.hmac,
        credentialFingerprint: credential ? credential.slice(-4) : null,
        cursorSeq: cursor,
        failures: 0,
        nextAttemptAt: new Date(),
        createdBy: caller.memberId,
      });
      const row = await load(scope, id);
      await appendAdminEvents(scope, auditSigner, caller, [
        {
          kind: "admin.siem_subscription.created",
          targetId: id,
          details: { format, hmac: body.hmac, start_at: body.startAt },
          output: { endpoint_host: new URL(body.url).host, public_key: key.publicKey, cursor_seq: cursor },
        },
      ]);
      return { ...visible(row), signingSecret: whsec };
    },
  });

  const transition = (
    verb: "pause" | "resume",
    from: readonly Row["status"][],
    to: "active" | "paused",
    summary: string,
  ) =>
    route(app, db, {
      method: "POST",
      url: `/v1/siem-subscriptions/:id/${verb}`,
      tag: "siem-subscriptions",
      summary,
      operationId: verb === "pause" ? "pauseSiemSubscription" : "resumeSiemSubscription",
      errors: ["UNAVAILABLE", "CONFLICT"],
      response: Subscription,
      roles: ["owner", "admin"],
      params: IdParams,
      handler: async ({ scope, caller, params }) => {
        requireAuditSigner(auditSigner);
        const before = await load(scope, params.id);
        if (!from.includes(before.status))
          throw new SiemSubscriptionStateError(`a ${before.status} subscription cannot be ${verb}d`);
        // Resuming continues from the cursor (nothing skipped) and starts a fresh failure streak.
        await scope.db
          .update(s)
          .set({
            status: to,
            statusReason: to === "paused" ? "PAUSED_BY_ADMIN" : null,
            updatedAt: new Date(),
            ...(to === "active" ? { failures: 0, failingSince: null, nextAttemptAt: new Date() } : {}),
          })
          .where(eq(s.id, params.id));
        await appendAdminEvents(scope, auditSigner, caller, [
          {
            kind: verb === "pause" ? "admin.siem_subscription.paused" : "admin.siem_subscription.resumed",
            targetId: params.id,
            details: { from_status: before.status },
            output: { status: to, cursor_seq: before.cursorSeq },
          },
        ]);
        return visible(await load(scope, params.id));
      },
    });
  transition("pause", ["active"], "paused", "Pause a SIEM subscription (its cursor is kept)");
  transition("resume", ["paused", "disabled"], "active", "Resume a SIEM subscription from its cursor");

  route(app, db, {
    method: "POST",
    url: "/v1/siem-subscriptions/:id/test",
    tag: "siem-subscriptions",
    summary: "Ask the worker to send a signed test message on its next pass",
    operationId: "testSiemSubscription",
    errors: ["CONFLICT"],
    response: z.object({ requested: z.literal(true), requestedAt: Timestamp }).strict(),
    status: 202,
    roles: ["owner", "admin"],
    params: IdParams,
    handler: async ({ scope, params }) => {
      const row = await load(scope, params.id);
      if (row.status !== "active") throw new SiemSubscriptionStateError("only an active subscription can be tested");
      const at = new Date();
      await scope.db.update(s).set({ testRequestedAt: at, updatedAt: at }).where(eq(s.id, params.id));
      return { requested: true as const, requestedAt: at };
    },
  });

  route(app, db, {
    method: "POST",
    url: "/v1/siem-subscriptions/:id/rotate",
    tag: "siem-subscriptions",
    summary: "Rotate the signing keys; both generations sign during the overlap",
    operationId: "rotateSiemSubscription",
    errors: ["UNAVAILABLE", "WORKSPACE_KEY_MISSING", "CONFLICT"],
    response: Created,
    roles: ["owner", "admin"],
    params: IdParams,
    body: z.object({ overlapHours: z.number().int().min(1).max(168).default(24) }).strict(),
    handler: async ({ scope, caller, params, body }) => {
      requireAuditSigner(auditSigner);
      const before = await load(scope, params.id);
      const [gen] = await scope.db.select({ g: s.keyGeneration }).from(s).where(eq(s.id, params.id));
      const current = gen?.g ?? 1;
      const next = current + 1;
      const key = generateSiemSigningKey();
      const whsec = before.hmac ? generateWebhookSecret() : null;
      await seal(scope, vaultName(params.id, "ed25519", next), "ed25519", key.privateKeyPkcs8);
      if (whsec) await seal(scope, vaultName(params.id, "hmac", next), "hmac", whsec);
      // Only two generations are ever kept: the one before the previous is gone.
      await vaultDeleteSecret(scope, vaultName(params.id, "ed25519", current - 1));
      await vaultDeleteSecret(scope, vaultName(params.id, "hmac", current - 1));
      const until = new Date(Date.now() + body.overlapHours * 3600_000);
      await scope.db
        .update(s)
        .set({
          keyGeneration: next,
          publicKey: key.publicKey,
          previousPublicKey: before.publicKey,
          previousUntil: until,
          updatedAt: new Date(),
        })
        .where(eq(s.id, params.id));
      await appendAdminEvents(scope, auditSigner, caller, [
        {
          kind: "admin.siem_subscription.rotated",
          targetId: params.id,
          details: { overlap_hours: body.overlapHours },
          output: { public_key: key.publicKey, previous_public_key: before.publicKey, key_generation: next },
        },
      ]);
      return { ...visible(await load(scope, params.id)), signingSecret: whsec };
    },
  });

  route(app, db, {
    method: "DELETE",
    url: "/v1/siem-subscriptions/:id",
    tag: "siem-subscriptions",
    summary: "Delete a SIEM subscription and its secrets",
    operationId: "deleteSiemSubscription",
    errors: ["UNAVAILABLE"],
    response: Deleted,
    roles: ["owner", "admin"],
    params: IdParams,
    handler: async ({ scope, caller, params }) => {
      requireAuditSigner(auditSigner);
      const before = await load(scope, params.id);
      const [gen] = await scope.db.select({ g: s.keyGeneration }).from(s).where(eq(s.id, params.id));
      await scope.db
        .update(s)
        .set({ status: "deleted", statusReason: "DELETED_BY_ADMIN", updatedAt: new Date() })
        .where(eq(s.id, params.id));
      const g = gen?.g ?? 1;
      for (const name of [
        vaultName(params.id, "ed25519", g),
        vaultName(params.id, "ed25519", g - 1),
        vaultName(params.id, "hmac", g),
        vaultName(params.id, "hmac", g - 1),
        vaultName(params.id, "credential"),
      ])
        await vaultDeleteSecret(scope, name);
      await appendAdminEvents(scope, auditSigner, caller, [
        {
          kind: "admin.siem_subscription.deleted",
          targetId: params.id,
          details: { format: before.format },
          output: { status: "deleted", cursor_seq: before.cursorSeq },
        },
      ]);
      return { deleted: true as const };
    },
  });
}
