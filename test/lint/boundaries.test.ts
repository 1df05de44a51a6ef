/**
 * The DESIGN dependency rule bites: each fixture with a forbidden import, linted as if it lived where the test says,
 * fails with the boundary rule's own id — not merely some lint error. A positive control lints clean.
 */
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";

const root = fileURLToPath(new URL("../..", import.meta.url));
const eslint = new ESLint({ cwd: root });

async function lintAs(fixture: string, asPath: string): Promise<string[]> {
  const text = readFileSync(new URL(`../lint-fixtures/${fixture}`, import.meta.url), "utf8");
  const [result] = await eslint.lintText(text, { filePath: `${root}/${asPath}` });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? "fatal"}: ${m.message}`);
}

describe("dependency rule (eslint-plugin-boundaries)", () => {
  it("core importing another package of ours fails with boundaries/dependencies", async () => {
    const messages = await lintAs("core-imports-config.ts", "packages/core/src/lint-probe.ts");
    expect(messages.some((m) => m.startsWith("boundaries/dependencies:"))).toBe(true);
  });

  it("the console (apps/web) importing config or crypto fails with boundaries/dependencies, once per import", async () => {
    const messages = await lintAs("console-imports-secrets.ts", "apps/web/src/lint-probe.ts");
    expect(messages.filter((m) => m.startsWith("boundaries/dependencies:"))).toHaveLength(2);
  });

  it("a base package reaching sideways fails with boundaries/dependencies", async () => {
    const messages = await lintAs("base-imports-base.ts", "packages/config/src/lint-probe.ts");
    expect(messages.some((m) => m.startsWith("boundaries/dependencies:"))).toBe(true);
  });

  it("object-store importing db fails with boundaries/dependencies; importing core lints clean", async () => {
    const messages = await lintAs("object-store-imports-db.ts", "packages/object-store/src/lint-probe.ts");
    expect(messages.some((m) => m.startsWith("boundaries/dependencies:"))).toBe(true);
    expect(await lintAs("allowed.ts", "packages/object-store/src/lint-probe.ts")).toEqual([]);
  });

  it("a package importing an app fails with boundaries/dependencies", async () => {
    const messages = await lintAs("package-imports-app.ts", "packages/db/src/lint-probe.ts");
    expect(messages.some((m) => m.startsWith("boundaries/dependencies:"))).toBe(true);
  });

  it("a deep import into another package fails with no-restricted-imports", async () => {
    const messages = await lintAs("deep-import.ts", "packages/config/src/lint-probe.ts");
    expect(messages.some((m) => m.startsWith("no-restricted-imports:"))).toBe(true);
  });

  it("positive control: an allowed edge lints clean", async () => {
    expect(await lintAs("allowed.ts", "packages/config/src/lint-probe.ts")).toEqual([]);
  });
});
