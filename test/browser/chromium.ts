/**
 * Debian's Chromium for the browser suite (playwright-core drives it; no browser is downloaded). Missing and running
 * as root: installed with apt-get, as scripts/image/build.mjs installs podman. Missing otherwise: null, and the suite
 * skips saying so.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";

export function ensureChromium(): string | null {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (process.getuid?.() !== 0) {
    console.warn(`browser suite skipped: ${CHROMIUM} is missing and not running as root (apt-get install -y chromium)`);
    return null;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [
    ["update", "-qq"],
    ["install", "-y", "-qq", "--no-install-recommends", "chromium", "fonts-liberation"],
  ]) {
    const r = spawnSync("apt-get", args, { stdio: "inherit", env });
    if (r.status !== 0) {
      console.warn(`browser suite skipped: apt-get ${args.join(" ")} failed`);
      return null;
    }
  }
  return existsSync(CHROMIUM) ? CHROMIUM : null;
}

/** A fresh browser profile (its own user-data-dir), headless, nothing phoning home. */
export async function launchChromium(executablePath: string): Promise<BrowserContext> {
  const userDataDir = mkdtempSync(join(tmpdir(), "praxa-chromium-"));
  return chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
