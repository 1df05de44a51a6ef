/**
 * BYOK model credentials. The api seals a customer's key to the workspace's public key (HPKE; sealing needs no
 * secret) and stores only the ciphertext, through `vault_put_secret`; it can never open it again — only a worker, in
 * a run it holds, can. Responses carry a 4-character fingerprint, never the secret. Adding and deleting a key each
 * append a signed `admin.llm_key.added` / `admin.llm_key.deleted` event (actor, key id, provider, fingerprint) in the
 * same transaction.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { idSchema, newId, NotFoundError } from "@praxa/core";
import { sealCredential } from "@praxa/crypto";
import {
  and,
  eq,
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
import { Deleted, Id, Timestamp } from "../schemas.js";

const LlmKey = z
  .object({
    id: Id("credential"),
    provider: z.enum(["anthropic", "bedrock", "vertex"]),
    fingerprint: z.string(),
    createdBy: z.string(),
    createdAt: Timestamp,
  })
  .strict();
import { ModelCredentialSchema } from "@praxa/runtime";

// One schema for what the api accepts and what the worker will use (packages/runtime): a credential the worker would
// refuse (a Vertex region that is not one, say) is refused here, at the door.
const LlmKeyBody = ModelCredentialSchema;
type LlmKeyBody = z.infer<typeof LlmKeyBody>;

function fingerprintOf(body: LlmKeyBody): string {
  if (body.provider === "anthropic") return body.apiKey.slice(-4);
  if (body.provider === "bedrock") return (body.secretAccessKey ?? body.roleArn ?? "????").slice(-4);
  return body.serviceAccountJson.replace(/\s+/g, "").slice(-4);
}

export function registerLlmKeyRoutes(app: FastifyInstance, db: Database, auditSigner: AuditSigner | undefined): void {
  route(app, db, {
    method: "POST",
    url: "/v1/llm-keys",
    tag: "llm-keys",
    summary: "Add a model credential (sealed; only a fingerprint comes back)",
    operationId: "createLlmKey",
    errors: ["UNAVAILABLE", "WORKSPACE_KEY_MISSING"],
    response: LlmKey.pick({ id: true, provider: true, fingerprint: true }),
    roles: ["owner", "admin"],
    status: 201,
    bodyLimit: 32 * 1024,
    body: LlmKeyBody,
    handler: async ({ scope, caller, body }) => {
      requireAuditSigner(auditSigner);
      const pub = await workspacePublicKey(scope);
      if (!pub)
        throw new WorkspaceKeyMissingError(
          "this workspace has no key yet; the worker creates it (pnpm praxa keys rotate --workspace …)",
        );
      const id = newId("credential");
      const name = `llm/${body.provider}/${id}`;
      const ciphertext = await sealCredential(
        { keyId: pub.keyId, publicKey: pub.publicKey },
        { workspaceId: caller.workspaceId, provider: body.provider, purpose: "llm_credentials" },
        JSON.stringify(body),
      );
      await vaultPutSecret(scope, {
        name,
        provider: body.provider,
        purpose: "llm_credentials",
        ciphertext: Buffer.from(ciphertext),
        keyId: pub.keyId,
      });
      const fingerprint = fingerprintOf(body);
      await scope.db.insert(schema.llmCredentials).values({
        workspaceId: caller.workspaceId,
        id,
        provider: body.provider,
        fingerprint,
        vaultName: name,
        createdBy: caller.memberId,
      });
      await appendAdminEvents(scope, auditSigner, caller, [
        { kind: "admin.llm_key.added", targetId: id, details: { provider: body.provider }, output: { fingerprint } },
      ]);
      return { id, provider: body.provider, fingerprint };
    },
  });

  route(app, db, {
    method: "GET",
    url: "/v1/llm-keys",
    tag: "llm-keys",
    summary: "List model credentials (fingerprints, never a secret)",
    operationId: "listLlmKeys",
    response: z.object({ llmKeys: z.array(LlmKey) }).strict(),
    handler: async ({ scope }) => {
      const rows = await scope.db
        .select({
          id: schema.llmCredentials.id,
          provider: schema.llmCredentials.provider,
          fingerprint: schema.llmCredentials.fingerprint,
          createdBy: schema.llmCredentials.createdBy,
          createdAt: schema.llmCredentials.createdAt,
        })
        .from(schema.llmCredentials)
        .orderBy(schema.llmCredentials.createdAt);
      return { llmKeys: rows };
    },
  });

  route(app, db, {
    method: "DELETE",
    url: "/v1/llm-keys/:id",
    tag: "llm-keys",
    summary: "Delete a model credential",
    operationId: "deleteLlmKey",
    errors: ["UNAVAILABLE"],
    response: Deleted,
    roles: ["owner", "admin"],
    params: z.object({ id: idSchema("credential") }).strict(),
    handler: async ({ scope, caller, params }) => {
      requireAuditSigner(auditSigner);
      const [row] = await scope.db
        .delete(schema.llmCredentials)
        .where(and(eq(schema.llmCredentials.id, params.id)))
        .returning({
          vaultName: schema.llmCredentials.vaultName,
          provider: schema.llmCredentials.provider,
          fingerprint: schema.llmCredentials.fingerprint,
        });
      if (!row) throw new NotFoundError("not found");
      await vaultDeleteSecret(scope, row.vaultName);
      await appendAdminEvents(scope, auditSigner, caller, [
        {
          kind: "admin.llm_key.deleted",
          targetId: params.id,
          details: { provider: row.provider },
          output: { fingerprint: row.fingerprint, status: "deleted" },
        },
      ]);
      return { deleted: true as const };
    },
  });
}
