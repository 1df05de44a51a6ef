/**
 * The local key file: the root secret of `LocalKeyProvider` (development, demo, embedded installs).
 *
 * - Created on first run with mode 0600 (in a directory created 0700 if missing), atomically: written to a
 *   temporary file, fsynced, then hard-linked into place, so two processes starting together agree on one file.
 * - An existing file is used only if it is a regular file (not a symlink; opened with O_NOFOLLOW), owned by this
 *   user, and has no group or other permission bits; otherwise `KeyFileInsecureError`, and nothing is read.
 * - Updates (use reservations, rotation) happen under a lock file (`<path>.lock`, O_EXCL), read-modify-write, and
 *   replace the file by rename, so several processes can share one key file.
 * - Contents are JSON: `{format, version, current, wrappingKeys[{id, material, createdAt, reservedUses}],
 *   signingKey{id, algorithm, pkcs8, createdAt}}` with keys base64. The contents are never echoed in an error.
 */
import { constants, type Stats } from "node:fs";
import { link, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";
import { UnavailableError } from "@praxa/core";
import { z } from "zod";
import { KeyFileInsecureError, KeyFileInvalidError } from "./errors.js";

const base64 = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/);
const keyId = z.string().regex(/^[A-Za-z0-9_.:/-]{1,255}$/);

const localKeyFileSchema = z.strictObject({
  format: z.literal("praxa-local-keys"),
  version: z.literal(1),
  current: keyId,
  wrappingKeys: z
    .array(
      z.strictObject({
        id: keyId,
        material: base64,
        createdAt: z.iso.datetime(),
        reservedUses: z.number().int().nonnegative(),
      }),
    )
    .min(1),
  signingKey: z.strictObject({
    id: keyId,
    algorithm: z.literal("ed25519"),
    pkcs8: base64,
    createdAt: z.iso.datetime(),
  }),
});

export type LocalKeyFileData = z.infer<typeof localKeyFileSchema>;

const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 15_000;

/** Throws `KeyFileInsecureError` unless `stats` describe a regular file of ours with mode 0600 or tighter. */
function assertKeyFileSecure(stats: Stats): void {
  if (!stats.isFile()) throw new KeyFileInsecureError("the local key file is not a regular file; refusing to use it");
  const loose = stats.mode & 0o077;
  if (loose !== 0) {
    throw new KeyFileInsecureError(
      `the local key file has mode ${(stats.mode & 0o777).toString(8).padStart(4, "0")}; it must be 0600 (chmod 600 it, or move it away to start fresh)`,
      { details: { mode: (stats.mode & 0o777).toString(8) } },
    );
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid) {
    throw new KeyFileInsecureError("the local key file is owned by another user; refusing to use it", {
      details: { fileUid: stats.uid, uid },
    });
  }
}

/** Reads and validates the key file, or returns `undefined` if there is none. Checks permissions on the open fd. */
export async function readKeyFile(path: string): Promise<LocalKeyFileData | undefined> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw new KeyFileInsecureError("the local key file is a symbolic link; refusing to use it");
    throw err;
  }
  try {
    assertKeyFileSecure(await handle.stat());
    const text = await handle.readFile("utf8");
    return parseKeyFile(text);
  } finally {
    await handle.close();
  }
}

function parseKeyFile(text: string): LocalKeyFileData {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KeyFileInvalidError("the local key file is not valid JSON");
  }
  const result = localKeyFileSchema.safeParse(json);
  if (!result.success) {
    const fields = result.error.issues.map((i) => i.path.map(String).join(".") || "(root)");
    throw new KeyFileInvalidError("the local key file does not have the expected shape", {
      details: { fields: fields.slice(0, 10) },
    });
  }
  if (!result.data.wrappingKeys.some((k) => k.id === result.data.current)) {
    throw new KeyFileInvalidError("the local key file names a current key it does not hold", {
      details: { fields: ["current"] },
    });
  }
  return result.data;
}

async function writeTemp(path: string, data: LocalKeyFileData): Promise<string> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const handle = await open(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await handle.chmod(0o600);
    await handle.writeFile(`${JSON.stringify(data, null, 2)}\n`, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  return tmp;
}

/**
 * Creates the key file with `initial()` unless it exists; returns what is on disk either way (an existing file is
 * checked for permissions first and refused if they are loose).
 */
export async function createKeyFileIfAbsent(path: string, initial: () => LocalKeyFileData): Promise<LocalKeyFileData> {
  const existing = await readKeyFile(path);
  if (existing !== undefined) return existing;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = await writeTemp(path, initial());
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const created = await readKeyFile(path);
  if (created === undefined) throw new KeyFileInvalidError("the local key file vanished while it was being created");
  return created;
}

/** Read-modify-write under the lock file; the new contents replace the file atomically. */
export async function updateKeyFile(
  path: string,
  mutate: (data: LocalKeyFileData) => LocalKeyFileData,
): Promise<LocalKeyFileData> {
  return withLock(path, async () => {
    const current = await readKeyFile(path);
    if (current === undefined) throw new KeyFileInvalidError("the local key file disappeared");
    const next = localKeyFileSchema.parse(mutate(current));
    const tmp = await writeTemp(path, next);
    try {
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    return next;
  });
}

async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(
        lock,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > LOCK_STALE_MS) await unlink(lock).catch(() => undefined);
      else if (Date.now() > deadline)
        throw new UnavailableError("the local key file stayed locked; another process holds it");
      else await new Promise((resolve) => setTimeout(resolve, 5 + Math.floor(Math.random() * 20)));
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}
