export * from "./api-token.js";
export * from "./approval.js";
export * from "./audit/index.js";
export * from "./errors.js";
export * from "./feedback.js";
export * from "./ids.js";
export * from "./skill-manifest.js";
export * from "./telemetry.js";
