/**
 * Which model a run uses: the manifest may force the offline model; otherwise the workspace's own BYOK credential
 * (the manifest's preferred provider, else the newest credential) is opened for this run only and handed to its
 * provider; a workspace with no key runs on the offline model — labelled as such in every output.
 */
import { desc, schema, withWorkspace, type Database, type RunLease } from "@praxa/db";
import type { KeyProvider } from "@praxa/crypto";
import type { SkillManifest, WorkspaceId } from "@praxa/core";
import { createOfflineProvider, ModelRequiredError, type ModelProvider, type SkillDefinition } from "@praxa/runtime";
import { openCredentialForRun } from "./credentials.js";

/** Builds a provider from an opened BYOK credential (JSON text); the plaintext goes no further than the provider. */
export type ProviderFactory = (credentialJson: string, workspaceId: WorkspaceId) => ModelProvider;

export interface ModelSelectionDeps {
  readonly database: Database;
  readonly provider: KeyProvider;
  readonly providerFactory: ProviderFactory | null;
}

export async function selectModelProvider(
  deps: ModelSelectionDeps,
  workspaceId: WorkspaceId,
  lease: RunLease,
  manifest: SkillManifest,
  skill: SkillDefinition,
  /** The workspace's credentials, newest first, as the claim read them (claim_run_context); absent: read here. */
  credentials?: readonly { readonly provider: string; readonly vaultName: string }[],
): Promise<ModelProvider> {
  const offlineProvider = createOfflineProvider(skill.offline);
  // A Skill without offline rules never runs on them: no key means a clear failure, not a pretend decision.
  const offline: ModelProvider =
    skill.offlineAvailable === false
      ? {
          ...offlineProvider,
          complete: () =>
            Promise.reject(
              new ModelRequiredError(
                "this Skill declares no offline rules and the workspace has no model key: add a key or offline rules",
              ),
            ),
        }
      : offlineProvider;
  if (manifest.model.provider === "offline" || deps.providerFactory === null) return offline;
  const factory = deps.providerFactory;
  const preferred = manifest.model.provider;
  const choose = (creds: readonly { readonly provider: string; readonly vaultName: string }[]) =>
    (preferred ? creds.find((c) => c.provider === preferred) : undefined) ?? (preferred ? undefined : creds[0]);
  // No credential: the offline model, without a transaction.
  if (credentials && !choose(credentials)) return offline;
  return withWorkspace(deps.database, workspaceId, async (s) => {
    const creds =
      credentials ??
      (await s.db
        .select({ provider: schema.llmCredentials.provider, vaultName: schema.llmCredentials.vaultName })
        .from(schema.llmCredentials)
        .orderBy(desc(schema.llmCredentials.createdAt)));
    const chosen = choose(creds);
    if (!chosen) return offline;
    const plain = await openCredentialForRun(deps.provider, s, lease, chosen.vaultName);
    return factory(Buffer.from(plain).toString("utf8"), workspaceId);
  });
}
