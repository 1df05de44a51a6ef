/**
 * A workspace's erasure (issue #22): an owner, with a human token (re-checked in SQL from its hash), asks for every
 * row, object, secret and key of the workspace to be erased after a grace period (0–72 hours, default 72) during which
 * an owner can cancel it; the monitor executes it within 7 days of the request and signs a receipt. Request and cancel
 * are administrative changes, audited in their transaction. The receipt is read without a token — the workspace and its
 * tokens are gone by then — by its erasure id, the capability the requester was given; it holds no secret.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { NotFoundError, UnavailableError, type WorkspaceId } from "@praxa/core";
import {
  cancelWorkspaceErasure,
  readErasureReceipt,
  readWorkspaceExport,
  requestWorkspaceExport,
  requestWorkspaceErasure,
  type AuditSigner,
  type Database,
} from "@praxa/db";
import type { LocalObjectStoreBackend, ObjectStoreBackend } from "@praxa/object-store";
import { Readable } from "node:stream";
import { appendAdminEvents, requireAuditSigner } from "../admin-audit.js";
import { publicRoute, route } from "../route-builder.js";
import { Timestamp } from "../schemas.js";

const ErasureId = z.uuid().meta({ description: "the erasure's id: also the capability that reads its receipt" });

const ExportFile = z
  .object({
    name: z.enum(["data.json", "audit.jsonl"]),
    url: z.string().meta({ description: "a short-lived link (S3 presigned, or this api's /v1/downloads?token=…)" }),
    expiresAt: Timestamp,
  })
  .strict();

export function registerWorkspaceLifecycleRoutes(
  app: FastifyInstance,
  db: Database,
  auditSigner: AuditSigner | undefined,
  objects?: ObjectStoreBackend,
): void {
  route(app, db, {
    method: "POST",
    url: "/v1/workspace/export",
    tag: "workspace",
    summary:
      "Export this workspace (GDPR): a job writes an archive to the object store (owners and admins, human token)",
    operationId: "requestWorkspaceExport",
    errors: ["UNAVAILABLE", "PERMISSION_DENIED"],
    roles: ["owner", "admin"],
    kind: "human",
    status: 202,
    bodyLimit: 1024,
    response: z.object({ exportId: z.uuid(), status: z.literal("pending"), requestedAt: Timestamp }).strict(),
    examples: {
      response: {
        exportId: "0193a5b2-7c1e-7d2a-9f00-1a2b3c4d5e6f",
        status: "pending",
        requestedAt: "2026-12-07T10:00:00.000Z",
      },
    },
    handler: async ({ scope, caller }) => {
      requireAuditSigner(auditSigner);
      const r = await requestWorkspaceExport(scope, caller.token);
      await appendAdminEvents(scope, auditSigner, caller, [
        { kind: "admin.workspace.export_requested", targetId: caller.workspaceId, details: { export_id: r.id } },
      ]);
      return { exportId: r.id, status: "pending" as const, requestedAt: r.requested_at.toISOString() };
    },
  });

  route(app, db, {
    method: "GET",
    url: "/v1/workspace/exports/:id",
    tag: "workspace",
    summary: "An export's status and, once done, short-lived download links (owners and admins)",
    operationId: "getWorkspaceExport",
    errors: ["UNAVAILABLE"],
    roles: ["owner", "admin"],
    params: z.object({ id: z.uuid() }).strict(),
    response: z
      .object({
        exportId: z.uuid(),
        status: z.enum(["pending", "running", "done", "failed"]),
        requestedAt: Timestamp,
        finishedAt: Timestamp.nullable(),
        files: z.array(ExportFile),
      })
      .strict(),
    handler: async ({ scope, caller, params, request }) => {
      const x = await readWorkspaceExport(scope, params.id);
      if (!x) throw new NotFoundError("no such export");
      const files: z.input<typeof ExportFile>[] = [];
      if (x.status === "done" && x.object_prefix) {
        if (!objects) throw new UnavailableError("the object store is not configured on this api");
        const store = objects.forWorkspace({ workspaceId: caller.workspaceId as WorkspaceId });
        for (const name of ["data.json", "audit.jsonl"] as const) {
          const link = await store.createDownloadLink(`${x.object_prefix}${name}`, { expiresInSeconds: 300 });
          const url =
            link.kind === "presigned-url"
              ? link.url
              : `${request.protocol}://${request.host}/v1/downloads?token=${encodeURIComponent(link.token)}`;
          files.push({ name, url, expiresAt: link.expiresAt.toISOString() });
        }
      }
      return {
        exportId: x.id,
        status: x.status,
        requestedAt: x.requested_at.toISOString(),
        finishedAt: x.finished_at?.toISOString() ?? null,
        files,
      };
    },
  });

  // The local backend's links: the token (HMAC, expiring, bound to the workspace and the key) is the capability.
  publicRoute(app, {
    method: "GET",
    url: "/v1/downloads",
    tag: "workspace",
    summary: "Download an object by a short-lived link token (the local object store's links)",
    operationId: "downloadObject",
    errors: ["NOT_FOUND", "UNAVAILABLE"],
    query: z.object({ token: z.string().min(1).max(4096) }).strict(),
    response: z.string().meta({ description: "the object's bytes" }),
    content: { type: "application/octet-stream", description: "the object's bytes" },
    handler: async ({ query, reply }) => {
      const local = objects as LocalObjectStoreBackend | undefined;
      if (!local || local.kind !== "local") throw new UnavailableError("no local object store on this api");
      let claims;
      try {
        claims = local.verifyDownloadToken(query.token);
      } catch (err) {
        throw new NotFoundError("no such download (the link expired or is not valid)", { cause: err });
      }
      const { info, body } = await local.forWorkspace({ workspaceId: claims.workspaceId }).get(claims.key);
      return reply
        .status(200)
        .header("content-type", info.contentType)
        .header("content-disposition", `attachment; filename="${claims.key.split("/").at(-1) ?? "download"}"`)
        .send(Readable.from(body));
    },
  });

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
