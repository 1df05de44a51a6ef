/**
 * The S3 backend through the REAL `@aws-sdk/client-s3` (and `@aws-sdk/s3-request-presigner`) against the loopback S3
 * of `@praxa/testkit` (`s3-server.ts`), which verifies every request's SigV4 signature — header auth with the payload
 * hash, query-string auth of presigned GETs, the x-amz-date window — and answers with S3's XML errors.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { S3Client, PutObjectCommand } from "@aws-sdk/client-s3";
import { Readable } from "node:stream";
import {
  newId,
  NotFoundError,
  UnavailableError,
  ValidationError,
  WorkspaceScopeError,
  type WorkspaceId,
} from "@praxa/core";
import { startS3Server, type S3Server } from "@praxa/testkit";
import { hostileKeys, hostilePrefixes } from "./hostile-keys.fixture.js";
import {
  createObjectStore,
  createS3ObjectStore,
  ObjectTooLargeError,
  parseObjectStoreSettings,
  type ObjectStore,
  type S3ObjectStoreBackend,
} from "./index.js";

const KMS_KEY = "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555";
let server: S3Server;
let backend: S3ObjectStoreBackend;
let A: WorkspaceId;
let B: WorkspaceId;
let a: ObjectStore;
let b: ObjectStore;

const make = (
  overrides: { secretAccessKey?: string; accessKeyId?: string; kms?: boolean } = {},
): S3ObjectStoreBackend =>
  createS3ObjectStore({
    bucket: "praxa-test",
    region: server.region,
    endpoint: server.url,
    credentials: {
      accessKeyId: overrides.accessKeyId ?? server.credentials.accessKeyId,
      secretAccessKey: overrides.secretAccessKey ?? server.credentials.secretAccessKey,
    },
    ...(overrides.kms === false ? {} : { kmsKeyId: KMS_KEY }),
    clientConfig: { maxAttempts: 1 },
  });

beforeAll(async () => {
  server = await startS3Server();
  backend = make();
  A = newId("workspace");
  B = newId("workspace");
  a = backend.forWorkspace({ workspaceId: A });
  b = backend.forWorkspace({ workspaceId: B });
});
afterAll(async () => {
  backend.client.destroy();
  await server.close();
});

const xmlCode = (xml: string): string | undefined => /<Code>([^<]+)<\/Code>/.exec(xml)?.[1];

describe("S3 object store (real client ↔ loopback S3, SigV4 verified)", () => {
  it("puts with SSE-KMS under the configured key, gets (stream and bytes) and heads", async () => {
    const key = a.key("exports", "e1.json");
    const info = await a.put(key, Readable.from([Buffer.from('{"a":'), Buffer.from("1}")]), {
      contentType: "application/json",
    });
    expect(info).toMatchObject({ key, size: 7, contentType: "application/json" });
    expect(info.etag).toMatch(/^[0-9a-f]{32}$/);
    const stored = server.objects().get(key);
    expect(stored).toMatchObject({ contentType: "application/json", sse: "aws:kms", sseKmsKeyId: KMS_KEY });
    const put = server.requests.filter((r) => r.method === "PUT").at(-1);
    expect(put?.headers["x-amz-server-side-encryption"]).toBe("aws:kms");
    expect(put?.headers["x-amz-server-side-encryption-aws-kms-key-id"]).toBe(KMS_KEY);
    expect(put?.headers["x-amz-content-sha256"]).toMatch(/^[0-9a-f]{64}$/); // the payload is signed, not UNSIGNED

    const got = await a.get(key);
    expect(got.info).toMatchObject({ key, size: 7, contentType: "application/json", etag: info.etag });
    const parts: Buffer[] = [];
    for await (const c of got.body as AsyncIterable<Buffer>) parts.push(c);
    expect(Buffer.concat(parts).toString()).toBe('{"a":1}');
    expect((await a.getBytes(key)).bytes.toString()).toBe('{"a":1}');
    expect(await a.head(key)).toMatchObject({ key, size: 7, contentType: "application/json", etag: info.etag });
  });

  it("without a KMS key id, puts carry no SSE-KMS headers", async () => {
    const plain = make({ kms: false });
    const s = plain.forWorkspace({ workspaceId: A });
    await s.put(s.key("plain"), "x", { contentType: "text/plain" });
    expect(server.objects().get(s.key("plain"))?.sse).toBeUndefined();
    plain.client.destroy();
  });

  it("a missing object: get → NotFoundError (S3 NoSuchKey), head → undefined, delete is a no-op", async () => {
    const before = server.calls["GetObject"] ?? 0;
    await expect(a.get(a.key("missing"))).rejects.toBeInstanceOf(NotFoundError);
    expect(server.calls["GetObject"]).toBe(before + 1);
    expect(await a.head(a.key("missing"))).toBeUndefined();
    await expect(a.delete(a.key("missing"))).resolves.toBeUndefined();
  });

  it("refuses a put over its bound before any request", async () => {
    const before = server.requests.length;
    await expect(
      a.put(a.key("big"), "x".repeat(11), { contentType: "text/plain", maxBytes: 10 }),
    ).rejects.toBeInstanceOf(ObjectTooLargeError);
    expect(server.requests.length).toBe(before);
  });

  it("lists by prefix with continuation tokens, in key order, never another workspace; a forged token is refused", async () => {
    for (const n of ["l3", "l1", "l5", "l2", "l4"]) await a.put(a.key("list", n), n, { contentType: "text/plain" });
    await b.put(b.key("list", "l0"), "b", { contentType: "text/plain" });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await a.list(`ws/${A}/list/`, { limit: 2, ...(cursor !== undefined ? { cursor } : {}) });
      seen.push(...page.objects.map((o) => o.key));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(["l1", "l2", "l3", "l4", "l5"].map((n) => `ws/${A}/list/${n}`));
    const listed = server.requests.filter((r) => r.path.includes("list-type=2")).slice(-3);
    expect(listed.every((r) => new URLSearchParams(r.path.split("?")[1]).get("prefix") === `ws/${A}/list/`)).toBe(true);
    await expect(a.list(a.prefix, { cursor: "bm90LWEtdG9rZW4" })).rejects.toBeInstanceOf(ValidationError);
  });

  it("deletes an object, a sub-prefix and the whole workspace (DeleteObjects), never another workspace", async () => {
    for (const n of ["1", "2", "3"]) await a.put(a.key("del", n), n, { contentType: "text/plain" });
    await b.put(b.key("del", "1"), "b", { contentType: "text/plain" });
    await a.delete(a.key("del", "1"));
    expect(server.objects().has(a.key("del", "1"))).toBe(false);
    const batches = server.calls["DeleteObjects"] ?? 0;
    expect(await a.deletePrefix(`ws/${A}/del/`)).toBe(2);
    expect(server.calls["DeleteObjects"]).toBe(batches + 1);
    expect(await a.deletePrefix(a.prefix)).toBeGreaterThan(0);
    expect([...server.objects().keys()].filter((k) => k.startsWith(a.prefix))).toEqual([]);
    expect((await b.getBytes(b.key("del", "1"))).bytes.toString()).toBe("b");
  });

  it("a presigned download link works, and a tampered or expired one is refused with S3 errors", async () => {
    const key = a.key("exports", "archive.tgz");
    await a.put(key, "archive bytes", { contentType: "application/gzip" });
    await b.put(b.key("exports", "archive.tgz"), "B archive", { contentType: "application/gzip" });
    const link = await a.createDownloadLink(key, { expiresInSeconds: 60 });
    if (link.kind !== "presigned-url") throw new Error("expected a presigned URL");
    const url = new URL(link.url);
    expect(url.searchParams.get("X-Amz-Expires")).toBe("60");
    expect(url.searchParams.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
    const ok = await fetch(link.url);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("archive bytes");

    // another workspace's key in the same signed URL
    const swapped = new URL(link.url);
    swapped.pathname = swapped.pathname.replace(A, B);
    const r1 = await fetch(swapped);
    expect(r1.status).toBe(403);
    expect(xmlCode(await r1.text())).toBe("SignatureDoesNotMatch");
    // a longer lifetime
    const extended = new URL(link.url);
    extended.searchParams.set("X-Amz-Expires", "604800");
    const r2 = await fetch(extended);
    expect(r2.status).toBe(403);
    expect(xmlCode(await r2.text())).toBe("SignatureDoesNotMatch");
    // a flipped signature
    const flipped = new URL(link.url);
    const sig = flipped.searchParams.get("X-Amz-Signature") ?? "";
    flipped.searchParams.set("X-Amz-Signature", (sig[0] === "a" ? "b" : "a") + sig.slice(1));
    const r3 = await fetch(flipped);
    expect(r3.status).toBe(403);
    expect(xmlCode(await r3.text())).toBe("SignatureDoesNotMatch");
    // expired: the server's clock moves past X-Amz-Date + X-Amz-Expires
    server.advanceClock(61_000);
    try {
      const r4 = await fetch(link.url);
      expect(r4.status).toBe(403);
      const body = await r4.text();
      expect(xmlCode(body)).toBe("AccessDenied");
      expect(body).toContain("Request has expired");
    } finally {
      server.advanceClock(-61_000);
    }
    // no link to a missing object; an object deleted behind a valid link: NoSuchKey
    await expect(a.createDownloadLink(a.key("exports", "never-written"))).rejects.toBeInstanceOf(NotFoundError);
    const doomed = a.key("exports", "doomed");
    await a.put(doomed, "x", { contentType: "text/plain" });
    const gone = await a.createDownloadLink(doomed);
    if (gone.kind !== "presigned-url") throw new Error("expected a presigned URL");
    await a.delete(doomed);
    const r5 = await fetch(gone.url);
    expect(r5.status).toBe(404);
    expect(xmlCode(await r5.text())).toBe("NoSuchKey");
  });

  it("a wrong secret is refused (SignatureDoesNotMatch), an unknown key id too (InvalidAccessKeyId); nothing is stored", async () => {
    const wrong = make({ secretAccessKey: "not-the-secret" });
    const w = wrong.forWorkspace({ workspaceId: A });
    const err = (await w
      .put(w.key("wrong"), "x", { contentType: "text/plain" })
      .catch((e: unknown) => e)) as UnavailableError;
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.details).toMatchObject({ operation: "PutObject", s3Error: "SignatureDoesNotMatch" });
    expect(server.objects().has(w.key("wrong"))).toBe(false);
    wrong.client.destroy();
    const unknown = make({ accessKeyId: "AKIAUNKNOWNUNKNOWN00" });
    const u = unknown.forWorkspace({ workspaceId: A });
    await expect(u.getBytes(a.key("exports", "e1.json"))).rejects.toMatchObject({
      details: { s3Error: "InvalidAccessKeyId" },
    });
    unknown.client.destroy();
  });

  it("a body changed after signing is refused (XAmzContentSHA256Mismatch); a changed signed header too", async () => {
    const client = new S3Client({
      region: server.region,
      endpoint: server.url,
      forcePathStyle: true,
      credentials: server.credentials,
      maxAttempts: 1,
    });
    let tamper: ((req: { body: unknown; headers: Record<string, string> }) => void) | undefined;
    client.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { body: unknown; headers: Record<string, string> };
        tamper?.(req);
        return next(args);
      },
      { step: "deserialize", name: "tamperAfterSigning" },
    );
    const key = a.key("tampered");
    tamper = (req) => {
      req.body = Buffer.from("evil");
    };
    await expect(
      client.send(
        new PutObjectCommand({ Bucket: "praxa-test", Key: key, Body: Buffer.from("good"), ContentType: "text/plain" }),
      ),
    ).rejects.toMatchObject({
      name: "XAmzContentSHA256Mismatch",
    });
    tamper = (req) => {
      req.headers["content-type"] = "text/html";
    };
    await expect(
      client.send(
        new PutObjectCommand({ Bucket: "praxa-test", Key: key, Body: Buffer.from("good"), ContentType: "text/plain" }),
      ),
    ).rejects.toMatchObject({
      name: "SignatureDoesNotMatch",
    });
    expect(server.objects().has(key)).toBe(false);
    client.destroy();
  });

  it("UNSIGNED-PAYLOAD is accepted with header auth; a body changed after signing is then caught by its CRC32 (BadDigest)", async () => {
    const client = new S3Client({
      region: server.region,
      endpoint: server.url,
      forcePathStyle: true,
      credentials: server.credentials,
      maxAttempts: 1,
    });
    // Before signing: declare the payload unsigned (the signer then signs that literal instead of the body's hash).
    client.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
        return next(args);
      },
      { step: "build", name: "unsignedPayload" },
    );
    let tamper = false;
    client.middlewareStack.add(
      (next) => async (args) => {
        if (tamper) (args.request as { body: unknown }).body = Buffer.from("evil");
        return next(args);
      },
      { step: "deserialize", name: "tamperAfterSigning" },
    );
    const key = a.key("unsigned");
    await client.send(
      new PutObjectCommand({ Bucket: "praxa-test", Key: key, Body: Buffer.from("good"), ContentType: "text/plain" }),
    );
    const put = server.requests.filter((r) => r.method === "PUT").at(-1);
    expect(put?.headers["x-amz-content-sha256"]).toBe("UNSIGNED-PAYLOAD");
    expect(put?.headers["x-amz-checksum-crc32"]).toBeDefined();
    expect(server.objects().get(key)?.body.toString()).toBe("good");
    tamper = true;
    await expect(
      client.send(
        new PutObjectCommand({ Bucket: "praxa-test", Key: key, Body: Buffer.from("good"), ContentType: "text/plain" }),
      ),
    ).rejects.toMatchObject({ name: "BadDigest" });
    expect(server.objects().get(key)?.body.toString()).toBe("good");
    client.destroy();
  });

  it("a request signed outside the 15-minute x-amz-date window is refused (RequestTimeTooSkewed)", async () => {
    const fresh = make();
    const s = fresh.forWorkspace({ workspaceId: A });
    server.advanceClock(20 * 60_000);
    try {
      await expect(s.put(s.key("skewed"), "x", { contentType: "text/plain" })).rejects.toMatchObject({
        details: { s3Error: "RequestTimeTooSkewed" },
      });
    } finally {
      server.advanceClock(-20 * 60_000);
    }
    expect(server.objects().has(s.key("skewed"))).toBe(false);
    fresh.client.destroy();
  });

  it("createObjectStore builds the S3 backend from the settings", async () => {
    const settings = parseObjectStoreSettings({
      PRAXA_OBJECT_STORE: "s3",
      PRAXA_S3_BUCKET: "praxa-test",
      PRAXA_S3_REGION: server.region,
      PRAXA_S3_ENDPOINT: server.url,
      PRAXA_S3_KMS_KEY_ID: KMS_KEY,
    });
    const built = await createObjectStore(settings, { s3: { credentials: server.credentials } });
    expect(built.kind).toBe("s3");
    const s = built.forWorkspace({ workspaceId: A });
    await s.put(s.key("from-settings"), "x", { contentType: "text/plain" });
    expect(server.objects().get(s.key("from-settings"))?.sseKmsKeyId).toBe(KMS_KEY);
    (built as S3ObjectStoreBackend).client.destroy();
  });
});

describe("S3 object store: the workspace prefix is enforced before any request reaches S3", () => {
  it.each(
    hostileKeys("ws_01jfakeownxxxxxxxxxxxxxxxx" as WorkspaceId, "ws_01jfakeotherxxxxxxxxxxxxx" as WorkspaceId).map(
      ([name]) => [name],
    ),
  )("refuses %s with no request sent", async (name) => {
    const [, key] = hostileKeys(A, B).find(([n]) => n === name) ?? [];
    const before = server.requests.length;
    for (const attempt of [
      a.put(key as string, "evil", { contentType: "text/plain" }),
      a.get(key as string),
      a.getBytes(key as string),
      a.head(key as string),
      a.delete(key as string),
      a.createDownloadLink(key as string),
    ]) {
      await expect(attempt).rejects.toBeInstanceOf(WorkspaceScopeError);
    }
    expect(server.requests.length).toBe(before);
  });

  it.each(
    hostilePrefixes("ws_01jfakeownxxxxxxxxxxxxxxxx" as WorkspaceId, "ws_01jfakeotherxxxxxxxxxxxxx" as WorkspaceId).map(
      ([name]) => [name],
    ),
  )("refuses the prefix %s with no request sent", async (name) => {
    const [, prefix] = hostilePrefixes(A, B).find(([n]) => n === name) ?? [];
    const before = server.requests.length;
    await expect(a.list(prefix as string)).rejects.toBeInstanceOf(WorkspaceScopeError);
    await expect(a.deletePrefix(prefix as string)).rejects.toBeInstanceOf(WorkspaceScopeError);
    expect(server.requests.length).toBe(before);
  });

  it("workspace B's object exists in the bucket, yet A's store cannot name it", async () => {
    const key = b.key("secret.txt");
    await b.put(key, "B only", { contentType: "text/plain" });
    const before = server.requests.length;
    await expect(a.getBytes(key)).rejects.toBeInstanceOf(WorkspaceScopeError);
    await expect(a.createDownloadLink(key)).rejects.toBeInstanceOf(WorkspaceScopeError);
    await expect(a.deletePrefix(b.prefix)).rejects.toBeInstanceOf(WorkspaceScopeError);
    expect(server.requests.length).toBe(before);
    expect((await b.getBytes(key)).bytes.toString()).toBe("B only");
  });
});
