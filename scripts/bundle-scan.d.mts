/** Types of scripts/bundle-scan.mjs's exports, for its tests (test/lint/bundle-scan-rules.test.ts). */
export interface BundleFinding {
  readonly rule: string;
  readonly file: string;
  readonly detail: string;
}
export function configurationValues(env?: NodeJS.ProcessEnv): { key: string; value: string }[];
export function scanBundle(dir: string, env?: NodeJS.ProcessEnv): BundleFinding[];
/** KEY → value of a .env-style file; a commented-out line documents its key (value undefined). */
export function readEnvFile(path: string): Map<string, string | undefined>;
