export * from "./acceptance.js";
export * from "./checkpoints.js";
export * from "./lifecycle.js";
export * from "./maintenance.js";
export * from "./notification-outbox.js";
export * from "./reconciler.js";
export * from "./replay-outbox.js";
export { monitorSigners, startMonitor } from "./main.js";
export * from "./siem-sweep.js";
