export * from './maintenance.js';
export * from './reconciler.js';
export { startMonitor } from './main.js';
