export * from "./errors.js";
export * from "./keys.js";
export * from "./store.js";
export * from "./link-token.js";
export * from "./local.js";
export * from "./s3.js";
export * from "./settings.js";
