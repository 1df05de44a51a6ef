/**
 * `pnpm praxa audit verify --workspace <id>` — chain, signatures and checkpoints of one workspace, read from the
 * database as the api role in that workspace's scope; exit 0 when everything holds, otherwise 1 and the first bad
 * `seq` (or checkpoint) and what failed. `audit checkpoint --workspace <id>` signs one on demand with the key
 * provider (local key file by default); `audit keys` prints the public key set a customer pins for offline checks.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { parseId, verifyChain, verifyCheckpoints, type VerificationKey } from '@praxa/core';
import { bootConfig, type ConfigSource } from '@praxa/config';
import { LocalKeyProvider } from '@praxa/crypto';
import { createCheckpoint, createDatabase, readAuditChain, readAuditKeyset, readCheckpoints, registerAuditKey, withWorkspace } from '@praxa/db';
import { withLocalDefaults } from './local-env.js';

export interface AuditVerifyReport {
  readonly ok: boolean;
  readonly events: number;
  readonly checkpoints: number;
  readonly failure?: string;
}

export async function verifyWorkspaceAudit(env: ConfigSource, workspace: string): Promise<AuditVerifyReport> {
  const workspaceId = parseId('workspace', workspace);
  const cfg = await bootConfig('api', { env: withLocalDefaults(env), envFile: '.env' });
  const db = createDatabase(cfg.API_DATABASE_URL, { max: 1, applicationName: 'praxa-audit-verify' });
  try {
    const keys = await readAuditKeyset(db);
    const { chain, checkpoints } = await withWorkspace(db, workspaceId, async (s) => ({ chain: await readAuditChain(s), checkpoints: await readCheckpoints(s) }));
    const eventKeys = new Map<string, KeyObject>(keys.filter((k) => k.purpose === 'event').map((k) => [k.keyId, createPublicKey({ key: k.spki, format: 'der', type: 'spki' })]));
    const chainResult = verifyChain(chain, eventKeys, { workspaceId });
    if (!chainResult.ok) return { ok: false, events: chain.length, checkpoints: checkpoints.length, failure: `seq ${chainResult.seq}: ${chainResult.reason}` };
    const cpKeys = new Map<string, VerificationKey>(keys.map((k) => [k.keyId, { keyId: k.keyId, algorithm: k.algorithm, spki: k.spki }]));
    const cpResult = verifyCheckpoints(checkpoints, chain.map((e) => e.hash), cpKeys);
    if (!cpResult.ok) return { ok: false, events: chain.length, checkpoints: checkpoints.length, failure: `checkpoint at tree_size ${cpResult.treeSize}: ${cpResult.reason}` };
    return { ok: true, events: chain.length, checkpoints: checkpoints.length };
  } finally {
    await db.close();
  }
}

export async function checkpointWorkspace(env: ConfigSource, workspace: string): Promise<{ treeSize: number; rootHash: string; keyId: string } | null> {
  const workspaceId = parseId('workspace', workspace);
  const cfg = await bootConfig('monitor', { env: withLocalDefaults(env), envFile: '.env' });
  if (cfg.PRAXA_KEY_PROVIDER !== 'local') throw new Error('audit checkpoint from the CLI uses the local key provider; in production the monitor signs through KMS');
  const provider = await LocalKeyProvider.open({ path: cfg.PRAXA_KEY_FILE });
  const pub = await provider.publicKey();
  const db = createDatabase(cfg.MONITOR_DATABASE_URL, { max: 1, applicationName: 'praxa-audit-checkpoint' });
  try {
    await registerAuditKey(db, { keyId: pub.keyId, purpose: 'checkpoint', algorithm: pub.algorithm, spki: Buffer.from(pub.spki) });
    const cp = await withWorkspace(db, workspaceId, (s) => createCheckpoint(s, { keyId: pub.keyId, sign: (m) => provider.sign(m) }));
    return cp ? { treeSize: cp.tree_size, rootHash: cp.root_hash, keyId: cp.key_id } : null;
  } finally {
    await db.close();
  }
}

export async function printAuditKeys(env: ConfigSource): Promise<string> {
  const cfg = await bootConfig('api', { env: withLocalDefaults(env), envFile: '.env' });
  const db = createDatabase(cfg.API_DATABASE_URL, { max: 1, applicationName: 'praxa-audit-keys' });
  try {
    const keys = await readAuditKeyset(db);
    return JSON.stringify(
      keys.map((k) => ({ key_id: k.keyId, purpose: k.purpose, algorithm: k.algorithm, public_key_pem: createPublicKey({ key: k.spki, format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }).toString() })),
      null,
      2,
    );
  } finally {
    await db.close();
  }
}
