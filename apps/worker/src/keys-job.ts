/**
 * The keys job: key material is created and rotated only here, in the worker, which alone can use the key provider to
 * unwrap. Under the workspace's key-operation lease (Postgres refuses any install without it): make the tenant's data
 * key if it has none (KMS GenerateDataKey, context {tenant_id}), open it, generate a new X25519 workspace key pair,
 * wrap its private half under the tenant key (AAD-bound to tenant + workspace + key id + public key) and install it —
 * the previous active key is retired, not destroyed, so old ciphertexts still open.
 *
 * Tenant-key use counts: every wrap under a tenant key is first reserved in Postgres (`keys_reserve_tenant_key_use`,
 * an atomic increment below the limit), so the count survives restarts and is shared by every worker and by every
 * workspace of the tenant; a crash after the reservation over-counts, never under-counts. At the limit (default 2^24,
 * far below the 2^32 random-IV bound) the tenant key is rotated: a new data key from the provider becomes active and
 * the old one is retired — workspace keys wrapped under it still open, since unwrapping is never limited.
 */
import { randomBytes } from "node:crypto";
import { UnavailableError, type WorkspaceId } from "@praxa/core";
import {
  createTenantKey,
  createWorkspaceKey,
  DEFAULT_WRAP_USAGE_LIMIT,
  openTenantKey,
  type KeyProvider,
  type TenantKey,
} from "@praxa/crypto";
import {
  acquireKeyOperation,
  installTenantKey,
  installWorkspaceKey,
  keysState,
  releaseKeyOperation,
  reserveTenantKeyUse,
  rotateTenantKey,
  type Database,
  type KeyOperationLease,
} from "@praxa/db";

export interface KeysJobDeps {
  readonly database: Database;
  readonly provider: KeyProvider;
  readonly holder: string;
  /** Wraps allowed under one tenant key before it is rotated (default 2^24; tests set it low). */
  readonly tenantKeyUsageLimit?: number;
}

/** Key ids in the database's format (lower-case, prefixed). */
const keyId = (prefix: "tdk" | "wk") => `${prefix}_${randomBytes(16).toString("hex")}`;

export async function runKeysJob(
  deps: KeysJobDeps,
  workspaceId: WorkspaceId,
  operation: "create" | "rotate",
): Promise<{ keyId: string; created: boolean }> {
  const lease = await acquireKeyOperation(deps.database, workspaceId, deps.holder, 60);
  if (!lease) throw new UnavailableError("another key operation holds this workspace’s lease; retry later");
  try {
    const state = await keysState(deps.database, lease);
    const tenantId = state[0]?.tenant_id;
    if (!tenantId) throw new UnavailableError("workspace has no tenant");
    const active = state.find((r) => r.workspace_key_status === "active");
    if (operation === "create" && active?.workspace_key_id) return { keyId: active.workspace_key_id, created: false };

    const tenantKey = await tenantKeyForOneWrap(deps, lease, tenantId, state[0]);
    const wk = await createWorkspaceKey(tenantKey, workspaceId, { keyId: keyId("wk") });
    if (!wk.wrappedPrivateKey) throw new UnavailableError("workspace key was not wrapped");
    await installWorkspaceKey(deps.database, lease, {
      keyId: wk.keyId,
      tenantKeyId: tenantKey.keyId,
      publicKey: Buffer.from(wk.publicKey),
      wrappedPrivateKey: Buffer.from(wk.wrappedPrivateKey),
    });
    return { keyId: wk.keyId, created: true };
  } finally {
    await releaseKeyOperation(deps.database, lease);
  }
}

/**
 * The tenant key to wrap one workspace key under, with that one wrap already reserved in Postgres: the active key
 * (opened with its persisted count), or — when there is none, or it is at its limit — a new one from the provider.
 */
async function tenantKeyForOneWrap(
  deps: KeysJobDeps,
  lease: KeyOperationLease,
  tenantId: string,
  stored: { tenant_key_id: string | null; tenant_wrapped_key: Buffer | null } | undefined,
): Promise<TenantKey> {
  const usageLimit = deps.tenantKeyUsageLimit ?? DEFAULT_WRAP_USAGE_LIMIT;
  if (stored?.tenant_key_id && stored.tenant_wrapped_key) {
    const reserved = await reserveTenantKeyUse(deps.database, lease, stored.tenant_key_id, usageLimit);
    if (reserved !== null) {
      return openTenantKey(
        deps.provider,
        { keyId: stored.tenant_key_id, tenantId, wrappedDataKey: stored.tenant_wrapped_key, uses: reserved - 1 },
        { usageLimit },
      );
    }
  }
  const fresh = await createTenantKey(deps.provider, tenantId, { keyId: keyId("tdk"), usageLimit });
  const record = fresh.toRecord();
  const installed = stored?.tenant_key_id
    ? await rotateTenantKey(
        deps.database,
        lease,
        stored.tenant_key_id,
        record.keyId,
        Buffer.from(record.wrappedDataKey),
        deps.provider.kind,
      )
    : await installTenantKey(
        deps.database,
        lease,
        record.keyId,
        Buffer.from(record.wrappedDataKey),
        deps.provider.kind,
      );
  // Another workspace of the tenant installed or rotated its key first: the job fails and is retried on the new state.
  if (!installed || (await reserveTenantKeyUse(deps.database, lease, record.keyId, usageLimit)) !== 1) {
    throw new UnavailableError("the tenant key changed concurrently; retry the key job");
  }
  return fresh;
}
