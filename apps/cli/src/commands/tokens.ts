/**
 * `pnpm praxa tokens create --member <id> --kind human` — the only way a `human` api token is minted until interactive
 * login exists. Runs as the operator (DATABASE_URL). In one transaction: the token is minted through
 * `admin_mint_human_token` (acting as praxa_owner; only the hash of its secret is stored), and a `token.minted` event —
 * the token's id and kind, the member, the expiry; never the secret — is appended to the workspace's audit chain,
 * signed with the operator's audit key (PRAXA_AUDIT_SIGNING_KEY, or the 0600 key file), acting as praxa_definer, the
 * owner of the audit functions (the operator is a member of it; no new grant). Either both happen or neither does.
 * The token is printed once.
 */
import { mintApiTokenMaterial, newId, parseId, ValidationError } from '@praxa/core';
import { bootConfig, type ConfigSource } from '@praxa/config';
import { loadAuditSigningKey } from '@praxa/crypto';
import { appendAuditEvents, createDatabase, sql as dsql, withWorkspace } from '@praxa/db';
import { withLocalDefaults } from './local-env.js';

export interface CreateTokenOptions {
  readonly workspace: string;
  readonly member: string;
  readonly kind: string;
  readonly name: string;
  readonly ttlDays: number;
}

export async function createHumanToken(env: ConfigSource, o: CreateTokenOptions): Promise<{ token: string; tokenId: string; expiresAt: Date; auditSeq: number }> {
  if (o.kind !== 'human') throw new ValidationError('the CLI mints human tokens only; automation tokens come from POST /v1/tokens');
  if (!Number.isInteger(o.ttlDays) || o.ttlDays < 1 || o.ttlDays > 365) throw new ValidationError('--ttl-days must be 1..365');
  const workspaceId = parseId('workspace', o.workspace);
  const memberId = parseId('member', o.member);
  const cfg = await bootConfig('migrate', { env: withLocalDefaults(env), envFile: '.env' });
  const signer = loadAuditSigningKey({ pem: cfg.PRAXA_AUDIT_SIGNING_KEY, path: cfg.PRAXA_AUDIT_SIGNING_KEY_FILE });
  const db = createDatabase(cfg.DATABASE_URL, { max: 1, applicationName: 'praxa-tokens' });
  const m = mintApiTokenMaterial(workspaceId);
  const expiresAt = new Date(Date.now() + o.ttlDays * 86_400_000);
  try {
    const [event] = await withWorkspace(db, workspaceId, async (scope) => {
      await scope.execute(dsql`set local role praxa_owner`);
      await scope.execute(dsql`select public.admin_mint_human_token(${workspaceId}, ${m.tokenId}, ${memberId}, ${o.name}, ${m.secretSha256}, ${expiresAt.toISOString()}::timestamptz)`);
      await scope.execute(dsql`set local role praxa_definer`);
      await scope.execute(dsql`select public.audit_register_key(${signer.keyId}, 'event', 'ed25519', ${Buffer.from(signer.spki)}::bytea)`);
      return appendAuditEvents(
        scope,
        [
          {
            auditEventId: newId('auditEvent'),
            kind: 'token.minted',
            skillId: null,
            runId: null,
            trigger: 'operator.tokens_create',
            input: { tokenId: m.tokenId, kind: 'human', memberId, expiresAt: expiresAt.toISOString() },
            reasoning: [],
            alternatives: [],
            confidence: null,
            output: { minted: true },
            tools_used: [],
            duration_ms: 0,
            occurred_at: new Date().toISOString(),
          },
        ],
        signer,
      );
    });
    return { token: m.token, tokenId: m.tokenId, expiresAt, auditSeq: event?.seq ?? 0 };
  } finally {
    await db.close();
  }
}
