/**
 * Encryption contexts: the non-secret `Record<string, string>` every key-provider operation is bound to — KMS's
 * `EncryptionContext`, the local provider's AAD. It must name the tenant (`tenant_id`). Keys are restricted to an
 * ASCII alphabet so that "sorted by key" means the same thing in every language (UTF-16 and UTF-8 orders agree on
 * ASCII). Values are not secret: KMS writes them to CloudTrail in the clear.
 */
import { z } from "zod";
import { concatBytes, lengthPrefixed, u32 } from "./bytes.js";
import { EncryptionContextError } from "./errors.js";

export type EncryptionContext = Readonly<Record<string, string>> & { readonly tenant_id: string };

/** Most pairs a context may hold (KMS has no documented small limit; this keeps contexts what they are for). */
export const MAX_CONTEXT_PAIRS = 16;

const contextSchema = z
  .record(z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/), z.string().min(1).max(1024))
  .refine((ctx) => Object.keys(ctx).length <= MAX_CONTEXT_PAIRS)
  .refine((ctx) => typeof ctx["tenant_id"] === "string");

/**
 * Checks `context` and returns a frozen copy. Throws `EncryptionContextError` — naming the offending key, never a
 * value — when it is not a record of 1–16 string pairs including `tenant_id`.
 */
export function parseEncryptionContext(context: unknown): EncryptionContext {
  const result = contextSchema.safeParse(context);
  // The message and the keys named in `details` are worked out inside the throw: they tell an operator what is wrong,
  // and callers act on the error's class and code (so `pnpm mutation` leaves their text alone, as for every error).
  if (!result.success)
    throw new EncryptionContextError(
      typeof context === "object" && context !== null && !("tenant_id" in context)
        ? "an encryption context must name the tenant (tenant_id)"
        : "an encryption context must hold 1-16 pairs: keys of [A-Za-z0-9_.:-]{1,128}, string values of 1-1024 characters",
      {
        details: {
          keys: result.error.issues
            .map((i) => i.path.map(String).join("."))
            .filter((k) => k.length > 0)
            .slice(0, 16),
        },
      },
    );
  return Object.freeze({ ...result.data }) as EncryptionContext;
}

/**
 * The canonical bytes of a context, used as AAD by the local provider:
 * `u32 pair count ‖ (u32 len ‖ key ‖ u32 len ‖ value)*`, pairs sorted by key, strings as UTF-8. Two contexts have
 * equal bytes if and only if they hold the same pairs, whatever order their keys were written in.
 */
export function canonicalEncryptionContext(context: EncryptionContext): Uint8Array {
  const keys = Object.keys(context).sort();
  return concatBytes(u32(keys.length), ...keys.flatMap((k) => [lengthPrefixed(k), lengthPrefixed(context[k] ?? "")]));
}
