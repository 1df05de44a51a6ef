import { describe, expect, it } from "@jest/globals";
import { generateKeyPairSync, sign, verify, createPublicKey } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@praxa/core";
import { loadAuditSigningKey } from "./index.js";

describe("audit signing key", () => {
  it("is created 0600 on first run, stable afterwards, with a key id derived from the public key", () => {
    const path = join(mkdtempSync(join(tmpdir(), "praxa-aek-")), "keys", "audit-signing.key");
    const a = loadAuditSigningKey({ path });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const b = loadAuditSigningKey({ path });
    expect(b.keyId).toBe(a.keyId);
    expect(a.keyId).toMatch(/^aek_[0-9a-f]{24}$/);
    const sig = sign(null, Buffer.from("x"), a.privateKey);
    expect(verify(null, Buffer.from("x"), createPublicKey({ key: b.spki, format: "der", type: "spki" }), sig)).toBe(
      true,
    );
  });

  it("refuses a readable file, and a non-Ed25519 PEM, without printing the key", () => {
    const path = join(mkdtempSync(join(tmpdir(), "praxa-aek-")), "audit-signing.key");
    loadAuditSigningKey({ path });
    chmodSync(path, 0o644);
    expect(() => loadAuditSigningKey({ path })).toThrow(ConfigError);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 })
      .privateKey.export({ format: "pem", type: "pkcs8" })
      .toString();
    let err: unknown;
    try {
      loadAuditSigningKey({ pem: rsa, path });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).not.toContain("PRIVATE KEY");
  });

  it("takes a PEM from Secrets Manager when given", () => {
    const pem = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    expect(loadAuditSigningKey({ pem, path: "/nonexistent/never-read" }).keyId).toMatch(/^aek_/);
  });
});

describe("loadAuditSigningKey in production", () => {
  it("never creates a key: without PRAXA_AUDIT_SIGNING_KEY and without a file it refuses, naming the variable", () => {
    const path = join(mkdtempSync(join(tmpdir(), "praxa-audit-key-")), "audit-signing.key");
    let err: unknown;
    try {
      loadAuditSigningKey({ path, production: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.key)).toEqual(["PRAXA_AUDIT_SIGNING_KEY"]);
    expect(existsSync(path)).toBe(false);
    // Outside production the same call makes the key (0600) for local development.
    expect(loadAuditSigningKey({ path }).keyId).toMatch(/.+/);
    expect(existsSync(path)).toBe(true);
  });
});
