/**
 * Verification against the vendors' own worked examples and the upstream Standard Webhooks vectors
 * (`test/data/vectors/`, copied from shared/), and against signatures made the way each sender makes them.
 */
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { sign as octokitSign } from "@octokit/webhooks-methods";
import { githubSignature, verifyGithubSignature } from "./github-signature.js";
import { slackSignature, verifySlackSignature } from "./slack-signature.js";
import {
  STANDARD_WEBHOOKS_TOLERANCE_SECONDS,
  standardWebhookHeadersPlausible,
  standardWebhookSignature,
  verifyStandardWebhook,
} from "./standard-webhooks.js";

const vectors = (p: string) =>
  JSON.parse(readFileSync(new URL(`../../../../test/data/vectors/${p}`, import.meta.url), "utf8")) as Record<
    string,
    unknown
  >;

describe("GitHub X-Hub-Signature-256", () => {
  const ex = vectors("webhook-signatures.json").github as {
    secret: string;
    payload: string;
    expected_header: { "X-Hub-Signature-256": string };
  };
  it("matches GitHub's documented example", () => {
    expect(githubSignature(ex.secret, Buffer.from(ex.payload))).toBe(ex.expected_header["X-Hub-Signature-256"]);
    expect(verifyGithubSignature(ex.secret, Buffer.from(ex.payload), ex.expected_header["X-Hub-Signature-256"])).toBe(
      true,
    );
  });
  it("accepts what @octokit/webhooks-methods signs, refuses any change", async () => {
    const body = readFileSync(
      new URL("../../../../test/data/fixtures/github/pull_request.opened.json", import.meta.url),
    );
    const sig = await octokitSign("octo-secret-0123456789", body.toString("utf8"));
    expect(verifyGithubSignature("octo-secret-0123456789", body, sig)).toBe(true);
    const flipped = Buffer.from(body);
    flipped[10] = (flipped[10] ?? 0) ^ 1;
    expect(verifyGithubSignature("octo-secret-0123456789", flipped, sig)).toBe(false);
    expect(
      verifyGithubSignature(
        "octo-secret-0123456789",
        Buffer.from(JSON.stringify(JSON.parse(body.toString("utf8")))),
        sig,
      ),
    ).toBe(false);
    expect(verifyGithubSignature("wrong-secret-0123456789", body, sig)).toBe(false);
    expect(verifyGithubSignature("octo-secret-0123456789", body, undefined)).toBe(false);
    expect(verifyGithubSignature("octo-secret-0123456789", body, sig.replace("sha256=", "sha1="))).toBe(false);
  });
});

describe("Slack v0 signature", () => {
  const ex = vectors("webhook-signatures.json").slack as {
    signing_secret: string;
    headers: { "X-Slack-Request-Timestamp": string };
    raw_body: string;
    expected_signature: string;
  };
  const ts = ex.headers["X-Slack-Request-Timestamp"];
  it("matches Slack's documented example, within five minutes only", () => {
    expect(slackSignature(ex.signing_secret, ts, Buffer.from(ex.raw_body))).toBe(ex.expected_signature);
    expect(
      verifySlackSignature(ex.signing_secret, Buffer.from(ex.raw_body), ts, ex.expected_signature, Number(ts) + 299),
    ).toBe(true);
    expect(
      verifySlackSignature(ex.signing_secret, Buffer.from(ex.raw_body), ts, ex.expected_signature, Number(ts) + 301),
    ).toBe(false);
    expect(
      verifySlackSignature(ex.signing_secret, Buffer.from(ex.raw_body), ts, ex.expected_signature, Number(ts) - 301),
    ).toBe(false);
    expect(
      verifySlackSignature(ex.signing_secret, Buffer.from(ex.raw_body + " "), ts, ex.expected_signature, Number(ts)),
    ).toBe(false);
    expect(verifySlackSignature("wrong", Buffer.from(ex.raw_body), ts, ex.expected_signature, Number(ts))).toBe(false);
  });
});

describe("Standard Webhooks", () => {
  const v = vectors("standard-webhooks/vectors.json") as {
    sign: { secret: string; msg_id: string; timestamp: number; payload: string; expected_signature: string }[];
    verify: {
      name: string;
      now: number;
      secret?: string;
      secret_variants?: string[];
      headers: Record<string, string>;
      payload: string;
      valid: boolean;
    }[];
  };
  it("signs the upstream fixed vector", () => {
    for (const s of v.sign)
      expect(standardWebhookSignature(s.secret, s.msg_id, String(s.timestamp), Buffer.from(s.payload))).toBe(
        s.expected_signature,
      );
  });
  it.each(v.verify.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const secrets = c.secret_variants ?? [c.secret ?? v.sign[0]?.secret ?? ""];
    for (const secret of secrets) {
      const ok = verifyStandardWebhook(
        [secret],
        {
          id: c.headers["webhook-id"],
          timestamp: c.headers["webhook-timestamp"],
          signature: c.headers["webhook-signature"],
        },
        Buffer.from(c.payload),
        c.now,
      );
      expect(ok).toBe(c.valid);
    }
  });
  it("the plausibility check (before any database read) wants a v1 signature and at most 4,096 characters of header", () => {
    const now = 1_700_000_000;
    const h = (signature: string) => ({ id: "msg_1", timestamp: String(now), signature });
    const v1 = `v1,${"A".repeat(43)}=`;
    expect(standardWebhookHeadersPlausible(h(v1), now)).toBe(true);
    expect(standardWebhookHeadersPlausible(h(`v2,abc ${v1}`), now)).toBe(true);
    expect(standardWebhookHeadersPlausible(h("v2,abc v1a,xyz"), now)).toBe(false);
    expect(standardWebhookHeadersPlausible(h(""), now)).toBe(false);
    expect(standardWebhookHeadersPlausible(h(`${v1} ${"x".repeat(4_096 - v1.length - 1)}`), now)).toBe(true);
    expect(standardWebhookHeadersPlausible(h(`${v1} ${"x".repeat(4_096 - v1.length)}`), now)).toBe(false);
    expect(standardWebhookHeadersPlausible(h(v1), now + STANDARD_WEBHOOKS_TOLERANCE_SECONDS - 1)).toBe(true);
  });

  it("accepts either secret during a rotation", () => {
    const s = v.sign[0]!;
    const headers = { id: s.msg_id, timestamp: String(s.timestamp), signature: s.expected_signature };
    expect(
      verifyStandardWebhook(
        ["whsec_" + Buffer.alloc(24, 7).toString("base64"), s.secret],
        headers,
        Buffer.from(s.payload),
        s.timestamp,
      ),
    ).toBe(true);
  });
});

// Requests signed with the real secret but malformed otherwise: only the secret's holder can make them, yet each must
// be refused — a timestamp that is not plain seconds would slip past the replay window (Number() → NaN compares false).
describe("malformed but correctly signed requests", () => {
  const body = Buffer.from('{"type":"event_callback"}');
  const now = 1_700_000_000;
  const BAD_TIMESTAMPS = [
    "",
    "1700000000abc",
    "x1700000000",
    " 1700000000",
    "1700000000.0",
    "1e9",
    "0x6553f100",
    "1234567890123",
  ];

  it("Slack: a timestamp that is not 1–12 digits is refused even when signed, whatever the clock", () => {
    const secret = "slack-signing-secret-0123";
    for (const ts of BAD_TIMESTAMPS)
      expect(verifySlackSignature(secret, body, ts, slackSignature(secret, ts, body), now)).toBe(false);
    expect(verifySlackSignature(secret, body, undefined, slackSignature(secret, "undefined", body), now)).toBe(false);
    expect(verifySlackSignature(secret, body, String(now), undefined, now)).toBe(false);
  });

  it("Slack: exactly five minutes either way is still accepted, one second more is not", () => {
    const secret = "slack-signing-secret-0123";
    const ts = String(now);
    const sig = slackSignature(secret, ts, body);
    expect(verifySlackSignature(secret, body, ts, sig, now + 300)).toBe(true);
    expect(verifySlackSignature(secret, body, ts, sig, now - 300)).toBe(true);
    expect(verifySlackSignature(secret, body, ts, sig, now + 301)).toBe(false);
  });

  const secret = `whsec_${Buffer.alloc(24, 3).toString("base64")}`;
  const sw = (id: string | undefined, timestamp: string | undefined, signature: string | undefined, at = now) =>
    verifyStandardWebhook([secret], { id, timestamp, signature }, body, at);

  it("Standard Webhooks: a missing, empty or over-long id, or a malformed timestamp, is refused even when signed", () => {
    expect(sw("msg_1", String(now), standardWebhookSignature(secret, "msg_1", String(now), body))).toBe(true);
    expect(sw("", String(now), standardWebhookSignature(secret, "", String(now), body))).toBe(false);
    expect(sw(undefined, String(now), standardWebhookSignature(secret, "undefined", String(now), body))).toBe(false);
    const id256 = "m".repeat(256);
    expect(sw(id256, String(now), standardWebhookSignature(secret, id256, String(now), body))).toBe(true);
    const id257 = "m".repeat(257);
    expect(sw(id257, String(now), standardWebhookSignature(secret, id257, String(now), body))).toBe(false);
    for (const ts of BAD_TIMESTAMPS)
      expect(sw("msg_1", ts, standardWebhookSignature(secret, "msg_1", ts, body))).toBe(false);
    expect(sw("msg_1", undefined, standardWebhookSignature(secret, "msg_1", "undefined", body))).toBe(false);
    expect(sw("msg_1", String(now), undefined)).toBe(false);
    expect(sw("msg_1", String(now), "")).toBe(false);
    const v2 = standardWebhookSignature(secret, "msg_1", String(now), body).replace(/^v1,/, "v2,");
    expect(sw("msg_1", String(now), v2)).toBe(false);
  });

  it("Standard Webhooks: the window edges as upstream has them (past edge refused, future edge accepted)", () => {
    const sign = (ts: number) => standardWebhookSignature(secret, "msg_1", String(ts), body);
    expect(sw("msg_1", String(now - 299), sign(now - 299))).toBe(true);
    expect(sw("msg_1", String(now - 300), sign(now - 300))).toBe(false);
    expect(sw("msg_1", String(now + 300), sign(now + 300))).toBe(true);
    expect(sw("msg_1", String(now + 301), sign(now + 301))).toBe(false);
  });

  it("Standard Webhooks: entries may be separated by spaces and tabs; a malformed secret in the list is skipped, not fatal", () => {
    const good = standardWebhookSignature(secret, "msg_1", String(now), body);
    expect(sw("msg_1", String(now), `v1,AAAA \t${good}`)).toBe(true);
    expect(
      verifyStandardWebhook(
        ["whsec_not base64!", "whsec_c2hvcnQ=", secret],
        { id: "msg_1", timestamp: String(now), signature: good },
        body,
        now,
      ),
    ).toBe(true);
  });

  it("Standard Webhooks: a secret is used as a key only if it is clean base64 of at least 16 bytes", () => {
    const b64 = Buffer.alloc(24, 3).toString("base64");
    for (const bad of [
      `whsec_${b64}!`,
      `whsec_!${b64}`,
      `whsec_ ${b64}`,
      `whsec_${Buffer.alloc(15, 3).toString("base64")}`,
    ]) {
      expect(() => standardWebhookSignature(bad, "msg_1", String(now), body)).toThrow("invalid webhook secret");
    }
    expect(
      standardWebhookSignature(`whsec_${Buffer.alloc(16, 3).toString("base64")}`, "msg_1", String(now), body),
    ).toMatch(/^v1,/);
    expect(standardWebhookSignature(b64, "msg_1", String(now), body)).toBe(
      standardWebhookSignature(`whsec_${b64}`, "msg_1", String(now), body),
    );
  });
});
