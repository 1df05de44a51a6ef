#!/usr/bin/env node
/** The api process. Its config slice holds nothing that opens a credential (it seals, never opens). */
import { bootConfig } from '@praxa/config';
import { createDatabase } from '@praxa/db';
import { createLogger, runProcess } from '@praxa/observability';
import { buildApiServer } from './server.js';

export async function startApi(env: NodeJS.ProcessEnv): Promise<{ url: string; close: () => Promise<void> }> {
  const config = await bootConfig('api', { env, envFile: '.env' });
  const log = createLogger({ name: 'praxa-api', level: config.LOG_LEVEL });
  const database = createDatabase(config.API_DATABASE_URL, { max: 10, applicationName: 'praxa-api' });
  const app = await buildApiServer({ database, log });
  const url = await app.listen({ port: config.API_PORT, host: process.env.API_HOST ?? '0.0.0.0' });
  log.info({ port: config.API_PORT }, 'api listening');
  return {
    url,
    close: async () => {
      await app.close();
      await database.close();
    },
  };
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  runProcess('praxa-api', () => startApi(process.env));
}
