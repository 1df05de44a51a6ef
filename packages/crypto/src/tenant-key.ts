/**
 * The tenant key: a 32-byte data key from the `KeyProvider` (KMS `GenerateDataKey`), stored only in wrapped form
 * and bound to the encryption context {tenant_id, purpose: "praxa/tenant-key", key_id}. Opened, it is a
 * committed AES-256-GCM `WrappingKey` whose one job is wrapping the tenant's workspace private keys.
 *
 * Its use counter is part of the record: whoever stores the record persists `uses` after each wrap (there are few:
 * one per workspace key created or rewrapped). At the limit, `KeyRotationRequiredError`: create a new tenant key,
 * rewrap the workspace keys (`rewrapWorkspaceKey`), then drop the old record.
 */
import { parseEncryptionContext, type EncryptionContext } from "./encryption-context.js";
import { newKeyId } from "./key-id.js";
import type { KeyProvider } from "./key-provider.js";
import { WrappingKey } from "./wrapping-key.js";

export interface TenantKeyRecord {
  readonly keyId: string;
  readonly tenantId: string;
  /** The data key wrapped by the key provider under `tenantKeyContext(tenantId, keyId)`. */
  readonly wrappedDataKey: Uint8Array;
  /** Wraps made under this key so far. */
  readonly uses: number;
}

export interface TenantKeyOptions {
  /** Wraps allowed before rotation (default 2^24). */
  readonly usageLimit?: number;
}

/** The encryption context a tenant data key is generated and unwrapped under. */
export function tenantKeyContext(tenantId: string, keyId: string): EncryptionContext {
  return parseEncryptionContext({ tenant_id: tenantId, purpose: "praxa/tenant-key", key_id: keyId });
}

export class TenantKey {
  private constructor(
    readonly tenantId: string,
    readonly wrappedDataKey: Uint8Array,
    private readonly key: WrappingKey,
  ) {}

  /** @internal */
  static fromDataKey(
    tenantId: string,
    keyId: string,
    wrapped: Uint8Array,
    plaintext: Uint8Array,
    uses: number,
    options: TenantKeyOptions,
  ): TenantKey {
    try {
      const key = new WrappingKey({
        id: keyId,
        material: plaintext,
        uses,
        ...(options.usageLimit === undefined ? {} : { usageLimit: options.usageLimit }),
      });
      return new TenantKey(tenantId, wrapped, key);
    } finally {
      plaintext.fill(0);
    }
  }

  get keyId(): string {
    return this.key.id;
  }

  get uses(): number {
    return this.key.uses;
  }

  get usageLimit(): number {
    return this.key.usageLimit;
  }

  /** What to store (with the current use count). */
  toRecord(): TenantKeyRecord {
    return { keyId: this.keyId, tenantId: this.tenantId, wrappedDataKey: this.wrappedDataKey, uses: this.uses };
  }

  /** Committed AES-256-GCM wrap under this key; counts one use. */
  wrap(plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    return this.key.wrap(plaintext, aad);
  }

  unwrap(blob: Uint8Array, aad: Uint8Array): Uint8Array {
    return this.key.unwrap(blob, aad);
  }
}

/** Generates a new tenant key through the provider. Store `toRecord()`; the plaintext data key never leaves memory. */
export async function createTenantKey(
  provider: KeyProvider,
  tenantId: string,
  options: TenantKeyOptions & { readonly keyId?: string } = {},
): Promise<TenantKey> {
  const keyId = options.keyId ?? newKeyId("tdk");
  const { plaintext, wrapped } = await provider.generateDataKey(tenantKeyContext(tenantId, keyId));
  return TenantKey.fromDataKey(tenantId, keyId, wrapped, plaintext, 0, options);
}

/** Unwraps a stored tenant key through the provider (KMS `Decrypt`: in production, the worker role's alone). */
export async function openTenantKey(
  provider: KeyProvider,
  record: TenantKeyRecord,
  options: TenantKeyOptions = {},
): Promise<TenantKey> {
  const plaintext = await provider.unwrap(record.wrappedDataKey, tenantKeyContext(record.tenantId, record.keyId));
  return TenantKey.fromDataKey(record.tenantId, record.keyId, record.wrappedDataKey, plaintext, record.uses, options);
}
