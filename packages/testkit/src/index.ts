export * from './loopback-server.js';
export * from './redis-server.js';
export * from './secrets-manager-server.js';
export * from './kms-server.js';
export * from './github-server.js';
export * from './pagerduty-server.js';
export * from './smtp-server.js';
