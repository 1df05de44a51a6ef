/**
 * Verification against the vendors' own worked examples and the upstream Standard Webhooks vectors
 * (`test/data/vectors/`, copied from shared/), and against signatures made the way each sender makes them.
 */
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { sign as octokitSign } from "@octokit/webhooks-methods";
import { githubSignature, verifyGithubSignature } from "./github-signature.js";
import { slackSignature, verifySlackSignature } from "./slack-signature.js";
import { standardWebhookSignature, verifyStandardWebhook } from "./standard-webhooks.js";

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
