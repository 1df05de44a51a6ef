/**
 * The pr-review offline rules' reading of a diff: risk surfaces by path, test coverage of the change, and lines worth
 * an inline comment. Pure and deterministic — the offline model's decision is reproducible exactly (replay relies on it).
 */
export interface DiffFile {
  readonly filename: string;
  readonly status: string;
  readonly patch: string | null;
}

export const RISK_SURFACES: readonly { readonly name: string; readonly pattern: RegExp }[] = [
  { name: "payments", pattern: /(^|\/)(payments?|billing|checkout|invoices?)(\/|\.|_|-)/i },
  { name: "authentication", pattern: /(^|\/)(auth|login|session|oauth|permissions?)(\/|\.|_|-)/i },
  { name: "cryptography", pattern: /(^|\/)(crypto|secrets?|keys?|tokens?)(\/|\.|_|-)/i },
  { name: "database migrations", pattern: /(^|\/)migrations?\/|\.sql$/i },
  { name: "infrastructure", pattern: /(^|\/)(infra|terraform|\.github\/workflows)\/|Dockerfile$/i },
];

const TEST_FILE = /(^|\/)(tests?|__tests__|spec)\/|\.(test|spec)\.[a-z]+$|_test\.(go|py)$/i;
const DOC_FILE = /(^|\/)docs?\/|\.(md|mdx|rst|txt|adoc)$|(^|\/)(README|CHANGELOG|LICENSE)[^/]*$/i;
const SOURCE_FILE = /\.(ts|tsx|js|jsx|mjs|cjs|py|go|rb|java|kt|rs|cs|php|swift|scala|sql)$/i;

export interface LineFinding {
  readonly path: string;
  readonly line: number;
  readonly body: string;
}

export interface DiffAnalysis {
  readonly files: number;
  readonly riskSurfaces: readonly string[];
  readonly riskyFiles: readonly string[];
  readonly docsOnly: boolean;
  readonly sourceChanged: readonly string[];
  readonly testsChanged: readonly string[];
  readonly findings: readonly LineFinding[];
  readonly addedLines: number;
}

const LINE_RULES: readonly { readonly pattern: RegExp; readonly body: string }[] = [
  {
    pattern: /\b(TODO|FIXME|XXX)\b/,
    body: "A TODO/FIXME lands with this change; track it in an issue or resolve it before merging.",
  },
  {
    pattern: /\bconsole\.log\(|\bprint\(|\bdebugger\b/,
    body: "Debug output left in: remove it or use the structured logger.",
  },
  {
    pattern: /\beval\(|new Function\(/,
    body: "Dynamic code evaluation: a code-injection risk; avoid eval / new Function.",
  },
  {
    pattern: /(api[_-]?key|secret|password|token)\s*[:=]\s*['"][^'"]{8,}['"]/i,
    body: "Looks like a hard-coded credential: load it from the secret store instead.",
  },
  {
    pattern: /\bcatch\s*\(\s*\w*\s*\)\s*\{\s*\}/,
    body: "An empty catch swallows the error: handle it or let it propagate.",
  },
];

/** Added lines with their RIGHT-side numbers, from a unified diff patch. */
export function addedLines(patch: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let right = 0;
  for (const raw of patch.split("\n")) {
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(raw);
    if (hunk) {
      right = Number(hunk[1]);
      continue;
    }
    if (raw.startsWith("-")) continue;
    if (raw.startsWith("+")) out.push({ line: right, text: raw.slice(1) });
    if (raw.startsWith("+") || raw.startsWith(" ")) right += 1;
  }
  return out;
}

export function analyzeDiff(
  files: readonly DiffFile[],
  ignored: (path: string) => boolean = () => false,
): DiffAnalysis {
  const considered = files.filter((f) => !ignored(f.filename));
  const surfaces = new Set<string>();
  const risky: string[] = [];
  const findings: LineFinding[] = [];
  let added = 0;
  for (const f of considered) {
    const hits = RISK_SURFACES.filter((r) => r.pattern.test(f.filename));
    for (const h of hits) surfaces.add(h.name);
    if (hits.length > 0) risky.push(f.filename);
    const lines = f.patch === null ? [] : addedLines(f.patch);
    added += lines.length;
    if (TEST_FILE.test(f.filename) || DOC_FILE.test(f.filename)) continue;
    for (const l of lines) {
      const rule = LINE_RULES.find((r) => r.pattern.test(l.text));
      if (rule && findings.length < 20) findings.push({ path: f.filename, line: l.line, body: rule.body });
    }
    const first = lines[0];
    if (hits.length > 0 && first && !findings.some((x) => x.path === f.filename)) {
      findings.push({
        path: f.filename,
        line: first.line,
        body: `This file is on a high-risk surface (${hits.map((h) => h.name).join(", ")}): it needs a careful human look and failure-mode tests.`,
      });
    }
  }
  return {
    files: considered.length,
    riskSurfaces: [...surfaces].sort(),
    riskyFiles: risky,
    docsOnly: considered.length > 0 && considered.every((f) => DOC_FILE.test(f.filename)),
    sourceChanged: considered
      .filter((f) => SOURCE_FILE.test(f.filename) && !TEST_FILE.test(f.filename) && f.status !== "removed")
      .map((f) => f.filename),
    testsChanged: considered.filter((f) => TEST_FILE.test(f.filename)).map((f) => f.filename),
    findings,
    addedLines: added,
  };
}
