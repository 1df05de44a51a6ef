/**
 * What Praxa sends signed (Skill callbacks, SIEM batches, the demo's producer) is signed the Standard Webhooks way: the
 * upstream fixed vector (test/data/vectors, copied from the spec's repository) must come out byte for byte, so any
 * receiver's library verifies it. Mutated by `pnpm mutation` (module `webhook-signing`).
 */
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { ValidationError } from "@praxa/core";
import { generateWebhookSecret, standardWebhookContent, standardWebhookV1 } from "./standard-webhooks.js";

const vectors = JSON.parse(
  readFileSync(new URL("../../../test/data/vectors/standard-webhooks/vectors.json", import.meta.url), "utf8"),
) as { sign: { secret: string; msg_id: string; timestamp: number; payload: string; expected_signature: string }[] };

describe("Standard Webhooks v1 signing", () => {
  it("signs the upstream vector, the timestamp given as a number or as its header", () => {
    expect(vectors.sign.length).toBeGreaterThan(0);
    for (const s of vectors.sign) {
      expect(standardWebhookV1(s.secret, s.msg_id, s.timestamp, Buffer.from(s.payload))).toBe(s.expected_signature);
      expect(standardWebhookV1(s.secret, s.msg_id, String(s.timestamp), Buffer.from(s.payload))).toBe(
        s.expected_signature,
      );
    }
  });

  it("changes with the id, the timestamp, the body and the secret", () => {
    const s = vectors.sign[0]!;
    const base = standardWebhookV1(s.secret, s.msg_id, s.timestamp, Buffer.from(s.payload));
    expect(standardWebhookV1(s.secret, `${s.msg_id}x`, s.timestamp, Buffer.from(s.payload))).not.toBe(base);
    expect(standardWebhookV1(s.secret, s.msg_id, s.timestamp + 1, Buffer.from(s.payload))).not.toBe(base);
    expect(standardWebhookV1(s.secret, s.msg_id, s.timestamp, Buffer.from(`${s.payload} `))).not.toBe(base);
    expect(standardWebhookV1(generateWebhookSecret(), s.msg_id, s.timestamp, Buffer.from(s.payload))).not.toBe(base);
  });

  it("signs the body's bytes as they are (not re-encoded) after `id.timestamp.`", () => {
    const bytes = new Uint8Array([0xff, 0x00, 0x7b]);
    expect([...standardWebhookContent("msg_1", 1700000000, bytes)]).toEqual([
      ...Buffer.from("msg_1.1700000000.", "utf8"),
      0xff,
      0x00,
      0x7b,
    ]);
    expect(standardWebhookContent("msg_é", "5", Buffer.from("ü")).toString("utf8")).toBe("msg_é.5.ü");
  });

  it("refuses a secret that is not whsec_ and at least 16 bytes, without quoting it", () => {
    const s = vectors.sign[0]!;
    const bad = [
      s.secret.slice("whsec_".length), // no prefix
      `whsec_${Buffer.from("fifteen-bytes!!").toString("base64")}`, // 15 bytes
      `whsec_${Buffer.from("sixteen-bytes!!!").toString("base64")}!`, // not base64
      `xwhsec_${Buffer.from("sixteen-bytes!!!").toString("base64")}`,
      "",
    ];
    for (const secret of bad) {
      let thrown: unknown;
      try {
        standardWebhookV1(secret, s.msg_id, s.timestamp, Buffer.from(s.payload));
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ValidationError);
      if (secret) expect(String((thrown as Error).message)).not.toContain(secret);
    }
    // 16 bytes is enough
    const sixteen = `whsec_${Buffer.from("sixteen-bytes!!!").toString("base64")}`;
    expect(standardWebhookV1(sixteen, s.msg_id, s.timestamp, Buffer.from(s.payload))).toMatch(
      /^v1,[A-Za-z0-9+/]{43}=$/,
    );
  });

  it("issues secrets of 32 random bytes", () => {
    const a = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice("whsec_".length), "base64")).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(a);
  });
});
