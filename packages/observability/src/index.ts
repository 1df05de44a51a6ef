export * from './logger.js';
export * from './otel.js';
export * from './redact.js';
