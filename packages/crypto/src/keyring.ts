/**
 * A keyring of wrapping keys: one current key wraps, every key still held unwraps (found by the key id in the
 * ciphertext header). Rotation adds a key and makes it current; nothing is re-encrypted, there is no flag day.
 * Dropping a key from the ring (`retire`) makes what it wrapped unopenable here — rewrap first.
 */
import { DecryptFailedError } from "./errors.js";
import { wrappedBlobKeyId } from "./wrapped-blob.js";
import type { WrappingKey } from "./wrapping-key.js";

export class Keyring {
  private readonly keys = new Map<string, WrappingKey>();
  private currentKey: WrappingKey;

  constructor(current: WrappingKey, older: readonly WrappingKey[] = []) {
    for (const key of older) this.keys.set(key.id, key);
    this.keys.set(current.id, current);
    this.currentKey = current;
  }

  get current(): WrappingKey {
    return this.currentKey;
  }

  get keyIds(): readonly string[] {
    return [...this.keys.keys()];
  }

  /** Makes `next` the current key; the previous keys stay for unwrapping. */
  rotate(next: WrappingKey): void {
    this.keys.set(next.id, next);
    this.currentKey = next;
  }

  /** Removes a key that is no longer current; ciphertexts it made can no longer be opened through this ring. */
  retire(keyId: string): void {
    if (keyId === this.currentKey.id) return;
    this.keys.delete(keyId);
  }

  /** Wraps under the current key (throws `KeyRotationRequiredError` when it is spent: call `rotate`). */
  wrap(plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    return this.current.wrap(plaintext, aad);
  }

  /** Unwraps with whichever held key the ciphertext names. */
  unwrap(blob: Uint8Array, aad: Uint8Array): Uint8Array {
    const keyId = wrappedBlobKeyId(blob);
    const key = this.keys.get(keyId);
    if (key === undefined) throw new DecryptFailedError("wrong-key", { details: { keyId } });
    return key.unwrap(blob, aad);
  }
}
