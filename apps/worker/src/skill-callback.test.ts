/**
 * A Skill's callback is signed the Standard Webhooks way: the upstream fixed vector (test/data/vectors, copied from
 * the spec's repository) must come out byte for byte, so any receiver's library verifies it.
 */
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { signStandardWebhook } from "./skill-callback.js";

const vectors = JSON.parse(
  readFileSync(new URL("../../../test/data/vectors/standard-webhooks/vectors.json", import.meta.url), "utf8"),
) as { sign: { secret: string; msg_id: string; timestamp: number; payload: string; expected_signature: string }[] };

describe("callback signatures", () => {
  it("sign the upstream Standard Webhooks vector", () => {
    expect(vectors.sign.length).toBeGreaterThan(0);
    for (const s of vectors.sign)
      expect(signStandardWebhook(s.secret, s.msg_id, s.timestamp, s.payload)).toBe(s.expected_signature);
  });
  it("change with the id, the timestamp, the body and the secret", () => {
    const s = vectors.sign[0]!;
    const base = signStandardWebhook(s.secret, s.msg_id, s.timestamp, s.payload);
    expect(signStandardWebhook(s.secret, `${s.msg_id}x`, s.timestamp, s.payload)).not.toBe(base);
    expect(signStandardWebhook(s.secret, s.msg_id, s.timestamp + 1, s.payload)).not.toBe(base);
    expect(signStandardWebhook(s.secret, s.msg_id, s.timestamp, `${s.payload} `)).not.toBe(base);
    expect(
      signStandardWebhook(`whsec_${Buffer.from("another").toString("base64")}`, s.msg_id, s.timestamp, s.payload),
    ).not.toBe(base);
  });
});
