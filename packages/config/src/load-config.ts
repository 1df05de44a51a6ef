import { ConfigError } from "@praxa/core";
import type { z } from "zod";

/** A flat map of setting name → raw string value, as read from the environment and/or a secret store. */
export type ConfigSource = Readonly<Record<string, string | undefined>>;

/**
 * Validate `source` against `schema` and return a deeply frozen config. Pure: no I/O, no `process.env`. On failure
 * throws one `ConfigError` listing every bad key and why — never a value, since values are often secrets.
 */
export function loadConfig<S extends z.ZodType>(schema: S, source: ConfigSource): Readonly<z.output<S>> {
  // Empty strings mean "unset" (a blank line in .env), so defaults and "required" apply.
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) if (value !== undefined && value !== "") cleaned[key] = value;
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({
      key: issue.path.map(String).join(".") || "(root)",
      problem: describeIssue(issue),
    }));
    issues.sort((a, b) => a.key.localeCompare(b.key));
    throw new ConfigError(issues);
  }
  return deepFreeze(parsed.data);
}

/** A safe description of a zod issue: built from its code only, so the offending value is never echoed. */
function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined ? "required" : `expected ${issue.expected}`;
    case "invalid_value":
      return `must be one of: ${issue.values.map(String).join(", ")}`;
    case "invalid_format":
      return `must be a valid ${issue.format}`;
    case "too_small":
      return issue.origin === "string"
        ? `must be at least ${String(issue.minimum)} characters`
        : `must be ≥ ${String(issue.minimum)}`;
    case "too_big":
      return issue.origin === "string"
        ? `must be at most ${String(issue.maximum)} characters`
        : `must be ≤ ${String(issue.maximum)}`;
    case "custom":
      // Our refinements carry fixed messages that never include the value.
      return issue.message;
    default:
      return "invalid";
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
