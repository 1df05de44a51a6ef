import { bootConfig, type ConfigSource } from "@praxa/config";
import { ensureDatabase, migrate } from "@praxa/db";
import { withLocalDefaults } from "./local-env.js";

export interface MigrateOutcome {
  readonly databaseCreated: boolean;
  readonly applied: readonly string[];
}

/** Ensure the database exists, bootstrap roles, apply migrations. Idempotent. */
export async function migrateDatabase(env: ConfigSource): Promise<MigrateOutcome> {
  const cfg = await bootConfig("migrate", { env: withLocalDefaults(env), envFile: ".env" });
  const url = new URL(cfg.DATABASE_URL);
  const name = decodeURIComponent(url.pathname.replace(/^\//, "")) || "praxa";
  const databaseCreated = await ensureDatabase(cfg.DATABASE_URL, name);
  const { applied } = await migrate(cfg.DATABASE_URL);
  return { databaseCreated, applied };
}
