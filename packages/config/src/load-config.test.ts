import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '@praxa/core';
import { apiConfigSchema, ingestConfigSchema, loadConfig, migrateConfigSchema, workerConfigSchema } from './index.js';

const SECRET = 'sEcReT-vAlUe-that-must-never-be-printed';

function catchConfigError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('reports every bad or missing key at once, sorted, and never prints a value', () => {
    const err = catchConfigError(() =>
      loadConfig(ingestConfigSchema, {
        INGEST_DATABASE_URL: `mysql://root:${SECRET}@db/x`,
        REDIS_URL: `http://${SECRET}`,
        INGEST_PORT: '99999',
        LOG_LEVEL: SECRET,
        GITHUB_WEBHOOK_SECRET: 'short',
        // SLACK_SIGNING_SECRET missing
      }),
    );
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.issues.map((i) => i.key)).toEqual([
      'GITHUB_WEBHOOK_SECRET',
      'INGEST_DATABASE_URL',
      'INGEST_PORT',
      'LOG_LEVEL',
      'REDIS_URL',
      'SLACK_SIGNING_SECRET',
    ]);
    expect(err.issues.find((i) => i.key === 'SLACK_SIGNING_SECRET')?.problem).toBe('required');
    expect(err.issues.find((i) => i.key === 'INGEST_DATABASE_URL')?.problem).toBe('must be a postgres:// URL');
    const everything = `${err.message}\n${JSON.stringify(err)}\n${JSON.stringify(err.issues)}\n${String(err.stack)}`;
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain('short');
  });

  it('applies defaults, coerces numbers and returns a deeply frozen object', () => {
    const cfg = loadConfig(workerConfigSchema, { WORKER_DATABASE_URL: 'postgres://praxa_worker@127.0.0.1/praxa', WORKER_CONCURRENCY: '8' });
    expect(cfg.WORKER_CONCURRENCY).toBe(8);
    expect(cfg.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(cfg.PRAXA_KEY_PROVIDER).toBe('local');
    expect(cfg.LOG_LEVEL).toBe('info');
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(() => {
      (cfg as { WORKER_CONCURRENCY: number }).WORKER_CONCURRENCY = 1;
    }).toThrow(TypeError);
  });

  it("the worker's model endpoints are optional URLs, and only the worker has them", () => {
    const base = { WORKER_DATABASE_URL: 'postgres://praxa_worker@127.0.0.1/praxa' };
    const cfg = loadConfig(workerConfigSchema, { ...base, BEDROCK_BASE_URL: 'http://127.0.0.1:4566', VERTEX_TOKEN_URL: 'http://127.0.0.1:4567/token' });
    expect(cfg.BEDROCK_BASE_URL).toBe('http://127.0.0.1:4566');
    expect(cfg.VERTEX_TOKEN_URL).toBe('http://127.0.0.1:4567/token');
    expect(cfg.VERTEX_BASE_URL).toBeUndefined();
    expect(catchConfigError(() => loadConfig(workerConfigSchema, { ...base, BEDROCK_STS_ENDPOINT: 'not a url' })).issues.map((i) => i.key)).toEqual(['BEDROCK_STS_ENDPOINT']);
    expect(Object.keys(apiConfigSchema.shape)).not.toContain('VERTEX_TOKEN_URL');
  });

  it('treats empty strings as unset', () => {
    const err = catchConfigError(() => loadConfig(migrateConfigSchema, { DATABASE_URL: '' }));
    expect(err.issues).toEqual([{ key: 'DATABASE_URL', problem: 'required' }]);
  });

  it("keeps each app to its own slice: the api's config holds nothing that opens a credential", () => {
    const cfg = loadConfig(apiConfigSchema, {
      API_DATABASE_URL: 'postgres://praxa_api@127.0.0.1/praxa',
      PRAXA_KEY_FILE: '/etc/praxa/master.key',
      PRAXA_KMS_KEY_ID: 'arn:aws:kms:…',
      GITHUB_APP_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----',
      WORKER_DATABASE_URL: 'postgres://praxa_worker@127.0.0.1/praxa',
      ANTHROPIC_API_KEY: 'sk-ant-x',
    });
    const keys = Object.keys(cfg);
    for (const forbidden of ['PRAXA_KEY_FILE', 'PRAXA_KMS_KEY_ID', 'PRAXA_KEY_PROVIDER', 'WORKER_DATABASE_URL', 'ANTHROPIC_API_KEY']) {
      expect(keys).not.toContain(forbidden);
    }
    expect(Object.keys(apiConfigSchema.shape)).not.toContain('PRAXA_KEY_FILE');
    // The one service secret the api holds: the GitHub App key, to sign App JWTs for the installation lookup at install
    // time. It opens no sealed credential (docs/security.md, "GitHub App installation callback").
    expect(keys).toContain('GITHUB_APP_PRIVATE_KEY');
  });
});
