export * from './logger.js';
export * from './otel.js';
export * from './redact.js';
export * from './run-process.js';
