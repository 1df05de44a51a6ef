/**
 * The anchors of scripts/mutation/modules.json (scripts/mutation/anchors.mjs): every `mutate` entry of every module
 * resolves to lines of code, here in the ordinary suite — so renaming a function the gate mutates breaks this test
 * before it breaks (or, with line numbers, silently narrows) the mutation gate. And the resolver itself: each form on
 * a scratch file, and each way an anchor can be wrong stops with the entry named.
 */
import { afterAll, describe, expect, it } from "@jest/globals";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveAnchor } from "../../scripts/mutation/anchors.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
interface Module {
  readonly name: string;
  readonly mutate: readonly string[];
}
/** modules.json's modules, checked for the two fields read here (zod is not a dependency of the root). */
function modulesOf(json: unknown): Module[] {
  const modules: unknown = typeof json === "object" && json !== null ? Reflect.get(json, "modules") : undefined;
  if (!Array.isArray(modules)) throw new Error("modules.json: no modules array");
  return modules.map((m: unknown, i) => {
    const name: unknown = typeof m === "object" && m !== null ? Reflect.get(m, "name") : undefined;
    const mutate: unknown = typeof m === "object" && m !== null ? Reflect.get(m, "mutate") : undefined;
    if (typeof name !== "string" || !Array.isArray(mutate) || !mutate.every((e) => typeof e === "string"))
      throw new Error(`modules.json: module ${i} needs a name and a mutate list of strings`);
    return { name, mutate: mutate as string[] };
  });
}
const config = { modules: modulesOf(JSON.parse(readFileSync(join(root, "scripts/mutation/modules.json"), "utf8"))) };

describe("modules.json", () => {
  const anchored = config.modules.flatMap((m) => m.mutate.filter((e) => e.includes("#")).map((e) => [m.name, e]));

  it("names its partial files by anchors, not line numbers", () => {
    expect(anchored.length).toBeGreaterThan(0);
    const numbered = config.modules.flatMap((m) => m.mutate.filter((e) => /:\d+(:\d+)?-\d+/.test(e)));
    expect(numbered).toEqual([]);
  });

  it.each(anchored)("%s: %s resolves to lines of its file", (_module, entry) => {
    const ranges = ([] as string[]).concat(resolveAnchor(root, entry));
    expect(ranges.length).toBeGreaterThan(0);
    const file = entry.slice(0, entry.indexOf("#"));
    const lines = readFileSync(join(root, file), "utf8").split("\n").length;
    for (const r of ranges) {
      const m = /^(.+):(\d+)-(\d+)$/.exec(r);
      expect(m?.[1]).toBe(file);
      const [first, last] = [Number(m?.[2]), Number(m?.[3])];
      expect(first).toBeGreaterThanOrEqual(1);
      expect(last).toBeGreaterThanOrEqual(first);
      expect(last).toBeLessThanOrEqual(lines);
    }
  });
});

describe("resolveAnchor", () => {
  const dir = mkdtempSync(join(tmpdir(), "praxa-anchors-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "src"));
  writeFileSync(
    join(dir, "src/a.ts"),
    [
      "const FIRST = [", // 1
      "  1,", // 2
      "];", // 3
      "/** a doc comment is not code */", // 4
      "export function check(x: number): boolean {", // 5
      "  const inner = (y: number) => y > 0;", // 6
      "  return inner(x);", // 7
      "}", // 8
      "class Gate {}", // 9
      "function run(ok: boolean) {", // 10
      "  if (ok) check(1);", // 11
      "  if (!ok) {", // 12
      "    check(2);", // 13
      "  }", // 14
      "}", // 15
      "function dup() {}", // 16
      "namespace N { function dup() {} }", // 17
      "",
    ].join("\n"),
  );
  const at = (anchor: string) => resolveAnchor(dir, `src/a.ts#${anchor}`);

  it("a declaration: its own lines, from its first token (not its doc comment) to its last", () => {
    expect(at("FIRST")).toBe("src/a.ts:1-3");
    expect(at("check")).toBe("src/a.ts:5-8");
    expect(at("Gate")).toBe("src/a.ts:9-9");
    expect(at("inner")).toBe("src/a.ts:6-6"); // at any depth
  });

  it("from..to: the first line of one to the last line of the other", () => {
    expect(at("FIRST..check")).toBe("src/a.ts:1-8");
    expect(() => at("run..check")).toThrow(/check comes before run/);
  });

  it("name(): each statement that calls it, with the if that guards it when it has no block", () => {
    expect(at("check()")).toEqual(["src/a.ts:11-11", "src/a.ts:13-13"]);
    expect(at("inner()")).toEqual(["src/a.ts:7-7"]);
  });

  it("an anchor that matches nothing, or more than one declaration, or cannot be read, stops with the entry named", () => {
    expect(() => at("chek")).toThrow("src/a.ts#chek: 0 declarations named chek");
    expect(() => at("dup")).toThrow("src/a.ts#dup: 2 declarations named dup");
    expect(() => at("nobody()")).toThrow("src/a.ts#nobody(): nothing in src/a.ts calls nobody");
    expect(() => at("a b")).toThrow("cannot read the anchor of src/a.ts#a b");
    expect(() => resolveAnchor(dir, "src/none.ts#x")).toThrow("src/none.ts#x: no file src/none.ts");
  });

  it("an entry without an anchor is returned as it is", () => {
    expect(resolveAnchor(dir, "src/**/*.ts")).toBe("src/**/*.ts");
    expect(resolveAnchor(dir, "!src/a.test.ts")).toBe("!src/a.test.ts");
  });
});
