/**
 * What a log line may never carry: secrets (tokens, keys, passwords, signatures, authorization headers, cookies) and
 * content (prompts, completions, message bodies, diffs). Two nets, because one is never enough:
 *  1. by key name, at any depth — the value is replaced by `[redacted]`;
 *  2. by value shape, in any string — known credential formats are replaced wherever they appear.
 */
import { PraxaError } from "@praxa/core";

export const REDACTED = "[redacted]";

/** Key names whose values are never logged (case-insensitive; `-`/`_` ignored). */
const SENSITIVE_KEY = new RegExp(
  "^(" +
    [
      "authorization",
      "proxyauthorization",
      "cookie",
      "setcookie",
      "password",
      "passwd",
      "secret",
      ".*secret",
      ".*token",
      "token.*",
      "apikey",
      ".*apikey",
      "xapikey",
      "privatekey",
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

/** Credential shapes that must never survive in any string value. */
const SECRET_VALUE_PATTERNS: readonly RegExp[] = [
  /sk-ant-[A-Za-z0-9_-]{8,}/g, // Anthropic API keys
  /xoxe\.xox[bp]-[A-Za-z0-9-]{8,}/g, // Slack rotating tokens (before the plain form, which would leave `xoxe.` behind)
  /xox[abposer]-[A-Za-z0-9-]{8,}/g, // Slack tokens
  /gh[opsur]_[A-Za-z0-9]{20,}/g, // GitHub tokens
  /github_pat_[A-Za-z0-9_]{20,}/g,
  /whsec_[A-Za-z0-9+/=]{8,}/g, // Standard Webhooks secrets
  /praxa_(?:at|tk)_[A-Za-z0-9_.-]{8,}/g, // our own api tokens
  /AKIA[0-9A-Z]{16}/g, // AWS access key ids
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /(postgres(?:ql)?|rediss?):\/\/([^:@/\s]+):([^@/\s]+)@/gi, // URL passwords
];

function normalize(key: string): string {
  return key.replace(/[-_]/g, "");
}

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(normalize(key));
}

export function scrubString(value: string): string {
  let out = value;
  for (const pattern of SECRET_VALUE_PATTERNS) {
    out = out.replace(pattern, (match, ...groups: unknown[]) => {
      if (pattern.source.startsWith("(postgres")) return `${String(groups[0])}://${String(groups[1])}:${REDACTED}@`;
      return match.startsWith("Bearer") || match.startsWith("Basic")
        ? `${match.split(/\s+/)[0] ?? ""} ${REDACTED}`
        : REDACTED;
    });
  }
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
