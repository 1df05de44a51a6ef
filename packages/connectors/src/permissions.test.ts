import { describe, expect, it } from "@jest/globals";
import {
  excessPermissions,
  githubTokenPermissions,
  neededPermissions,
  PermissionMissingError,
  requireToolPermissions,
} from "./index.js";

describe("integration permissions", () => {
  it("a tool needing a permission the installation lacks fails with the typed error, naming what is missing", () => {
    let err: unknown;
    try {
      requireToolPermissions("github.comment.pr", ["contents:read", "pull_requests:read"]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PermissionMissingError);
    expect((err as PermissionMissingError).details).toEqual({ missing: ["pull_requests:write"] });
    expect(() => requireToolPermissions("github.read.diff", ["contents:read", "pull_requests:write"])).not.toThrow(); // write covers read
    expect(() => requireToolPermissions("slack.post_message", ["chat:write"])).not.toThrow();
  });

  it("what the Skills need, and what an installation grants beyond it", () => {
    const manifests = [
      { tools: ["github.read.diff", "github.comment.pr"], triggers: ["github.pull_request.opened"] },
      { tools: ["slack.post_message"], triggers: ["slack.app_mention"] },
    ];
    expect(neededPermissions("github", manifests)).toEqual([
      "contents:read",
      "pull_requests:read",
      "pull_requests:write",
    ]);
    expect(neededPermissions("slack", manifests)).toEqual(["app_mentions:read", "chat:write"]);
    expect(
      excessPermissions(
        ["contents:read", "pull_requests:write", "pull_requests:read", "administration:write", "members:read"],
        neededPermissions("github", manifests),
      ),
    ).toEqual(["administration:write", "members:read"]);
  });

  it("a token is narrowed to what the tools need: write wins over read, nothing needed asks for metadata only", () => {
    expect(
      githubTokenPermissions(
        neededPermissions("github", [
          { tools: ["github.read.diff", "github.read.file", "github.comment.pr"], triggers: [] },
        ]),
      ),
    ).toEqual({ contents: "read", pull_requests: "write" });
    expect(githubTokenPermissions([])).toEqual({ metadata: "read" });
    expect(githubTokenPermissions(["chat:write", "bogus"])).toEqual({ chat: "write" });
  });
});
