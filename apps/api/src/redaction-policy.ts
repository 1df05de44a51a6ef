/**
 * Changing the workspace's audit redaction policy (`PUT /v1/audit/redaction-policy`): the new policy and a signed
 * `admin.redaction_policy.changed` event — the old and the new policy's digests (SHA-256 of the stored JSON, as
 * `audit_append_events` computes it) and the actor — in one transaction. Setting the policy it already has changes
 * nothing and records nothing.
 */
import { WorkspaceScopeError, type RedactionPolicy } from "@praxa/core";
import { eq, schema, sql, type AuditSigner, type WorkspaceScope } from "@praxa/db";
import { appendAdminEvents, requireAuditSigner } from "./admin-audit.js";
import type { Caller } from "./route-auth.js";

const w = schema.workspaces;
const digestOf = sql<string>`pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(${w.auditRedaction}::text, 'UTF8')), 'hex')`;

export async function changeRedactionPolicy(
  scope: WorkspaceScope,
  caller: Caller,
  policy: RedactionPolicy,
  signer: AuditSigner | undefined,
): Promise<{ changed: boolean; digest: string }> {
  requireAuditSigner(signer);
  const [old] = await scope.db.select({ digest: digestOf }).from(w).where(eq(w.id, caller.workspaceId)).for("update");
  const [now] = await scope.db
    .update(w)
    .set({ auditRedaction: policy as unknown as Record<string, unknown> })
    .where(eq(w.id, caller.workspaceId))
    .returning({ digest: digestOf });
  if (!old || !now) throw new WorkspaceScopeError("the workspace is not in the caller’s scope");
  if (old.digest === now.digest) return { changed: false, digest: now.digest };
  await appendAdminEvents(scope, signer, caller, [
    {
      kind: "admin.redaction_policy.changed",
      targetId: caller.workspaceId,
      details: { old_digest: old.digest },
      output: { new_digest: now.digest },
    },
  ]);
  return { changed: true, digest: now.digest };
}
