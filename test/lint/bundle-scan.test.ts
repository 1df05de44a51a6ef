/**
 * The console's bundle scan bites (scripts/bundle-scan.mjs, run by `pnpm lint` and the lint workflow): a scratch copy
 * of apps/web with a privileged import planted fails it, naming the package; one with a secret and a value of the
 * service configuration planted fails it, naming the rule and the configuration key but never printing the value; the
 * clean app passes.
 */
import { afterAll, describe, expect, it } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const scratches: string[] = [];

/** A copy of apps/web beside it (same depth: its node_modules links still resolve), without its build. */
function scratchCopy(): { dir: string; rel: string } {
  const rel = `apps/.web-scan-${randomBytes(4).toString("hex")}`;
  const dir = join(root, rel);
  cpSync(join(root, "apps/web"), dir, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => !src.startsWith(join(root, "apps/web/dist")),
  });
  scratches.push(dir);
  return { dir, rel };
}

function scan(rel: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(root, "scripts/bundle-scan.mjs"), "--app", rel], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

afterAll(() => {
  for (const dir of scratches) rmSync(dir, { recursive: true, force: true });
});

describe("bundle scan", () => {
  it("passes on the clean console", () => {
    const r = scan("apps/web");
    expect(r.out).toMatch(/bundle-scan: apps\/web clean/);
    expect(r.status).toBe(0);
  });

  it("fails on a privileged import (the database package and its postgres client), naming them", () => {
    const { dir, rel } = scratchCopy();
    // The scratch app depends on @praxa/db as an app of ours would if someone added it to its package.json.
    mkdirSync(join(dir, "node_modules/@praxa"), { recursive: true });
    symlinkSync("../../../../packages/db", join(dir, "node_modules/@praxa/db"));
    writeFileSync(
      join(dir, "src/planted.ts"),
      'import { createDatabase } from "@praxa/db";\nexport const planted = createDatabase;\n',
    );
    appendFileSync(join(dir, "src/main.tsx"), '\nimport { planted } from "./planted";\nconsole.log(planted);\n');
    const r = scan(rel);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/server-only package: .*packages\/db\//);
    expect(r.out).toMatch(/privileged client: .*node_modules\/postgres\//);
  });

  it("fails on a planted secret and a service configuration value, never printing them", () => {
    const { dir, rel } = scratchCopy();
    const canary = `canary-${randomBytes(12).toString("hex")}`;
    const webhook = `whsec_${randomBytes(24).toString("base64")}`;
    const awsKey = `AKIA${randomBytes(8).toString("hex").toUpperCase()}`;
    writeFileSync(
      join(dir, "src/planted.ts"),
      `export const planted = [${JSON.stringify(canary)}, ${JSON.stringify(webhook)}, ${JSON.stringify(awsKey)}];\n`,
    );
    appendFileSync(join(dir, "src/main.tsx"), '\nimport { planted } from "./planted";\nconsole.log(planted);\n');
    const r = scan(rel, { GITHUB_WEBHOOK_SECRET: canary });
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/service configuration value: .*: GITHUB_WEBHOOK_SECRET/);
    expect(r.out).toMatch(/webhook signing secret/);
    expect(r.out).toMatch(/AWS access key id/);
    for (const secret of [canary, webhook, awsKey]) expect(r.out).not.toContain(secret);
  });

  it("fails on a database URL and a PEM private key", () => {
    const { dir, rel } = scratchCopy();
    writeFileSync(
      join(dir, "src/planted.ts"),
      'export const planted = ["postgres://praxa_api:pw@db.internal:5432/praxa", "-----BEGIN PRIVATE KEY-----\\nMC4CAQAwBQYDK2VwBCIEI\\n"];\n',
    );
    appendFileSync(join(dir, "src/main.tsx"), '\nimport { planted } from "./planted";\nconsole.log(planted);\n');
    const r = scan(rel);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/database or Redis URL/);
    expect(r.out).toMatch(/PEM private key/);
  });
});
