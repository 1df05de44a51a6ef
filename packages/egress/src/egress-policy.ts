/**
 * The bounds of every request to a customer-given URL. Defaults are what a webhook delivery needs; an operator widens
 * the address policy only through `PRAXA_EGRESS_ALLOW_CIDRS`.
 */
import { z } from "zod";
import { parseAllowCidrs, type AllowList } from "./address-policy.js";

export interface EgressPolicy {
  /** Ranges an operator lets through although they are not public (empty by default). */
  readonly allow: AllowList;
  /** Production refuses plain `http:`. */
  readonly requireHttps: boolean;
  /** The whole exchange: resolve, connect, TLS, send, receive. */
  readonly timeoutMs: number;
  readonly maxRequestBytes: number;
  readonly maxResponseBytes: number;
}

export const EgressSettingsSchema = z
  .object({
    allowCidrs: z.string().optional(),
    requireHttps: z.boolean().default(true),
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    maxRequestBytes: z
      .number()
      .int()
      .min(1)
      .max(64 * 1024 * 1024)
      .default(5 * 1024 * 1024),
    maxResponseBytes: z
      .number()
      .int()
      .min(1)
      .max(16 * 1024 * 1024)
      .default(64 * 1024),
  })
  .strict();
export type EgressSettings = z.input<typeof EgressSettingsSchema>;

export function egressPolicy(settings: EgressSettings = {}): EgressPolicy {
  const s = EgressSettingsSchema.parse(settings);
  return {
    allow: parseAllowCidrs(s.allowCidrs),
    requireHttps: s.requireHttps,
    timeoutMs: s.timeoutMs,
    maxRequestBytes: s.maxRequestBytes,
    maxResponseBytes: s.maxResponseBytes,
  };
}
