/**
 * `pnpm praxa tokens create --member <id> --kind human` — the only way a `human` api token is minted until interactive
 * login exists. Runs as the operator (DATABASE_URL, acting as praxa_owner) through `admin_mint_human_token`; the token
 * is printed once and only its hash is stored.
 */
import { mintApiTokenMaterial, parseId, ValidationError } from '@praxa/core';
import { bootConfig, type ConfigSource } from '@praxa/config';
import { createDatabase, sql as dsql } from '@praxa/db';
import { withLocalDefaults } from './local-env.js';

export interface CreateTokenOptions {
  readonly workspace: string;
  readonly member: string;
  readonly kind: string;
  readonly name: string;
  readonly ttlDays: number;
}

export async function createHumanToken(env: ConfigSource, o: CreateTokenOptions): Promise<{ token: string; tokenId: string; expiresAt: Date }> {
  if (o.kind !== 'human') throw new ValidationError('the CLI mints human tokens only; automation tokens come from POST /v1/tokens');
  if (!Number.isInteger(o.ttlDays) || o.ttlDays < 1 || o.ttlDays > 365) throw new ValidationError('--ttl-days must be 1..365');
  const workspaceId = parseId('workspace', o.workspace);
  const memberId = parseId('member', o.member);
  const cfg = await bootConfig('migrate', { env: withLocalDefaults(env), envFile: '.env' });
  const db = createDatabase(cfg.DATABASE_URL, { max: 1, applicationName: 'praxa-tokens' });
  const m = mintApiTokenMaterial(workspaceId);
  const expiresAt = new Date(Date.now() + o.ttlDays * 86_400_000);
  try {
    await db.db.transaction(async (tx) => {
      await tx.execute(dsql`set local role praxa_owner`);
      await tx.execute(dsql`select public.admin_mint_human_token(${workspaceId}, ${m.tokenId}, ${memberId}, ${o.name}, ${m.secretSha256}, ${expiresAt.toISOString()}::timestamptz)`);
    });
  } finally {
    await db.close();
  }
  return { token: m.token, tokenId: m.tokenId, expiresAt };
}
