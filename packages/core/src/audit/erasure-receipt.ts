/**
 * The erasure receipt (`praxa-erasure-receipt/v1`): the platform record that stays after a workspace is erased. Its
 * body — the workspace and tenant, when the erasure was requested and done, the rows deleted per table (and objects),
 * and the root of the workspace's final signed checkpoint — is RFC 8785 canonical JSON, signed with the checkpoint key
 * (KMS in production), so a customer verifies it with the same pinned key set as their audit log (`praxa audit keys`):
 * the signature over the exact body bytes, and the final root against a checkpoint they kept.
 */
import { z } from "zod";
import { Sha256HexSchema } from "./audit-event.js";
import { AuditEventInvalidError } from "./audit-errors.js";
import { canonicalBytes } from "./jcs.js";
import { PinnedKeysSchema, type PinnedKeys } from "./audit-export.js";
import { verifyCheckpointSignature, type VerificationKey } from "./verify-checkpoint.js";
import { createPublicKey } from "node:crypto";
import { WorkspaceIdSchema } from "../ids.js";

export const ErasureReceiptBodySchema = z
  .object({
    format: z.literal("praxa-erasure-receipt/v1"),
    erasure_id: z.uuid(),
    workspace_id: WorkspaceIdSchema,
    tenant_id: z.string().min(1).max(200),
    requested_at: z.iso.datetime(),
    completed_at: z.iso.datetime(),
    counts: z.record(z.string().min(1).max(200), z.number().int().min(0)),
    final_checkpoint: z
      .object({ tree_size: z.number().int().min(1), root_hash: Sha256HexSchema })
      .strict()
      .nullable(),
    key_id: z.string().min(1).max(256),
  })
  .strict();
export type ErasureReceiptBody = z.infer<typeof ErasureReceiptBodySchema>;

/** The receipt as handed to the customer: the body's exact bytes and the signature over them (both base64). */
export const ErasureReceiptSchema = z
  .object({
    format: z.literal("praxa-erasure-receipt/v1"),
    body: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/),
    key_id: z.string().min(1).max(256),
    signature: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/),
  })
  .strict();
export type ErasureReceipt = z.infer<typeof ErasureReceiptSchema>;

/** The canonical bytes a receipt's signature covers. Throws `AuditEventInvalidError` for a malformed body. */
export function erasureReceiptBytes(body: ErasureReceiptBody): Uint8Array {
  const parsed = ErasureReceiptBodySchema.safeParse(body);
  if (!parsed.success) {
    const paths = [...new Set(parsed.error.issues.map((i) => i.path.map(String).join(".") || "(root)"))];
    throw new AuditEventInvalidError(`invalid erasure receipt at: ${paths.join(", ")}`, { details: { paths } });
  }
  return canonicalBytes(parsed.data);
}

export type ErasureReceiptVerification =
  { readonly ok: true; readonly body: ErasureReceiptBody } | { readonly ok: false; readonly failure: string };

/**
 * Verify a receipt offline against a pinned key set: the signature by a pinned key over the exact body bytes, the body
 * in RFC 8785 form and valid, its key_id the signing key's; and, when `trustedCheckpoint` (a checkpoint line the customer
 * kept) is given, that the final checkpoint is of the same workspace and at least as large — the erased log contained
 * everything the customer had seen (equal sizes must have equal roots).
 */
export function verifyErasureReceipt(
  value: unknown,
  pinned: PinnedKeys,
  trustedCheckpoint?: { readonly workspace_id: string; readonly tree_size: number; readonly root_hash: string },
): ErasureReceiptVerification {
  const parsed = ErasureReceiptSchema.safeParse(value);
  if (!parsed.success) return { ok: false, failure: "not an erasure receipt" };
  const keys = new Map<string, VerificationKey>(
    PinnedKeysSchema.parse(pinned).map((k) => [
      k.key_id,
      {
        keyId: k.key_id,
        algorithm: k.algorithm,
        spki: createPublicKey(k.public_key_pem).export({ format: "der", type: "spki" }),
      },
    ]),
  );
  const key = keys.get(parsed.data.key_id);
  const bytes = Buffer.from(parsed.data.body, "base64");
  if (!key || !verifyCheckpointSignature(key, bytes, Buffer.from(parsed.data.signature, "base64")))
    return { ok: false, failure: "the receipt's signature does not verify under the pinned keys" };
  let body: ErasureReceiptBody;
  try {
    body = ErasureReceiptBodySchema.parse(JSON.parse(bytes.toString("utf8")));
  } catch {
    return { ok: false, failure: "the receipt's body is not a valid receipt" };
  }
  if (!Buffer.from(erasureReceiptBytes(body)).equals(bytes))
    return { ok: false, failure: "the receipt's body is not in canonical form" };
  if (body.key_id !== parsed.data.key_id) return { ok: false, failure: "the receipt names another key" };
  if (trustedCheckpoint !== undefined) {
    if (trustedCheckpoint.workspace_id !== body.workspace_id)
      return { ok: false, failure: "the trusted checkpoint is of another workspace" };
    const final = body.final_checkpoint;
    if (final === null || final.tree_size < trustedCheckpoint.tree_size)
      return { ok: false, failure: "the receipt's final checkpoint is older than the trusted one" };
    if (final.tree_size === trustedCheckpoint.tree_size && final.root_hash !== trustedCheckpoint.root_hash)
      return { ok: false, failure: "the receipt's final root differs from the trusted checkpoint's" };
  }
  return { ok: true, body };
}
