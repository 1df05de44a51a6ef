/**
 * A small parser of the Prometheus text exposition format (what `GET /metrics` answers), for tests: one sample per
 * line, `name{label="value",…} value`, comments (`# HELP`, `# TYPE`, `# UNIT`) kept as types.
 */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PromText {
  readonly samples: readonly PromSample[];
  /** `# TYPE` of each metric family. */
  readonly types: ReadonlyMap<string, string>;
  /** Samples of one metric name, optionally matching some labels. */
  find(name: string, labels?: Readonly<Record<string, string>>): PromSample[];
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

export function parsePrometheusText(text: string): PromText {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      const t = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (t?.[1] && t[2]) types.set(t[1], t[2]);
      continue;
    }
    const m = LINE.exec(line);
    if (!m?.[1] || m[3] === undefined) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) if (l[1] && l[2] !== undefined) labels[l[1]] = unescape(l[2]);
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    samples.push({ name: m[1], labels, value });
  }
  return {
    samples,
    types,
    find: (name, want = {}) =>
      samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v)),
  };
}
