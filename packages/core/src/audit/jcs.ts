/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): one byte sequence per JSON value — object members sorted by UTF-16
 * code units, no insignificant white space, ECMAScript number formatting, minimal string escaping. Audit events are
 * hashed and signed over these bytes, so two serializers that agree on the value agree on the hash.
 *
 * The encoding is the `canonicalize` library's. JCS is defined over JSON values only; JavaScript values with no JSON
 * meaning are refused here with `NonJsonValueError` rather than being dropped or turned into `null` the way
 * `JSON.stringify` would: a silently changed value would be signed as if it were the original.
 */
import canonicalize from "canonicalize";
import { NonJsonValueError } from "./audit-errors.js";

/** A JSON value: what JCS can encode. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Where (a JSON pointer) and what kind of non-JSON value was found. */
export interface NonJsonFinding {
  readonly path: string;
  readonly kind: string;
}

/** A lone (unpaired) UTF-16 surrogate: not a Unicode scalar value, so not encodable as UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const pointerToken = (key: string | number): string => String(key).replace(/~/g, "~0").replace(/\//g, "~1");

/** A value on the walk, with how it was reached; its JSON pointer is built only when something is found there. */
interface Visit {
  readonly value: unknown;
  readonly parent: Visit | null;
  readonly key: string | number;
}
type Frame = Visit | { readonly leave: object };

function pointerOf(visit: Visit): string {
  const tokens: string[] = [];
  for (let v: Visit | null = visit; v !== null && v.parent !== null; v = v.parent)
    tokens.push(`/${pointerToken(v.key)}`);
  return tokens.reverse().join("");
}

/**
 * The first value inside `root` that has no JSON meaning, or `null` if `root` is a JSON value. Iterative (an explicit
 * stack), so a deeply nested input cannot overflow the call stack; cycles are found, shared references are fine.
 */
export function findNonJsonValue(root: unknown): NonJsonFinding | null {
  const stack: Frame[] = [{ value: root, parent: null, key: "" }];
  const onPath = new Set<object>();
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    if ("leave" in frame) {
      onPath.delete(frame.leave);
      continue;
    }
    const { value } = frame;
    switch (typeof value) {
      case "boolean":
        continue;
      case "string":
        if (LONE_SURROGATE.test(value)) return { path: pointerOf(frame), kind: "string with a lone surrogate" };
        continue;
      case "number":
        if (!Number.isFinite(value)) return { path: pointerOf(frame), kind: Number.isNaN(value) ? "NaN" : "Infinity" };
        continue;
      case "object":
        break;
      default:
        // undefined, function, symbol, bigint
        return { path: pointerOf(frame), kind: typeof value };
    }
    if (value === null) continue;
    if (onPath.has(value)) return { path: pointerOf(frame), kind: "circular reference" };
    if (Array.isArray(value)) {
      onPath.add(value);
      stack.push({ leave: value });
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i] as unknown, parent: frame, key: i });
      continue;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return { path: pointerOf(frame), kind: "non-plain object" };
    if (Object.getOwnPropertySymbols(value).length > 0)
      return { path: pointerOf(frame), kind: "symbol-keyed property" };
    onPath.add(value);
    stack.push({ leave: value });
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      if (LONE_SURROGATE.test(key))
        return { path: pointerOf({ value: undefined, parent: frame, key }), kind: "key with a lone surrogate" };
      stack.push({ value: record[key], parent: frame, key });
    }
  }
  return null;
}

/** Whether `value` is a JSON value JCS can encode. */
export function isJsonValue(value: unknown): value is JsonValue {
  return findNonJsonValue(value) === null;
}

/** Throw `NonJsonValueError` (naming the JSON pointer and the kind, never the value) unless `value` is JSON. */
export function assertJsonValue(value: unknown): asserts value is JsonValue {
  const finding = findNonJsonValue(value);
  if (finding !== null) {
    throw new NonJsonValueError(
      `not a JSON value: ${finding.kind} at ${finding.path === "" ? "(root)" : finding.path}`,
      {
        details: { path: finding.path, kind: finding.kind },
      },
    );
  }
}

/** The RFC 8785 canonical JSON text of `value`. Throws `NonJsonValueError` if `value` is not JSON. */
export function canonicalJson(value: unknown): string {
  assertJsonValue(value);
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (cause) {
    throw new NonJsonValueError("not a JSON value: refused by the canonical encoder", { cause });
  }
  if (text === undefined) throw new NonJsonValueError("not a JSON value: no canonical form");
  return text;
}

/** The RFC 8785 canonical JSON of `value` as UTF-8 bytes: what gets hashed and signed. */
export function canonicalBytes(value: unknown): Uint8Array {
  return Buffer.from(canonicalJson(value), "utf8");
}
