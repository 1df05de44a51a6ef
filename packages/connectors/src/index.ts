export * from './bot-credentials.js';
