export * from './bot-credentials.js';
export * from './permissions.js';
export * from './github-app.js';
export * from './notify-errors.js';
export * from './notify-message.js';
export * from './notify-pagerduty.js';
export * from './notify-email.js';
export * from './notify-slack.js';
