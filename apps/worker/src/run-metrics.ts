/**
 * The worker's metric hooks (packages/observability metrics.ts): a run's Skill as a bounded label, and a model
 * provider wrapped to time its calls. Labels are a built-in Skill's slug (else `custom`), the provider kind and an
 * error code — never a workspace, run or Skill id.
 */
import { isPraxaError } from "@praxa/core";
import { recordModelCall, recordRunFinished, type RunMetricOutcome } from "@praxa/observability";
import type { ModelProvider } from "@praxa/runtime";
import { BUILTIN_SKILLS } from "@praxa/skills";

/** A built-in Skill's slug; any other Skill is `custom`, a run whose Skill was not read yet `unknown`. */
function skillMetricLabel(slug: string | null): string {
  if (slug === null) return "unknown";
  return BUILTIN_SKILLS.has(slug) ? slug : "custom";
}

/** Record a finished run: its wait (created → first claim, from the row) and this claim's duration. */
export function recordRunMetrics(
  slug: string | null,
  outcome: RunMetricOutcome,
  waitMs: number | null,
  startedAt: number,
): void {
  recordRunFinished({ skill: skillMetricLabel(slug), outcome, waitMs, durationMs: Date.now() - startedAt });
}

/** Time every `complete` call of a provider (its own retries included) and count its errors by code. */
export function withModelMetrics(provider: ModelProvider): ModelProvider {
  return {
    kind: provider.kind,
    label: provider.label,
    async complete(request, signal) {
      const t0 = performance.now();
      try {
        const response = await provider.complete(request, signal);
        recordModelCall({ provider: provider.kind, durationMs: performance.now() - t0 });
        return response;
      } catch (err) {
        recordModelCall({
          provider: provider.kind,
          durationMs: performance.now() - t0,
          errorCode: isPraxaError(err) ? err.code : "INTERNAL",
        });
        throw err;
      }
    },
  };
}
