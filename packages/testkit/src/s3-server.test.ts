/**
 * The loopback S3 without an SDK: what an unsigned or malformed request gets back (S3's XML errors, HEAD errors with
 * no body). The signed paths are driven through the real `@aws-sdk/client-s3` in `packages/object-store/src/s3.test.ts`.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startS3Server, type S3Server } from "./s3-server.js";

let server: S3Server;
beforeAll(async () => {
  server = await startS3Server();
});
afterAll(async () => {
  await server.close();
});

const code = (xml: string): string | undefined => /<Code>([^<]+)<\/Code>/.exec(xml)?.[1];

describe("loopback S3: unauthenticated and malformed requests", () => {
  it("an unsigned GET is AccessDenied with an S3 XML error body; nothing is served", async () => {
    const res = await fetch(`${server.url}/praxa-test/ws/anything`);
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toBe("application/xml");
    const body = await res.text();
    expect(body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>AccessDenied<\/Code><Message>/);
    expect(body).toContain("<RequestId>");
  });

  it("a forged Authorization header with an unknown key id is InvalidAccessKeyId; a HEAD error carries no body", async () => {
    const auth = `AWS4-HMAC-SHA256 Credential=AKIAFORGED0000000000/20261207/${server.region}/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${"0".repeat(64)}`;
    const amzDate = new Date()
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d{3}Z$/, "Z");
    const headers = {
      authorization: auth.replace("20261207", amzDate.slice(0, 8)),
      "x-amz-date": amzDate,
      "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
    };
    const res = await fetch(`${server.url}/praxa-test/k`, { headers });
    expect(res.status).toBe(403);
    expect(code(await res.text())).toBe("InvalidAccessKeyId");
    const head = await fetch(`${server.url}/praxa-test/k`, { method: "HEAD", headers });
    expect(head.status).toBe(403);
    expect(await head.text()).toBe("");
  });

  it("a presigned-looking URL missing its parameters is AuthorizationQueryParametersError", async () => {
    const res = await fetch(
      `${server.url}/praxa-test/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=${"0".repeat(64)}`,
    );
    expect(res.status).toBe(400);
    expect(code(await res.text())).toBe("AuthorizationQueryParametersError");
  });

  it("a bucket name S3 would refuse is InvalidBucketName", async () => {
    const res = await fetch(`${server.url}/A_B/k`);
    expect(res.status).toBe(400);
    expect(code(await res.text())).toBe("InvalidBucketName");
  });
});
