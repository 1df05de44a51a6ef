/**
 * The promise-keeping parts of declarative Skills (security rows 26, 27), case by case: what a producer's payload keeps
 * (`projectPayload`: the declared fields only, each checked, problems naming the path and never the value), how the
 * offline rules decide (`evaluateCondition`), what a message template can reach and that every value it substitutes is
 * escaped (`renderTemplate`), and which patterns a rule may use (`isSafePattern`). Mutated by `pnpm mutation`
 * (module `payload-projection`): each expectation is exact, so a changed bound, message or branch turns a test red.
 */
import { describe, expect, it } from "@jest/globals";
import {
  evaluateCondition,
  isSafePattern,
  projectPayload,
  renderTemplate,
  schemaHasPath,
  type InputSchema,
  type TemplateContext,
} from "./declarative-spec.js";

const obj = (properties: InputSchema["properties"], required?: string[]): InputSchema => ({
  type: "object",
  properties,
  ...(required ? { required } : {}),
});
const problemsOf = (schema: InputSchema, payload: unknown) => projectPayload(schema, payload).problems;
const valueOf = (schema: InputSchema, payload: unknown) => projectPayload(schema, payload).value;

describe("projectPayload: strings", () => {
  const schema = obj({ s: { type: "string" }, short: { type: "string", maxLength: 5 } });
  it("keeps a string up to its bound (2,000 by default) and refuses a longer one or another type", () => {
    expect(projectPayload(schema, { s: "x".repeat(2_000), short: "12345" })).toStrictEqual({
      value: { s: "x".repeat(2_000), short: "12345" },
      problems: [],
    });
    expect(projectPayload(schema, { s: "x".repeat(2_001), short: "123456" })).toStrictEqual({
      value: {},
      problems: [
        { path: "s", message: "longer than 2000 characters" },
        { path: "short", message: "longer than 5 characters" },
      ],
    });
    expect(problemsOf(schema, { s: 1 })).toStrictEqual([{ path: "s", message: "expected a string" }]);
  });
  it("keeps only an allowed value of an enum", () => {
    const e = obj({ env: { type: "string", enum: ["prod", "dev"] } });
    expect(valueOf(e, { env: "dev" })).toStrictEqual({ env: "dev" });
    expect(projectPayload(e, { env: "stage" })).toStrictEqual({
      value: {},
      problems: [{ path: "env", message: "not one of the allowed values" }],
    });
  });
});

describe("projectPayload: numbers and booleans", () => {
  const schema = obj({
    n: { type: "number" },
    i: { type: "integer" },
    r: { type: "number", minimum: 1, maximum: 3 },
  });
  it("keeps finite numbers, integers only where declared", () => {
    expect(valueOf(schema, { n: 1.5, i: 2, r: 2.5 })).toStrictEqual({ n: 1.5, i: 2, r: 2.5 });
    expect(problemsOf(schema, { n: "1", i: 1.5 })).toStrictEqual([
      { path: "n", message: "expected a number" },
      { path: "i", message: "expected an integer" },
    ]);
    expect(problemsOf(schema, { n: Number.NaN, i: Number.POSITIVE_INFINITY })).toStrictEqual([
      { path: "n", message: "expected a number" },
      { path: "i", message: "expected an integer" },
    ]);
  });
  it("keeps a number on its bounds and refuses one beyond either", () => {
    expect(valueOf(schema, { r: 1 })).toStrictEqual({ r: 1 });
    expect(valueOf(schema, { r: 3 })).toStrictEqual({ r: 3 });
    expect(problemsOf(schema, { r: 0.5 })).toStrictEqual([{ path: "r", message: "out of range" }]);
    expect(problemsOf(schema, { r: 3.5 })).toStrictEqual([{ path: "r", message: "out of range" }]);
    const onlyMin = obj({ r: { type: "number", minimum: 0 } });
    expect(projectPayload(onlyMin, { r: 1e9 })).toStrictEqual({ value: { r: 1e9 }, problems: [] });
    const onlyMax = obj({ r: { type: "number", maximum: 0 } });
    expect(projectPayload(onlyMax, { r: -1e9 })).toStrictEqual({ value: { r: -1e9 }, problems: [] });
  });
  it("keeps a boolean, false included, and refuses a look-alike", () => {
    const b = obj({ b: { type: "boolean" } });
    expect(valueOf(b, { b: false })).toStrictEqual({ b: false });
    expect(projectPayload(b, { b: "true" })).toStrictEqual({
      value: {},
      problems: [{ path: "b", message: "expected a boolean" }],
    });
  });
});

describe("projectPayload: arrays and objects", () => {
  it("keeps up to maxItems (20 by default) items, each projected; a bad item is named by its index and dropped", () => {
    const schema = obj({
      tags: { type: "array", items: { type: "string" } },
      two: { type: "array", items: { type: "number" }, maxItems: 2 },
    });
    expect(valueOf(schema, { tags: Array(20).fill("t"), two: [1, 2] })).toStrictEqual({
      tags: Array(20).fill("t"),
      two: [1, 2],
    });
    expect(projectPayload(schema, { tags: Array(21).fill("t"), two: [1, 2, 3] })).toStrictEqual({
      value: {},
      problems: [
        { path: "tags", message: "more than 20 items" },
        { path: "two", message: "more than 2 items" },
      ],
    });
    expect(projectPayload(schema, { tags: ["a", 7, "c"], two: "1,2" })).toStrictEqual({
      value: { tags: ["a", "c"] },
      problems: [
        { path: "tags.1", message: "expected a string" },
        { path: "two", message: "expected an array" },
      ],
    });
  });

  it("keeps the declared properties of objects at every depth and drops the rest", () => {
    const schema = obj({ commit: obj({ sha: { type: "string" } }) });
    expect(valueOf(schema, { commit: { sha: "abc", author: "dropped" }, other: "dropped" })).toStrictEqual({
      commit: { sha: "abc" },
    });
    for (const bad of [[], "x", 1])
      expect(projectPayload(schema, { commit: bad })).toStrictEqual({
        value: {},
        problems: [{ path: "commit", message: "expected an object" }],
      });
  });

  it("names a missing or null required field, skips a missing or null optional one, and keeps no undefined", () => {
    const schema = obj({ need: { type: "string" }, may: { type: "string" } }, ["need"]);
    expect(projectPayload(schema, {})).toStrictEqual({ value: {}, problems: [{ path: "need", message: "required" }] });
    expect(projectPayload(schema, { need: null, may: null })).toStrictEqual({
      value: {},
      problems: [{ path: "need", message: "required" }],
    });
    expect(projectPayload(schema, { need: undefined, may: undefined })).toStrictEqual({
      value: {},
      problems: [{ path: "need", message: "required" }],
    });
    expect(projectPayload(schema, { need: "x" })).toStrictEqual({ value: { need: "x" }, problems: [] });
    const none = obj({ b: { type: "boolean" } });
    expect(projectPayload(none, { b: null })).toStrictEqual({ value: {}, problems: [] });
    expect(projectPayload(none, {})).toStrictEqual({ value: {}, problems: [] });
    const nested = obj({ o: obj({ need: { type: "string" } }, ["need"]) });
    expect(problemsOf(nested, { o: {} })).toStrictEqual([{ path: "o.need", message: "required" }]);
    expect(problemsOf(nested, { o: { need: null } })).toStrictEqual([{ path: "o.need", message: "required" }]);
  });

  it("reads own properties only: an inherited value is not the producer's field", () => {
    const schema = obj({ need: { type: "string" } }, ["need"]);
    const inherited = Object.create({ need: "from the prototype" }) as Record<string, unknown>;
    expect(projectPayload(schema, inherited)).toStrictEqual({
      value: {},
      problems: [{ path: "need", message: "required" }],
    });
  });

  it("keeps nothing of a payload that is not an object, naming the root", () => {
    const schema = obj({ s: { type: "string" } });
    for (const bad of [null, ["s"], "s", 1])
      expect(projectPayload(schema, bad)).toStrictEqual({
        value: {},
        problems: [{ path: "(root)", message: "expected an object" }],
      });
  });
});

describe("schemaHasPath", () => {
  const schema = obj({ commit: obj({ sha: { type: "string" } }), tags: { type: "array", items: { type: "string" } } });
  it("finds declared scalar paths only, never an inherited name", () => {
    expect(schemaHasPath(schema, ["commit", "sha"])).toBe(true);
    expect(schemaHasPath(schema, ["commit"])).toBe(false);
    expect(schemaHasPath(schema, ["tags"])).toBe(false);
    expect(schemaHasPath(schema, ["commit", "sha", "x"])).toBe(false);
    expect(schemaHasPath(schema, ["constructor"])).toBe(false);
    expect(schemaHasPath(schema, ["commit", "toString"])).toBe(false);
  });
});

describe("evaluateCondition", () => {
  const input = {
    service: "api",
    attempt: 3,
    flag: false,
    nothing: null,
    tags: ["a"],
    commit: { sha: "abc" },
    emoji: "😀",
  };
  const ev = (c: Parameters<typeof evaluateCondition>[0]) => evaluateCondition(c, input);

  it("combines with all, any and not", () => {
    const yes = { field: "service", equals: "api" };
    const no = { field: "service", equals: "web" };
    expect(ev({ all: [yes, yes] })).toBe(true);
    expect(ev({ all: [yes, no] })).toBe(false);
    expect(ev({ any: [no, yes] })).toBe(true);
    expect(ev({ any: [no, no] })).toBe(false);
    expect(ev({ not: yes })).toBe(false);
    expect(ev({ not: no })).toBe(true);
  });

  it("reads nested own fields; not through arrays, scalars or inherited names", () => {
    expect(ev({ field: "commit.sha", equals: "abc" })).toBe(true);
    expect(ev({ field: "tags.0", exists: true })).toBe(false);
    expect(ev({ field: "service.length", exists: true })).toBe(false);
    expect(ev({ field: "nothing.x", exists: false })).toBe(true);
    expect(ev({ field: "constructor", exists: true })).toBe(false);
    expect(ev({ field: "commit.toString", exists: false })).toBe(true);
  });

  it("exists: present means neither missing nor null; a missing field fails every other test", () => {
    expect(ev({ field: "service", exists: true })).toBe(true);
    expect(ev({ field: "service", exists: false })).toBe(false);
    expect(ev({ field: "flag", exists: true })).toBe(true);
    expect(ev({ field: "nothing", exists: true })).toBe(false);
    expect(ev({ field: "nothing", exists: false })).toBe(true);
    expect(ev({ field: "missing", exists: true })).toBe(false);
    expect(ev({ field: "missing", exists: false })).toBe(true);
    expect(ev({ field: "missing", equals: "x" })).toBe(false);
    expect(ev({ field: "missing", lt: 1 })).toBe(false);
    // A field test with no test at all (the schema refuses it) fails closed on a missing or null field.
    expect(ev({ field: "missing" })).toBe(false);
    expect(ev({ field: "nothing" })).toBe(false);
  });

  it("equals and in compare exactly", () => {
    expect(ev({ field: "attempt", equals: 3 })).toBe(true);
    expect(ev({ field: "attempt", equals: "3" })).toBe(false);
    expect(ev({ field: "flag", equals: false })).toBe(true);
    expect(ev({ field: "flag", equals: true })).toBe(false);
    expect(ev({ field: "service", in: ["web", "api"] })).toBe(true);
    expect(ev({ field: "service", in: ["web"] })).toBe(false);
    expect(ev({ field: "attempt", in: [3] })).toBe(true);
    expect(ev({ field: "attempt", in: ["3"] })).toBe(false);
    expect(ev({ field: "commit", in: ["abc"] })).toBe(false);
  });

  it("matches tests strings only, as a Unicode pattern", () => {
    expect(ev({ field: "service", matches: "^ap" })).toBe(true);
    expect(ev({ field: "service", matches: "^x" })).toBe(false);
    expect(ev({ field: "attempt", matches: "3" })).toBe(false);
    expect(ev({ field: "emoji", matches: "^.$" })).toBe(true);
  });

  it("compares numbers on each side of each bound, and a comparison fails on a non-number", () => {
    expect([2, 3, 4].map((attempt) => evaluateCondition({ field: "attempt", gt: 3 }, { attempt }))).toEqual([
      false,
      false,
      true,
    ]);
    expect([2, 3, 4].map((attempt) => evaluateCondition({ field: "attempt", gte: 3 }, { attempt }))).toEqual([
      false,
      true,
      true,
    ]);
    expect([2, 3, 4].map((attempt) => evaluateCondition({ field: "attempt", lt: 3 }, { attempt }))).toEqual([
      true,
      false,
      false,
    ]);
    expect([2, 3, 4].map((attempt) => evaluateCondition({ field: "attempt", lte: 3 }, { attempt }))).toEqual([
      true,
      true,
      false,
    ]);
    for (const op of ["gt", "gte", "lt", "lte"] as const) {
      expect(ev({ field: "service", [op]: 0 })).toBe(false);
      expect(ev({ field: "flag", [op]: 0 })).toBe(false);
    }
    expect(ev({ field: "attempt", gt: 2, lt: 4 })).toBe(true);
  });
});

describe("renderTemplate", () => {
  const ctx: TemplateContext = {
    input: { service: "api", attempt: 3, commit: { sha: "abc" }, nothing: null },
    decision: { verdict: "notify", summary: "a summary", confidence: 0.5 },
    skill: { name: "Deploy watch" },
    run: { id: "rn_1" },
  };
  const mark = (s: string) => `[${s}]`;
  it("substitutes each scope's value, escaped", () => {
    expect(
      renderTemplate(
        "{{input.service}} {{ input.commit.sha }} {{input.attempt}} {{input.commit}} {{decision.verdict}} {{decision.summary}} {{decision.confidence}} {{skill.name}} {{run.id}}",
        ctx,
        mark,
      ),
    ).toBe('[api] [abc] [3] [{"sha":"abc"}] [notify] [a summary] [0.50] [Deploy watch] [rn_1]');
  });
  it("renders nothing for what is missing, null, inherited or not a template variable", () => {
    expect(
      renderTemplate(
        "<{{input.missing}}|{{input.nothing}}|{{input.constructor}}|{{decision.other}}|{{skill.id}}|{{run.name}}|{{other.id}}|{{other.name}}>",
        ctx,
        mark,
      ),
    ).toBe("<|||||||>");
  });
  it("leaves the template's own text alone (only substituted values are escaped)", () => {
    expect(renderTemplate("<!channel> {{run.id}}", ctx, (s) => s.replace(/_/g, "-"))).toBe("<!channel> rn-1");
  });
});

describe("isSafePattern", () => {
  it("accepts ordinary patterns", () => {
    for (const p of ["^api-[a-z]+$", "\\d+", "(ab)+", "(a)+", "a+b+", "(a+)b", "(?:x|y)*", "\\0"])
      expect([p, isSafePattern(p)]).toEqual([p, true]);
  });
  it("refuses backreferences, nested quantifiers and what is not a Unicode regular expression", () => {
    for (const p of ["(a)\\1", "(a)(b)\\2", "(a+)+", "(a*)*", "(a+){2}", "(xa+b)*", "(ab+c)+", "[", "a{", "\\-"])
      expect([p, isSafePattern(p)]).toEqual([p, false]);
  });
});
