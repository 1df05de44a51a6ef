/**
 * The object store's settings and the factory that turns them into a backend. (They live here, not in
 * `@praxa/config`, for now; an app's config can embed `ObjectStoreSettingsSchema`.)
 *
 *   PRAXA_OBJECT_STORE              local | s3 (default local)
 *   PRAXA_OBJECT_STORE_DIR          local: the root directory (default .praxa/objects; created 0700)
 *   PRAXA_OBJECT_STORE_LINK_SECRET  local: HMAC secret of download tokens, ≥ 32 characters; unset → random per process
 *   PRAXA_S3_BUCKET                 s3: the bucket (required)
 *   PRAXA_S3_REGION                 s3: its region (required)
 *   PRAXA_S3_ENDPOINT               s3: an S3-compatible endpoint (tests, self-host; path-style addressing)
 *   PRAXA_S3_KMS_KEY_ID             s3: SSE-KMS on every put under this key id / ARN
 *
 * S3 credentials come from the SDK's default chain (instance/task role, AWS_* variables, profile) — never a setting.
 */
import { ConfigError } from "@praxa/core";
import { z } from "zod";
import { createLocalObjectStore } from "./local.js";
import { createS3ObjectStore, type S3ObjectStoreOptions } from "./s3.js";
import type { ObjectStoreBackend } from "./store.js";

const blankToUndefined = (v: unknown): unknown => (typeof v === "string" && v.trim() === "" ? undefined : v);
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(blankToUndefined, schema.optional());

export const ObjectStoreSettingsSchema = z
  .object({
    PRAXA_OBJECT_STORE: z.preprocess(blankToUndefined, z.enum(["local", "s3"]).default("local")),
    PRAXA_OBJECT_STORE_DIR: z.preprocess(blankToUndefined, z.string().min(1).default(".praxa/objects")),
    PRAXA_OBJECT_STORE_LINK_SECRET: optional(z.string().min(32, "must be at least 32 characters")),
    PRAXA_S3_BUCKET: optional(z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "not an S3 bucket name")),
    PRAXA_S3_REGION: optional(z.string().regex(/^[a-z]{2}(-[a-z0-9]+)+-\d$/, "not an AWS region")),
    PRAXA_S3_ENDPOINT: optional(z.url({ protocol: /^https?$/ })),
    PRAXA_S3_KMS_KEY_ID: optional(z.string().min(1).max(2048)),
  })
  .superRefine((s, ctx) => {
    if (s.PRAXA_OBJECT_STORE !== "s3") return;
    if (s.PRAXA_S3_BUCKET === undefined)
      ctx.addIssue({ code: "custom", path: ["PRAXA_S3_BUCKET"], message: "required when PRAXA_OBJECT_STORE=s3" });
    if (s.PRAXA_S3_REGION === undefined)
      ctx.addIssue({ code: "custom", path: ["PRAXA_S3_REGION"], message: "required when PRAXA_OBJECT_STORE=s3" });
  });

export type ObjectStoreSettings = z.infer<typeof ObjectStoreSettingsSchema>;

/** Parses the settings from an environment; problems → `ConfigError` naming keys, never values. */
export function parseObjectStoreSettings(env: Readonly<Record<string, string | undefined>>): ObjectStoreSettings {
  const parsed = ObjectStoreSettingsSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((i) => ({ key: String(i.path[0] ?? "object store"), problem: i.message })),
  );
}

/** Builds the configured backend. `s3` lets tests (and only tests) pass credentials and client settings. */
export async function createObjectStore(
  settings: ObjectStoreSettings,
  overrides: {
    readonly s3?: Pick<S3ObjectStoreOptions, "credentials" | "clientConfig">;
    readonly maxObjectBytes?: number;
  } = {},
): Promise<ObjectStoreBackend> {
  const max = overrides.maxObjectBytes !== undefined ? { maxObjectBytes: overrides.maxObjectBytes } : {};
  if (settings.PRAXA_OBJECT_STORE === "local") {
    return createLocalObjectStore({
      dir: settings.PRAXA_OBJECT_STORE_DIR,
      ...(settings.PRAXA_OBJECT_STORE_LINK_SECRET !== undefined
        ? { linkSecret: Buffer.from(settings.PRAXA_OBJECT_STORE_LINK_SECRET, "utf8") }
        : {}),
      ...max,
    });
  }
  if (settings.PRAXA_S3_BUCKET === undefined || settings.PRAXA_S3_REGION === undefined) {
    throw new ConfigError([
      { key: "PRAXA_S3_BUCKET", problem: "bucket and region are required when PRAXA_OBJECT_STORE=s3" },
    ]);
  }
  return createS3ObjectStore({
    bucket: settings.PRAXA_S3_BUCKET,
    region: settings.PRAXA_S3_REGION,
    ...(settings.PRAXA_S3_ENDPOINT !== undefined ? { endpoint: settings.PRAXA_S3_ENDPOINT } : {}),
    ...(settings.PRAXA_S3_KMS_KEY_ID !== undefined ? { kmsKeyId: settings.PRAXA_S3_KMS_KEY_ID } : {}),
    ...overrides.s3,
    ...max,
  });
}
