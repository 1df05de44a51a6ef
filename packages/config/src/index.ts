export * from "./load-config.js";
export * from "./parts.js";
export * from "./schemas.js";
export * from "./sources.js";
export * from "./integrations.js";
