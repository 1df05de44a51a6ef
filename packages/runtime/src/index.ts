export * from './guard-errors.js';
export * from './guards.js';
export * from './model/model-provider.js';
export * from './model/model-errors.js';
export * from './model/messages-api.js';
export * from './model/anthropic-provider.js';
export * from './model/with-model-retries.js';
export * from './model/bedrock-provider.js';
