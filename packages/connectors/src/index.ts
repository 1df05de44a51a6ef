export * from './bot-credentials.js';
export * from './permissions.js';
export * from './github-app.js';
export * from './github-repo-client.js';
export * from './slack-oauth.js';
