export * from './bot-credentials.js';
export * from './permissions.js';
