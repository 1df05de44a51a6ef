#!/usr/bin/env node
/** The api process. Its config slice holds nothing that opens a credential (it seals, never opens). */
import { bootConfig, type ApiConfig } from '@praxa/config';
import { createDatabase } from '@praxa/db';
import { createLogger, runProcess } from '@praxa/observability';
import type { InstallConfig } from './install-config.js';
import { buildApiServer } from './server.js';

/** The bot-user install settings of the api's slice; a provider missing any of its settings stays unconfigured. */
export function installConfig(config: ApiConfig): InstallConfig {
  const { SLACK_CLIENT_ID: clientId, SLACK_CLIENT_SECRET: clientSecret, GITHUB_APP_ID: appId, GITHUB_APP_PRIVATE_KEY: privateKeyPem, GITHUB_APP_SLUG: slug } = config;
  return {
    publicUrl: config.API_PUBLIC_URL,
    ...(clientId && clientSecret
      ? { slack: { clientId, clientSecret, baseUrl: config.SLACK_BASE_URL, ...(config.SLACK_BOT_SCOPES ? { botScopes: config.SLACK_BOT_SCOPES.split(',') } : {}) } }
      : {}),
    ...(appId && privateKeyPem && slug ? { github: { appId, privateKeyPem, baseUrl: config.GITHUB_API_URL, slug, webUrl: config.GITHUB_WEB_URL } } : {}),
  };
}

export async function startApi(env: NodeJS.ProcessEnv): Promise<{ url: string; close: () => Promise<void> }> {
  const config = await bootConfig('api', { env, envFile: '.env' });
  const log = createLogger({ name: 'praxa-api', level: config.LOG_LEVEL });
  const database = createDatabase(config.API_DATABASE_URL, { max: 10, applicationName: 'praxa-api' });
  const app = await buildApiServer({ database, log, install: installConfig(config) });
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
