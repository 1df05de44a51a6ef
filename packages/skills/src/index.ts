export * from "./pr-review/diff-analysis.js";
export * from "./pr-review/pr-review-decision.js";
export * from "./pr-review/pr-review-offline.js";
export * from "./pr-review/pr-review-skill.js";
export * from "./skill-registry.js";
export * from "./slack-answer/slack-answer-skill.js";
export * from "./pr-review/repo-config.js";
