import { describe, expect, it } from "@jest/globals";
import { hashTokenSecret, mintApiTokenMaterial, newId, parseApiToken } from "./index.js";

describe("api tokens", () => {
  it("round-trip: the token carries its workspace and id; only the hash is kept", () => {
    const ws = newId("workspace");
    const m = mintApiTokenMaterial(ws);
    const parsed = parseApiToken(`Bearer ${m.token}`);
    expect(parsed?.workspaceId).toBe(ws);
    expect(parsed?.tokenId).toBe(m.tokenId);
    expect(hashTokenSecret(parsed?.secret ?? "")).toBe(m.secretSha256);
    expect(m.secretSha256).not.toContain(parsed?.secret ?? "x");
  });
  it("refuses malformed tokens", () => {
    const m = mintApiTokenMaterial(newId("workspace"));
    for (const bad of [
      undefined,
      "",
      "praxa_tk_",
      m.token + "x",
      m.token.replace("praxa_tk_ws_", "praxa_tk_rn_"),
      m.token.replace(".tk_", ".sk_"),
    ]) {
      expect(parseApiToken(bad)).toBeNull();
    }
  });
});
