/**
 * Typed calls to the key, vault and token definer functions (migrations/0004). Bytes in, bytes out: sealing, wrapping
 * and opening happen in @praxa/crypto, above this package.
 */
import { sql as dsql } from "drizzle-orm";
import { z } from "zod";
import { NotFoundError, WorkspaceIdSchema } from "@praxa/core";
import type { RunLease } from "./runs.js";
import type { Database } from "./client.js";
import { requireScope, type WorkspaceScope } from "./scope.js";
import { queryRows, queryScopedRows } from "./typed-query.js";

const bytes = z.instanceof(Buffer);
const date = z.union([z.date(), z.string().transform((s) => new Date(s))]);

// ── vault ──
export interface SealedSecret {
  readonly name: string;
  readonly provider: string;
  readonly purpose: string;
  readonly ciphertext: Buffer;
  readonly keyId: string;
  readonly expiresAt?: Date;
}

/** The single write path into the vault; the workspace is the scope's. */
export async function vaultPutSecret(scope: WorkspaceScope, s: SealedSecret): Promise<void> {
  await requireScope(scope).execute(
    dsql`select public.vault_put_secret(${s.name}, ${s.provider}, ${s.purpose}, ${s.ciphertext}::bytea, ${s.keyId}, ${s.expiresAt ? s.expiresAt.toISOString() : null}::timestamptz)`,
  );
}

export async function vaultDeleteSecret(scope: WorkspaceScope, name: string): Promise<boolean> {
  const rows = await queryScopedRows(
    scope,
    z.object({ deleted: z.boolean() }),
    dsql`select public.vault_delete_secret(${name}) as deleted`,
  );
  return rows[0]?.deleted ?? false;
}

const VaultRow = z.object({
  ciphertext: bytes,
  key_id: z.string(),
  provider: z.string(),
  purpose: z.string(),
  expires_at: date.nullable(),
});
export type VaultRecord = z.infer<typeof VaultRow>;

/** Worker only: a sealed secret of the run's workspace, for a run it holds; NotFoundError if there is none. */
export async function vaultReadForRun(scope: WorkspaceScope, lease: RunLease, name: string): Promise<VaultRecord> {
  const row = await vaultTryReadForRun(scope, lease, name);
  if (!row) throw new NotFoundError("secret not found");
  return row;
}

/**
 * Worker only: like vaultReadForRun, but null when the secret does not exist. A miss raises nothing in SQL, so the run's
 * transaction stays usable (a raised error aborts it even when the caller catches it).
 */
export async function vaultTryReadForRun(
  scope: WorkspaceScope,
  lease: RunLease,
  name: string,
): Promise<VaultRecord | null> {
  // A prepared statement: this read is on every run's path (its GitHub token).
  const rows = await requireScope(scope).executePrepared(VAULT_TRY_READ_SQL, [lease.runId, lease.token, name]);
  return z.array(VaultRow).parse(rows)[0] ?? null;
}
const VAULT_TRY_READ_SQL =
  "select ciphertext, key_id, provider, purpose, expires_at from public.vault_try_read_for_run($1::text, $2::uuid, $3::text)";

/**
 * Worker only: like vaultTryReadForRun, and the row stays locked (FOR UPDATE) until the scope's transaction ends — for
 * a read-modify-write of one secret (a Slack token refresh) that two runs must not do at once. Keep that transaction
 * short: other runs of the workspace wait on the lock.
 */
export async function vaultLockForRun(
  scope: WorkspaceScope,
  lease: RunLease,
  name: string,
): Promise<VaultRecord | null> {
  const rows = await queryScopedRows(
    scope,
    VaultRow,
    dsql`select * from public.vault_lock_for_run(${lease.runId}, ${lease.token}::uuid, ${name})`,
  );
  return rows[0] ?? null;
}

// ── keys ──
export async function workspacePublicKey(scope: WorkspaceScope): Promise<{ keyId: string; publicKey: Buffer } | null> {
  const rows = await queryScopedRows(
    scope,
    z.object({ key_id: z.string(), public_key: bytes }),
    dsql`select * from public.workspace_public_key()`,
  );
  const r = rows[0];
  return r ? { keyId: r.key_id, publicKey: r.public_key } : null;
}

const RunKeyRow = z.object({
  key_id: z.string(),
  status: z.enum(["active", "retired"]),
  public_key: bytes,
  wrapped_private_key: bytes,
  tenant_id: z.string(),
  tenant_key_id: z.string(),
  tenant_wrapped_key: bytes,
  kms_key_ref: z.string(),
});
export type RunKeyMaterial = z.infer<typeof RunKeyRow>;

/** Worker only: the wrapped private keys of the run's workspace (newest first), for a run it holds. */
export async function workspaceKeysForRun(scope: WorkspaceScope, lease: RunLease): Promise<RunKeyMaterial[]> {
  // A prepared statement: every opening of a sealed record for a run reads these.
  return z
    .array(RunKeyRow)
    .parse(await requireScope(scope).executePrepared(KEYS_FOR_RUN_SQL, [lease.runId, lease.token]));
}
const KEYS_FOR_RUN_SQL = "select * from public.workspace_keys_for_run($1::text, $2::uuid)";

export interface KeyOperationLease {
  readonly workspaceId: string;
  readonly token: string;
}

export async function acquireKeyOperation(
  database: Database,
  workspaceId: string,
  holder: string,
  seconds = 60,
): Promise<KeyOperationLease | null> {
  const rows = await queryRows(
    database,
    z.object({ token: z.uuid().nullable() }),
    dsql`select public.keys_acquire_operation(${workspaceId}, ${holder}, ${seconds}) as token`,
  );
  const token = rows[0]?.token;
  return token ? { workspaceId, token } : null;
}

export async function releaseKeyOperation(database: Database, lease: KeyOperationLease): Promise<void> {
  await queryRows(
    database,
    z.unknown(),
    dsql`select public.keys_release_operation(${lease.workspaceId}, ${lease.token}::uuid)`,
  );
}

const KeysStateRow = z.object({
  tenant_id: z.string(),
  tenant_key_id: z.string().nullable(),
  tenant_wrapped_key: bytes.nullable(),
  kms_key_ref: z.string().nullable(),
  workspace_key_id: z.string().nullable(),
  workspace_key_status: z.string().nullable(),
  wrapped_private_key: bytes.nullable(),
  workspace_key_tenant_key_id: z.string().nullable(),
});
export type KeysStateRow = z.infer<typeof KeysStateRow>;

export async function keysState(database: Database, lease: KeyOperationLease): Promise<KeysStateRow[]> {
  return queryRows(
    database,
    KeysStateRow,
    dsql`select * from public.keys_state(${lease.workspaceId}, ${lease.token}::uuid)`,
  );
}

export async function installTenantKey(
  database: Database,
  lease: KeyOperationLease,
  keyId: string,
  wrapped: Buffer,
  kmsKeyRef: string,
): Promise<boolean> {
  const rows = await queryRows(
    database,
    z.object({ ok: z.boolean() }),
    dsql`select public.keys_install_tenant_key(${lease.workspaceId}, ${lease.token}::uuid, ${keyId}, ${wrapped}::bytea, ${kmsKeyRef}) as ok`,
  );
  return rows[0]?.ok ?? false;
}

export async function installWorkspaceKey(
  database: Database,
  lease: KeyOperationLease,
  k: { keyId: string; tenantKeyId: string; publicKey: Buffer; wrappedPrivateKey: Buffer },
): Promise<void> {
  await queryRows(
    database,
    z.unknown(),
    dsql`select public.keys_install_workspace_key(${lease.workspaceId}, ${lease.token}::uuid, ${k.keyId}, ${k.tenantKeyId}, ${k.publicKey}::bytea, ${k.wrappedPrivateKey}::bytea)`,
  );
}

/**
 * Reserve one wrap under the tenant's active key, before wrapping: the new use count, or null when the key is at
 * `limit` (rotate it) or is no longer the active one. Counted in Postgres, so the limit holds across processes.
 */
export async function reserveTenantKeyUse(
  database: Database,
  lease: KeyOperationLease,
  tenantKeyId: string,
  limit: number,
): Promise<number | null> {
  const rows = await queryRows(
    database,
    z.object({ uses: z.union([z.number(), z.string()]).transform(Number).nullable() }),
    dsql`select public.keys_reserve_tenant_key_use(${lease.workspaceId}, ${lease.token}::uuid, ${tenantKeyId}, ${limit}::bigint) as uses`,
  );
  return rows[0]?.uses ?? null;
}

/** Retire the active tenant key and install its successor; false if `oldKeyId` was no longer active (re-read). */
export async function rotateTenantKey(
  database: Database,
  lease: KeyOperationLease,
  oldKeyId: string,
  newKeyId: string,
  wrapped: Buffer,
  kmsKeyRef: string,
): Promise<boolean> {
  const rows = await queryRows(
    database,
    z.object({ ok: z.boolean() }),
    dsql`select public.keys_rotate_tenant_key(${lease.workspaceId}, ${lease.token}::uuid, ${oldKeyId}, ${newKeyId}, ${wrapped}::bytea, ${kmsKeyRef}) as ok`,
  );
  return rows[0]?.ok ?? false;
}

/** Shred: the wrapped private half is destroyed; everything sealed to this key becomes unrecoverable. */
export async function destroyWorkspaceKey(
  database: Database,
  lease: KeyOperationLease,
  keyId: string,
): Promise<boolean> {
  const rows = await queryRows(
    database,
    z.object({ ok: z.boolean() }),
    dsql`select public.keys_destroy_workspace_key(${lease.workspaceId}, ${lease.token}::uuid, ${keyId}) as ok`,
  );
  return rows[0]?.ok ?? false;
}

// ── api tokens ──
/** The token a caller presents (its id and the SHA-256 of its secret), re-checked by the definer functions. */
interface MinterToken {
  readonly tokenId: string;
  readonly secretSha256: string;
}

/**
 * Mint an automation token (migrations/0021): the database re-checks the minter's token — live, human, an owner's or
 * admin's — and the lifetime against the operator's maximum (no `expiresAt`: the maximum); the new token acts as the
 * minter's member. Returns that member and the expiry recorded. PermissionDeniedError for any other minter,
 * ValidationError for a lifetime beyond the maximum.
 */
export async function mintAutomationToken(
  scope: WorkspaceScope,
  t: { tokenId: string; name: string; secretSha256: string; expiresAt?: Date | undefined; minter: MinterToken },
): Promise<{ memberId: string; expiresAt: Date }> {
  const [row] = await queryScopedRows(
    scope,
    z.object({ member_id: z.string(), expires_at: date }),
    dsql`select * from public.api_mint_automation_token(${t.tokenId}, ${t.name}, ${t.secretSha256}, ${t.expiresAt ? t.expiresAt.toISOString() : null}::timestamptz, ${t.minter.tokenId}, ${t.minter.secretSha256})`,
  );
  if (!row) throw new NotFoundError("api_mint_automation_token returned no row");
  return { memberId: row.member_id, expiresAt: row.expires_at };
}

const RevokedRow = z.object({
  token_id: z.string(),
  member_id: z.string(),
  kind: z.enum(["human", "automation"]),
  minted_by: z.string().nullable(),
  revoked_by: z.string(),
});
export type RevokedToken = z.infer<typeof RevokedRow>;

/**
 * Revoke a token of the scope's workspace and every token it minted (recursively), in one statement; the caller's
 * token is re-checked (a human admin's revokes any token, an automation admin's only itself). Returns what this call
 * revoked — empty when the target was revoked already; NotFoundError when there is no such token in the workspace.
 */
export async function revokeApiToken(
  scope: WorkspaceScope,
  targetId: string,
  caller: MinterToken,
): Promise<RevokedToken[]> {
  return queryScopedRows(
    scope,
    RevokedRow,
    dsql`select * from public.api_revoke_token(${targetId}, ${caller.tokenId}, ${caller.secretSha256})`,
  );
}

const ListedToken = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(["human", "automation"]),
  member_id: z.string(),
  role: z.string(),
  created_at: date,
  expires_at: date,
  minted_by: z.string().nullable(),
  revoked_at: date.nullable(),
});
export type ListedApiToken = z.infer<typeof ListedToken>;

/** The workspace's tokens, newest first — never a secret or its hash (the api role cannot read `secret_sha256`). */
export async function listApiTokens(scope: WorkspaceScope): Promise<ListedApiToken[]> {
  return queryScopedRows(
    scope,
    ListedToken,
    dsql`select t.id, t.name, t.kind, t.member_id, m.role, t.created_at, t.expires_at, t.minted_by, t.revoked_at
           from public.api_tokens t join public.workspace_members m on m.workspace_id = t.workspace_id and m.id = t.member_id
          order by t.created_at desc, t.id desc`,
  );
}

const AdminRevokedRow = RevokedRow.omit({ revoked_by: true });

/** Operator (acting as praxa_owner in the scope's transaction): revoke a token of the workspace and what it minted. */
export async function adminRevokeApiToken(
  scope: WorkspaceScope,
  targetId: string,
): Promise<Omit<RevokedToken, "revoked_by">[]> {
  return queryScopedRows(
    scope,
    AdminRevokedRow,
    dsql`select * from public.admin_revoke_token(${scope.workspaceId}, ${targetId})`,
  );
}

/** Operator (acting as praxa_owner): the workspace's tokens, newest first — never a secret or its hash. */
export async function adminListApiTokens(scope: WorkspaceScope): Promise<ListedApiToken[]> {
  return queryScopedRows(scope, ListedToken, dsql`select * from public.admin_list_tokens(${scope.workspaceId})`);
}

const AuthRow = z.object({
  member_id: z.string(),
  role: z.enum(["owner", "admin", "member", "viewer"]),
  kind: z.enum(["human", "automation"]),
  expires_at: date,
});
export type AuthenticatedToken = z.infer<typeof AuthRow>;

export async function authenticateApiToken(
  database: Database,
  workspaceId: string,
  tokenId: string,
  secretSha256: string,
): Promise<AuthenticatedToken | null> {
  const rows = await queryRows(
    database,
    AuthRow,
    dsql`select * from public.api_authenticate(${workspaceId}, ${tokenId}, ${secretSha256})`,
  );
  return rows[0] ?? null;
}

// ── trigger secrets (signed producers) ──
export async function registerIngestKey(database: Database, keyId: string, publicKey: Buffer): Promise<void> {
  await queryRows(database, z.unknown(), dsql`select public.ingest_register_key(${keyId}, ${publicKey}::bytea)`);
}

export async function ingestPublicKey(scope: WorkspaceScope): Promise<{ keyId: string; publicKey: Buffer } | null> {
  const rows = await queryScopedRows(
    scope,
    z.object({ key_id: z.string(), public_key: bytes }),
    dsql`select * from public.ingest_public_key()`,
  );
  const r = rows[0];
  return r ? { keyId: r.key_id, publicKey: r.public_key } : null;
}

const TriggerSecretRow = z.object({
  workspace_id: z.string(),
  secret_id: z.string(),
  ciphertext: bytes,
  key_id: z.string(),
});
export type SealedTriggerSecret = z.infer<typeof TriggerSecretRow>;

const TriggerTargetRow = z.object({
  workspace_id: WorkspaceIdSchema,
  skill_version_id: z.string(),
  triggers: z.array(z.string()),
  /** The declarative Skill's input schema (validated by ingest before use); null for a built-in Skill. */
  input_schema: z.unknown().nullable(),
  key_id: z.string().nullable(),
  public_key: z.instanceof(Buffer).nullable(),
});
export type TriggerTarget = z.infer<typeof TriggerTargetRow>;

/** Ingest, after a producer's signature holds: the Skill's newest version and its workspace's public key; null: no Skill. */
export async function triggerTargetForSkill(database: Database, skillId: string): Promise<TriggerTarget | null> {
  const rows = await queryRows(
    database,
    TriggerTargetRow,
    dsql`select * from public.ingest_trigger_target(${skillId})`,
  );
  return rows[0] ?? null;
}

export async function triggerSecretsForSkill(database: Database, skillId: string): Promise<SealedTriggerSecret[]> {
  return queryRows(database, TriggerSecretRow, dsql`select * from public.ingest_trigger_secrets(${skillId})`);
}
