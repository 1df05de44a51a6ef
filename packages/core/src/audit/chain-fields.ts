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
 *
 * Written without redundant checks, so that each one is there because some input needs it (the mutation gate,
 * scripts/mutation, holds it to that; its equivalent-mutants list names the two exceptions and why): a read past the
 * end is -1 (`at`), which no test of a byte accepts, so no loop has a bounds check of its own; a scan that meets
 * malformed JSON throws `NOT_WELL_FORMED`, caught once at the top, so no caller tests a sentinel; the value checks rely
 * on the grammar already checked (a well-formed value that starts with a quote is a string, a number has no leading
 * zero).
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
const FIELD_BYTES = ["seq", "workspace_id", "prev_hash", "key_id"].map((name) => Buffer.from(name));

/**
 * The bytes are not well-formed JSON. Control flow inside this module only: thrown by a scan, caught in
 * vouchForChainFields (which then says it cannot vouch); one instance, made once, so a throw costs no stack capture.
 */
class NotWellFormedJsonError extends Error {}
const NOT_WELL_FORMED = new NotWellFormedJsonError("not well-formed JSON");
const notWellFormed = (): never => {
  throw NOT_WELL_FORMED;
};

/**
 * The byte at `i`, or -1 past the end (no index here is negative). Not `b[i] ?? -1`: V8 makes every read of a typed
 * array slower once one has gone past its end — the whole reader was 1.4× slower with it.
 */
const at = (b: Uint8Array, i: number): number => (i < b.length ? (b[i] as number) : -1);

const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;
const isHexDigit = (c: number): boolean =>
  (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

function skipWhiteSpace(b: Uint8Array, i: number): number {
  for (;;) {
    const c = at(b, i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** Whether the last string scanString read had an escape in it (set by every scanString before it is read). */
let lastStringEscaped: boolean;

/** `i` is just past an opening quote: the index of the closing quote (malformed: throws NOT_WELL_FORMED). */
function scanString(b: Uint8Array, i: number): number {
  lastStringEscaped = false;
  for (;;) {
    const c = at(b, i);
    if (c === QUOTE) return i;
    if (c === BACKSLASH) {
      lastStringEscaped = true;
      const e = at(b, i + 1);
      if (e === 0x75 /* u */) {
        if (
          !isHexDigit(at(b, i + 2)) ||
          !isHexDigit(at(b, i + 3)) ||
          !isHexDigit(at(b, i + 4)) ||
          !isHexDigit(at(b, i + 5))
        )
          notWellFormed();
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
        notWellFormed();
      }
    } else if (c < 0x20) {
      notWellFormed(); // a control character, or the end of the bytes (-1)
    } else {
      i++;
    }
  }
}

/** `i` is at a number's first byte: the index just past it (malformed: throws NOT_WELL_FORMED). */
function scanNumber(b: Uint8Array, i: number): number {
  if (at(b, i) === MINUS) i++;
  const first = at(b, i);
  if (first === ZERO) i++;
  else if (isDigit(first)) while (isDigit(at(b, i))) i++;
  else notWellFormed();
  if (at(b, i) === 0x2e /* . */) {
    i++;
    if (!isDigit(at(b, i))) notWellFormed();
    while (isDigit(at(b, i))) i++;
  }
  const e = at(b, i);
  if (e === 0x65 || e === 0x45 /* e E */) {
    i++;
    const sign = at(b, i);
    if (sign === 0x2b || sign === MINUS) i++;
    if (!isDigit(at(b, i))) notWellFormed();
    while (isDigit(at(b, i))) i++;
  }
  return i;
}

/** `i` is at a literal's first byte: the index just past it (malformed: throws NOT_WELL_FORMED). */
function scanLiteral(b: Uint8Array, i: number, literal: readonly number[]): number {
  for (let k = 0; k < literal.length; k++) if (at(b, i + k) !== literal[k]) notWellFormed();
  return i + literal.length;
}
const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

/** The closing byte expected for each open container, reused by every scan (they never nest or overlap). */
let openContainers = new Uint8Array(64);

/**
 * `i` is at the first byte of a JSON value (no white space before it): the index just past the value (malformed:
 * throws NOT_WELL_FORMED). Nesting is followed with an explicit stack, so depth cannot overflow the call stack.
 */
function scanValue(b: Uint8Array, i: number): number {
  let depth = 0;
  for (;;) {
    // A value starts at i.
    const c = at(b, i);
    if (c === QUOTE) {
      i = scanString(b, i + 1) + 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      const close = c === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY;
      i = skipWhiteSpace(b, i + 1);
      if (at(b, i) === close) {
        i++;
      } else {
        if (depth === openContainers.length) {
          const grown = new Uint8Array(depth * 2);
          grown.set(openContainers);
          openContainers = grown;
        }
        openContainers[depth++] = close;
        if (close === CLOSE_OBJECT) i = memberName(b, i);
        continue;
      }
    } else if (c === MINUS || isDigit(c)) {
      i = scanNumber(b, i);
    } else {
      // Only a literal is left: true, false, or null (any other byte fails as null's first).
      i = scanLiteral(b, i, c === 0x74 ? TRUE : c === 0x66 ? FALSE : NULL);
    }
    // After a value: close containers, or move to the next element.
    for (;;) {
      if (depth === 0) return i;
      i = skipWhiteSpace(b, i);
      const close = openContainers[depth - 1];
      const c2 = at(b, i);
      if (c2 === close) {
        depth--;
        i++;
        continue;
      }
      if (c2 !== COMMA) notWellFormed();
      i = skipWhiteSpace(b, i + 1);
      if (close === CLOSE_OBJECT) i = memberName(b, i);
      break;
    }
  }
}

/** `i` is at a member's opening quote: the index of its value's first byte (malformed: throws NOT_WELL_FORMED). */
function memberName(b: Uint8Array, i: number): number {
  if (at(b, i) !== QUOTE) notWellFormed();
  i = skipWhiteSpace(b, scanString(b, i + 1) + 1);
  if (at(b, i) !== COLON) notWellFormed();
  return skipWhiteSpace(b, i + 1);
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

/**
 * Whether the well-formed value [start, end) is a plain string literal equal to `want` (printable ASCII, no escape).
 * A well-formed value that starts with a quote is a string, and a string holds no raw control character.
 */
function plainStringEquals(b: Uint8Array, start: number, end: number, want: string): boolean {
  if (b[start] !== QUOTE || end - start - 2 !== want.length) return false;
  for (let k = 0; k < want.length; k++) {
    const c = b[start + 1 + k] as number;
    if (c > 0x7e || c === BACKSLASH || c !== want.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * Whether the well-formed value [start, end) is a plain integer literal equal to `want`. A well-formed number has no
 * leading zero, so digits alone make a plain integer; at most 15 of them stay exact in a double.
 */
function plainIntegerEquals(b: Uint8Array, start: number, end: number, want: number): boolean {
  if (end - start > 15) return false;
  let v = 0;
  for (let k = start; k < end; k++) {
    const c = b[k] as number;
    if (c < ZERO || c > NINE) return false;
    v = v * 10 + (c - ZERO);
  }
  return v === want;
}

/** The top-level object's members, read as the fields of `vouchForChainFields` (malformed: throws NOT_WELL_FORMED). */
function readChainFields(bytes: Uint8Array, row: ChainFieldColumns): boolean {
  let seqMatches = false;
  let workspaceMatches = false;
  let prevMatches = false;
  let keyMatches = false;
  let i = skipWhiteSpace(bytes, 0);
  if (at(bytes, i) !== OPEN_OBJECT) return false;
  i = skipWhiteSpace(bytes, i + 1);
  for (;;) {
    if (at(bytes, i) !== QUOTE) return false; // also refuses the empty object: it has none of the fields
    const keyEnd = scanString(bytes, i + 1);
    if (lastStringEscaped) return false;
    const field = fieldOf(bytes, i + 1, keyEnd);
    i = skipWhiteSpace(bytes, keyEnd + 1);
    if (at(bytes, i) !== COLON) return false;
    const valueStart = skipWhiteSpace(bytes, i + 1);
    const valueEnd = scanValue(bytes, valueStart);
    // Each occurrence overwrites the last: JSON.parse keeps the last of duplicate keys.
    if (field === 0) seqMatches = plainIntegerEquals(bytes, valueStart, valueEnd, row.seq);
    else if (field === 1) workspaceMatches = plainStringEquals(bytes, valueStart, valueEnd, row.workspace_id);
    else if (field === 2) prevMatches = plainStringEquals(bytes, valueStart, valueEnd, row.prev_hash);
    else if (field === 3) keyMatches = plainStringEquals(bytes, valueStart, valueEnd, row.key_id);
    i = skipWhiteSpace(bytes, valueEnd);
    const c = at(bytes, i);
    if (c === COMMA) {
      i = skipWhiteSpace(bytes, i + 1);
      continue;
    }
    if (c !== CLOSE_OBJECT) return false;
    break;
  }
  if (skipWhiteSpace(bytes, i + 1) !== bytes.length) return false;
  return seqMatches && workspaceMatches && prevMatches && keyMatches;
}

/**
 * `true`: JSON.parse of these bytes (as UTF-8) gives an object whose seq, workspace_id, prev_hash and key_id are the
 * row's. `false`: this reader cannot vouch for that — parse the text to decide.
 */
export function vouchForChainFields(bytes: Uint8Array, row: ChainFieldColumns): boolean {
  if (!isUtf8(bytes)) return false;
  try {
    return readChainFields(bytes, row);
  } catch (err) {
    if (err === NOT_WELL_FORMED) return false;
    throw err;
  }
}
