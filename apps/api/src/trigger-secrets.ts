/**
 * `POST /v1/skills/:id/trigger-secrets` — a new `whsec_` secret for signed producers of one Skill, shown once. The api
 * seals it to the ingest fleet's public key (it cannot open it again) and stores only the ciphertext.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { newId, SkillIdSchema, WorkspaceScopeError } from '@praxa/core';
import { sealCredential } from '@praxa/crypto';
import { eq, ingestPublicKey, schema, type Database } from '@praxa/db';
import { IngestKeyMissingError } from './errors.js';
import { route } from './route-builder.js';

export function registerTriggerSecretRoutes(app: FastifyInstance, db: Database): void {
  route(app, db, {
    method: 'POST',
    url: '/v1/skills/:id/trigger-secrets',
    roles: ['owner', 'admin'],
    status: 201,
    params: z.object({ id: SkillIdSchema }),
    handler: async ({ scope, caller, params }) => {
      const [skill] = await scope.db.select({ id: schema.skills.id }).from(schema.skills).where(eq(schema.skills.id, params.id));
      if (!skill) throw new WorkspaceScopeError('no such skill in this workspace');
      const pub = await ingestPublicKey(scope);
      if (!pub) throw new IngestKeyMissingError('no ingest key is registered yet: start ingest once (pnpm praxa start ingest)');
      const secret = `whsec_${randomBytes(32).toString('base64')}`;
      const ciphertext = await sealCredential({ keyId: pub.keyId, publicKey: pub.publicKey }, { workspaceId: caller.workspaceId, provider: 'trigger', purpose: 'webhook_secret' }, secret);
      const id = newId('triggerSecret');
      await scope.db.insert(schema.triggerSecrets).values({ workspaceId: caller.workspaceId, id, skillId: params.id, ciphertext: Buffer.from(ciphertext), keyId: pub.keyId });
      return { id, skillId: params.id, secret, url: `/triggers/${params.id}`, note: 'shown once: store it now' };
    },
  });
}
