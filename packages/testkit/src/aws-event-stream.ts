/**
 * The AWS event stream binary framing (`application/vnd.amazon.eventstream`), as Bedrock's
 * InvokeModelWithResponseStream sends it: each message is
 *   total length (u32 BE) ‖ headers length (u32 BE) ‖ prelude CRC32 (of the first 8 bytes) ‖ headers ‖ payload ‖
 *   message CRC32 (of everything before it),
 * and each header is name length (u8) ‖ name ‖ value type (u8; 7 = string) ‖ value length (u16 BE) ‖ value.
 * Source: the "Event stream encoding" page of the AWS SDK / Transcribe streaming docs and `@smithy/eventstream-codec`.
 * Only string-valued headers are written (all Bedrock uses). `decodeEventStream` is here so tests can read frames back.
 */
import { crc32 } from "node:zlib";

export function encodeEventStreamMessage(headers: Readonly<Record<string, string>>, payload: Buffer): Buffer {
  const headerParts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name, "utf8");
    const v = Buffer.from(value, "utf8");
    const h = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
    h.writeUInt8(n.length, 0);
    n.copy(h, 1);
    h.writeUInt8(7, 1 + n.length);
    h.writeUInt16BE(v.length, 2 + n.length);
    v.copy(h, 4 + n.length);
    headerParts.push(h);
  }
  const headerBytes = Buffer.concat(headerParts);
  const total = 12 + headerBytes.length + payload.length + 4;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(headerBytes.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const body = Buffer.concat([prelude, headerBytes, payload]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body), 0);
  return Buffer.concat([body, crc]);
}

/** A Bedrock response-stream `chunk` event carrying one Messages API streaming event (base64 JSON in `bytes`). */
export function bedrockChunkFrame(event: unknown): Buffer {
  const bytes = Buffer.from(JSON.stringify(event), "utf8").toString("base64");
  return encodeEventStreamMessage(
    { ":event-type": "chunk", ":content-type": "application/json", ":message-type": "event" },
    Buffer.from(JSON.stringify({ bytes }), "utf8"),
  );
}

/** A Bedrock response-stream exception frame (e.g. `throttlingException`, `internalServerException`). */
export function bedrockExceptionFrame(exceptionType: string, message: string): Buffer {
  return encodeEventStreamMessage(
    { ":exception-type": exceptionType, ":content-type": "application/json", ":message-type": "exception" },
    Buffer.from(JSON.stringify({ message }), "utf8"),
  );
}

export interface EventStreamMessage {
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: Buffer;
}

/** Decodes concatenated frames, checking both CRCs. */
export function decodeEventStream(data: Buffer): EventStreamMessage[] {
  const out: EventStreamMessage[] = [];
  let off = 0;
  while (off < data.length) {
    const total = data.readUInt32BE(off);
    const headersLength = data.readUInt32BE(off + 4);
    if (data.readUInt32BE(off + 8) !== crc32(data.subarray(off, off + 8)))
      throw new Error("event stream: prelude CRC mismatch");
    if (data.readUInt32BE(off + total - 4) !== crc32(data.subarray(off, off + total - 4)))
      throw new Error("event stream: message CRC mismatch");
    const headers: Record<string, string> = {};
    let h = off + 12;
    const end = h + headersLength;
    while (h < end) {
      const nl = data.readUInt8(h);
      const name = data.subarray(h + 1, h + 1 + nl).toString("utf8");
      const type = data.readUInt8(h + 1 + nl);
      if (type !== 7) throw new Error("event stream: only string headers are supported");
      const vl = data.readUInt16BE(h + 2 + nl);
      headers[name] = data.subarray(h + 4 + nl, h + 4 + nl + vl).toString("utf8");
      h += 4 + nl + vl;
    }
    out.push({ headers, payload: data.subarray(end, off + total - 4) });
    off += total;
  }
  return out;
}
