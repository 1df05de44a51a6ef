/**
 * The telemetry whitelist: `agent_run_events.meta`, and every OpenTelemetry span or metric attribute, carries only
 * `{tool_name, ms, code, iter}` — no model input, no model output, no user content. `.strict()` refuses any other key;
 * the table's CHECK constraint refuses it again in Postgres.
 */
import { z } from "zod";

export const TELEMETRY_KEYS = ["tool_name", "ms", "code", "iter"] as const;

export const TelemetryMetaSchema = z
  .object({
    /** A registered tool name, or `unknown` — never text the model chose. */
    tool_name: z
      .string()
      .regex(/^([a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+|unknown|model)$/)
      .optional(),
    ms: z.number().nonnegative().finite().optional(),
    code: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]{1,63}$/)
      .nullable()
      .optional(),
    iter: z.number().int().nonnegative().optional(),
  })
  .strict();

export type TelemetryMeta = z.infer<typeof TelemetryMetaSchema>;

/** Keep only whitelisted keys whose values pass the schema; anything else is dropped, never passed through. */
export function filterTelemetry(attributes: Readonly<Record<string, unknown>>): TelemetryMeta {
  const out: Record<string, unknown> = {};
  for (const key of TELEMETRY_KEYS) {
    if (!(key in attributes)) continue;
    const single = TelemetryMetaSchema.safeParse({ [key]: attributes[key] });
    if (single.success) out[key] = attributes[key];
  }
  return out as TelemetryMeta;
}
