/**
 * Api tokens (review issue #16, finding 3):
 *  - `POST /v1/tokens` — mint an `automation` token, shown once. Only a live HUMAN token of an owner or admin mints:
 *    the route refuses anything else (403) and so does the database, which re-checks the presented token from its
 *    secret's hash in `api_mint_automation_token` — an automation token never mints its own successor. The new token
 *    acts as the minter's member, records `minted_by` (the minting token's id), and lives at most the operator's
 *    maximum (`api_token_lifetimes`: 90 days unless the operator set another; `ttlDays` beyond it → 400, in SQL too;
 *    no `ttlDays`: the maximum).
 *  - `GET /v1/tokens` — owners and admins: id, name, kind, member and role, created, expires, minted_by, revoked, status.
 *    Never the secret or its hash (the api's database role cannot even read the hash column). Last use is not tracked.
 *  - `DELETE /v1/tokens/:id` — revoke a token and, recursively, every token it minted, in one statement; a human
 *    admin token revokes any token of the workspace, an automation admin token only itself. A revoked token
 *    authenticates nowhere from the next request on.
 * Each mint and each revoked token appends one signed `admin.token.minted` / `admin.token.revoked` event in the
 * transaction of the change (actor, target id, kind, member, expiry — never a secret).
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { idSchema, mintApiTokenMaterial, ValidationError } from "@praxa/core";
import { listApiTokens, mintAutomationToken, revokeApiToken, type AuditSigner, type Database } from "@praxa/db";
import { appendAdminEvents, requireAuditSigner } from "../admin-audit.js";
import { route } from "../route-builder.js";
import { Id, MemberRole, Timestamp } from "../schemas.js";

/** The longest lifetime the api ever accepts; the operator's maximum (default 90 days) is checked by the database. */
const MAX_TTL_DAYS = 365;

export function registerTokenRoutes(app: FastifyInstance, db: Database, auditSigner: AuditSigner | undefined): void {
  route(app, db, {
    method: "POST",
    url: "/v1/tokens",
    tag: "tokens",
    summary: "Mint an automation token (shown once)",
    operationId: "createToken",
    errors: ["UNAVAILABLE", "PERMISSION_DENIED"],
    examples: { body: { name: "ci-pauser", ttlDays: 30 } },
    response: z
      .object({
        id: Id("apiToken"),
        token: z.string(),
        kind: z.literal("automation"),
        memberId: Id("member"),
        mintedBy: Id("apiToken"),
        expiresAt: Timestamp,
        note: z.string(),
      })
      .strict(),
    roles: ["owner", "admin"],
    kind: "human",
    status: 201,
    bodyLimit: 2048,
    // No ttlDays: the operator's maximum for automation tokens (90 days unless the operator set another).
    body: z
      .object({ name: z.string().min(1).max(100), ttlDays: z.number().int().min(1).max(MAX_TTL_DAYS).optional() })
      .strict(),
    handler: async ({ scope, caller, body }) => {
      requireAuditSigner(auditSigner);
      // Tokens minted through the api are always `automation`; human tokens come only from the operator CLI.
      const m = mintApiTokenMaterial(caller.workspaceId);
      const asked = body.ttlDays === undefined ? undefined : new Date(Date.now() + body.ttlDays * 86_400_000);
      const { memberId, expiresAt } = await mintAutomationToken(scope, {
        tokenId: m.tokenId,
        name: body.name,
        secretSha256: m.secretSha256,
        expiresAt: asked,
        minter: caller.token,
      }).catch((err: unknown) => {
        if (err instanceof ValidationError)
          throw new ValidationError(
            "ttlDays is beyond the maximum lifetime of an automation token set by the operator (90 days unless changed)",
            { cause: err },
          );
        throw err;
      });
      await appendAdminEvents(scope, auditSigner, caller, [
        {
          kind: "admin.token.minted",
          targetId: m.tokenId,
          details: {
            kind: "automation",
            member_id: memberId,
            name: body.name,
            expires_at: expiresAt.toISOString(),
            minted_by: caller.token.tokenId,
          },
          output: { status: "live" },
        },
      ]);
      return {
        id: m.tokenId,
        token: m.token,
        kind: "automation" as const,
        memberId,
        mintedBy: caller.token.tokenId,
        expiresAt: expiresAt.toISOString(),
        note: "shown once: store it now",
      };
    },
  });

  route(app, db, {
    method: "GET",
    url: "/v1/tokens",
    tag: "tokens",
    summary: "List the api tokens of the workspace (never a secret)",
    operationId: "listTokens",
    response: z
      .object({
        tokens: z.array(
          z
            .object({
              id: Id("apiToken"),
              name: z.string(),
              kind: z.enum(["human", "automation"]),
              memberId: Id("member"),
              role: MemberRole,
              createdAt: Timestamp,
              expiresAt: Timestamp,
              mintedBy: Id("apiToken").nullable(),
              revokedAt: Timestamp.nullable(),
              status: z.enum(["live", "expired", "revoked"]),
            })
            .strict(),
        ),
      })
      .strict(),
    roles: ["owner", "admin"],
    handler: async ({ scope }) => {
      const now = Date.now();
      const rows = await listApiTokens(scope);
      return {
        tokens: rows.map((t) => ({
          id: t.id,
          name: t.name,
          kind: t.kind,
          memberId: t.member_id,
          role: t.role as z.output<typeof MemberRole>,
          createdAt: t.created_at.toISOString(),
          expiresAt: t.expires_at.toISOString(),
          mintedBy: t.minted_by,
          revokedAt: t.revoked_at ? t.revoked_at.toISOString() : null,
          status: t.revoked_at
            ? ("revoked" as const)
            : t.expires_at.getTime() <= now
              ? ("expired" as const)
              : ("live" as const),
        })),
      };
    },
  });

  route(app, db, {
    method: "DELETE",
    url: "/v1/tokens/:id",
    tag: "tokens",
    summary: "Revoke a token and every token it minted",
    operationId: "revokeToken",
    errors: ["UNAVAILABLE", "PERMISSION_DENIED"],
    response: z.object({ id: Id("apiToken"), revoked: z.array(Id("apiToken")) }).strict(),
    roles: ["owner", "admin"],
    params: z.object({ id: idSchema("apiToken") }).strict(),
    handler: async ({ scope, caller, params }) => {
      requireAuditSigner(auditSigner);
      const revoked = await revokeApiToken(scope, params.id, caller.token);
      await appendAdminEvents(
        scope,
        auditSigner,
        caller,
        revoked.map((r) => ({
          kind: "admin.token.revoked" as const,
          targetId: r.token_id,
          details: { kind: r.kind, member_id: r.member_id, minted_by: r.minted_by, requested: params.id },
          output: { status: "revoked", cascade: r.token_id !== params.id },
        })),
      );
      return { id: params.id, revoked: revoked.map((r) => r.token_id) };
    },
  });
}
