/**
 * The Ed25519 key an app signs audit events with. "A key the appending app holds": in production its PKCS#8 PEM comes
 * from Secrets Manager at boot (`PRAXA_AUDIT_SIGNING_KEY`); locally it is a file created on first run (mode 0600).
 * The key id is derived from the public key (`aek_` + 24 hex of SHA-256(SPKI)), so a rotated key gets a new id and
 * old events stay verifiable by theirs.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError } from "@praxa/core";

export interface AuditSigningKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  /** SubjectPublicKeyInfo DER, to register in the database and publish to customers. */
  readonly spki: Buffer;
}

function fromPem(pem: string, source: string): AuditSigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new ConfigError([{ key: source, problem: "not a PKCS#8 PEM private key" }]);
  }
  if (privateKey.asymmetricKeyType !== "ed25519")
    throw new ConfigError([{ key: source, problem: "the audit signing key must be Ed25519" }]);
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return { keyId: `aek_${createHash("sha256").update(spki).digest("hex").slice(0, 24)}`, privateKey, spki };
}

/** From a PEM (Secrets Manager) when given, else from the local file (created 0600 on first run). */
export function loadAuditSigningKey(options: {
  readonly pem?: string | undefined;
  readonly path: string;
  /**
   * NODE_ENV=production: never create a key. The key comes from the app's secret (`PRAXA_AUDIT_SIGNING_KEY`) or an
   * existing file; a key made inside an ephemeral container would be lost with it, and every restart would add one.
   */
  readonly production?: boolean;
}): AuditSigningKey {
  if (options.pem) return fromPem(options.pem, "PRAXA_AUDIT_SIGNING_KEY");
  try {
    if ((statSync(options.path).mode & 0o077) !== 0)
      throw new ConfigError([
        {
          key: "PRAXA_AUDIT_SIGNING_KEY_FILE",
          problem: "the key file must not be readable by group or others (chmod 600)",
        },
      ]);
    return fromPem(readFileSync(options.path, "utf8"), "PRAXA_AUDIT_SIGNING_KEY_FILE");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  if (options.production) {
    throw new ConfigError([
      {
        key: "PRAXA_AUDIT_SIGNING_KEY",
        problem:
          "required in production (a PEM Ed25519 private key, from the app's secret); production never creates one",
      },
    ]);
  }
  const { privateKey } = generateKeyPairSync("ed25519");
  mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(options.path, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600, flag: "wx" });
    chmodSync(options.path, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err; // another process created it first: use theirs
  }
  return fromPem(readFileSync(options.path, "utf8"), "PRAXA_AUDIT_SIGNING_KEY_FILE");
}
