/**
 * The local-directory backend, the embedded default. Layout:
 *
 *     <root>/ws/<workspace_id>/<sha256(key) hex>
 *
 * One file per object, named by the SHA-256 of its full key — so no key, however crafted, becomes a path: the only
 * caller-influenced path component is the workspace id, validated against the TypeID brand. A file holds
 * `PXOBJ1\n` ‖ u32 big-endian header length (4096) ‖ JSON header `{key, contentType, size, sha256, lastModified}`
 * padded with spaces to 4096 bytes ‖ the bytes.
 * Writes are atomic: a temp file (`.tmp-<random>`, `O_EXCL`, mode 0600) is written, fsynced and renamed over the
 * target; readers holding the old file keep reading it. Directories are 0700, files 0600; files are opened with
 * `O_NOFOLLOW`. Listing reads each object's header (O(objects of the workspace) per page — fine for exports and
 * archives; use S3 for large volumes). `deletePrefix(store.prefix)` removes the workspace's directory.
 */
import { createHash, randomBytes } from "node:crypto";
import { constants, createReadStream, promises as fs } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { InternalError, NotFoundError, ValidationError, type WorkspaceId } from "@praxa/core";
import { z } from "zod";
import { ObjectTooLargeError } from "./errors.js";
import { assertObjectKey, assertObjectPrefix, objectKey, workspacePrefix, type WorkspaceScoped } from "./keys.js";
import { signDownloadToken, verifyDownloadToken, type DownloadTokenClaims } from "./link-token.js";
import {
  boundedChunks,
  boundOf,
  checkContentType,
  DEFAULT_MAX_OBJECT_BYTES,
  linkTtl,
  pageLimit,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type ObjectStoreBackend,
  type ObjectSummary,
  type PutOptions,
} from "./store.js";

const MAGIC = Buffer.from("PXOBJ1\n", "ascii");
const MAX_HEADER = 4096;
const HeaderSchema = z
  .object({
    key: z.string(),
    contentType: z.string(),
    size: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    lastModified: z.string(),
  })
  .strict();
type Header = z.infer<typeof HeaderSchema>;
const OBJECT_FILE = /^[0-9a-f]{64}$/;
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

export interface LocalObjectStoreOptions {
  /** The root directory (created 0700 if missing). */
  readonly dir: string;
  /** HMAC secret of download tokens (≥ 32 bytes). Without one, a random per-process secret: tokens verify only here. */
  readonly linkSecret?: Buffer;
  readonly maxObjectBytes?: number;
}

export interface LocalObjectStoreBackend extends ObjectStoreBackend {
  readonly kind: "local";
  readonly dir: string;
  /** Verifies a download token minted by `createDownloadLink` (see `link-token.ts`). */
  verifyDownloadToken(token: string, now?: Date): DownloadTokenClaims;
}

const sha256Hex = (s: string | Buffer): string => createHash("sha256").update(s).digest("hex");
const isEnoent = (err: unknown): boolean => (err as NodeJS.ErrnoException | null)?.code === "ENOENT";

async function readHeader(file: string): Promise<{ header: Header; offset: number } | undefined> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, constants.O_RDONLY | NOFOLLOW);
  } catch (err) {
    if (isEnoent(err)) return undefined;
    throw err;
  }
  try {
    return await readHeaderFromHandle(fh);
  } finally {
    await fh.close();
  }
}

const infoOf = (h: Header): ObjectInfo => ({
  key: h.key,
  size: h.size,
  etag: h.sha256,
  lastModified: new Date(h.lastModified),
  contentType: h.contentType,
});

export async function createLocalObjectStore(options: LocalObjectStoreOptions): Promise<LocalObjectStoreBackend> {
  const root = options.dir;
  await fs.mkdir(root, { recursive: true, mode: 0o700 });
  await fs.chmod(root, 0o700);
  await fs.mkdir(join(root, "ws"), { recursive: true, mode: 0o700 });
  await fs.chmod(join(root, "ws"), 0o700);
  const secret = options.linkSecret ?? randomBytes(32);
  if (secret.length < 32) throw new ValidationError("object store: the link secret must be at least 32 bytes");
  const cap = options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;

  const forWorkspace = (scope: WorkspaceScoped): ObjectStore => {
    const workspaceId: WorkspaceId = scope.workspaceId;
    const prefix = workspacePrefix(workspaceId);
    const wsDir = join(root, "ws", workspaceId);
    const fileOf = (key: string): string => join(wsDir, sha256Hex(key));

    const ensureDir = async (): Promise<void> => {
      await fs.mkdir(wsDir, { recursive: true, mode: 0o700 });
      await fs.chmod(wsDir, 0o700);
    };

    const all = async (): Promise<Header[]> => {
      let names: string[];
      try {
        names = await fs.readdir(wsDir);
      } catch (err) {
        if (isEnoent(err)) return [];
        throw err;
      }
      const headers: Header[] = [];
      for (const name of names) {
        if (!OBJECT_FILE.test(name)) continue; // temp files, anything else
        const found = await readHeader(join(wsDir, name));
        if (found === undefined) continue; // deleted meanwhile
        if (!found.header.key.startsWith(prefix) || sha256Hex(found.header.key) !== name)
          throw new InternalError("object store: an object file names a key outside its place");
        headers.push(found.header);
      }
      return headers.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    };

    const store: ObjectStore = {
      workspaceId,
      prefix,
      key: (...segments) => objectKey(workspaceId, segments),

      async put(key: string, body: ObjectBody, opts: PutOptions): Promise<ObjectInfo> {
        assertObjectKey(workspaceId, key);
        const contentType = checkContentType(opts.contentType);
        const max = boundOf(opts, cap);
        await ensureDir();
        const tmp = join(wsDir, `.tmp-${randomBytes(12).toString("hex")}`);
        const fh = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
        let renamed = false;
        try {
          // The header names the size and hash, known only at the end: the body streams in after a fixed-size header
          // slot, and the header is written into the slot last (padded with spaces, which JSON.parse ignores).
          const hash = createHash("sha256");
          let size = 0;
          const slot = MAGIC.length + 4 + MAX_HEADER;
          let pos = slot;
          for await (const chunk of boundedChunks(body, max)) {
            hash.update(chunk);
            size += chunk.length;
            await fh.write(chunk, 0, chunk.length, pos);
            pos += chunk.length;
          }
          const header: Header = {
            key,
            contentType,
            size,
            sha256: hash.digest("hex"),
            lastModified: new Date().toISOString(),
          };
          const json = Buffer.from(JSON.stringify(header), "utf8");
          if (json.length > MAX_HEADER) throw new InternalError("object store: header too large");
          const head = Buffer.alloc(slot, 0x20);
          MAGIC.copy(head, 0);
          head.writeUInt32BE(MAX_HEADER, MAGIC.length);
          json.copy(head, MAGIC.length + 4);
          await fh.write(head, 0, head.length, 0);
          await fh.sync();
          await fh.close();
          await fs.rename(tmp, fileOf(key));
          renamed = true;
          return infoOf(header);
        } finally {
          if (!renamed) {
            await fh.close().catch(() => undefined);
            await fs.rm(tmp, { force: true });
          }
        }
      },

      async get(key: string): Promise<{ info: ObjectInfo; body: Readable }> {
        assertObjectKey(workspaceId, key);
        // One descriptor for the header and the bytes: a concurrent replace (rename) cannot mix two versions.
        let fh: fs.FileHandle;
        try {
          fh = await fs.open(fileOf(key), constants.O_RDONLY | NOFOLLOW);
        } catch (err) {
          if (isEnoent(err)) throw new NotFoundError("object not found");
          throw err;
        }
        let found: { header: Header; offset: number };
        try {
          found = await readHeaderFromHandle(fh);
          if (found.header.key !== key) throw new NotFoundError("object not found");
        } catch (err) {
          await fh.close();
          throw err;
        }
        const stream = createReadStream("", { fd: fh, start: found.offset, autoClose: true });
        return { info: infoOf(found.header), body: stream };
      },

      async getBytes(key: string, opts?: { maxBytes?: number }): Promise<{ info: ObjectInfo; bytes: Buffer }> {
        assertObjectKey(workspaceId, key);
        const max = boundOf(opts, Number.MAX_SAFE_INTEGER);
        const { info, body } = await store.get(key);
        if (info.size > max) {
          body.destroy();
          throw new ObjectTooLargeError(`object larger than ${max} bytes`, { details: { maxBytes: max } });
        }
        const parts: Buffer[] = [];
        for await (const c of body as AsyncIterable<Buffer>) parts.push(c);
        return { info, bytes: Buffer.concat(parts) };
      },

      async head(key: string): Promise<ObjectInfo | undefined> {
        assertObjectKey(workspaceId, key);
        const found = await readHeader(fileOf(key));
        return found === undefined || found.header.key !== key ? undefined : infoOf(found.header);
      },

      async list(listPrefix: string, opts?: { limit?: number; cursor?: string }) {
        assertObjectPrefix(workspaceId, listPrefix);
        const limit = pageLimit(opts?.limit);
        let after = "";
        if (opts?.cursor !== undefined) {
          after = Buffer.from(opts.cursor, "base64url").toString("utf8");
          if (Buffer.from(after, "utf8").toString("base64url") !== opts.cursor)
            throw new ValidationError("object store: invalid cursor");
          assertObjectKey(workspaceId, after);
        }
        const matching = (await all()).filter(
          (h) =>
            h.key.startsWith(listPrefix) &&
            (after === "" || Buffer.compare(Buffer.from(h.key), Buffer.from(after)) > 0),
        );
        const page = matching.slice(0, limit);
        const objects: ObjectSummary[] = page.map((h) => ({
          key: h.key,
          size: h.size,
          etag: h.sha256,
          lastModified: new Date(h.lastModified),
        }));
        const last = page[page.length - 1];
        return {
          objects,
          nextCursor:
            matching.length > page.length && last !== undefined
              ? Buffer.from(last.key, "utf8").toString("base64url")
              : undefined,
        };
      },

      async delete(key: string): Promise<void> {
        assertObjectKey(workspaceId, key);
        const found = await readHeader(fileOf(key));
        if (found === undefined || found.header.key !== key) return;
        await fs.rm(fileOf(key), { force: true });
      },

      async deletePrefix(delPrefix: string): Promise<number> {
        assertObjectPrefix(workspaceId, delPrefix);
        const victims = (await all()).filter((h) => h.key.startsWith(delPrefix));
        for (const h of victims) await fs.rm(fileOf(h.key), { force: true });
        if (delPrefix === prefix) await fs.rm(wsDir, { recursive: true, force: true });
        return victims.length;
      },

      async createDownloadLink(key: string, opts?: { expiresInSeconds?: number }) {
        assertObjectKey(workspaceId, key);
        const ttl = linkTtl(opts);
        if ((await store.head(key)) === undefined) throw new NotFoundError("object not found");
        const expiresAt = new Date((Math.floor(Date.now() / 1000) + ttl) * 1000);
        return {
          kind: "local-token" as const,
          token: signDownloadToken({ workspaceId, key, expiresAt }, secret),
          expiresAt,
        };
      },
    };
    return store;
  };

  return {
    kind: "local",
    dir: root,
    forWorkspace,
    verifyDownloadToken: (token, now) => verifyDownloadToken(token, secret, now),
  };
}

async function readHeaderFromHandle(fh: fs.FileHandle): Promise<{ header: Header; offset: number }> {
  const head = Buffer.alloc(MAGIC.length + 4 + MAX_HEADER);
  const { bytesRead } = await fh.read(head, 0, head.length, 0);
  if (bytesRead < MAGIC.length + 4 || !head.subarray(0, MAGIC.length).equals(MAGIC))
    throw new InternalError("object store: corrupt object file");
  const len = head.readUInt32BE(MAGIC.length);
  if (len > MAX_HEADER || bytesRead < MAGIC.length + 4 + len)
    throw new InternalError("object store: corrupt object header");
  const header = HeaderSchema.parse(
    JSON.parse(head.subarray(MAGIC.length + 4, MAGIC.length + 4 + len).toString("utf8")),
  );
  return { header, offset: MAGIC.length + 4 + len };
}
