/**
 * Development defaults for the CLI on a laptop or CI machine: Postgres and Redis on localhost, one database named
 * `praxa`, each app role logging in as itself (loopback trust). Production sets every variable explicitly (see
 * .env.example); these defaults apply only when NODE_ENV is not `production`.
 */
import { databaseUrl } from "@praxa/db";
import type { ConfigSource } from "@praxa/config";

const LOCAL_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/praxa";

export function withLocalDefaults(env: ConfigSource): ConfigSource {
  if (env.NODE_ENV === "production") return env;
  const base = env.DATABASE_URL || LOCAL_DATABASE_URL;
  const role = (user: string) => databaseUrl(base, { user });
  return {
    INGEST_DATABASE_URL: role("praxa_ingest"),
    WORKER_DATABASE_URL: role("praxa_worker"),
    MONITOR_DATABASE_URL: role("praxa_monitor"),
    API_DATABASE_URL: role("praxa_api"),
    ...env,
    DATABASE_URL: base,
  };
}
