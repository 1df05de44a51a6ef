export * from './guard-errors.js';
export * from './guards.js';
export * from './model/model-provider.js';
export * from './model/model-errors.js';
