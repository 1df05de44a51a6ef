import { describe, expect, it } from "@jest/globals";
import { canonicalEncryptionContext, parseEncryptionContext } from "./encryption-context.js";
import { EncryptionContextError } from "./errors.js";

describe("encryption context", () => {
  it("serializes canonically: the same pairs in any order give the same bytes", () => {
    const a = canonicalEncryptionContext(parseEncryptionContext({ tenant_id: "tn_1", purpose: "x", key_id: "k" }));
    const b = canonicalEncryptionContext(parseEncryptionContext({ key_id: "k", purpose: "x", tenant_id: "tn_1" }));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it("gives different bytes for different pairs, including boundary shifts between key and value", () => {
    const base = canonicalEncryptionContext(parseEncryptionContext({ tenant_id: "tn_1", ab: "c" }));
    const shifted = canonicalEncryptionContext(parseEncryptionContext({ tenant_id: "tn_1", a: "bc" }));
    const extra = canonicalEncryptionContext(parseEncryptionContext({ tenant_id: "tn_1", ab: "c", z: "z" }));
    expect(Buffer.from(base).equals(Buffer.from(shifted))).toBe(false);
    expect(Buffer.from(base).equals(Buffer.from(extra))).toBe(false);
  });

  it("requires tenant_id and refuses malformed contexts with a typed error that echoes no value", () => {
    expect(() => parseEncryptionContext({ workspace_id: "ws_1" })).toThrow(EncryptionContextError);
    expect(() => parseEncryptionContext({ tenant_id: "" })).toThrow(EncryptionContextError);
    expect(() => parseEncryptionContext({ tenant_id: "tn", "bad key": "v" })).toThrow(EncryptionContextError);
    expect(() => parseEncryptionContext({ tenant_id: "tn", n: 1 })).toThrow(EncryptionContextError);
    expect(() => parseEncryptionContext(null)).toThrow(EncryptionContextError);
    const many = Object.fromEntries([["tenant_id", "t"], ...Array.from({ length: 16 }, (_, i) => [`k${i}`, "v"])]);
    expect(() => parseEncryptionContext(many)).toThrow(EncryptionContextError);
    try {
      parseEncryptionContext({ tenant_id: "tn", n: "SECRET-VALUE-".padEnd(2000, "x") });
    } catch (err) {
      expect(err).toBeInstanceOf(EncryptionContextError);
      expect(JSON.stringify(err)).not.toContain("SECRET-VALUE");
      expect((err as Error).message).not.toContain("SECRET-VALUE");
    }
  });

  it("returns a frozen copy", () => {
    const input = { tenant_id: "tn_1" };
    const ctx = parseEncryptionContext(input);
    expect(Object.isFrozen(ctx)).toBe(true);
    expect(ctx).not.toBe(input);
  });
});
