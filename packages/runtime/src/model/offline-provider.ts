/**
 * The offline model: deterministic, rule-based — not a language model, and it says so in its label and model id.
 * It is the embedded default when a workspace has no model key, so the demo and the tests run anywhere. Each Skill
 * supplies its rules (a pure function of the conversation); the provider only frames their answer.
 */
import type { OfflineRules } from "../skill-definition.js";
import type { ModelProvider, ModelRequest, ModelResponse } from "./model-provider.js";

export const OFFLINE_MODEL_ID = "offline-rules/1";
export const OFFLINE_LABEL = "offline (deterministic rules — not a language model)";

export function createOfflineProvider(rules: OfflineRules): ModelProvider {
  return {
    kind: "offline",
    label: OFFLINE_LABEL,
    complete(request: ModelRequest): Promise<ModelResponse> {
      const answer = rules(request);
      return Promise.resolve({
        model: OFFLINE_MODEL_ID,
        content: answer.content,
        stopReason: answer.stopReason,
        usage: { inputTokens: 0, outputTokens: 0 },
      });
    },
  };
}
