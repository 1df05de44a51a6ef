/**
 * Operator verbs for api tokens (run as the operator: DATABASE_URL).
 *
 * `pnpm praxa tokens create --member <id> --kind human` — the only way a `human` api token is minted until interactive
 * login exists. In one transaction: the token is minted through `admin_mint_human_token` (acting as praxa_owner; only
 * the hash of its secret is stored; at most the operator's maximum lifetime), and an `admin.token.minted` event —
 * the token's id and kind, the member, the expiry; never the secret — is appended to the workspace's audit chain,
 * signed with the operator's audit key (PRAXA_AUDIT_SIGNING_KEY, or the 0600 key file), acting as praxa_definer, the
 * owner of the audit functions (the operator is a member of it; no new grant). Either both happen or neither does.
 * The token is printed once.
 *
 * `pnpm praxa tokens list --workspace <id>` — every token of the workspace (id, name, kind, member, role, created,
 * expires, minted_by, revoked), through `admin_list_tokens`; never a secret or its hash.
 *
 * `pnpm praxa tokens revoke --workspace <id> <tokenId>` — revoke a token and every token it minted (recursively),
 * through `admin_revoke_token`, with one signed `admin.token.revoked` event per revoked token in the same transaction.
 *
 * `pnpm praxa tokens max-lifetime --kind automation --days <n>` — the operator's maximum lifetime of a kind of token
 * (default: automation 90 days, human 365), enforced by the database on every mint.
 */
import { mintApiTokenMaterial, newId, parseId, ValidationError, type AuditEventDraft } from "@praxa/core";
import { bootConfig, type ConfigSource } from "@praxa/config";
import { loadAuditSigningKey } from "@praxa/crypto";
import {
  adminListApiTokens,
  adminRevokeApiToken,
  appendAuditEvents,
  createDatabase,
  sql as dsql,
  withWorkspace,
  type AuditSigner,
  type WorkspaceScope,
} from "@praxa/db";
import { withLocalDefaults } from "./local-env.js";

/** An operator's audit event: the actor is the operator (no member, no token), the target a token of the workspace. */
function operatorEvent(
  kind: "admin.token.minted" | "admin.token.revoked",
  trigger: string,
  input: AuditEventDraft["input"],
  output: AuditEventDraft["output"],
): AuditEventDraft {
  return {
    auditEventId: newId("auditEvent"),
    kind,
    skillId: null,
    runId: null,
    trigger,
    input: { actor: "operator", ...input },
    reasoning: [],
    alternatives: [],
    confidence: null,
    output,
    tools_used: [],
    duration_ms: 0,
    occurred_at: new Date().toISOString(),
  };
}

/** Append in the operator's transaction, acting as praxa_definer (the owner of the audit functions), its key registered. */
async function appendAsOperator(
  scope: WorkspaceScope,
  signer: AuditSigner & { spki: Uint8Array },
  drafts: readonly AuditEventDraft[],
) {
  await scope.execute(dsql`set local role praxa_definer`);
  await scope.execute(
    dsql`select public.audit_register_key(${signer.keyId}, 'event', 'ed25519', ${Buffer.from(signer.spki)}::bytea)`,
  );
  return drafts.length === 0 ? [] : appendAuditEvents(scope, drafts, signer);
}

export interface CreateTokenOptions {
  readonly workspace: string;
  readonly member: string;
  readonly kind: string;
  readonly name: string;
  readonly ttlDays: number;
}

export async function createHumanToken(
  env: ConfigSource,
  o: CreateTokenOptions,
): Promise<{ token: string; tokenId: string; expiresAt: Date; auditSeq: number }> {
  if (o.kind !== "human")
    throw new ValidationError("the CLI mints human tokens only; automation tokens come from POST /v1/tokens");
  if (!Number.isInteger(o.ttlDays) || o.ttlDays < 1 || o.ttlDays > 366)
    throw new ValidationError(
      "--ttl-days must be 1..366 (and within the maximum lifetime: pnpm praxa tokens max-lifetime)",
    );
  const workspaceId = parseId("workspace", o.workspace);
  const memberId = parseId("member", o.member);
  const cfg = await bootConfig("migrate", { env: withLocalDefaults(env), envFile: ".env" });
  const signer = loadAuditSigningKey({ pem: cfg.PRAXA_AUDIT_SIGNING_KEY, path: cfg.PRAXA_AUDIT_SIGNING_KEY_FILE });
  const db = createDatabase(cfg.DATABASE_URL, { max: 1, applicationName: "praxa-tokens" });
  const m = mintApiTokenMaterial(workspaceId);
  const expiresAt = new Date(Date.now() + o.ttlDays * 86_400_000);
  try {
    const [event] = await withWorkspace(db, workspaceId, async (scope) => {
      await scope.execute(dsql`set local role praxa_owner`);
      await scope.execute(
        dsql`select public.admin_mint_human_token(${workspaceId}, ${m.tokenId}, ${memberId}, ${o.name}, ${m.secretSha256}, ${expiresAt.toISOString()}::timestamptz)`,
      );
      return appendAsOperator(scope, signer, [
        operatorEvent(
          "admin.token.minted",
          "operator.tokens_create",
          { target_id: m.tokenId, tokenId: m.tokenId, kind: "human", memberId, expiresAt: expiresAt.toISOString() },
          { minted: true },
        ),
      ]);
    });
    return { token: m.token, tokenId: m.tokenId, expiresAt, auditSeq: event?.seq ?? 0 };
  } finally {
    await db.close();
  }
}

export interface ListedToken {
  readonly id: string;
  readonly name: string;
  readonly kind: "human" | "automation";
  readonly memberId: string;
  readonly role: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly mintedBy: string | null;
  readonly revokedAt: string | null;
  readonly status: "live" | "expired" | "revoked";
}

/** `praxa tokens list --workspace <id>`: the workspace's tokens, newest first — never a secret or its hash. */
export async function listTokens(env: ConfigSource, workspace: string): Promise<ListedToken[]> {
  const workspaceId = parseId("workspace", workspace);
  const cfg = await bootConfig("migrate", { env: withLocalDefaults(env), envFile: ".env" });
  const db = createDatabase(cfg.DATABASE_URL, { max: 1, applicationName: "praxa-tokens" });
  try {
    const rows = await withWorkspace(db, workspaceId, async (scope) => {
      await scope.execute(dsql`set local role praxa_owner`);
      return adminListApiTokens(scope);
    });
    const now = Date.now();
    return rows.map((t) => ({
      id: t.id,
      name: t.name,
      kind: t.kind,
      memberId: t.member_id,
      role: t.role,
      createdAt: t.created_at.toISOString(),
      expiresAt: t.expires_at.toISOString(),
      mintedBy: t.minted_by,
      revokedAt: t.revoked_at?.toISOString() ?? null,
      status: t.revoked_at ? "revoked" : t.expires_at.getTime() <= now ? "expired" : "live",
    }));
  } finally {
    await db.close();
  }
}

/**
 * `praxa tokens revoke --workspace <id> <tokenId>`: revoke the token and every token it minted, with one signed
 * `admin.token.revoked` event per token revoked, in one transaction. Returns the revoked ids (none if it was already).
 */
export async function revokeToken(
  env: ConfigSource,
  workspace: string,
  token: string,
): Promise<{ revoked: string[]; auditSeqs: number[] }> {
  const workspaceId = parseId("workspace", workspace);
  const tokenId = parseId("apiToken", token);
  const cfg = await bootConfig("migrate", { env: withLocalDefaults(env), envFile: ".env" });
  const signer = loadAuditSigningKey({ pem: cfg.PRAXA_AUDIT_SIGNING_KEY, path: cfg.PRAXA_AUDIT_SIGNING_KEY_FILE });
  const db = createDatabase(cfg.DATABASE_URL, { max: 1, applicationName: "praxa-tokens" });
  try {
    return await withWorkspace(db, workspaceId, async (scope) => {
      await scope.execute(dsql`set local role praxa_owner`);
      const revoked = await adminRevokeApiToken(scope, tokenId);
      const events = await appendAsOperator(
        scope,
        signer,
        revoked.map((r) =>
          operatorEvent(
            "admin.token.revoked",
            "operator.tokens_revoke",
            { target_id: r.token_id, kind: r.kind, member_id: r.member_id, minted_by: r.minted_by, requested: tokenId },
            { status: "revoked", cascade: r.token_id !== tokenId },
          ),
        ),
      );
      return { revoked: revoked.map((r) => r.token_id), auditSeqs: events.map((e) => e.seq) };
    });
  } finally {
    await db.close();
  }
}

/** `praxa tokens max-lifetime --kind <kind> --days <n>`: the maximum lifetime the database allows a new token of a kind. */
export async function setTokenMaxLifetime(env: ConfigSource, kind: string, days: number): Promise<void> {
  if (kind !== "human" && kind !== "automation") throw new ValidationError("--kind must be human or automation");
  if (!Number.isInteger(days) || days < 1 || days > 366) throw new ValidationError("--days must be 1..366");
  const cfg = await bootConfig("migrate", { env: withLocalDefaults(env), envFile: ".env" });
  const db = createDatabase(cfg.DATABASE_URL, { max: 1, applicationName: "praxa-tokens" });
  try {
    await db.db.transaction(async (tx) => {
      await tx.execute(dsql`set local role praxa_owner`);
      await tx.execute(dsql`select public.admin_set_token_max_days(${kind}, ${days}::integer)`);
    });
  } finally {
    await db.close();
  }
}
