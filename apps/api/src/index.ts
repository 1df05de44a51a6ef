export * from './errors.js';
export * from './route-builder.js';
export * from './server.js';
export { startApi } from './main.js';
