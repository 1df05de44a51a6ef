/**
 * The S3 backend (`@aws-sdk/client-s3`). Every object of workspace W lives at `ws/W/…` in one bucket; the workspace
 * store validates keys and prefixes before building any command, so a key outside the prefix never becomes a request.
 * With `kmsKeyId`, every PutObject asks for SSE-KMS under that key (`x-amz-server-side-encryption: aws:kms`).
 * Download links are presigned GETs (`@aws-sdk/s3-request-presigner`, SigV4 query auth, `X-Amz-Expires` ≤ 1 hour),
 * minted only for an object that exists (one HeadObject first).
 * `endpoint` (tests, self-hosted S3-compatible stores) switches to path-style addressing.
 *
 * Honest limits: a put is buffered in memory under its size bound and sent as one PutObject (no multipart), so the
 * bound (default 256 MiB) is also the memory a put may take.
 */
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { InternalError, NotFoundError, UnavailableError, ValidationError, type WorkspaceId } from "@praxa/core";
import type { Readable } from "node:stream";
import { ObjectTooLargeError } from "./errors.js";
import { assertObjectKey, assertObjectPrefix, objectKey, workspacePrefix, type WorkspaceScoped } from "./keys.js";
import {
  boundOf,
  checkContentType,
  collectBounded,
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

export interface S3ObjectStoreOptions {
  readonly bucket: string;
  readonly region: string;
  /** An S3-compatible endpoint (tests, self-host); path-style addressing is used with it. */
  readonly endpoint?: string;
  /** KMS key id or ARN for SSE-KMS on every put. */
  readonly kmsKeyId?: string;
  /** Explicit credentials (tests); otherwise the SDK's default provider chain (role, env, profile). */
  readonly credentials?: S3ClientConfig["credentials"];
  /** Further client settings (tests: `maxAttempts`). */
  readonly clientConfig?: Omit<S3ClientConfig, "region" | "endpoint" | "credentials" | "forcePathStyle">;
  readonly maxObjectBytes?: number;
}

export interface S3ObjectStoreBackend extends ObjectStoreBackend {
  readonly kind: "s3";
  readonly bucket: string;
  readonly client: S3Client;
}

const stripQuotes = (etag: string | undefined): string => (etag ?? "").replace(/^"|"$/g, "");

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function fault(operation: string, err: unknown): Error {
  const name = err instanceof Error ? err.name : "Unknown";
  return new UnavailableError("object store request failed", { cause: err, details: { operation, s3Error: name } });
}

export function createS3ObjectStore(options: S3ObjectStoreOptions): S3ObjectStoreBackend {
  const { bucket } = options;
  const client = new S3Client({
    ...options.clientConfig,
    region: options.region,
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
  });
  const cap = options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
  const sse =
    options.kmsKeyId !== undefined ? ({ ServerSideEncryption: "aws:kms", SSEKMSKeyId: options.kmsKeyId } as const) : {};

  const forWorkspace = (scope: WorkspaceScoped): ObjectStore => {
    const workspaceId: WorkspaceId = scope.workspaceId;
    const prefix = workspacePrefix(workspaceId);

    const listPage = async (
      listPrefix: string,
      limit: number,
      cursor: string | undefined,
    ): Promise<{ objects: ObjectSummary[]; nextCursor: string | undefined }> => {
      let out;
      try {
        out = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: listPrefix,
            MaxKeys: limit,
            ...(cursor !== undefined ? { ContinuationToken: cursor } : {}),
          }),
        );
      } catch (err) {
        if (statusOf(err) === 400 && cursor !== undefined)
          throw new ValidationError("object store: invalid cursor", { cause: err });
        throw fault("ListObjectsV2", err);
      }
      const objects: ObjectSummary[] = (out.Contents ?? []).map((o) => {
        // Never trust the listing blindly: every key must still sit under the asked prefix.
        if (o.Key === undefined || !o.Key.startsWith(listPrefix))
          throw new InternalError("object store: the listing returned a key outside its prefix");
        return {
          key: o.Key,
          size: o.Size ?? 0,
          etag: stripQuotes(o.ETag),
          lastModified: o.LastModified ?? new Date(0),
        };
      });
      return { objects, nextCursor: out.IsTruncated === true ? out.NextContinuationToken : undefined };
    };

    const store: ObjectStore = {
      workspaceId,
      prefix,
      key: (...segments) => objectKey(workspaceId, segments),

      async put(key: string, body: ObjectBody, opts: PutOptions): Promise<ObjectInfo> {
        assertObjectKey(workspaceId, key);
        const contentType = checkContentType(opts.contentType);
        const bytes = await collectBounded(body, boundOf(opts, cap));
        let out;
        try {
          out = await client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: bytes,
              ContentType: contentType,
              ContentLength: bytes.length,
              ...sse,
            }),
          );
        } catch (err) {
          throw fault("PutObject", err);
        }
        return { key, size: bytes.length, etag: stripQuotes(out.ETag), lastModified: new Date(), contentType };
      },

      async get(key: string): Promise<{ info: ObjectInfo; body: Readable }> {
        assertObjectKey(workspaceId, key);
        let out;
        try {
          out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        } catch (err) {
          if (statusOf(err) === 404) throw new NotFoundError("object not found", { cause: err });
          throw fault("GetObject", err);
        }
        if (out.Body === undefined) throw new InternalError("object store: GetObject returned no body");
        const info: ObjectInfo = {
          key,
          size: out.ContentLength ?? 0,
          etag: stripQuotes(out.ETag),
          lastModified: out.LastModified ?? new Date(0),
          contentType: out.ContentType ?? "application/octet-stream",
        };
        return { info, body: out.Body as Readable };
      },

      async getBytes(key: string, opts?: { maxBytes?: number }): Promise<{ info: ObjectInfo; bytes: Buffer }> {
        assertObjectKey(workspaceId, key);
        const max = boundOf(opts, Number.MAX_SAFE_INTEGER);
        const { info, body } = await store.get(key);
        if (info.size > max) {
          body.destroy();
          throw new ObjectTooLargeError(`object larger than ${max} bytes`, { details: { maxBytes: max } });
        }
        return { info, bytes: await collectBounded(body, max) };
      },

      async head(key: string): Promise<ObjectInfo | undefined> {
        assertObjectKey(workspaceId, key);
        try {
          const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
          return {
            key,
            size: out.ContentLength ?? 0,
            etag: stripQuotes(out.ETag),
            lastModified: out.LastModified ?? new Date(0),
            contentType: out.ContentType ?? "application/octet-stream",
          };
        } catch (err) {
          if (statusOf(err) === 404) return undefined;
          throw fault("HeadObject", err);
        }
      },

      async list(listPrefix: string, opts?: { limit?: number; cursor?: string }) {
        assertObjectPrefix(workspaceId, listPrefix);
        return listPage(listPrefix, pageLimit(opts?.limit), opts?.cursor);
      },

      async delete(key: string): Promise<void> {
        assertObjectKey(workspaceId, key);
        try {
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
        } catch (err) {
          throw fault("DeleteObject", err);
        }
      },

      async deletePrefix(delPrefix: string): Promise<number> {
        assertObjectPrefix(workspaceId, delPrefix);
        let deleted = 0;
        // Re-list from the start after each batch: what was deleted is gone, so no continuation token is needed.
        for (;;) {
          const { objects } = await listPage(delPrefix, 1000, undefined);
          if (objects.length === 0) return deleted;
          let out;
          try {
            out = await client.send(
              new DeleteObjectsCommand({
                Bucket: bucket,
                Delete: { Objects: objects.map((o) => ({ Key: o.key })), Quiet: true },
              }),
            );
          } catch (err) {
            throw fault("DeleteObjects", err);
          }
          if ((out.Errors ?? []).length > 0) {
            throw new UnavailableError("object store: some objects could not be deleted", {
              details: { operation: "DeleteObjects", failed: out.Errors?.length ?? 0 },
            });
          }
          deleted += objects.length;
        }
      },

      async createDownloadLink(key: string, opts?: { expiresInSeconds?: number }) {
        assertObjectKey(workspaceId, key);
        const ttl = linkTtl(opts);
        // As the local backend does: no link to an object that is not there (one HeadObject).
        if ((await store.head(key)) === undefined) throw new NotFoundError("object not found");
        const signedAt = Date.now();
        const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
          expiresIn: ttl,
          signingDate: new Date(signedAt),
        });
        return {
          kind: "presigned-url" as const,
          url,
          expiresAt: new Date(Math.floor(signedAt / 1000) * 1000 + ttl * 1000),
        };
      },
    };
    return store;
  };

  return { kind: "s3", bucket, client, forWorkspace };
}
