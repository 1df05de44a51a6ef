import { timingSafeEqual } from "node:crypto";

/** Compare two byte strings in time independent of where they differ (length is not secret). */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
