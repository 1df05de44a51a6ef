/**
 * `LocalKeyProvider`: the embedded default `KeyProvider`, over a key file created on first run (see local-key-file.ts).
 *
 * - Wraps are committed AES-256-GCM (wrapping-key.ts) under the file's current master key, with
 *   AAD = u32 len ‖ "praxa/v1/local-provider" ‖ canonicalEncryptionContext(context) (pairs sorted by key).
 * - The use counter survives restarts and is shared by every process using the file: a process reserves a block of
 *   uses in the file (under its lock) before wrapping, so the count on disk is always at least the true count. When
 *   the master key reaches its limit the provider rotates it by itself (a new current key; old keys stay and still
 *   unwrap) — what KMS does behind its key id. `rotate()` does it on demand.
 * - Signing is Ed25519 with a key kept in the same file.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from "node:crypto";
import { ValidationError } from "@praxa/core";
import { concatBytes, lengthPrefixed, randomBytes } from "./bytes.js";
import { canonicalEncryptionContext, parseEncryptionContext, type EncryptionContext } from "./encryption-context.js";
import { CiphertextMalformedError, DecryptFailedError, KeyFileMissingError } from "./errors.js";
import { newKeyId } from "./key-id.js";
import {
  assertSignMessage,
  assertWrapPlaintext,
  DATA_KEY_BYTES,
  type DataKey,
  type KeyProvider,
  type SigningPublicKey,
} from "./key-provider.js";
import { createKeyFileIfAbsent, readKeyFile, updateKeyFile, type LocalKeyFileData } from "./local-key-file.js";
import { wrappedBlobKeyId } from "./wrapped-blob.js";
import { DEFAULT_WRAP_USAGE_LIMIT, MAX_WRAP_USAGE_LIMIT, WRAPPING_KEY_BYTES, WrappingKey } from "./wrapping-key.js";

export interface LocalKeyProviderOptions {
  /** Where the key file lives (created on first run, mode 0600). */
  readonly path: string;
  /** Wraps per master key before it is rotated. Default 2^24. */
  readonly usageLimit?: number;
  /** Uses a process reserves in the file at a time. Default 1024. */
  readonly reservationBlock?: number;
  /** The clock for `createdAt` stamps. */
  readonly now?: () => Date;
  /**
   * Create the file when it is missing (default true). False in production: a missing file is `KeyFileMissingError`,
   * never a fresh key (a new root key would orphan every key wrapped under the lost one).
   */
  readonly create?: boolean;
}

const AAD_LABEL = lengthPrefixed("praxa/v1/local-provider");

function material(data: LocalKeyFileData, id: string): Uint8Array {
  const entry = data.wrappingKeys.find((k) => k.id === id);
  if (entry === undefined) throw new DecryptFailedError("wrong-key", { details: { keyId: id } });
  return new Uint8Array(Buffer.from(entry.material, "base64"));
}

function newMasterKey(now: Date): LocalKeyFileData["wrappingKeys"][number] {
  return {
    id: newKeyId("lmk"),
    material: Buffer.from(randomBytes(WRAPPING_KEY_BYTES)).toString("base64"),
    createdAt: now.toISOString(),
    reservedUses: 0,
  };
}

export class LocalKeyProvider implements KeyProvider {
  readonly kind = "local" as const;
  readonly path: string;
  private readonly usageLimit: number;
  private readonly block: number;
  private readonly now: () => Date;
  private data: LocalKeyFileData;
  private readonly unwrappers = new Map<string, WrappingKey>();
  private reservation: { readonly key: WrappingKey; readonly end: number } | undefined;
  private reserving: Promise<void> | undefined;
  private readonly signingKey: KeyObject;

  private constructor(options: LocalKeyProviderOptions, data: LocalKeyFileData) {
    this.path = options.path;
    this.usageLimit = options.usageLimit ?? DEFAULT_WRAP_USAGE_LIMIT;
    this.block = Math.max(1, options.reservationBlock ?? 1024);
    this.now = options.now ?? (() => new Date());
    this.data = data;
    this.signingKey = createPrivateKey({
      key: Buffer.from(data.signingKey.pkcs8, "base64"),
      format: "der",
      type: "pkcs8",
    });
  }

  /** Opens the key file at `options.path`, creating it (0600) on first run unless `create: false`; refuses a file with looser permissions. */
  static async open(options: LocalKeyProviderOptions): Promise<LocalKeyProvider> {
    const limit = options.usageLimit ?? DEFAULT_WRAP_USAGE_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_WRAP_USAGE_LIMIT) {
      throw new ValidationError(`usageLimit must be an integer in 1..${MAX_WRAP_USAGE_LIMIT}`);
    }
    const now = options.now ?? (() => new Date());
    if (options.create === false && (await readKeyFile(options.path)) === undefined) {
      throw new KeyFileMissingError(
        "there is no local key file at PRAXA_KEY_FILE, and it is not created here (production): restore it from its backup, or use PRAXA_KEY_PROVIDER=aws-kms",
      );
    }
    const data = await createKeyFileIfAbsent(options.path, () => {
      const created = now();
      const master = newMasterKey(created);
      const { privateKey } = generateKeyPairSync("ed25519");
      return {
        format: "praxa-local-keys",
        version: 1,
        current: master.id,
        wrappingKeys: [master],
        signingKey: {
          id: newKeyId("lsk"),
          algorithm: "ed25519",
          pkcs8: privateKey.export({ format: "der", type: "pkcs8" }).toString("base64"),
          createdAt: created.toISOString(),
        },
      };
    });
    return new LocalKeyProvider(options, data);
  }

  /** The id of the master key new wraps are made under. */
  get currentKeyId(): string {
    return this.data.current;
  }

  /** Every master key id the file holds (current and rotated-out). */
  get keyIds(): readonly string[] {
    return this.data.wrappingKeys.map((k) => k.id);
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    const ctx = parseEncryptionContext(context);
    const plaintext = randomBytes(DATA_KEY_BYTES);
    const wrapped = await this.wrap(plaintext, ctx);
    return { plaintext, wrapped };
  }

  async wrap(plaintext: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    const ctx = parseEncryptionContext(context);
    assertWrapPlaintext(plaintext);
    for (;;) {
      const reservation = this.reservation;
      // Checked and used with no await in between, so concurrent wraps never go past the reserved block.
      if (reservation !== undefined && reservation.key.uses < reservation.end)
        return reservation.key.wrap(plaintext, aad(ctx));
      this.reserving ??= this.reserve()
        .then((next) => void (this.reservation = next))
        .finally(() => (this.reserving = undefined));
      await this.reserving;
    }
  }

  async unwrap(wrapped: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    const ctx = parseEncryptionContext(context);
    let keyId: string;
    try {
      keyId = wrappedBlobKeyId(wrapped);
    } catch (err) {
      if (err instanceof CiphertextMalformedError)
        throw new DecryptFailedError("malformed", { details: { field: String(err.details?.["field"] ?? "") } });
      throw err;
    }
    let key = this.unwrapper(keyId);
    if (key === undefined) {
      // Another process may have rotated the master key since this one read the file.
      const fresh = await readKeyFile(this.path);
      if (fresh !== undefined) this.data = fresh;
      key = this.unwrapper(keyId);
    }
    if (key === undefined) throw new DecryptFailedError("wrong-key", { details: { keyId } });
    try {
      return key.unwrap(wrapped, aad(ctx));
    } catch (err) {
      if (err instanceof CiphertextMalformedError) throw new DecryptFailedError("malformed");
      throw err;
    }
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    assertSignMessage(message);
    return new Uint8Array(nodeSign(null, message, this.signingKey));
  }

  async publicKey(): Promise<SigningPublicKey> {
    const spki = createPublicKey(this.signingKey).export({ format: "der", type: "spki" });
    return { keyId: this.data.signingKey.id, algorithm: "ed25519", spki: new Uint8Array(spki) };
  }

  /** Adds a new master key and makes it current; every older key stays and still unwraps. Returns the new id. */
  async rotate(): Promise<string> {
    this.data = await updateKeyFile(this.path, (data) => {
      const next = newMasterKey(this.now());
      return { ...data, current: next.id, wrappingKeys: [...data.wrappingKeys, next] };
    });
    this.reservation = undefined;
    return this.data.current;
  }

  private unwrapper(keyId: string): WrappingKey | undefined {
    let key = this.unwrappers.get(keyId);
    if (key === undefined && this.data.wrappingKeys.some((k) => k.id === keyId)) {
      const bytes = material(this.data, keyId);
      key = new WrappingKey({ id: keyId, material: bytes });
      bytes.fill(0);
      this.unwrappers.set(keyId, key);
    }
    return key;
  }

  /** Reserves the next block of uses of the current master key in the file, rotating it first if it is spent. */
  private async reserve(): Promise<{ readonly key: WrappingKey; readonly end: number }> {
    let start = 0;
    let end = 0;
    this.data = await updateKeyFile(this.path, (data) => {
      let next = data;
      const current = data.wrappingKeys.find((k) => k.id === data.current);
      if (current === undefined || current.reservedUses >= this.usageLimit) {
        const fresh = newMasterKey(this.now());
        next = { ...data, current: fresh.id, wrappingKeys: [...data.wrappingKeys, fresh] };
      }
      const keys = next.wrappingKeys.map((k) => {
        if (k.id !== next.current) return k;
        start = k.reservedUses;
        end = Math.min(start + this.block, this.usageLimit);
        return { ...k, reservedUses: end };
      });
      return { ...next, wrappingKeys: keys };
    });
    const bytes = material(this.data, this.data.current);
    const key = new WrappingKey({ id: this.data.current, material: bytes, usageLimit: this.usageLimit, uses: start });
    bytes.fill(0);
    return { key, end };
  }
}

function aad(context: EncryptionContext): Uint8Array {
  return concatBytes(AAD_LABEL, canonicalEncryptionContext(context));
}
