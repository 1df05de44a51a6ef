/**
 * Byte helpers shared by the formats: big-endian integers, length-prefixed fields (`u32 length ‖ bytes`), and a
 * bounds-checked reader that raises `CiphertextMalformedError` (naming the field, never the bytes) on short input.
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { CiphertextMalformedError } from "./errors.js";

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function u8(value: number): Uint8Array {
  return Uint8Array.of(value & 0xff);
}

export function u16(value: number): Uint8Array {
  const out = new Uint8Array(2);
  new DataView(out.buffer).setUint16(0, value);
  return out;
}

export function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

/** `u32 big-endian length ‖ bytes`; a string is taken as its UTF-8 bytes. */
export function lengthPrefixed(field: string | Uint8Array): Uint8Array {
  const bytes = typeof field === "string" ? utf8(field) : field;
  return concatBytes(u32(bytes.length), bytes);
}

/** The concatenation of each field, length-prefixed: unambiguous however the fields are chosen. */
export function lengthPrefixedAll(fields: readonly (string | Uint8Array)[]): Uint8Array {
  return concatBytes(...fields.map(lengthPrefixed));
}

/** A fresh copy of `bytes` as a plain Uint8Array (never a view into a larger pooled Buffer). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from(bytes);
}

export function randomBytes(length: number): Uint8Array {
  return new Uint8Array(nodeRandomBytes(length));
}

/** Reads a ciphertext front to back; every read is bounds-checked. */
export class ByteReader {
  private offset = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly format: string,
  ) {}

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  u8(field: string): number {
    return this.take(1, field)[0] ?? 0;
  }

  u16(field: string): number {
    const b = this.take(2, field);
    return new DataView(b.buffer, b.byteOffset, 2).getUint16(0);
  }

  take(length: number, field: string): Uint8Array {
    if (length < 0 || this.offset + length > this.bytes.length) {
      throw new CiphertextMalformedError(`${this.format}: truncated at ${field}`, { details: { field } });
    }
    const out = this.bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  rest(): Uint8Array {
    return this.take(this.remaining, "rest");
  }

  /** Bytes [0, end) of the input: the header a format authenticates. */
  prefix(end: number): Uint8Array {
    return this.bytes.slice(0, end);
  }
}
