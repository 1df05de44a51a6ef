export * from './credentials.js';
export * from './key-provider.js';
export * from './keys-job.js';
export { startWorker } from './main.js';
export * from './github-token.js';
export * from './slack-token.js';
