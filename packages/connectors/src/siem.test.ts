/**
 * The SIEM stream's pure parts: Standard Webhooks signatures (v1 against the upstream fixed vector; v1a checked with
 * Node's Ed25519 against the `whpk_` form), batches within their count and byte bounds, Retry-After, and the backoff.
 */
import { describe, expect, it } from "@jest/globals";
import { ValidationError } from "@praxa/core";
import { verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import {
  buildSiemBatch,
  generateSiemSigningKey,
  parseRetryAfter,
  siemBackoffMs,
  siemPrivateKey,
  siemWire,
  signSiemBody,
  webhookPublicKey,
  type SiemStoredEvent,
} from "./index.js";

const vectors = JSON.parse(
  readFileSync(new URL("../../../test/data/vectors/standard-webhooks/vectors.json", import.meta.url), "utf8"),
) as {
  sign: { secret: string; msg_id: string; timestamp: number; payload: string; expected_signature: string }[];
};

function event(seq: number, size = 100): SiemStoredEvent {
  const canonical = Buffer.from(JSON.stringify({ seq, pad: "x".repeat(size) }));
  return {
    seq,
    workspace_id: "ws_01h0000000000000000000000a",
    prev_hash: "a".repeat(64),
    hash: "b".repeat(64),
    key_id: "k1",
    signature: "c".repeat(86) + "==",
    canonical,
    occurred_at: new Date(0),
  };
}

describe("signing", () => {
  it("v1 reproduces the upstream Standard Webhooks vector", () => {
    const v = vectors.sign[0]!;
    const { privateKeyPkcs8 } = generateSiemSigningKey();
    const header = signSiemBody(
      { ed25519: [siemPrivateKey(privateKeyPkcs8)], hmac: [v.secret] },
      v.msg_id,
      v.timestamp,
      Buffer.from(v.payload),
    );
    expect(header.split(" ")[1]).toBe(v.expected_signature);
  });

  it("v1a verifies with the whpk_ key over id.timestamp.body, and only over those bytes", () => {
    const k = generateSiemSigningKey();
    expect(k.publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    const body = Buffer.from('{"a":1}\n');
    const header = signSiemBody({ ed25519: [siemPrivateKey(k.privateKeyPkcs8)], hmac: [] }, "msg_1", 1700000000, body);
    const sig = Buffer.from(header.slice("v1a,".length), "base64");
    const pub = webhookPublicKey(k.publicKey);
    expect(verify(null, Buffer.from(`msg_1.1700000000.${body.toString()}`), pub, sig)).toBe(true);
    expect(verify(null, Buffer.from(`msg_1.1700000001.${body.toString()}`), pub, sig)).toBe(false);
    expect(verify(null, Buffer.from(`msg_2.1700000000.${body.toString()}`), pub, sig)).toBe(false);
  });

  it("a whpk_ key is whpk_ and the base64 of 32 bytes, nothing around it (a typed error otherwise)", () => {
    const { publicKey } = generateSiemSigningKey();
    for (const bad of [publicKey.slice("whpk_".length), `x${publicKey}`, `${publicKey}x`, publicKey.slice(0, -2) + "="])
      expect(() => webhookPublicKey(bad)).toThrow(ValidationError);
    expect(() => webhookPublicKey(`${publicKey}x`)).toThrow(
      "an Ed25519 public key is whpk_ and the base64 of its 32 bytes",
    );
  });

  it("never sends an unsigned batch", () => {
    expect(() => signSiemBody({ ed25519: [], hmac: [] }, "m", 1, Buffer.alloc(1))).toThrow(RangeError);
  });
});

describe("batches", () => {
  const events = Array.from({ length: 50 }, (_, i) => event(i + 1));

  it.each(["jsonl", "splunk-hec", "datadog"] as const)(
    "%s: bounded by count and by bytes, a prefix in seq order",
    (format) => {
      const byCount = buildSiemBatch(format, events, 7, 1024 * 1024)!;
      expect([byCount.from, byCount.to, byCount.count]).toEqual([1, 7, 7]);
      const byBytes = buildSiemBatch(format, events, 1000, 4096)!;
      expect(byBytes.body.length).toBeLessThanOrEqual(4096);
      expect(byBytes.count).toBeGreaterThan(1);
      const oneMore = buildSiemBatch(format, events, byBytes.count + 1, 1024 * 1024)!;
      expect(oneMore.body.length).toBeGreaterThan(4096);
      if (format === "datadog") expect(JSON.parse(byBytes.body.toString())).toHaveLength(byBytes.count);
      else expect(byBytes.body.toString().split("\n").filter(Boolean)).toHaveLength(byBytes.count);
    },
  );

  it("a record larger than the byte bound goes alone rather than never", () => {
    const big = [event(1, 10_000), event(2)];
    expect(buildSiemBatch("jsonl", big, 1000, 4096)).toMatchObject({ from: 1, to: 1, count: 1 });
    expect(buildSiemBatch("jsonl", [], 1000, 4096)).toBeNull();
  });

  it("each record carries the stored canonical bytes exactly, as a string", () => {
    const b = buildSiemBatch("jsonl", [event(9)], 10, 4096)!;
    const record = JSON.parse(b.body.toString().trim()) as { canonical: string; seq: number };
    expect(Buffer.from(record.canonical, "utf8").equals(Buffer.from(event(9).canonical))).toBe(true);
    expect(record.seq).toBe(9);
  });

  it("datadog is gzip on the wire with DD-API-KEY; splunk carries the HEC token", () => {
    const b = buildSiemBatch("datadog", events, 3, 1 << 20)!;
    const wire = siemWire("datadog", b.body, "k".repeat(32));
    expect(wire.headers).toMatchObject({ "content-encoding": "gzip", "dd-api-key": "k".repeat(32) });
    expect(gunzipSync(wire.body).equals(b.body)).toBe(true);
    expect(siemWire("splunk-hec", b.body, "tok").headers.authorization).toBe("Splunk tok");
  });
});

describe("retries", () => {
  it("Retry-After: seconds, an HTTP date, or nothing", () => {
    expect(parseRetryAfter("3", 0)).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter("soon", 0)).toBeNull();
    expect(parseRetryAfter(undefined, 0)).toBeNull();
    expect(parseRetryAfter("999999999", 0)).toBe(86_400_000);
  });

  it("backoff grows exponentially, jittered, within [base, max]", () => {
    for (let f = 0; f < 20; f++) {
      const d = siemBackoffMs(f, 100, 10_000);
      expect(d).toBeGreaterThanOrEqual(100);
      expect(d).toBeLessThanOrEqual(Math.min(10_000, 100 * 2 ** f));
    }
    const late = new Set(Array.from({ length: 20 }, () => siemBackoffMs(10, 100, 10_000)));
    expect(late.size).toBeGreaterThan(1);
  });
});
