/**
 * Signed-producer secrets of one Skill:
 *  - `POST /v1/skills/:id/trigger-secrets` — a new `whsec_` secret, shown once. The api seals it to the ingest fleet's
 *    public key (it cannot open it again) and stores only the ciphertext, with a 4-character fingerprint and who made it.
 *  - `GET /v1/skills/:id/trigger-secrets` — id, fingerprint, when, who, revoked when; never the secret.
 *  - `DELETE /v1/skills/:id/trigger-secrets/:secretId` — revoke: ingest stops trying it on the next request (it reads
 *    the live secrets per request; nothing caches them).
 * Creating and revoking each append a signed `admin.trigger_secret.created` / `.revoked` event (actor, secret id, the
 * Skill, fingerprint — never the secret) in the same transaction.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { generateWebhookSecret } from "@praxa/connectors";
import { idSchema, newId, NotFoundError, SkillIdSchema, WorkspaceScopeError } from "@praxa/core";
import { sealCredential } from "@praxa/crypto";
import {
  and,
  eq,
  ingestPublicKey,
  isNull,
  schema,
  type AuditSigner,
  type Database,
  type WorkspaceScope,
} from "@praxa/db";
import { appendAdminEvents, requireAuditSigner } from "../admin-audit.js";
import { IngestKeyMissingError } from "../errors.js";
import { route } from "../route-builder.js";
import { Id, Timestamp } from "../schemas.js";

const TriggerSecretView = z
  .object({
    id: Id("triggerSecret"),
    fingerprint: z.string().nullable(),
    createdAt: Timestamp,
    createdBy: z.string().nullable(),
    revokedAt: Timestamp.nullable(),
    status: z.enum(["live", "revoked"]),
  })
  .strict();

async function requireSkill(scope: WorkspaceScope, skillId: string): Promise<void> {
  const [skill] = await scope.db
    .select({ id: schema.skills.id })
    .from(schema.skills)
    .where(eq(schema.skills.id, skillId));
  if (!skill) throw new WorkspaceScopeError("no such skill in this workspace");
}

export function registerTriggerSecretRoutes(
  app: FastifyInstance,
  db: Database,
  auditSigner: AuditSigner | undefined,
): void {
  route(app, db, {
    method: "POST",
    url: "/v1/skills/:id/trigger-secrets",
    tag: "trigger-secrets",
    summary: "Create a signed-producer secret (shown once)",
    operationId: "createTriggerSecret",
    errors: ["UNAVAILABLE", "INGEST_KEY_MISSING"],
    response: z
      .object({
        id: Id("triggerSecret"),
        skillId: Id("skill"),
        secret: z.string(),
        fingerprint: z.string(),
        url: z.string(),
        note: z.string(),
      })
      .strict(),
    roles: ["owner", "admin"],
    status: 201,
    params: z.object({ id: SkillIdSchema }).strict(),
    handler: async ({ scope, caller, params }) => {
      requireAuditSigner(auditSigner);
      await requireSkill(scope, params.id);
      const pub = await ingestPublicKey(scope);
      if (!pub)
        throw new IngestKeyMissingError("no ingest key is registered yet: start ingest once (pnpm praxa start ingest)");
      const secret = generateWebhookSecret();
      const ciphertext = await sealCredential(
        { keyId: pub.keyId, publicKey: pub.publicKey },
        { workspaceId: caller.workspaceId, provider: "trigger", purpose: "webhook_secret" },
        secret,
      );
      const id = newId("triggerSecret");
      const fingerprint = secret.slice(-4);
      await scope.db.insert(schema.triggerSecrets).values({
        workspaceId: caller.workspaceId,
        id,
        skillId: params.id,
        ciphertext: Buffer.from(ciphertext),
        keyId: pub.keyId,
        createdBy: caller.memberId,
        fingerprint,
      });
      await appendAdminEvents(scope, auditSigner, caller, [
        {
          kind: "admin.trigger_secret.created",
          targetId: id,
          skillId: params.id,
          output: { fingerprint, status: "live" },
        },
      ]);
      return {
        id,
        skillId: params.id,
        secret,
        fingerprint,
        url: `/triggers/${params.id}`,
        note: "shown once: store it now",
      };
    },
  });

  route(app, db, {
    method: "GET",
    url: "/v1/skills/:id/trigger-secrets",
    tag: "trigger-secrets",
    summary: "A Skill's trigger secrets (fingerprints, never a secret)",
    operationId: "listTriggerSecrets",
    response: z.object({ triggerSecrets: z.array(TriggerSecretView) }).strict(),
    params: z.object({ id: SkillIdSchema }).strict(),
    handler: async ({ scope, params }) => {
      await requireSkill(scope, params.id);
      const t = schema.triggerSecrets;
      const rows = await scope.db
        .select({
          id: t.id,
          fingerprint: t.fingerprint,
          createdAt: t.createdAt,
          createdBy: t.createdBy,
          revokedAt: t.revokedAt,
        })
        .from(t)
        .where(eq(t.skillId, params.id))
        .orderBy(t.createdAt, t.id);
      return {
        triggerSecrets: rows.map((r) => ({
          ...r,
          status: r.revokedAt === null ? ("live" as const) : ("revoked" as const),
        })),
      };
    },
  });

  route(app, db, {
    method: "DELETE",
    url: "/v1/skills/:id/trigger-secrets/:secretId",
    tag: "trigger-secrets",
    summary: "Revoke a trigger secret",
    operationId: "revokeTriggerSecret",
    errors: ["UNAVAILABLE"],
    response: z.object({ id: Id("triggerSecret"), revoked: z.literal(true), revokedAt: Timestamp.nullable() }).strict(),
    roles: ["owner", "admin"],
    params: z.object({ id: SkillIdSchema, secretId: idSchema("triggerSecret") }).strict(),
    handler: async ({ scope, caller, params }) => {
      requireAuditSigner(auditSigner);
      const t = schema.triggerSecrets;
      const [row] = await scope.db
        .update(t)
        .set({ revokedAt: new Date() })
        .where(and(eq(t.id, params.secretId), eq(t.skillId, params.id), isNull(t.revokedAt)))
        .returning({ id: t.id, revokedAt: t.revokedAt });
      if (!row) throw new NotFoundError("no live trigger secret with this id for this skill");
      await appendAdminEvents(scope, auditSigner, caller, [
        { kind: "admin.trigger_secret.revoked", targetId: row.id, skillId: params.id, output: { status: "revoked" } },
      ]);
      return { id: row.id, revoked: true as const, revokedAt: row.revokedAt };
    },
  });
}
