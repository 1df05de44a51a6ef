/**
 * Record a bot installation on the workspace: the integration row (provider, external id — GitHub installation id or
 * Slack team id —, the permissions it was granted, the bot's identity, who installed it). An installation belongs to
 * one workspace only (`UNIQUE (provider, external_id)` across tenants): claiming one connected elsewhere is refused.
 */
import { ConflictError, newId, UnavailableError } from "@praxa/core";
import { and, appendAuditEvents, eq, findPgError, schema, type AuditSigner, type WorkspaceScope } from "@praxa/db";
import { IntegrationClaimedError } from "./errors.js";

export interface InstalledIntegration {
  readonly provider: "github" | "slack";
  readonly externalId: string;
  readonly grantedScopes: readonly string[];
  readonly botIdentity: Record<string, unknown>;
  readonly installedBy: string;
  /** Recorded `pending_confirmation` until its installer confirms it from the same browser (install-binding.ts). */
  readonly confirmation: { readonly bindingSha256: string; readonly confirmBy: Date };
}

export interface IntegrationView {
  readonly id: string;
  readonly provider: "github" | "slack";
  readonly externalId: string;
  readonly status: string;
  readonly grantedScopes: readonly string[];
  readonly botIdentity: Record<string, unknown>;
}

const view = {
  id: schema.integrations.id,
  provider: schema.integrations.provider,
  externalId: schema.integrations.externalId,
  status: schema.integrations.status,
  grantedScopes: schema.integrations.grantedScopes,
  botIdentity: schema.integrations.botIdentity,
};

/** The integration of this workspace for (provider, external id), if any — RLS-scoped, so never another tenant's. */
export async function findIntegration(
  scope: WorkspaceScope,
  provider: "github" | "slack",
  externalId: string,
): Promise<IntegrationView | null> {
  const [row] = await scope.db
    .select(view)
    .from(schema.integrations)
    .where(and(eq(schema.integrations.provider, provider), eq(schema.integrations.externalId, externalId)));
  return row ?? null;
}

/**
 * Record the installation and its `admin.integration.installed` audit event in the caller's transaction: both or neither.
 * Without an audit signer the api refuses to record an installation at all (every change is audited).
 */
export async function upsertIntegration(
  scope: WorkspaceScope,
  i: InstalledIntegration,
  signer: AuditSigner | undefined,
): Promise<IntegrationView> {
  if (!signer)
    throw new UnavailableError("audit signing is not configured on this api: installations are refused until it is");
  const recorded = await upsertIntegrationRow(scope, i);
  await appendAuditEvents(
    scope,
    [
      {
        auditEventId: newId("auditEvent"),
        kind: "admin.integration.installed",
        skillId: null,
        runId: null,
        trigger: `api.${i.provider}_installed`,
        input: {
          actor_member_id: i.installedBy,
          target_id: recorded.id,
          provider: i.provider,
          external_id: i.externalId,
          installed_by: i.installedBy,
        },
        reasoning: [
          `A workspace admin installed the ${i.provider === "github" ? "GitHub App" : "Slack app"} as this workspace's bot.`,
        ],
        alternatives: [],
        confidence: null,
        output: { integration_id: recorded.id, granted_scopes: [...recorded.grantedScopes], status: recorded.status },
        tools_used: [],
        duration_ms: 0,
        occurred_at: new Date().toISOString(),
      },
    ],
    signer,
  );
  return recorded;
}

async function upsertIntegrationRow(scope: WorkspaceScope, i: InstalledIntegration): Promise<IntegrationView> {
  const fields = {
    grantedScopes: [...i.grantedScopes].sort(),
    botIdentity: i.botIdentity,
    installedBy: i.installedBy,
    status: "pending_confirmation" as const,
    confirmBindingSha256: i.confirmation.bindingSha256,
    confirmBy: i.confirmation.confirmBy,
    updatedAt: new Date(),
  };
  const existing = await findIntegration(scope, i.provider, i.externalId);
  if (existing) {
    const [row] = await scope.db
      .update(schema.integrations)
      .set(fields)
      .where(eq(schema.integrations.id, existing.id))
      .returning(view);
    if (row) return row;
  }
  try {
    const [row] = await scope.db
      .insert(schema.integrations)
      .values({
        workspaceId: scope.workspaceId,
        id: newId("integration"),
        provider: i.provider,
        externalId: i.externalId,
        ...fields,
      })
      .returning(view);
    if (!row) throw new ConflictError("the integration was not recorded");
    return row;
  } catch (err) {
    // The row exists, invisible to this workspace's scope: another workspace holds it. (The transaction is aborted.)
    if (findPgError(err)?.code === "23505")
      throw new IntegrationClaimedError("this installation is already connected to another Praxa workspace");
    throw err;
  }
}
