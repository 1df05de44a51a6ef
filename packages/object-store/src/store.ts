/**
 * The object store's contract. A backend (`local`, `s3`) is configured once per process; `forWorkspace(scope)` hands
 * out an `ObjectStore` bound to one workspace, whose every key is `ws/<workspace_id>/…` (see `keys.ts`). Keys and
 * prefixes are validated before any I/O: a key outside the workspace's prefix is a `WorkspaceScopeError` and never
 * reaches the disk or the network.
 */
import { ValidationError, type WorkspaceId } from "@praxa/core";
import type { Readable } from "node:stream";
import { z } from "zod";
import { ObjectTooLargeError } from "./errors.js";
import type { WorkspaceScoped } from "./keys.js";

/** What a listing returns per object (S3's ListObjectsV2 does not carry the content type). */
export interface ObjectSummary {
  readonly key: string;
  readonly size: number;
  /** Opaque: changes when the bytes change (S3's ETag without quotes; the local backend's SHA-256). */
  readonly etag: string;
  readonly lastModified: Date;
}

export interface ObjectInfo extends ObjectSummary {
  readonly contentType: string;
}

export interface ObjectPage {
  readonly objects: readonly ObjectSummary[];
  /** Pass back as `cursor` for the next page; undefined on the last page. */
  readonly nextCursor: string | undefined;
}

export type ObjectBody = Uint8Array | string | AsyncIterable<Uint8Array> | Readable;

export interface PutOptions {
  /** A MIME type (`application/gzip`, `text/plain; charset=utf-8`). */
  readonly contentType: string;
  /** Refuse more than this many bytes (`ObjectTooLargeError`); capped by the store's `maxObjectBytes`. */
  readonly maxBytes?: number;
}

/**
 * A short-lived download link. S3: a presigned GET URL (`X-Amz-Expires`). Local: an HMAC-signed token
 * (`link-token.ts`) that the api verifies with `verifyDownloadToken` and then streams the object itself.
 */
export type DownloadLink =
  | { readonly kind: "presigned-url"; readonly url: string; readonly expiresAt: Date }
  | { readonly kind: "local-token"; readonly token: string; readonly expiresAt: Date };

export interface ObjectStore {
  readonly workspaceId: WorkspaceId;
  /** `ws/<workspace_id>/` */
  readonly prefix: string;
  /** `ws/<workspace_id>/<segments…>`, validated. */
  key(...segments: string[]): string;
  put(key: string, body: ObjectBody, options: PutOptions): Promise<ObjectInfo>;
  /** The object as a stream. Missing → `NotFoundError`. */
  get(key: string): Promise<{ readonly info: ObjectInfo; readonly body: Readable }>;
  /** The object's bytes. Missing → `NotFoundError`; larger than `maxBytes` → `ObjectTooLargeError`. */
  getBytes(
    key: string,
    options?: { readonly maxBytes?: number },
  ): Promise<{ readonly info: ObjectInfo; readonly bytes: Buffer }>;
  /** Metadata, or undefined when there is no such object. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Objects whose key starts with `prefix`, in byte order of the key, at most `limit` (1–1000, default 1000) a page. */
  list(prefix: string, options?: { readonly limit?: number; readonly cursor?: string }): Promise<ObjectPage>;
  /** Idempotent: deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Deletes every object under `prefix` (for erasure: `store.prefix`); returns how many were deleted. */
  deletePrefix(prefix: string): Promise<number>;
  /** A link valid for `expiresInSeconds` (1–3600, default 300). */
  createDownloadLink(key: string, options?: { readonly expiresInSeconds?: number }): Promise<DownloadLink>;
}

export interface ObjectStoreBackend {
  readonly kind: "local" | "s3";
  forWorkspace(scope: WorkspaceScoped): ObjectStore;
}

/** 256 MiB: the default bound of one object (and the most a `maxBytes` may ask for unless the backend is told more). */
export const DEFAULT_MAX_OBJECT_BYTES = 256 * 1024 * 1024;
export const DEFAULT_LINK_TTL_SECONDS = 300;
export const MAX_LINK_TTL_SECONDS = 3600;

const ContentTypeSchema = z
  .string()
  .max(255)
  .regex(
    /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=("[^"\\\r\n]*"|[A-Za-z0-9!#$&^_.+-]+))*$/,
  );

export function checkContentType(contentType: unknown): string {
  const parsed = ContentTypeSchema.safeParse(contentType);
  if (!parsed.success) throw new ValidationError("object store: contentType is not a MIME type");
  return parsed.data;
}

export function boundOf(options: { readonly maxBytes?: number } | undefined, cap: number): number {
  const asked = options?.maxBytes;
  if (asked === undefined) return cap;
  if (!Number.isSafeInteger(asked) || asked < 0)
    throw new ValidationError("object store: maxBytes must be a non-negative integer");
  return Math.min(asked, cap);
}

export function linkTtl(options: { readonly expiresInSeconds?: number } | undefined): number {
  const ttl = options?.expiresInSeconds ?? DEFAULT_LINK_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_LINK_TTL_SECONDS)
    throw new ValidationError(`object store: a link lives 1–${MAX_LINK_TTL_SECONDS} seconds`);
  return ttl;
}

export function pageLimit(limit: number | undefined): number {
  const n = limit ?? 1000;
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new ValidationError("object store: limit must be 1–1000");
  return n;
}

/** Iterates a body as chunks, throwing `ObjectTooLargeError` as soon as more than `max` bytes have arrived. */
export async function* boundedChunks(body: ObjectBody, max: number): AsyncGenerator<Buffer> {
  let total = 0;
  const tooLarge = (): ObjectTooLargeError =>
    new ObjectTooLargeError(`object larger than ${max} bytes`, { details: { maxBytes: max } });
  if (typeof body === "string" || body instanceof Uint8Array) {
    const buf =
      typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    if (buf.length > max) throw tooLarge();
    yield buf;
    return;
  }
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    const buf =
      typeof chunk === "string"
        ? Buffer.from(chunk, "utf8")
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    total += buf.length;
    if (total > max) throw tooLarge();
    yield buf;
  }
}

/** Reads a whole body into memory under the bound. */
export async function collectBounded(body: ObjectBody, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of boundedChunks(body, max)) parts.push(c);
  return Buffer.concat(parts);
}
