/**
 * `pnpm praxa start <app>` runs one app in the foreground, as its container does: the app's own compiled entry point
 * in a child process (apps never import each other), with signals passed through. `pnpm praxa reconcile` runs one
 * reconciler pass the same way.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ConfigSource } from "@praxa/config";
import { withLocalDefaults } from "./local-env.js";

export const STARTABLE_APPS = ["ingest", "worker", "monitor", "api"] as const;
export type StartableApp = (typeof STARTABLE_APPS)[number];

export function appEntry(app: string): string {
  return fileURLToPath(new URL(`../../../${app}/dist/main.js`, import.meta.url));
}

export function runApp(app: StartableApp, args: readonly string[], env: ConfigSource): Promise<number> {
  const entry = appEntry(app);
  if (!existsSync(entry)) throw new Error(`apps/${app} is not built: run pnpm build`);
  const child = spawn(process.execPath, [entry, ...args], {
    stdio: "inherit",
    env: { ...process.env, ...withLocalDefaults(env) } as NodeJS.ProcessEnv,
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  process.on("SIGINT", forward("SIGINT"));
  process.on("SIGTERM", forward("SIGTERM"));
  return new Promise((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
}
