/**
 * The ingest fleet's own key pair for signed-producer secrets: the api seals each `whsec_` secret to its public half,
 * and only ingest — holding the private half — opens them. The public half is published in the database at boot.
 *
 * Where the private half comes from: `INGEST_TRIGGER_KEY` (the key file's JSON, from the ingest secret in Secrets
 * Manager: every ingest process of the fleet must hold the same key, and a container's root filesystem is read-only
 * and ephemeral), else the file at `INGEST_TRIGGER_KEY_FILE` (mode 0600). Outside production a missing file is created;
 * in production it never is — a fresh key on one host would leave every secret sealed to the fleet's key unopenable
 * there — and ingest refuses to start instead.
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

export interface IngestTriggerKeySource {
  readonly file: string;
  /** The key file's JSON itself (INGEST_TRIGGER_KEY); takes precedence over the file. */
  readonly value?: string | undefined;
  /** NODE_ENV=production: never create a key. */
  readonly production?: boolean;
}

export async function loadIngestTriggerKey(source: string | IngestTriggerKeySource): Promise<IngestTriggerKey> {
  const { file: path, value, production = false } = typeof source === "string" ? { file: source } : source;
  if (value !== undefined) return parseKey(value, "INGEST_TRIGGER_KEY");
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
    if (production) {
      throw new ConfigError([
        {
          key: "INGEST_TRIGGER_KEY",
          problem:
            "required in production: the key file's JSON, from the ingest secret (the fleet shares one key; production never creates one)",
        },
      ]);
    }
    const keyId = `itk_${randomBytes(16).toString("hex")}`;
    const pair = await generateCredentialKeyPair(keyId);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    text = JSON.stringify({ version: 1, keyId, privateKey: Buffer.from(pair.privateKey).toString("base64") });
    writeFileSync(path, text, { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600);
  }
  return parseKey(text, "INGEST_TRIGGER_KEY_FILE");
}

async function parseKey(text: string, key: string): Promise<IngestTriggerKey> {
  let parsed: z.infer<typeof KeyFile>;
  try {
    parsed = KeyFile.parse(JSON.parse(text));
  } catch {
    throw new ConfigError([{ key, problem: "not a valid ingest trigger key" }]);
  }
  const raw = Buffer.from(parsed.privateKey, "base64");
  return {
    keyId: parsed.keyId,
    publicKey: credentialPublicKeyOf(raw),
    privateKey: await CredentialPrivateKey.fromRaw(parsed.keyId, raw),
  };
}
