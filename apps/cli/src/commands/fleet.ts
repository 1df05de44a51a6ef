/**
 * Operator verbs for fleet control (issue #19), as the operator (DATABASE_URL, the owner):
 *   `pnpm praxa fleet set --default-cap N --ahead N` — the fleet's default per-workspace concurrency cap (runs of one
 *     workspace running at once across every worker) and its dispatch look-ahead (dispatched runs waiting for a worker,
 *     fleet-wide: about the fleet's total worker slots). Either may be given alone.
 *   `pnpm praxa fleet cap --workspace ws_… --cap N|default` — one workspace's own cap (0 holds every run of it), or
 *     back to the fleet default.
 * Both take effect at the next dispatch and claim: the cap is enforced in Postgres at claim (migrations/0027).
 */
import { parseId, ValidationError } from "@praxa/core";
import { bootConfig, type ConfigSource } from "@praxa/config";
import { createDatabase, setFleetSettings, setWorkspaceCap } from "@praxa/db";
import { withLocalDefaults } from "./local-env.js";

const MAX = 100_000;

function whole(flag: string, raw: string, min: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > MAX)
    throw new ValidationError(`${flag} takes a whole number from ${min} to ${MAX}`);
  return n;
}

async function asOperator<T>(env: ConfigSource, fn: (db: ReturnType<typeof createDatabase>) => Promise<T>): Promise<T> {
  const cfg = await bootConfig("migrate", { env: withLocalDefaults(env), envFile: ".env" });
  const db = createDatabase(cfg.DATABASE_URL, { max: 1, applicationName: "praxa-fleet" });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export interface FleetSettingsChange {
  readonly defaultWorkspaceConcurrency: number | null;
  readonly dispatchAhead: number | null;
}

/** `praxa fleet set`: what was given is set, the rest left as it is. */
export async function setFleet(
  env: ConfigSource,
  o: { readonly defaultCap?: string; readonly ahead?: string },
): Promise<FleetSettingsChange> {
  if (o.defaultCap === undefined && o.ahead === undefined)
    throw new ValidationError("give --default-cap <n>, --ahead <n>, or both");
  const change = {
    defaultWorkspaceConcurrency: o.defaultCap === undefined ? null : whole("--default-cap", o.defaultCap, 1),
    dispatchAhead: o.ahead === undefined ? null : whole("--ahead", o.ahead, 1),
  };
  await asOperator(env, (db) => setFleetSettings(db, change));
  return change;
}

/** `praxa fleet cap`: a workspace's own cap, or null for the fleet default. */
export async function setFleetWorkspaceCap(
  env: ConfigSource,
  o: { readonly workspace: string; readonly cap: string },
): Promise<{ workspaceId: string; cap: number | null }> {
  const workspaceId = parseId("workspace", o.workspace);
  const cap = o.cap.trim() === "default" ? null : whole("--cap", o.cap, 0);
  await asOperator(env, (db) => setWorkspaceCap(db, workspaceId, cap));
  return { workspaceId, cap };
}
