import { describe, expect, it } from "@jest/globals";
import {
  bedrockChunkFrame,
  bedrockExceptionFrame,
  decodeEventStream,
  encodeEventStreamMessage,
} from "./aws-event-stream.js";

describe("AWS event stream framing", () => {
  it("round-trips frames with their headers and payloads", () => {
    const event = { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "héllo" } };
    const frames = decodeEventStream(
      Buffer.concat([bedrockChunkFrame(event), bedrockExceptionFrame("throttlingException", "slow down")]),
    );
    expect(frames.map((f) => f.headers)).toEqual([
      { ":event-type": "chunk", ":content-type": "application/json", ":message-type": "event" },
      { ":exception-type": "throttlingException", ":content-type": "application/json", ":message-type": "exception" },
    ]);
    const chunk = JSON.parse(frames[0]?.payload.toString("utf8") ?? "") as { bytes: string };
    expect(JSON.parse(Buffer.from(chunk.bytes, "base64").toString("utf8"))).toEqual(event);
    expect(JSON.parse(frames[1]?.payload.toString("utf8") ?? "")).toEqual({ message: "slow down" });
  });

  it("lays out the prelude as the spec says: total length, headers length, CRCs", () => {
    const frame = encodeEventStreamMessage({ a: "b" }, Buffer.from("xyz"));
    const headerLength = 1 + 1 + 1 + 2 + 1;
    expect(frame.readUInt32BE(0)).toBe(frame.length);
    expect(frame.readUInt32BE(4)).toBe(headerLength);
    expect(frame.length).toBe(12 + headerLength + 3 + 4);
  });

  it("refuses a frame whose bytes were altered", () => {
    const frame = bedrockChunkFrame({ type: "ping" });
    const payloadByte = Buffer.from(frame);
    payloadByte.writeUInt8(payloadByte.readUInt8(payloadByte.length - 6) ^ 1, payloadByte.length - 6);
    expect(() => decodeEventStream(payloadByte)).toThrow("message CRC");
    const preludeByte = Buffer.from(frame);
    preludeByte.writeUInt8(preludeByte.readUInt8(5) ^ 1, 5);
    expect(() => decodeEventStream(preludeByte)).toThrow("prelude CRC");
  });
});
