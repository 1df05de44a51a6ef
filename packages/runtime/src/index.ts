export * from './guard-errors.js';
export * from './guards.js';
