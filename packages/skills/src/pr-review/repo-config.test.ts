import { describe, expect, it } from "@jest/globals";
import { applyRepoConfig, globToRegExp, matchesAny } from "./repo-config.js";
import { PR_REVIEW_MANIFEST } from "./pr-review-skill.js";

describe(".praxa.yaml", () => {
  it("globs: ** spans directories, * stays within one, a bare pattern matches the file name", () => {
    expect(globToRegExp("src/generated/**").test("src/generated/a/b.ts")).toBe(true);
    expect(globToRegExp("src/*.ts").test("src/a/b.ts")).toBe(false);
    expect(matchesAny("deep/dir/yarn.lock", ["*.lock"])).toBe(true);
    expect(matchesAny("src/payments/x.ts", ["docs/**"])).toBe(false);
  });

  it("no file → nothing changes, nothing recorded", () => {
    expect(applyRepoConfig(null, PR_REVIEW_MANIFEST)).toEqual({
      manifest: null,
      settings: {},
      auditInput: {},
      problems: [],
    });
  });

  it("narrowing is applied; the snapshot hash is recorded", () => {
    const r = applyRepoConfig(
      'version: 1\ntools: [github.read.diff, github.comment.pr]\nreview:\n  ignore: ["*.lock"]\n',
      PR_REVIEW_MANIFEST,
    );
    expect(r.problems).toEqual([]);
    expect((r.manifest as { tools: string[] }).tools).toEqual(["github.read.diff", "github.comment.pr"]);
    expect(r.auditInput.repoConfigSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.settings.ignore).toEqual(["*.lock"]);
  });

  it("a file that adds a tool or a trigger is refused with REPO_CONFIG_WIDENS_MANIFEST; the manifest stays as published", () => {
    const r = applyRepoConfig(
      "version: 1\ntools: [github.read.diff, slack.post_message]\ntriggers: [slack.app_mention]\n",
      PR_REVIEW_MANIFEST,
    );
    expect(r.manifest).toBeNull();
    expect(r.problems.map((p) => p.code)).toEqual(["REPO_CONFIG_WIDENS_MANIFEST"]);
    expect(r.problems[0]?.message).toContain("tool slack.post_message");
  });

  it("invalid YAML or unknown keys are reported by path, never echoing the values", () => {
    expect(applyRepoConfig("version: 1\nreview: {ignore: [unclosed", PR_REVIEW_MANIFEST).problems[0]?.code).toBe(
      "REPO_CONFIG_INVALID",
    );
    const r = applyRepoConfig('version: 1\nsecret_sauce: "CANARY-value"\n', PR_REVIEW_MANIFEST);
    expect(r.problems[0]?.message).toContain("(root)");
    expect(JSON.stringify(r)).not.toContain("CANARY-value");
  });
});
