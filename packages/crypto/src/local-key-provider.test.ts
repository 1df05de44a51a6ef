import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { utf8 } from "./bytes.js";
import { parseEncryptionContext } from "./encryption-context.js";
import { DecryptFailedError, KeyFileInsecureError, KeyFileInvalidError } from "./errors.js";
import { LocalKeyProvider } from "./local-key-provider.js";
import { parseWrappedBlob } from "./wrapped-blob.js";

const ctx = parseEncryptionContext({ tenant_id: "tn_01jlocal" });
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "praxa-crypto-local-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("LocalKeyProvider key file", () => {
  it("is created on first run with mode 0600 (its directory 0700), and reused afterwards", async () => {
    const path = join(dir, "nested", "keys.json");
    const first = await LocalKeyProvider.open({ path, now: () => new Date("2026-01-02T03:04:05Z") });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "nested"))).mode & 0o777).toBe(0o700);
    const contents = JSON.parse(await readFile(path, "utf8")) as {
      format: string;
      wrappingKeys: { createdAt: string }[];
    };
    expect(contents.format).toBe("praxa-local-keys");
    expect(contents.wrappingKeys[0]?.createdAt).toBe("2026-01-02T03:04:05.000Z");
    const wrapped = await first.wrap(utf8("persisted"), ctx);
    const second = await LocalKeyProvider.open({ path });
    expect(second.currentKeyId).toBe(first.currentKeyId);
    expect(Buffer.from(await second.unwrap(wrapped, ctx)).toString()).toBe("persisted");
    expect((await second.publicKey()).spki).toEqual((await first.publicKey()).spki);
  });

  it("refuses an existing key file with mode 0644 (and any group/other bit), without reading it", async () => {
    const path = join(dir, "keys.json");
    await LocalKeyProvider.open({ path });
    await chmod(path, 0o644);
    await expect(LocalKeyProvider.open({ path })).rejects.toThrow(KeyFileInsecureError);
    await expect(LocalKeyProvider.open({ path })).rejects.toMatchObject({ code: "KEY_FILE_INSECURE" });
    await chmod(path, 0o640);
    await expect(LocalKeyProvider.open({ path })).rejects.toThrow(/mode 0640/);
    await chmod(path, 0o400);
    await expect(LocalKeyProvider.open({ path })).resolves.toBeInstanceOf(LocalKeyProvider);
  });

  it("refuses a symbolic link in place of the key file", async () => {
    const real = join(dir, "real.json");
    await LocalKeyProvider.open({ path: real });
    const link = join(dir, "link.json");
    await symlink(real, link);
    await expect(LocalKeyProvider.open({ path: link })).rejects.toThrow(KeyFileInsecureError);
  });

  it("refuses a corrupted key file with a typed error that does not echo its contents", async () => {
    const path = join(dir, "keys.json");
    await writeFile(path, '{"format":"praxa-local-keys","version":1,"current":"SECRET-MATERIAL"}', { mode: 0o600 });
    const err = await LocalKeyProvider.open({ path }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyFileInvalidError);
    expect(JSON.stringify(err)).not.toContain("SECRET-MATERIAL");
    expect((err as Error).message).not.toContain("SECRET-MATERIAL");
    await writeFile(path, "not json SECRET-MATERIAL", { mode: 0o600 });
    await expect(LocalKeyProvider.open({ path })).rejects.toThrow(KeyFileInvalidError);
  });

  it("two providers starting together on a fresh path agree on one key file", async () => {
    const path = join(dir, "keys.json");
    const [a, b] = await Promise.all([LocalKeyProvider.open({ path }), LocalKeyProvider.open({ path })]);
    expect(a.currentKeyId).toBe(b.currentKeyId);
    expect(Buffer.from(await b.unwrap(await a.wrap(utf8("shared"), ctx), ctx)).toString()).toBe("shared");
  });
});

describe("LocalKeyProvider use counter and rotation", () => {
  it("rotates its master key at the configured limit; older wraps still unwrap; the count survives restarts", async () => {
    const path = join(dir, "keys.json");
    const provider = await LocalKeyProvider.open({ path, usageLimit: 3, reservationBlock: 2 });
    const firstKey = provider.currentKeyId;
    const wraps = [];
    for (let i = 0; i < 3; i++) wraps.push(await provider.wrap(utf8(`w${i}`), ctx));
    expect(wraps.map((w) => parseWrappedBlob(w).keyId)).toEqual([firstKey, firstKey, firstKey]);

    const fourth = await provider.wrap(utf8("w3"), ctx);
    const secondKey = parseWrappedBlob(fourth).keyId;
    expect(secondKey).not.toBe(firstKey);
    expect(provider.currentKeyId).toBe(secondKey);
    expect(provider.keyIds).toEqual([firstKey, secondKey]);
    for (const [i, w] of [...wraps, fourth].entries())
      expect(Buffer.from(await provider.unwrap(w, ctx)).toString()).toBe(`w${i}`);

    // A restarted process continues from the count on disk (reserved: 2 of 3 on the second key after one wrap).
    const restarted = await LocalKeyProvider.open({ path, usageLimit: 3, reservationBlock: 2 });
    const fifth = await restarted.wrap(utf8("w4"), ctx);
    expect(parseWrappedBlob(fifth).keyId).toBe(secondKey);
    const sixth = await restarted.wrap(utf8("w5"), ctx);
    expect(parseWrappedBlob(sixth).keyId).not.toBe(secondKey);
    // The first process learns of keys another process added when it meets them.
    expect(Buffer.from(await provider.unwrap(sixth, ctx)).toString()).toBe("w5");
  });

  it("rotate() adds a current key on demand; every key keeps unwrapping", async () => {
    const provider = await LocalKeyProvider.open({ path: join(dir, "keys.json") });
    const before = await provider.wrap(utf8("before"), ctx);
    const next = await provider.rotate();
    const after = await provider.wrap(utf8("after"), ctx);
    expect(parseWrappedBlob(after).keyId).toBe(next);
    expect(Buffer.from(await provider.unwrap(before, ctx)).toString()).toBe("before");
    expect(Buffer.from(await provider.unwrap(after, ctx)).toString()).toBe("after");
  });

  it("a wrap from another key file is refused as DecryptFailedError", async () => {
    const a = await LocalKeyProvider.open({ path: join(dir, "a.json") });
    const b = await LocalKeyProvider.open({ path: join(dir, "b.json") });
    await expect(b.unwrap(await a.wrap(utf8("elsewhere"), ctx), ctx)).rejects.toMatchObject({
      code: "DECRYPT_FAILED",
      reason: "wrong-key",
    });
    await expect(b.unwrap(utf8("garbage"), ctx)).rejects.toThrow(DecryptFailedError);
  });
});
