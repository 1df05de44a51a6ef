/**
 * Where settings come from, read once at boot: the environment (plus `.env` in development), and in production AWS
 * Secrets Manager (`PRAXA_SECRETS_SOURCE=aws`, one JSON secret named by `PRAXA_SECRETS_ID`). Nothing here is called at
 * request time; `bootConfig` returns a frozen object and keeps no client.
 */
import { readFileSync } from "node:fs";
import {
  GetSecretValueCommand,
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from "@aws-sdk/client-secrets-manager";
import { ConfigError } from "@praxa/core";
import { parse as parseDotenv } from "dotenv";
import type { z } from "zod";
import { loadConfig, type ConfigSource } from "./load-config.js";
import { APP_CONFIG_SCHEMAS, type AppConfig, type AppName } from "./schemas.js";

/** Parse a `.env` file if it exists; missing is fine. Real environment variables win over it. */
export function readEnvFile(path: string): ConfigSource {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw err;
  }
  return parseDotenv(text);
}

export interface SecretsManagerOptions {
  readonly secretId: string;
  /** Client settings (region, endpoint, credentials); the endpoint is only overridden in tests. */
  readonly client?: SecretsManagerClientConfig;
}

/** Read one JSON secret (an object of setting name → string) from AWS Secrets Manager. One call. */
export async function readSecretsManager(options: SecretsManagerOptions): Promise<ConfigSource> {
  const client = new SecretsManagerClient(options.client ?? {});
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: options.secretId }));
    if (out.SecretString === undefined)
      throw new ConfigError([
        { key: "PRAXA_SECRETS_ID", problem: "secret has no SecretString (binary secrets are not supported)" },
      ]);
    let data: unknown;
    try {
      data = JSON.parse(out.SecretString);
    } catch {
      throw new ConfigError([{ key: "PRAXA_SECRETS_ID", problem: "secret is not a JSON object" }]);
    }
    if (!data || typeof data !== "object" || Array.isArray(data)) {
      throw new ConfigError([{ key: "PRAXA_SECRETS_ID", problem: "secret is not a JSON object" }]);
    }
    const result: Record<string, string> = {};
    for (const [k, v] of Object.entries(data)) {
      if (typeof v !== "string") throw new ConfigError([{ key: k, problem: "secret values must be strings" }]);
      result[k] = v;
    }
    return result;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const name = err instanceof Error ? err.name : "Error";
    throw new ConfigError(
      [{ key: "PRAXA_SECRETS_ID", problem: `could not read the secret from AWS Secrets Manager (${name})` }],
      { cause: err },
    );
  } finally {
    client.destroy();
  }
}

export interface BootOptions {
  /** The process environment (pass `process.env` from main.ts). */
  readonly env: ConfigSource;
  /** Path of a `.env` file read in development; ignored when NODE_ENV=production. */
  readonly envFile?: string;
  /** Overrides for the Secrets Manager client (tests point it at the loopback server). */
  readonly secretsClient?: SecretsManagerClientConfig;
}

/**
 * Assemble the source for `app` and load its slice, once. Called from each app's main.ts, never at import time.
 * Precedence: Secrets Manager (when PRAXA_SECRETS_SOURCE=aws) over the environment over `.env`.
 */
export async function bootConfig<A extends AppName>(app: A, options: BootOptions): Promise<AppConfig<A>> {
  const env = options.env;
  const fileSource = env.NODE_ENV !== "production" && options.envFile ? readEnvFile(options.envFile) : {};
  let merged: Record<string, string | undefined> = { ...fileSource, ...env };
  const sourceKind = merged.PRAXA_SECRETS_SOURCE ?? "env";
  if (sourceKind !== "env" && sourceKind !== "aws") {
    throw new ConfigError([{ key: "PRAXA_SECRETS_SOURCE", problem: "must be one of: env, aws" }]);
  }
  if (sourceKind === "aws") {
    const secretId = merged.PRAXA_SECRETS_ID;
    if (!secretId)
      throw new ConfigError([{ key: "PRAXA_SECRETS_ID", problem: "required when PRAXA_SECRETS_SOURCE=aws" }]);
    const region = merged.AWS_REGION;
    const secrets = await readSecretsManager({
      secretId,
      client: { ...(region ? { region } : {}), ...options.secretsClient },
    });
    merged = { ...merged, ...secrets };
  }
  const schema: z.ZodType = APP_CONFIG_SCHEMAS[app];
  return loadConfig(schema, merged) as AppConfig<A>;
}
