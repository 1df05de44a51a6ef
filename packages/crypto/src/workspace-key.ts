/**
 * The workspace key: an X25519 key pair. The public half is plain data — anyone may seal a credential to it. The
 * private half exists at rest only wrapped by the tenant key (committed AES-256-GCM), with
 * AAD = lp("praxa/v1/workspace-key") ‖ lp(tenantId) ‖ lp(workspaceId) ‖ lp(keyId) ‖ lp(publicKey), so a wrapped key
 * copied to another tenant, workspace, key id or public key does not open.
 *
 * Shredding: `shredWorkspaceKey` destroys the wrapped private half (zeroing the bytes it is handed). The private key
 * exists nowhere else — not in KMS, not in the tenant key — so every credential sealed to that public key is
 * unrecoverable from then on; `openWorkspaceKey` on a shredded record throws `KeyShreddedError`.
 */
import { timingSafeEqual } from "node:crypto";
import { lengthPrefixedAll } from "./bytes.js";
import {
  CredentialPrivateKey,
  credentialPublicKeyOf,
  generateCredentialKeyPair,
  type CredentialPublicKey,
} from "./credential-seal.js";
import { DecryptFailedError, KeyShreddedError } from "./errors.js";
import { newKeyId } from "./key-id.js";
import type { TenantKey } from "./tenant-key.js";

export interface WorkspaceKeyRecord {
  readonly keyId: string;
  readonly tenantId: string;
  readonly workspaceId: string;
  /** Raw X25519 public key, 32 bytes. Never updated once stored. */
  readonly publicKey: Uint8Array;
  /** The private key wrapped by the tenant key; `null` once shredded. */
  readonly wrappedPrivateKey: Uint8Array | null;
}

/** The AAD the private half is wrapped under. */
export function workspaceKeyAad(
  record: Pick<WorkspaceKeyRecord, "tenantId" | "workspaceId" | "keyId" | "publicKey">,
): Uint8Array {
  return lengthPrefixedAll([
    "praxa/v1/workspace-key",
    record.tenantId,
    record.workspaceId,
    record.keyId,
    record.publicKey,
  ]);
}

/** A new workspace key pair, its private half wrapped by `tenantKey` (one use of it). The raw private key is zeroed. */
export async function createWorkspaceKey(
  tenantKey: TenantKey,
  workspaceId: string,
  options: { readonly keyId?: string } = {},
): Promise<WorkspaceKeyRecord> {
  const keyId = options.keyId ?? newKeyId("wsk");
  const { publicKey, privateKey } = await generateCredentialKeyPair(keyId);
  try {
    const base = { keyId, tenantId: tenantKey.tenantId, workspaceId, publicKey: publicKey.publicKey };
    return { ...base, wrappedPrivateKey: tenantKey.wrap(privateKey, workspaceKeyAad(base)) };
  } finally {
    privateKey.fill(0);
  }
}

/** The public half, for `sealCredential`. Needs no secret. */
export function workspacePublicKey(record: WorkspaceKeyRecord): CredentialPublicKey {
  return { keyId: record.keyId, publicKey: record.publicKey };
}

function unwrapPrivateKey(tenantKey: TenantKey, record: WorkspaceKeyRecord): Uint8Array {
  if (record.wrappedPrivateKey === null) {
    throw new KeyShreddedError("this workspace key was destroyed; credentials sealed to it cannot be opened", {
      details: { keyId: record.keyId },
    });
  }
  if (tenantKey.tenantId !== record.tenantId)
    throw new DecryptFailedError("wrong-key", { details: { keyId: record.keyId } });
  const raw = tenantKey.unwrap(record.wrappedPrivateKey, workspaceKeyAad(record));
  const derived = credentialPublicKeyOf(raw);
  if (derived.length !== record.publicKey.length || !timingSafeEqual(derived, record.publicKey)) {
    raw.fill(0);
    throw new DecryptFailedError("key-commitment", { details: { keyId: record.keyId } });
  }
  return raw;
}

/** Unwraps the private half with the tenant key, for opening credentials during a run. */
export async function openWorkspaceKey(
  tenantKey: TenantKey,
  record: WorkspaceKeyRecord,
): Promise<CredentialPrivateKey> {
  const raw = unwrapPrivateKey(tenantKey, record);
  try {
    return await CredentialPrivateKey.fromRaw(record.keyId, raw);
  } finally {
    raw.fill(0);
  }
}

/** Re-wraps the private half from one tenant key to another (tenant key rotation). Public key and id are unchanged. */
export function rewrapWorkspaceKey(record: WorkspaceKeyRecord, from: TenantKey, to: TenantKey): WorkspaceKeyRecord {
  if (to.tenantId !== record.tenantId) throw new DecryptFailedError("wrong-key", { details: { keyId: record.keyId } });
  const raw = unwrapPrivateKey(from, record);
  try {
    return { ...record, wrappedPrivateKey: to.wrap(raw, workspaceKeyAad(record)) };
  } finally {
    raw.fill(0);
  }
}

/**
 * Destroys the private half: returns the record with `wrappedPrivateKey: null` and zeroes the wrapped bytes in
 * place. Once the stored copy is deleted too, no key in the hierarchy can bring it back.
 */
export function shredWorkspaceKey(record: WorkspaceKeyRecord): WorkspaceKeyRecord {
  record.wrappedPrivateKey?.fill(0);
  return { ...record, wrappedPrivateKey: null };
}
