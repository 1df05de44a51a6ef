/**
 * The ingest fleet's own key pair for signed-producer secrets: the api seals each `whsec_` secret to its public half,
 * and only ingest — holding the private half in this file (mode 0600, created on first run; in production provisioned
 * to every ingest host from Secrets Manager) — opens them. The public half is published in the database at boot.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { ConfigError } from "@praxa/core";
import { CredentialPrivateKey, credentialPublicKeyOf, generateCredentialKeyPair } from "@praxa/crypto";

const KeyFile = z
  .object({ version: z.literal(1), keyId: z.string().regex(/^itk_[0-9a-f]{32}$/), privateKey: z.string() })
  .strict();

export interface IngestTriggerKey {
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  readonly privateKey: CredentialPrivateKey;
}

export async function loadIngestTriggerKey(path: string): Promise<IngestTriggerKey> {
  let text: string;
  try {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0)
      throw new ConfigError([
        { key: "INGEST_TRIGGER_KEY_FILE", problem: "the key file must not be readable by group or others (chmod 600)" },
      ]);
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    const keyId = `itk_${randomBytes(16).toString("hex")}`;
    const pair = await generateCredentialKeyPair(keyId);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    text = JSON.stringify({ version: 1, keyId, privateKey: Buffer.from(pair.privateKey).toString("base64") });
    writeFileSync(path, text, { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600);
  }
  let parsed: z.infer<typeof KeyFile>;
  try {
    parsed = KeyFile.parse(JSON.parse(text));
  } catch {
    throw new ConfigError([
      { key: "INGEST_TRIGGER_KEY_FILE", problem: "the key file is not a valid ingest trigger key" },
    ]);
  }
  const raw = Buffer.from(parsed.privateKey, "base64");
  return {
    keyId: parsed.keyId,
    publicKey: credentialPublicKeyOf(raw),
    privateKey: await CredentialPrivateKey.fromRaw(parsed.keyId, raw),
  };
}
