/**
 * The fast verify path checks, for every event, that its stored bytes parse to a record whose chain fields (`seq`,
 * `workspace_id`, `prev_hash`, `key_id`) are the row's — that is what binds a verified chain position to the record
 * a reader sees. Building the whole record with JSON.parse was most of that path's cost, so this reads the four fields
 * straight from the bytes, without building anything.
 *
 * It is deliberately partial: it says `true` only when it can vouch that JSON.parse of the UTF-8 text would give a
 * top-level object with exactly these four values, and `false` ("cannot vouch") otherwise — the caller then parses the
 * text and decides, so every failure is still judged (and named) by JSON.parse. To vouch, it requires:
 *  - valid UTF-8 (checked natively) and a text that is well-formed JSON from end to end (RFC 8259 grammar, checked here
 *    byte by byte: structure, strings and escapes, numbers, literals, white space), whose top level is an object;
 *  - no top-level key written with an escape (an escaped key could spell one of the four);
 *  - for each of the four, its LAST occurrence (JSON.parse keeps the last of duplicate keys) plain and equal to the
 *    row's: `seq` an integer literal of at most 15 digits with no sign, fraction or exponent; the strings printable
 *    ASCII with no escape, compared byte for byte.
 */
import { isUtf8 } from "node:buffer";

/** The columns the record must name. */
export interface ChainFieldColumns {
  readonly seq: number;
  readonly workspace_id: string;
  readonly prev_hash: string;
  readonly key_id: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** The four field names, in the order fieldOf numbers them. */
const FIELD_BYTES = ["seq", "workspace_id", "prev_hash", "key_id"].map((name) => Buffer.from(name, "ascii"));

const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;
const isHexDigit = (c: number): boolean =>
  (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/** Every index below stays within [0, n]; a read at n (past the end) yields -1, which matches nothing. */
const at = (b: Uint8Array, i: number, n: number): number => (i < n ? (b[i] as number) : -1);

function skipWhiteSpace(b: Uint8Array, i: number, n: number): number {
  while (i < n) {
    const c = b[i] as number;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

/** `i` is just past an opening quote: the index of the closing quote, or -1 if the string is not well-formed JSON. */
function scanString(b: Uint8Array, i: number, n: number): number {
  while (i < n) {
    const c = b[i] as number;
    if (c === QUOTE) return i;
    if (c === BACKSLASH) {
      const e = at(b, i + 1, n);
      if (e === 0x75 /* u */) {
        if (
          i + 5 >= n ||
          !isHexDigit(b[i + 2] as number) ||
          !isHexDigit(b[i + 3] as number) ||
          !isHexDigit(b[i + 4] as number) ||
          !isHexDigit(b[i + 5] as number)
        )
          return -1;
        i += 6;
      } else if (
        e === QUOTE ||
        e === BACKSLASH ||
        e === 0x2f ||
        e === 0x62 ||
        e === 0x66 ||
        e === 0x6e ||
        e === 0x72 ||
        e === 0x74
      ) {
        i += 2;
      } else {
        return -1;
      }
    } else if (c < 0x20) {
      return -1;
    } else {
      i++;
    }
  }
  return -1;
}

/** `i` is at a number's first byte: the index just past it, or -1 if it is not a JSON number. */
function scanNumber(b: Uint8Array, i: number, n: number): number {
  if (at(b, i, n) === MINUS) i++;
  const first = at(b, i, n);
  if (first === ZERO) i++;
  else if (first >= 0 && isDigit(first)) while (i < n && isDigit(b[i] as number)) i++;
  else return -1;
  if (at(b, i, n) === 0x2e /* . */) {
    i++;
    if (!(i < n && isDigit(b[i] as number))) return -1;
    while (i < n && isDigit(b[i] as number)) i++;
  }
  const e = at(b, i, n);
  if (e === 0x65 || e === 0x45 /* e E */) {
    i++;
    const sign = at(b, i, n);
    if (sign === 0x2b || sign === MINUS) i++;
    if (!(i < n && isDigit(b[i] as number))) return -1;
    while (i < n && isDigit(b[i] as number)) i++;
  }
  return i;
}

function scanLiteral(b: Uint8Array, i: number, n: number, literal: readonly number[]): number {
  if (i + literal.length > n) return -1;
  for (let k = 0; k < literal.length; k++) if (b[i + k] !== literal[k]) return -1;
  return i + literal.length;
}
const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

/** The closing byte expected for each open container, reused by every scan (they never nest or overlap). */
let openContainers = new Uint8Array(64);

/**
 * `i` is at the first byte of a JSON value (no white space before it): the index just past the value, or -1 if it is
 * not well-formed. Nesting is followed with an explicit stack, so depth cannot overflow the call stack.
 */
function scanValue(b: Uint8Array, i: number, n: number): number {
  const first = at(b, i, n);
  if (first === QUOTE) {
    const end = scanString(b, i + 1, n);
    return end < 0 ? -1 : end + 1;
  }
  if (first === MINUS || (first >= 0 && isDigit(first))) return scanNumber(b, i, n);
  let depth = 0;
  for (;;) {
    // A value starts at i.
    const c = at(b, i, n);
    if (c === QUOTE) {
      i = scanString(b, i + 1, n);
      if (i < 0) return -1;
      i++;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      const close = c === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY;
      i = skipWhiteSpace(b, i + 1, n);
      if (at(b, i, n) === close) {
        i++;
      } else {
        if (depth === openContainers.length) {
          const grown = new Uint8Array(depth * 2);
          grown.set(openContainers);
          openContainers = grown;
        }
        openContainers[depth++] = close;
        if (close === CLOSE_OBJECT) {
          i = memberName(b, i, n);
          if (i < 0) return -1;
        }
        continue;
      }
    } else if (c === MINUS || (c >= 0 && isDigit(c))) {
      i = scanNumber(b, i, n);
      if (i < 0) return -1;
    } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
      i = scanLiteral(b, i, n, c === 0x74 ? TRUE : c === 0x66 ? FALSE : NULL);
      if (i < 0) return -1;
    } else {
      return -1;
    }
    // After a value: close containers, or move to the next element.
    for (;;) {
      if (depth === 0) return i;
      i = skipWhiteSpace(b, i, n);
      const close = openContainers[depth - 1];
      const c2 = at(b, i, n);
      if (c2 === close) {
        depth--;
        i++;
        continue;
      }
      if (c2 !== COMMA) return -1;
      i = skipWhiteSpace(b, i + 1, n);
      if (close === CLOSE_OBJECT) {
        i = memberName(b, i, n);
        if (i < 0) return -1;
      }
      break;
    }
  }
}

/** `i` is at a member's opening quote: the index of its value's first byte, or -1. */
function memberName(b: Uint8Array, i: number, n: number): number {
  if (at(b, i, n) !== QUOTE) return -1;
  const end = scanString(b, i + 1, n);
  if (end < 0) return -1;
  i = skipWhiteSpace(b, end + 1, n);
  if (at(b, i, n) !== COLON) return -1;
  return skipWhiteSpace(b, i + 1, n);
}

/** Which of the four fields the key bytes [start, end) name (-1: none). */
function fieldOf(b: Uint8Array, start: number, end: number): number {
  for (let f = 0; f < FIELD_BYTES.length; f++) {
    const name = FIELD_BYTES[f] as Buffer;
    if (end - start !== name.length) continue;
    let same = true;
    for (let k = 0; k < name.length; k++) {
      if (b[start + k] !== name[k]) {
        same = false;
        break;
      }
    }
    if (same) return f;
  }
  return -1;
}

/** Whether the value bytes [start, end) are a plain string literal equal to `want` (printable ASCII, no escapes). */
function plainStringEquals(b: Uint8Array, start: number, end: number, want: string): boolean {
  if (b[start] !== QUOTE || b[end - 1] !== QUOTE || end - start - 2 !== want.length) return false;
  for (let k = 0; k < want.length; k++) {
    const c = b[start + 1 + k] as number;
    if (c < 0x20 || c > 0x7e || c === BACKSLASH || c !== want.charCodeAt(k)) return false;
  }
  return true;
}

/** Whether the value bytes [start, end) are a plain integer literal equal to `want`. */
function plainIntegerEquals(b: Uint8Array, start: number, end: number, want: number): boolean {
  if (end - start > 15 || end === start || (b[start] === ZERO && end - start > 1)) return false;
  let v = 0;
  for (let k = start; k < end; k++) {
    const c = b[k] as number;
    if (c < ZERO || c > NINE) return false;
    v = v * 10 + (c - ZERO);
  }
  return v === want;
}

/**
 * `true`: JSON.parse of these bytes (as UTF-8) gives an object whose seq, workspace_id, prev_hash and key_id are the
 * row's. `false`: this reader cannot vouch for that — parse the text to decide.
 */
export function vouchForChainFields(bytes: Uint8Array, row: ChainFieldColumns): boolean {
  if (!isUtf8(bytes)) return false;
  const n = bytes.length;
  let seqMatches = false;
  let workspaceMatches = false;
  let prevMatches = false;
  let keyMatches = false;
  let i = skipWhiteSpace(bytes, 0, n);
  if (at(bytes, i, n) !== OPEN_OBJECT) return false;
  i = skipWhiteSpace(bytes, i + 1, n);
  for (;;) {
    if (at(bytes, i, n) !== QUOTE) return false; // also refuses the empty object: it has none of the fields
    const keyEnd = scanString(bytes, i + 1, n);
    if (keyEnd < 0) return false;
    for (let k = i + 1; k < keyEnd; k++) if (bytes[k] === BACKSLASH) return false;
    const field = fieldOf(bytes, i + 1, keyEnd);
    i = skipWhiteSpace(bytes, keyEnd + 1, n);
    if (at(bytes, i, n) !== COLON) return false;
    const valueStart = skipWhiteSpace(bytes, i + 1, n);
    const valueEnd = scanValue(bytes, valueStart, n);
    if (valueEnd < 0) return false;
    // Each occurrence overwrites the last: JSON.parse keeps the last of duplicate keys.
    if (field === 0) seqMatches = plainIntegerEquals(bytes, valueStart, valueEnd, row.seq);
    else if (field === 1) workspaceMatches = plainStringEquals(bytes, valueStart, valueEnd, row.workspace_id);
    else if (field === 2) prevMatches = plainStringEquals(bytes, valueStart, valueEnd, row.prev_hash);
    else if (field === 3) keyMatches = plainStringEquals(bytes, valueStart, valueEnd, row.key_id);
    i = skipWhiteSpace(bytes, valueEnd, n);
    const c = at(bytes, i, n);
    if (c === COMMA) {
      i = skipWhiteSpace(bytes, i + 1, n);
      continue;
    }
    if (c !== CLOSE_OBJECT) return false;
    break;
  }
  if (skipWhiteSpace(bytes, i + 1, n) !== n) return false;
  return seqMatches && workspaceMatches && prevMatches && keyMatches;
}
