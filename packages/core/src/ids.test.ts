import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { TypeID } from "typeid-js";
import { idSchema, isId, newId, parseId, idToUuid, InvalidIdError, WorkspaceIdSchema, RunIdSchema } from "./index.js";

describe("TypeIDs", () => {
  it("makes ids with the kind prefix and a 26-character UUIDv7 suffix", () => {
    const ws = newId("workspace");
    expect(ws).toMatch(/^ws_[0-7][0-9a-hjkmnp-tv-z]{25}$/);
    expect(idToUuid(ws)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newId("run")).toMatch(/^rn_/);
    expect(newId("auditEvent")).toMatch(/^ae_/);
    expect(newId("tenant")).toMatch(/^tn_/);
    expect(newId("skill")).toMatch(/^sk_/);
  });

  it("sorts by creation time (UUIDv7), given a clock", () => {
    const ids = [3, 1, 2].map((t) => newId("run", 1_700_000_000_000 + t * 1000));
    expect([...ids].sort()).toEqual([ids[1], ids[2], ids[0]]);
  });

  it("is unique across many draws in one millisecond", () => {
    const now = Date.now();
    const set = new Set(Array.from({ length: 10_000 }, () => newId("run", now)));
    expect(set.size).toBe(10_000);
  });

  it("zod schemas reject a wrong prefix, a malformed suffix and non-strings", () => {
    const ws = newId("workspace");
    expect(WorkspaceIdSchema.safeParse(ws).success).toBe(true);
    expect(WorkspaceIdSchema.safeParse(ws.replace(/^ws_/, "rn_")).success).toBe(false);
    expect(RunIdSchema.safeParse(ws).success).toBe(false);
    expect(WorkspaceIdSchema.safeParse("ws_" + "u".repeat(26)).success).toBe(false); // 'u' is not in the alphabet
    expect(WorkspaceIdSchema.safeParse("ws_8zzzzzzzzzzzzzzzzzzzzzzzzz").success).toBe(false); // > 128 bits
    expect(WorkspaceIdSchema.safeParse(ws + "x").success).toBe(false);
    expect(WorkspaceIdSchema.safeParse(42).success).toBe(false);
    expect(idSchema("skill").safeParse(newId("skill")).success).toBe(true);
    expect(isId("workspace", "ws_")).toBe(false);
  });

  it("isId accepts exactly what the TypeID library accepts for the kind (its own fast check, same answers)", () => {
    const library = (v: string): boolean => {
      try {
        TypeID.fromString(v, "ws");
        return /^ws_[0-7][0-9a-hjkmnp-tv-z]{25}$/.test(v);
      } catch {
        return false;
      }
    };
    const valid = fc.constantFrom(..."0123456789abcdefghjkmnpqrstvwxyz".split(""));
    const any = fc.constantFrom(..."0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHJKMNPQRSTVWXYZ_-é".split(""));
    const near = fc
      .tuple(
        fc.constantFrom("ws_", "ws_", "ws_", "ws", "rn_", "ws__", "_ws_", "WS_", ""),
        fc.array(valid, { minLength: 25, maxLength: 27 }),
        fc.option(fc.tuple(fc.nat(), any)),
      )
      .map(([p, cs, flip]) => {
        if (flip) cs[flip[0] % cs.length] = flip[1];
        return p + cs.join("");
      });
    fc.assert(
      fc.property(
        fc.oneof(near, fc.string(), fc.constant(newId("workspace"))),
        (v) => isId("workspace", v) === library(v),
      ),
      { numRuns: 5000 },
    );
  });

  it("parseId throws a typed error that does not echo the input", () => {
    const hostile = "ws_<script>alert(1)</script>";
    let caught: unknown;
    try {
      parseId("workspace", hostile);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidIdError);
    expect((caught as InvalidIdError).code).toBe("INVALID_ID");
    expect((caught as InvalidIdError).message).not.toContain("script");
  });
});
