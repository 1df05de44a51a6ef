export * from "./errors.js";
export * from "./route-builder.js";
export * from "./server.js";
export { installConfig, startApi } from "./main.js";
export * from "./install-config.js";
export * from "./oauth-state.js";
export * from "./openapi.js";
export { localVerifyGate, redisVerifyGate, type VerifyGate } from "./audit-verify-gate.js";
export { runJobRemover } from "./run-jobs.js";
