/**
 * The local-directory backend on the real filesystem (a temp dir): round trips, modes, atomic replace, size bounds,
 * pagination, deletion, download tokens, and the workspace prefix — every hostile key of `hostile-keys.fixture.ts`
 * refused with a `WorkspaceScopeError` before anything touches the disk.
 */
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
  ConfigError,
  newId,
  NotFoundError,
  SignatureInvalidError,
  ValidationError,
  WorkspaceScopeError,
  type WorkspaceId,
} from "@praxa/core";
import { hostileKeys, hostilePrefixes } from "./hostile-keys.fixture.js";
import {
  createLocalObjectStore,
  createObjectStore,
  ObjectTooLargeError,
  parseObjectStoreSettings,
  signDownloadToken,
  verifyDownloadToken,
  type LocalObjectStoreBackend,
  type ObjectStore,
} from "./index.js";

let dir: string;
let backend: LocalObjectStoreBackend;
let A: WorkspaceId;
let B: WorkspaceId;
let a: ObjectStore;
let b: ObjectStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "praxa-objects-"));
  backend = await createLocalObjectStore({ dir: join(dir, "store"), linkSecret: Buffer.alloc(32, 7) });
  A = newId("workspace");
  B = newId("workspace");
  a = backend.forWorkspace({ workspaceId: A });
  b = backend.forWorkspace({ workspaceId: B });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const text = async (body: Readable): Promise<string> => {
  const parts: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts).toString("utf8");
};

describe("local object store: objects", () => {
  it("puts, gets (stream and bytes) and heads an object under ws/<id>/, files 0600 in 0700 directories", async () => {
    const key = a.key("exports", "e1.json");
    expect(key).toBe(`ws/${A}/exports/e1.json`);
    const info = await a.put(key, '{"hello":"world"}', { contentType: "application/json" });
    expect(info).toMatchObject({ key, size: 17, contentType: "application/json" });
    expect(info.etag).toMatch(/^[0-9a-f]{64}$/);
    const got = await a.get(key);
    expect(got.info).toMatchObject({ key, size: 17, contentType: "application/json", etag: info.etag });
    expect(await text(got.body)).toBe('{"hello":"world"}');
    expect((await a.getBytes(key)).bytes.toString("utf8")).toBe('{"hello":"world"}');
    expect(await a.head(key)).toMatchObject({ key, size: 17, contentType: "application/json" });

    const root = join(dir, "store");
    for (const d of [root, join(root, "ws"), join(root, "ws", A)]) expect((await stat(d)).mode & 0o777).toBe(0o700);
    const files = await readdir(join(root, "ws", A));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^[0-9a-f]{64}$/); // the key never becomes a path
    expect((await stat(join(root, "ws", A, files[0] ?? ""))).mode & 0o777).toBe(0o600);
  });

  it("streams a put from a Readable and keeps empty objects", async () => {
    const key = a.key("logs", "run.ndjson");
    await a.put(key, Readable.from([Buffer.from("line 1\n"), Buffer.from("line 2\n")]), {
      contentType: "application/x-ndjson",
    });
    expect((await a.getBytes(key)).bytes.toString()).toBe("line 1\nline 2\n");
    await a.put(a.key("empty"), new Uint8Array(0), { contentType: "application/octet-stream" });
    expect(await a.head(a.key("empty"))).toMatchObject({ size: 0 });
  });

  it("a missing object: get → NotFoundError, head → undefined, delete is a no-op", async () => {
    await expect(a.get(a.key("nope"))).rejects.toBeInstanceOf(NotFoundError);
    await expect(a.getBytes(a.key("nope"))).rejects.toBeInstanceOf(NotFoundError);
    expect(await a.head(a.key("nope"))).toBeUndefined();
    await expect(a.delete(a.key("nope"))).resolves.toBeUndefined();
  });

  it("replaces atomically: a reader that opened the old object still reads the old bytes; the new one sees the new", async () => {
    const key = a.key("doc");
    await a.put(key, "old contents", { contentType: "text/plain" });
    const before = await a.get(key);
    await a.put(key, "new contents, longer", { contentType: "text/plain; charset=utf-8" });
    expect(await text(before.body)).toBe("old contents");
    const after = await a.getBytes(key);
    expect(after.bytes.toString()).toBe("new contents, longer");
    expect(after.info.contentType).toBe("text/plain; charset=utf-8");
  });

  it("refuses a put over its size bound: ObjectTooLargeError, the previous object intact, no temp file left", async () => {
    const key = a.key("bounded");
    await a.put(key, "keep me", { contentType: "text/plain" });
    const big = Readable.from(
      (function* () {
        for (let i = 0; i < 10; i++) yield Buffer.alloc(1000, 0x61);
      })(),
    );
    await expect(a.put(key, big, { contentType: "text/plain", maxBytes: 5000 })).rejects.toBeInstanceOf(
      ObjectTooLargeError,
    );
    await expect(a.put(key, "x".repeat(11), { contentType: "text/plain", maxBytes: 10 })).rejects.toMatchObject({
      code: "OBJECT_TOO_LARGE",
      httpStatus: 413,
    });
    expect((await a.getBytes(key)).bytes.toString()).toBe("keep me");
    expect(await readdir(join(dir, "store", "ws", A))).toHaveLength(1);
    await expect(a.getBytes(key, { maxBytes: 3 })).rejects.toBeInstanceOf(ObjectTooLargeError);
    // the store's own cap bounds what a caller may ask for
    const small = await createLocalObjectStore({ dir: join(dir, "small"), maxObjectBytes: 4 });
    const s = small.forWorkspace({ workspaceId: A });
    await expect(s.put(s.key("x"), "12345", { contentType: "text/plain", maxBytes: 1_000_000 })).rejects.toBeInstanceOf(
      ObjectTooLargeError,
    );
  });

  it("refuses a content type that is not a MIME type", async () => {
    for (const contentType of ["", "text", "text/plain\r\nx-evil: 1", "a".repeat(300) + "/b"]) {
      await expect(a.put(a.key("ct"), "x", { contentType })).rejects.toBeInstanceOf(ValidationError);
    }
  });

  it("lists by prefix in key order with pagination, never another workspace, and refuses a forged cursor", async () => {
    for (const n of ["e3", "e1", "e5", "e2", "e4"])
      await a.put(a.key("exports", `${n}.tgz`), n, { contentType: "application/gzip" });
    await a.put(a.key("other", "x"), "x", { contentType: "text/plain" });
    await b.put(b.key("exports", "e9.tgz"), "b", { contentType: "application/gzip" });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await a.list(`ws/${A}/exports/`, { limit: 2, ...(cursor !== undefined ? { cursor } : {}) });
      seen.push(...page.objects.map((o) => o.key));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(["e1", "e2", "e3", "e4", "e5"].map((n) => `ws/${A}/exports/${n}.tgz`));
    expect((await a.list(`ws/${A}/exports/e`)).objects).toHaveLength(5); // a partial last segment
    expect((await a.list(a.prefix)).objects.map((o) => o.key)).not.toContain(`ws/${B}/exports/e9.tgz`);
    const forged = Buffer.from(`ws/${B}/exports/e0`, "utf8").toString("base64url");
    await expect(a.list(a.prefix, { cursor: forged })).rejects.toBeInstanceOf(WorkspaceScopeError);
    await expect(a.list(a.prefix, { cursor: "!!" })).rejects.toBeInstanceOf(ValidationError);
    await expect(a.list(a.prefix, { limit: 0 })).rejects.toBeInstanceOf(ValidationError);
  });

  it("deletes one object, a sub-prefix, and the whole workspace (its directory gone), never another workspace", async () => {
    for (const n of ["1", "2", "3"]) await a.put(a.key("exports", n), n, { contentType: "text/plain" });
    for (const n of ["1", "2"]) await a.put(a.key("logs", n), n, { contentType: "text/plain" });
    await b.put(b.key("exports", "1"), "b", { contentType: "text/plain" });
    await a.delete(a.key("exports", "1"));
    expect(await a.head(a.key("exports", "1"))).toBeUndefined();
    expect(await a.deletePrefix(`ws/${A}/exports/`)).toBe(2);
    expect((await a.list(a.prefix)).objects.map((o) => o.key)).toEqual([`ws/${A}/logs/1`, `ws/${A}/logs/2`]);
    expect(await a.deletePrefix(a.prefix)).toBe(2);
    await expect(stat(join(dir, "store", "ws", A))).rejects.toMatchObject({ code: "ENOENT" });
    expect((await b.getBytes(b.key("exports", "1"))).bytes.toString()).toBe("b");
    expect(await a.deletePrefix(a.prefix)).toBe(0);
  });
});

describe("local object store: download tokens", () => {
  it("mints a token the backend verifies; a tampered, foreign-secret or expired token is refused", async () => {
    const key = a.key("exports", "e1.tgz");
    await a.put(key, "archive", { contentType: "application/gzip" });
    const link = await a.createDownloadLink(key, { expiresInSeconds: 60 });
    if (link.kind !== "local-token") throw new Error("expected a local token");
    const claims = backend.verifyDownloadToken(link.token);
    expect(claims).toEqual({ workspaceId: A, key, expiresAt: link.expiresAt });
    expect((await backend.forWorkspace(claims).getBytes(claims.key)).bytes.toString()).toBe("archive");

    const [v, payload = "", mac = ""] = link.token.split(".");
    const otherPayload = Buffer.from(
      JSON.stringify({ w: B, k: `ws/${B}/exports/e1.tgz`, e: Math.floor(link.expiresAt.getTime() / 1000) }),
    ).toString("base64url");
    const longer = Buffer.from(
      JSON.stringify({ w: A, k: key, e: Math.floor(link.expiresAt.getTime() / 1000) + 86_400 }),
    ).toString("base64url");
    const flipped = (mac[0] === "A" ? "B" : "A") + mac.slice(1);
    for (const bad of [
      `${v}.${otherPayload}.${mac}`,
      `${v}.${longer}.${mac}`,
      `${v}.${payload}.${flipped}`,
      `v2.${payload}.${mac}`,
      "",
      "v1..",
    ]) {
      expect(() => backend.verifyDownloadToken(bad)).toThrow(SignatureInvalidError);
    }
    expect(() => verifyDownloadToken(link.token, Buffer.alloc(32, 8))).toThrow(SignatureInvalidError);
    expect(() => backend.verifyDownloadToken(link.token, new Date(link.expiresAt.getTime() + 1000))).toThrow(
      SignatureInvalidError,
    );
    // a token signed with the right secret but naming a key outside its own workspace is still refused
    const crossing = signDownloadToken({ workspaceId: A, key, expiresAt: link.expiresAt }, Buffer.alloc(32, 7)).split(
      ".",
    );
    const evil = Buffer.from(JSON.stringify({ w: A, k: `ws/${B}/x`, e: 9_999_999_999 })).toString("base64url");
    expect(() => backend.verifyDownloadToken(`v1.${evil}.${crossing[2] ?? ""}`)).toThrow(SignatureInvalidError);
  });

  it("refuses a link for a missing object and a lifetime over an hour", async () => {
    await expect(a.createDownloadLink(a.key("missing"))).rejects.toBeInstanceOf(NotFoundError);
    await a.put(a.key("x"), "x", { contentType: "text/plain" });
    await expect(a.createDownloadLink(a.key("x"), { expiresInSeconds: 3601 })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe("local object store: the workspace prefix", () => {
  it.each(
    hostileKeys("ws_01jfakeownxxxxxxxxxxxxxxxx" as WorkspaceId, "ws_01jfakeotherxxxxxxxxxxxxx" as WorkspaceId).map(
      ([name]) => [name],
    ),
  )("refuses %s on every operation, before any I/O", async (name) => {
    const [, key] = hostileKeys(A, B).find(([n]) => n === name) ?? [];
    const fresh = await createLocalObjectStore({ dir: join(dir, "fresh") });
    const store = fresh.forWorkspace({ workspaceId: A });
    const attempts: Promise<unknown>[] = [
      store.put(key as string, "evil", { contentType: "text/plain" }),
      store.get(key as string),
      store.getBytes(key as string),
      store.head(key as string),
      store.delete(key as string),
      store.createDownloadLink(key as string),
    ];
    for (const attempt of attempts) await expect(attempt).rejects.toBeInstanceOf(WorkspaceScopeError);
    expect(await readdir(join(dir, "fresh", "ws"))).toEqual([]); // not even the workspace's directory was made
  });

  it.each(
    hostilePrefixes("ws_01jfakeownxxxxxxxxxxxxxxxx" as WorkspaceId, "ws_01jfakeotherxxxxxxxxxxxxx" as WorkspaceId).map(
      ([name]) => [name],
    ),
  )("refuses the listing/deletion prefix %s", async (name) => {
    await b.put(b.key("keep"), "b", { contentType: "text/plain" });
    const [, prefix] = hostilePrefixes(A, B).find(([n]) => n === name) ?? [];
    await expect(a.list(prefix as string)).rejects.toBeInstanceOf(WorkspaceScopeError);
    await expect(a.deletePrefix(prefix as string)).rejects.toBeInstanceOf(WorkspaceScopeError);
    expect((await b.getBytes(b.key("keep"))).bytes.toString()).toBe("b");
  });

  it("key() builds only from whole, valid segments", () => {
    for (const segments of [
      [],
      [""],
      [".."],
      [".", "a"],
      ["a/b"],
      ["a", "../../x"],
      ["a\u0000"],
      ["%2e%2e"],
      [".tmp-1"],
    ]) {
      expect(() => a.key(...segments)).toThrow(WorkspaceScopeError);
    }
    expect(a.key("exports", "2026-12-07", "e1.tar.gz")).toBe(`ws/${A}/exports/2026-12-07/e1.tar.gz`);
  });

  it("refuses a scope whose workspace id is not a workspace id", async () => {
    for (const workspaceId of ["../../etc", "ws_", `rn_${A.slice(3)}`, ""]) {
      expect(() => backend.forWorkspace({ workspaceId: workspaceId as WorkspaceId })).toThrow(WorkspaceScopeError);
    }
  });
});

describe("object store settings", () => {
  it("defaults to the local backend and names every missing S3 setting without values", async () => {
    const settings = parseObjectStoreSettings({ PRAXA_OBJECT_STORE_DIR: join(dir, "cfg") });
    expect(settings).toMatchObject({ PRAXA_OBJECT_STORE: "local", PRAXA_OBJECT_STORE_DIR: join(dir, "cfg") });
    const store = await createObjectStore(settings);
    expect(store.kind).toBe("local");
    let err: unknown;
    try {
      parseObjectStoreSettings({
        PRAXA_OBJECT_STORE: "s3",
        PRAXA_S3_ENDPOINT: "not a url",
        PRAXA_OBJECT_STORE_LINK_SECRET: "short-secret-value",
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const keys = (err as ConfigError).issues.map((i) => i.key).sort();
    expect(keys).toEqual(["PRAXA_OBJECT_STORE_LINK_SECRET", "PRAXA_S3_BUCKET", "PRAXA_S3_ENDPOINT", "PRAXA_S3_REGION"]);
    expect((err as ConfigError).message).not.toContain("short-secret-value");
    expect(
      parseObjectStoreSettings({
        PRAXA_OBJECT_STORE: "s3",
        PRAXA_S3_BUCKET: "praxa-objects",
        PRAXA_S3_REGION: "eu-west-1",
        PRAXA_S3_KMS_KEY_ID: "alias/praxa",
      }),
    ).toMatchObject({
      PRAXA_OBJECT_STORE: "s3",
      PRAXA_S3_BUCKET: "praxa-objects",
    });
  });
});
