/**
 * RFC 8785 against upstream's vectors (cyberphone/json-canonicalization, copied into test/data/vectors/jcs): the six
 * input → output files byte for byte, and the first 10,000 lines of the ES6 number-formatting test file.
 */
import { describe, expect, it } from "@jest/globals";
import { readdirSync, readFileSync } from "node:fs";
import { canonicalBytes, canonicalJson, findNonJsonValue, isJsonValue, NonJsonValueError } from "./index.js";

const jcsDir = new URL("../../../../test/data/vectors/jcs/", import.meta.url);
const read = (path: string): Buffer => readFileSync(new URL(path, jcsDir));

/** An IEEE 754 double from its bit pattern in hex (upstream drops leading zeros). */
function doubleFromHex(hex: string): number {
  const padded = hex.padStart(16, "0");
  const view = new DataView(new ArrayBuffer(8));
  view.setUint32(0, Number.parseInt(padded.slice(0, 8), 16));
  view.setUint32(4, Number.parseInt(padded.slice(8), 16));
  return view.getFloat64(0);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("canonicalJson / canonicalBytes (RFC 8785)", () => {
  const names = readdirSync(new URL("testdata/input/", jcsDir)).filter((n) => n.endsWith(".json"));

  it("has the six upstream vectors", () => {
    expect(names.sort()).toEqual([
      "arrays.json",
      "french.json",
      "structures.json",
      "unicode.json",
      "values.json",
      "weird.json",
    ]);
  });

  it.each(names)("%s canonicalizes to the expected bytes (output/ and outhex/)", (name) => {
    const input: unknown = JSON.parse(read(`testdata/input/${name}`).toString("utf8"));
    const expected = read(`testdata/output/${name}`);
    const expectedFromHex = Buffer.from(
      read(`testdata/outhex/${name.replace(/\.json$/, ".txt")}`)
        .toString("ascii")
        .replace(/\s+/g, ""),
      "hex",
    );
    const got = Buffer.from(canonicalBytes(input));
    expect(got.equals(expected)).toBe(true);
    expect(got.equals(expectedFromHex)).toBe(true);
    expect(canonicalJson(input)).toBe(expected.toString("utf8"));
  });

  it("formats the first 10,000 ES6 number-test lines as expected", () => {
    const lines = read("es6testfile100m-first10000.txt")
      .toString("ascii")
      .split("\n")
      .filter((l) => l !== "");
    expect(lines).toHaveLength(10_000);
    const mismatches: string[] = [];
    for (const line of lines) {
      const [hex, expected] = line.split(",") as [string, string];
      const got = canonicalJson(doubleFromHex(hex));
      if (got !== expected) mismatches.push(`${line} → ${got}`);
    }
    expect(mismatches).toEqual([]);
  });

  it("spot-checks the fixed edge cases of the number file", () => {
    expect(doubleFromHex("1")).toBe(5e-324);
    expect(canonicalJson(-0)).toBe("0");
    expect(canonicalJson(1e21)).toBe("1e+21");
    expect(canonicalJson(1e20)).toBe("100000000000000000000");
    expect(canonicalJson(9.999999999999997e-7)).toBe("9.999999999999997e-7");
  });

  it("sorts keys by UTF-16 code units (not code points), recursively, and drops white space", () => {
    // U+1F602 is D83D DE02 in UTF-16, so it sorts before U+FB33 although its code point is larger.
    expect(canonicalJson({ b: [3, { z: 1, a: null }], a: "x", "\ufb33": true, "\ud83d\ude02": false })).toBe(
      '{"a":"x","b":[3,{"a":null,"z":1}],"😂":false,"\ufb33":true}',
    );
  });

  it("accepts shared (non-circular) references and deep nesting", () => {
    const shared = { v: 1 };
    expect(canonicalJson([shared, shared])).toBe('[{"v":1},{"v":1}]');
    let deep: unknown = 0;
    for (let i = 0; i < 50_000; i++) deep = [deep];
    expect(isJsonValue(deep)).toBe(true);
  });
});

describe("non-JSON values are refused with a typed error", () => {
  const cycle: Record<string, unknown> = { a: 1 };
  cycle["self"] = cycle;
  const cases: [string, unknown, string, string][] = [
    ["undefined at the root", undefined, "", "undefined"],
    ["undefined in an object", { a: 1, b: undefined }, "/b", "undefined"],
    ["undefined in an array", [1, undefined], "/1", "undefined"],
    ["an array hole", [1, , 3], "/1", "undefined"], // eslint-disable-line no-sparse-arrays
    ["a function", { f: () => 1 }, "/f", "function"],
    ["a toJSON method", { toJSON: () => "x" }, "/toJSON", "function"],
    ["NaN", { n: NaN }, "/n", "NaN"],
    ["Infinity", [Infinity], "/0", "Infinity"],
    ["-Infinity", -Infinity, "", "Infinity"],
    ["a bigint", { n: 10n }, "/n", "bigint"],
    ["a symbol", Symbol("s"), "", "symbol"],
    ["a Date", { at: new Date(0) }, "/at", "non-plain object"],
    ["a Map", new Map(), "", "non-plain object"],
    ["a Buffer", { b: Buffer.from("x") }, "/b", "non-plain object"],
    ["a boxed number", [new Number(1)], "/0", "non-plain object"],
    ["a lone surrogate in a string", { s: "a\ud800" }, "/s", "string with a lone surrogate"],
    ["a lone surrogate in a key", { "k\udc00": 1 }, "/k\udc00", "key with a lone surrogate"],
    ["a circular reference", cycle, "/self", "circular reference"],
    ["a symbol-keyed property", { [Symbol("k")]: 1 }, "", "symbol-keyed property"],
  ];

  it.each(cases)("%s", (_name, value, path, kind) => {
    expect(findNonJsonValue(value)).toEqual({ path, kind });
    const error = thrown(() => canonicalJson(value));
    expect(error).toBeInstanceOf(NonJsonValueError);
    expect((error as NonJsonValueError).code).toBe("NON_JSON_VALUE");
    expect((error as NonJsonValueError).details).toEqual({ path, kind });
    expect(thrown(() => canonicalBytes(value))).toBeInstanceOf(NonJsonValueError);
  });

  it("escapes JSON-pointer tokens in the reported path and never echoes the value", () => {
    const error = thrown(() =>
      canonicalJson({ "a/b~c": { secret: "sk-live-CANARY", bad: undefined } }),
    ) as NonJsonValueError;
    expect(error.details).toEqual({ path: "/a~1b~0c/bad", kind: "undefined" });
    expect(error.message).not.toContain("CANARY");
  });

  it("accepts null-prototype objects and every JSON primitive", () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { b: 2, a: 1 });
    expect(canonicalJson(bare)).toBe('{"a":1,"b":2}');
    expect(canonicalJson([null, true, false, 0, "é", {}])).toBe('[null,true,false,0,"é",{}]');
  });
});
