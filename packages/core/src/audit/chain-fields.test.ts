/**
 * The fast path's reader of chain fields may only ever say "true" where JSON.parse agrees; when it cannot vouch it says
 * false and the verifier parses. The properties below throw it both canonical records and deliberately hostile bytes.
 */
import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { newId } from "../ids.js";
import { vouchForChainFields, type ChainFieldColumns } from "./chain-fields.js";
import { canonicalJson } from "./jcs.js";

// Under `pnpm mutation` (PRAXA_MUTATION=1) the property test below runs fewer cases: it runs once per mutant there,
// and what it adds to the fixed cases of these suites shows within its first cases (scripts/mutation/modules.json).
// There it also runs from a fixed seed, so a mutant is killed or not the same way on every run: a kill that only a
// lucky random case makes would pass the gate on one machine and fail it on the next. A mutant must die to a fixed
// case; the property test (random in the ordinary suite) looks for what the fixed cases missed.
const UNDER_MUTATION = process.env["PRAXA_MUTATION"] === "1";
const MUTATION_SEED = 0x5eed;

const row: ChainFieldColumns = {
  seq: 42,
  workspace_id: newId("workspace"),
  prev_hash: "ab".repeat(32),
  key_id: "audit-2026-11",
};
const record = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  auditEventId: newId("auditEvent"),
  input: { repo: "acme/payments", nested: { seq: 1, key_id: "not this one", list: [1, -2.5e-3, true, null, "x"] } },
  reasoning: ["Diff touches payments/checkout — high-risk surface.", 'quote " and backslash \\ and tab \t'],
  ...row,
  ...extra,
});
const bytes = (text: string): Buffer => Buffer.from(text, "utf8");

/** What the verifier falls back to: the whole text through JSON.parse. */
function parsedAgrees(b: Uint8Array, r: ChainFieldColumns): boolean {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b));
  } catch {
    return false;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return v.seq === r.seq && v.workspace_id === r.workspace_id && v.prev_hash === r.prev_hash && v.key_id === r.key_id;
}

describe("vouchForChainFields", () => {
  it("vouches for a canonical record whose four fields are the row’s", () => {
    expect(vouchForChainFields(bytes(canonicalJson(record())), row)).toBe(true);
  });

  it("does not vouch when any field differs, is missing, or is written unusually (JSON.parse then decides)", () => {
    for (const change of [
      { seq: 43 },
      { workspace_id: newId("workspace") },
      { prev_hash: "cd".repeat(32) },
      { key_id: "other" },
      { seq: "42" },
      { key_id: null },
    ]) {
      expect(vouchForChainFields(bytes(canonicalJson(record(change))), row)).toBe(false);
    }
    for (const field of ["seq", "workspace_id", "prev_hash", "key_id"]) {
      const without = Object.fromEntries(Object.entries(record()).filter(([k]) => k !== field));
      expect({ field, vouched: vouchForChainFields(bytes(canonicalJson(without)), row) }).toEqual({
        field,
        vouched: false,
      });
    }
    const text = canonicalJson(record());
    expect(vouchForChainFields(bytes(text.replace('"seq":42', '"seq":42.0')), row)).toBe(false);
    expect(vouchForChainFields(bytes(text.replace('"seq":42', '"seq":4.2e1')), row)).toBe(false);
    expect(vouchForChainFields(bytes(text.replace('"key_id":"audit', '"key_id":"\\u0061udit')), row)).toBe(false);
    expect(vouchForChainFields(bytes("[" + text + "]"), row)).toBe(false);
    expect(vouchForChainFields(bytes("{}"), row)).toBe(false);
  });

  it("a key spelled with an escape could be one of the four: never vouched for", () => {
    const text = canonicalJson(record()).replace("{", '{"s\\u0065q":7,');
    expect(vouchForChainFields(bytes(text), row)).toBe(false);
    expect(parsedAgrees(bytes(text), row)).toBe(true); // JSON.parse: the later "seq":42 wins
  });

  it("duplicate keys: the last one counts, as in JSON.parse", () => {
    const text = canonicalJson(record());
    const earlierWrong = text.replace("{", '{"seq":7,');
    expect(vouchForChainFields(bytes(earlierWrong), row)).toBe(true);
    expect(parsedAgrees(bytes(earlierWrong), row)).toBe(true);
    const laterWrong = text.replace(/}$/, ',"seq":7}');
    expect(vouchForChainFields(bytes(laterWrong), row)).toBe(false);
    expect(parsedAgrees(bytes(laterWrong), row)).toBe(false);
  });

  it("ignores the fields inside nested values, and white space between tokens", () => {
    const spaced = JSON.stringify(JSON.parse(canonicalJson(record())), null, 2);
    expect(vouchForChainFields(bytes(spaced), row)).toBe(true);
    expect(vouchForChainFields(bytes(` \r\n\t${spaced}\n`), row)).toBe(true);
  });

  it("refuses what JSON.parse refuses: truncation, trailing bytes, control characters, bad escapes and numbers, invalid UTF-8, a BOM", () => {
    const text = canonicalJson(record());
    for (const bad of [
      text.slice(0, -1),
      text + "x",
      text + "{}",
      text.replace("high-risk", "high\u0001risk"),
      text.replace("backslash \\\\", "backslash \\x"),
      text.replace('"auditEventId"', '"auditEventId":1,"n":01,"auditEventId"'),
      text.replace('"auditEventId"', '"n":-,"auditEventId"'),
      text.replace('"auditEventId"', '"n":1.,"auditEventId"'),
      text.replace('"auditEventId"', '"n":tru,"auditEventId"'),
      text.replace('"auditEventId"', '"n":[1,],"auditEventId"'),
      text.replace('"auditEventId"', '"n":{"a":1,},"auditEventId"'),
      text.replace('"auditEventId"', '"n":\'x\',"auditEventId"'),
    ]) {
      expect({ bad, vouched: vouchForChainFields(bytes(bad), row) }).toEqual({ bad, vouched: false });
    }
    expect(
      vouchForChainFields(Buffer.concat([bytes(text.slice(0, 20)), Buffer.from([0xff]), bytes(text.slice(20))]), row),
    ).toBe(false);
    expect(vouchForChainFields(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes(text)]), row)).toBe(false);
  });

  it("follows deep nesting without recursion", () => {
    const deep = "[".repeat(20_000) + "]".repeat(20_000);
    expect(vouchForChainFields(bytes(canonicalJson(record()).replace("{", `{"deep":${deep},`)), row)).toBe(true);
    expect(vouchForChainFields(bytes(canonicalJson(record()).replace("{", `{"deep":${deep.slice(0, -1)},`)), row)).toBe(
      false,
    );
  });

  // The JSON grammar, token by token, with JSON.parse as the oracle: each snippet is put in the record as one more
  // member's value; the reader must vouch exactly when JSON.parse accepts the text (the four fields stay plain and
  // right), so it neither refuses valid JSON (the fast path would be lost) nor accepts what JSON.parse refuses.
  const snippets = [
    // strings and escapes
    '"a"',
    '""',
    '"\\""',
    '"\\\\"',
    '"\\/"',
    '"\\b"',
    '"\\f"',
    '"\\n"',
    '"\\r"',
    '"\\t"',
    '"\\u0041"',
    '"\\uABCD"',
    '"\\uabcd"',
    '"\\u09aF"',
    '"é€𝄞"',
    '"\\x"',
    '"\\u12"',
    '"\\u12G4"',
    '"\\uG234"',
    '"\\u1G34"',
    '"\\u12G"',
    '"\\u123"',
    '"\\',
    '"abc',
    '"\u0001"',
    '"\u001f"',
    '"\u007f"',
    '"a\\"',
    '"\\a"',
    '"\\U0041"',
    '"\\u0fff"', // each end of each hex range: 0-9, A-F, a-f; and the bytes just outside them
    '"\\uffff"',
    '"\\u00/0"',
    '"\\u00:0"',
    '"\\u00@0"',
    '"\\u00`0"',
    '"\\u00g0"',
    // numbers
    "0",
    "-0",
    "7",
    "-12",
    "1234567890",
    "1.5",
    "0.25",
    "-0.5",
    "1e5",
    "1E5",
    "1e+5",
    "1e-5",
    "1.5e10",
    "-1.5E-10",
    "01",
    "-",
    "+1",
    "1.",
    ".5",
    "1e",
    "1e+",
    "1e-",
    "--1",
    "1.e5",
    "-a",
    "0x1",
    "1.5.5",
    "1ee5",
    "00",
    "-01",
    // literals
    "true",
    "false",
    "null",
    "tru",
    "fals",
    "nul",
    "True",
    "nulll",
    "truex",
    "trve", // a literal's length with another letter in it
    "fals3",
    "nuLl",
    "xull",
    "n",
    "f",
    "t",
    // containers
    "[]",
    "{}",
    "[ ]",
    "{ }",
    "[\t\n\r ]",
    "[1,2]",
    "[ 1 , 2 ]",
    '["a",{"b":[true,false,null]},-1.5e3]',
    '{"a":1}',
    '{"a" : 1 , "b" : [ ] }',
    '{"a":{"b":[1,{"c":null}]}}',
    "[[[[[]]]]]",
    "[{}]",
    '{"":0}',
    '{"a\\"b":1}',
    "[1,]",
    "[,1]",
    "[1 2]",
    "[1x2]", // one byte that is not a comma between two elements
    "[1:2]",
    '{"a":1x"b":2}',
    '{"a":1;"b":2}',
    "[",
    "]",
    "{",
    "}",
    "[}",
    "{]",
    "[1]]",
    '{"a"}',
    '{"a":}',
    '{"a" 1}',
    '{"a"x1}', // something else where the colon goes
    '{"a",1}',
    '{"a" ,1}',
    '{a":1}', // a member name without its opening quote
    '{"a":1,b":2}',
    "{a:1}",
    '{"a":1,}',
    '{,"a":1}',
    '{"a":1 "b":2}',
    '{"a"::1}',
    "{1:1}",
    "[1,,2]",
    "'a'",
    "undefined",
    "NaN",
    "Infinity",
    "[" + "[".repeat(70) + "]".repeat(70) + "]", // deeper than the reader's first stack (64): it grows
    '{"a":' + '{"b":'.repeat(70) + "1" + "}".repeat(70) + "}",
  ];

  it.each(snippets.map((s) => [s]))(
    "as a member's value, %s: vouched exactly when JSON.parse accepts it",
    (snippet) => {
      const text = canonicalJson(record()).replace("{", `{"extra":${snippet},`);
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      expect({ snippet, vouched: vouchForChainFields(bytes(text), row) }).toEqual({ snippet, vouched: parses });
      // and as the last member, right before the closing brace
      const last = canonicalJson(record()).replace(/}$/, `,"extra":${snippet}}`);
      expect({ snippet, last: vouchForChainFields(bytes(last), row) }).toEqual({ snippet, last: parses });
    },
  );

  it.each([
    [" \t\n\r{", true],
    ["\u000b{", false], // vertical tab is not JSON white space
    ["\u00a0{", false],
  ])("white space before the record: %j → %s", (before, ok) => {
    expect(vouchForChainFields(bytes(before + canonicalJson(record()).slice(1)), row)).toBe(ok);
  });

  it("seq: a plain integer of at most 15 digits, no sign, fraction, exponent or leading zero", () => {
    const text = canonicalJson(record());
    const withSeq = (lit: string, seq: number) =>
      vouchForChainFields(bytes(text.replace('"seq":42', `"seq":${lit}`)), { ...row, seq });
    expect(withSeq("0", 0)).toBe(true);
    expect(withSeq("9", 9)).toBe(true);
    expect(withSeq("123456789012345", 123456789012345)).toBe(true);
    expect(withSeq("1234567890123456", 1234567890123456)).toBe(false);
    expect(withSeq("042", 42)).toBe(false);
    expect(withSeq("-42", -42)).toBe(false);
    expect(withSeq("-0", 0)).toBe(false);
    expect(withSeq("4e1", 40)).toBe(false);
    expect(withSeq("42", 43)).toBe(false);
    expect(withSeq('"42"', 42)).toBe(false);
    expect(withSeq("[42]", 42)).toBe(false);
    // A sign, point or exponent read as if it were a digit would make these equal ('.' − '0' = −2: 1, 8 → 88):
    expect(withSeq("1.8", 88)).toBe(false);
    expect(withSeq("-1", -29)).toBe(false);
    expect(withSeq("1E5", 315)).toBe(false);
    expect(withSeq("1e5", 535)).toBe(false);
  });

  it("the three strings: plain printable ASCII equal to the row's, byte for byte and length for length", () => {
    const text = canonicalJson(record());
    const withKey = (lit: string, key_id: string) =>
      vouchForChainFields(bytes(text.replace('"key_id":"audit-2026-11"', `"key_id":${lit}`)), { ...row, key_id });
    expect(withKey('"k"', "k")).toBe(true);
    expect(withKey('" ~"', " ~")).toBe(true); // the printable range's ends
    expect(withKey('"k"', "kk")).toBe(false);
    expect(withKey('"kk"', "k")).toBe(false);
    expect(withKey('"ka"', "kb")).toBe(false);
    expect(withKey('"\\u006b"', "k")).toBe(false); // an escape: JSON.parse would say "k", but it is not plain
    expect(withKey('"\\\\"', "\\")).toBe(false);
    expect(withKey('"é"', "é")).toBe(false); // not ASCII
    expect(withKey('"\u007f"', "\u007f")).toBe(false);
    expect(withKey("k", "k")).toBe(false);
    expect(withKey("null", "null")).toBe(false);
    // Byte for byte they would match, but JSON.parse reads something else:
    expect(withKey("[7]", "7")).toBe(false); // an array, not a string
    expect(withKey("[]", "")).toBe(false);
    expect(withKey("{}", "")).toBe(false);
    expect(withKey('"\\\\"', "\\\\")).toBe(false); // the two bytes \\ are one backslash to JSON.parse
    expect(withKey('"\\n"', "\\n")).toBe(false); // the escape \n is a newline to JSON.parse
    expect(withKey('"é"', "\u00c3\u00a9")).toBe(false); // é's two UTF-8 bytes are one character
    expect(withKey('""', "")).toBe(true);
    for (const [field, other] of [
      ["workspace_id", newId("workspace")],
      ["prev_hash", "cd".repeat(32)],
    ] as const) {
      const changed = text.replace(`"${field}":"${row[field]}"`, `"${field}":"${other}"`);
      expect(vouchForChainFields(bytes(changed), row)).toBe(false);
      expect(vouchForChainFields(bytes(changed), { ...row, [field]: other })).toBe(true);
    }
  });

  it("a key that is one of the four but longer or shorter, or another key with their value, changes nothing", () => {
    const text = canonicalJson(record());
    for (const key of ["se", "seqq", "key_i", "key_idx", "prev_has", "workspace", "Seq", "KEY_ID", "prev_hashes"]) {
      expect(vouchForChainFields(bytes(text.replace("{", `{"${key}":7,`)), row)).toBe(true);
      // after the real one too: were it taken for the field, its value would be the last one and wrong
      expect({ key, vouched: vouchForChainFields(bytes(text.replace(/}$/, `,"${key}":7}`)), row) }).toEqual({
        key,
        vouched: true,
      });
    }
  });

  it("a top level that is not one object, or a member that does not start with a quote, is not JSON: never vouched for", () => {
    const text = canonicalJson(record());
    for (const bad of [
      text.replace("{", '{x":1,'),
      text.replace("{", "{1:1,"),
      text.replace(/}$/, ",}"),
      text.replace("{", "["), // the members are right, the brackets are not
      text.replace("{", "x"),
      text.replace(/}$/, "]"),
      text.replace(/}$/, "x"),
      text.replace("{", '{"extra"x1,'), // something else where the colon goes
      text.replace("{", '{"extra" 1,'),
    ]) {
      expect({ bad, parses: parsedAgrees(bytes(bad), row) }).toEqual({ bad, parses: false });
      expect({ bad, vouched: vouchForChainFields(bytes(bad), row) }).toEqual({ bad, vouched: false });
    }
  });

  it("property: whenever it vouches, JSON.parse gives an object with exactly those four values", () => {
    const interesting = fc.constantFrom(
      ...'"\\{}[],:0123456789-+.eEtrufalsn \t\n\r'.split("").map((c) => c.charCodeAt(0)),
      0x00,
      0x1f,
      0x7f,
      0x80,
      0xc3,
      0xa9,
      0xff,
    );
    const mutation = fc.oneof(
      fc.record({ op: fc.constant("set" as const), at: fc.nat(), byte: interesting }),
      fc.record({ op: fc.constant("insert" as const), at: fc.nat(), byte: interesting }),
      fc.record({ op: fc.constant("delete" as const), at: fc.nat(), byte: fc.constant(0) }),
    );
    const source = fc.oneof(
      fc.jsonValue().map((extra) => canonicalJson(record({ extra }))),
      fc.jsonValue().map((extra) => JSON.stringify(record({ extra }), null, 1)),
      fc.constant(canonicalJson(record()).replace("{", '{"seq":1,"key_id":"x",')),
    );
    fc.assert(
      fc.property(source, fc.array(mutation, { maxLength: 4 }), (text, mutations) => {
        const b = [...bytes(text)];
        for (const m of mutations) {
          const at = m.at % (b.length + 1);
          if (m.op === "set" && at < b.length) b[at] = m.byte;
          else if (m.op === "insert") b.splice(at, 0, m.byte);
          else if (m.op === "delete") b.splice(at, 1);
        }
        const candidate = Buffer.from(b);
        if (vouchForChainFields(candidate, row)) expect(parsedAgrees(candidate, row)).toBe(true);
        if (mutations.length === 0 && !text.includes('"seq":1,'))
          expect(vouchForChainFields(candidate, row)).toBe(true);
      }),
      UNDER_MUTATION ? { numRuns: 200, seed: MUTATION_SEED } : { numRuns: 4000 },
    );
  });
});
