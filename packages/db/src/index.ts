export * from "./approvals.js";
export * from "./client.js";
export * from "./console.js";
export * from "./fixtures.js";
export * from "./keys.js";
export * from "./audit.js";
export * from "./audit-append.js";
export * from "./audit-writer.js";
export * from "./feedback.js";
export * from "./monitor.js";
export * from "./notifications.js";
export * from "./migrate.js";
export * from "./pg-errors.js";
export * from "./roles.js";
export * from "./runs.js";
export * as schema from "./schema.js";
export {
  APPROVAL_STATUSES,
  MEMBER_ROLES,
  RUN_STATUSES,
  RUN_SOURCES,
  type ApprovalStatus,
  type MemberRole,
  type RunStatus,
  type RunSource,
} from "./schema.js";
export * from "./scope.js";
export * from "./test-database.js";
// The query builder's operators, so apps build typed queries without depending on drizzle directly.
export { and, asc, count, desc, eq, gt, gte, inArray, isNull, lt, lte, ne, or, sql } from "drizzle-orm";
export * from "./run-execution.js";
export * from "./replays.js";
export * from "./siem.js";
export * from "./lifecycle.js";
