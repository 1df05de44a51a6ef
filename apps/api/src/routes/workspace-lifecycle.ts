/**
 * A workspace's erasure (issue #22): an owner, with a human token (re-checked in SQL from its hash), asks for every
 * row, object, secret and key of the workspace to be erased after a grace period (0–72 hours, default 72) during which
 * an owner can cancel it; the monitor executes it within 7 days of the request and signs a receipt. Request and cancel
 * are administrative changes, audited in their transaction. The receipt is read without a token — the workspace and its
 * tokens are gone by then — by its erasure id, the capability the requester was given; it holds no secret.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { NotFoundError } from "@praxa/core";
import {
  cancelWorkspaceErasure,
  readErasureReceipt,
  requestWorkspaceErasure,
  type AuditSigner,
  type Database,
} from "@praxa/db";
import { appendAdminEvents, requireAuditSigner } from "../admin-audit.js";
import { publicRoute, route } from "../route-builder.js";
import { Timestamp } from "../schemas.js";

const ErasureId = z.uuid().meta({ description: "the erasure's id: also the capability that reads its receipt" });

export function registerWorkspaceLifecycleRoutes(
  app: FastifyInstance,
  db: Database,
  auditSigner: AuditSigner | undefined,
): void {
  route(app, db, {
    method: "POST",
    url: "/v1/workspace/erasure",
    tag: "workspace",
    summary: "Ask for this workspace to be erased (an owner, human token; cancellable during the grace period)",
    operationId: "requestWorkspaceErasure",
    errors: ["UNAVAILABLE", "PERMISSION_DENIED"],
    roles: ["owner"],
    kind: "human",
    status: 202,
    bodyLimit: 1024,
    body: z.object({ graceHours: z.number().int().min(0).max(72).default(72) }).strict(),
    response: z
      .object({
        erasureId: ErasureId,
        status: z.enum(["pending", "erased", "receipted"]),
        requestedAt: Timestamp,
        executeAfter: Timestamp,
        dueBy: Timestamp,
      })
      .strict(),
    examples: {
      body: { graceHours: 72 },
      response: {
        erasureId: "0193a5b2-7c1e-7d2a-9f00-1a2b3c4d5e6f",
        status: "pending",
        requestedAt: "2026-12-07T10:00:00.000Z",
        executeAfter: "2026-12-10T10:00:00.000Z",
        dueBy: "2026-12-14T10:00:00.000Z",
      },
    },
    handler: async ({ scope, caller, body }) => {
      requireAuditSigner(auditSigner);
      const r = await requestWorkspaceErasure(scope, caller.token, body.graceHours);
      if (r.status === "cancelled") throw new NotFoundError("no open erasure request");
      await appendAdminEvents(scope, auditSigner, caller, [
        {
          kind: "admin.workspace.erasure_requested",
          targetId: caller.workspaceId,
          details: { erasure_id: r.id, grace_hours: body.graceHours },
          output: { status: r.status, execute_after: r.execute_after.toISOString(), due_by: r.due_by.toISOString() },
        },
      ]);
      return {
        erasureId: r.id,
        status: r.status,
        requestedAt: r.requested_at.toISOString(),
        executeAfter: r.execute_after.toISOString(),
        dueBy: r.due_by.toISOString(),
      };
    },
  });

  route(app, db, {
    method: "DELETE",
    url: "/v1/workspace/erasure",
    tag: "workspace",
    summary: "Cancel this workspace's pending erasure during its grace period (an owner, human token)",
    operationId: "cancelWorkspaceErasure",
    errors: ["UNAVAILABLE", "PERMISSION_DENIED"],
    roles: ["owner"],
    kind: "human",
    response: z.object({ cancelled: z.boolean() }).strict(),
    examples: { response: { cancelled: true } },
    handler: async ({ scope, caller }) => {
      requireAuditSigner(auditSigner);
      const cancelled = await cancelWorkspaceErasure(scope, caller.token);
      if (cancelled)
        await appendAdminEvents(scope, auditSigner, caller, [
          {
            kind: "admin.workspace.erasure_cancelled",
            targetId: caller.workspaceId,
            output: { status: "cancelled" },
          },
        ]);
      return { cancelled };
    },
  });

  publicRoute(app, {
    method: "GET",
    url: "/v1/erasure-receipts/:id",
    tag: "workspace",
    summary: "An erased workspace's signed receipt, by its erasure id (verify with `praxa workspace erasure-receipt`)",
    operationId: "getErasureReceipt",
    errors: ["NOT_FOUND"],
    params: z.object({ id: ErasureId }).strict(),
    response: z
      .object({
        format: z.literal("praxa-erasure-receipt/v1"),
        body: z.string().meta({ description: "base64 of the receipt's RFC 8785 JSON body, the bytes signed" }),
        key_id: z.string(),
        signature: z.string().meta({ description: "base64 signature by the checkpoint key" }),
      })
      .strict(),
    handler: async ({ params }) => {
      const receipt = await readErasureReceipt(db, params.id);
      if (!receipt) throw new NotFoundError("no receipt under this id (not erased yet, or unknown)");
      return receipt;
    },
  });
}
