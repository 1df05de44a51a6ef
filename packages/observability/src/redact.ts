/**
 * What a log line may never carry: secrets (tokens, keys, passwords, signatures, authorization headers, cookies) and
 * content (prompts, completions, message bodies, diffs). Two nets, because one is never enough:
 *  1. by key name, at any depth — the value is replaced by `[redacted]`;
 *  2. by value shape, in any string — known credential formats are replaced wherever they appear.
 */
import { PraxaError } from "@praxa/core";

export const REDACTED = "[redacted]";

/**
 * Key names whose values are never logged (case-insensitive; `-`/`_` ignored). `.*x` also matches `x` itself, so no
 * entry repeats what a wider one covers (`secret`, `apikey`, `xapikey`, `privatekey` are in `.*secret`, `.*apikey`, …).
 */
const SENSITIVE_KEY = new RegExp(
  "^(" +
    [
      "authorization",
      "proxyauthorization",
      "cookie",
      "setcookie",
      "password",
      "passwd",
      ".*secret",
      ".*token",
      "token.*",
      ".*apikey",
      ".*privatekey",
      "credentials?",
      "signature",
      "xhubsignature.*",
      "xslacksignature",
      "webhooksignature",
      "prompt",
      "prompts",
      "system",
      "messages",
      "completion",
      "content",
      "body",
      "rawbody",
      "text",
      "diff",
      "patch",
      "input",
      "output",
      "plaintext",
      "dsn",
      "connectionstring",
      ".*databaseurl",
    ].join("|") +
    ")$",
  "i",
);

/**
 * Credential shapes that must never survive in any string value, each with what replaces it: `[redacted]`, or for a
 * Bearer/Basic credential its scheme (as written) and for a URL password its scheme and user, which are not secret.
 */
const SECRET_VALUE_PATTERNS: readonly (readonly [RegExp, string])[] = [
  [/sk-ant-[A-Za-z0-9_-]{8,}/g, REDACTED], // Anthropic API keys
  [/xoxe\.xox[bp]-[A-Za-z0-9-]{8,}/g, REDACTED], // Slack rotating tokens (before the plain form: `xoxe.` stays otherwise)
  [/xox[abposer]-[A-Za-z0-9-]{8,}/g, REDACTED], // Slack tokens
  [/gh[opsur]_[A-Za-z0-9]{20,}/g, REDACTED], // GitHub tokens
  [/github_pat_[A-Za-z0-9_]{20,}/g, REDACTED],
  [/whsec_[A-Za-z0-9+/=]{8,}/g, REDACTED], // Standard Webhooks secrets
  [/praxa_(?:at|tk)_[A-Za-z0-9_.-]{8,}/g, REDACTED], // our own api tokens
  [/AKIA[0-9A-Z]{16}/g, REDACTED], // AWS access key ids
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  [/(postgres(?:ql)?|rediss?):\/\/([^:@/\s]+):[^@/\s]+@/gi, `$1://$2:${REDACTED}@`], // URL passwords
];

function normalize(key: string): string {
  return key.replace(/[-_]/g, "");
}

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(normalize(key));
}

export function scrubString(value: string): string {
  let out = value;
  for (const [pattern, replacement] of SECRET_VALUE_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** A deep copy of `value` with sensitive keys and secret-shaped strings redacted. Cycles and depth are bounded. */
export function redactDeep(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === "string") return scrubString(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > 8) return "[depth]";
  if (seen.has(value)) return "[circular]";
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1, seen));
  if (value instanceof Error) {
    // Only a PraxaError's message is safe by contract. Other errors — a driver's, say — may quote query parameters or
    // row values in their message, so they are logged by name and code only.
    const e = value as Error & { code?: unknown };
    const code = typeof e.code === "string" ? { code: e.code } : {};
    return value instanceof PraxaError
      ? { type: e.name, message: scrubString(e.message), ...code }
      : { type: e.name, ...code };
  }
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isSensitiveKey(k) ? REDACTED : redactDeep(v, depth + 1, seen);
  return out;
}
