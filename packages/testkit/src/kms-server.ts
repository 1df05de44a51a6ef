/**
 * A loopback AWS KMS, enough for envelope encryption and signing: `GenerateDataKey`, `Encrypt`, `Decrypt`, `Sign`,
 * `Verify`, `GetPublicKey`, `CreateKey`, `DescribeKey`.
 *
 * Wire format (AWS JSON 1.1 protocol, as the real `@aws-sdk/client-kms` speaks it): `POST /` with
 * `Content-Type: application/x-amz-json-1.1` and `X-Amz-Target: TrentService.<Operation>`; blobs (Plaintext,
 * CiphertextBlob, Message, Signature, PublicKey) are base64 strings in the JSON; errors are HTTP 400 with
 * `{"__type":"InvalidCiphertextException","Message":…}`. Source: AWS Key Management Service API Reference —
 * GenerateDataKey, Encrypt, Decrypt, Sign, Verify, GetPublicKey, CreateKey, DescribeKey, "Common Errors" — the
 * Developer Guide's "Key spec reference", and the "AWS JSON 1.1 protocol" page of the Smithy specification.
 *
 * What it does honestly:
 * - Keys live in memory only. A symmetric key is 32 random bytes; ciphertext blobs are
 *   `0x01 ‖ key uuid (16) ‖ iv (12) ‖ tag (16) ‖ AES-256-GCM ciphertext`, with the EncryptionContext bound as AAD
 *   (its pairs sorted by key, as JSON) — so a different, missing or extra context pair fails to decrypt with
 *   `InvalidCiphertextException`, as real KMS does. A `KeyId` on Decrypt naming another key → `IncorrectKeyException`.
 * - Key usage is enforced as KMS enforces it: a key is either ENCRYPT_DECRYPT or SIGN_VERIFY, fixed at creation.
 *   `Encrypt` / `Decrypt` / `GenerateDataKey` on anything but a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key →
 *   `InvalidKeyUsageException`; `Sign` / `Verify` on a key whose usage is not SIGN_VERIFY → `InvalidKeyUsageException`;
 *   `Sign` / `Verify` with a `SigningAlgorithm` the key spec does not offer → `InvalidKeyUsageException`;
 *   `GetPublicKey` on a symmetric key → `UnsupportedOperationException`; `CreateKey` with a spec/usage pair KMS
 *   does not offer (SYMMETRIC_DEFAULT + SIGN_VERIFY, ECC + ENCRYPT_DECRYPT) → `ValidationException`.
 * - Asymmetric keys are real node:crypto keys: ECC_NIST_P256/P384/P521 and ECC_SECG_P256K1 (ECDSA_SHA_256/384/512,
 *   DER signatures), ECC_NIST_EDWARDS25519 (ED25519_SHA_512), RSA_2048/3072/4096 (RSASSA_PSS_* with salt = hash
 *   length, RSASSA_PKCS1_V1_5_*). `GetPublicKey` returns the SubjectPublicKeyInfo DER, so signatures verify with it;
 *   `Verify` answers `SignatureValid: true` or `KMSInvalidSignatureException`.
 * - KeyId may be a key id, key ARN, alias name (`alias/…`) or alias ARN.
 * - It counts calls per operation (`calls`) so tests can assert how often KMS was asked.
 *
 * Honest limits: the SigV4 `Authorization` header is required but its signature is not verified; no key policies,
 * grants, key states (disable, deletion), multi-region keys, automatic rotation, HMAC, SM2 or KEY_AGREEMENT keys;
 * `MessageType: DIGEST` and ED25519_PH_SHA_512 are not supported (`UnsupportedOperationException`); RSA
 * ENCRYPT_DECRYPT keys exist (for usage checks) but RSAES_OAEP encryption is not implemented; ciphertext blobs are not
 * interchangeable with real KMS blobs; `GrantTokens`, `DryRun`, `Description`, `Tags` and `Policy` are ignored; an
 * `EncryptionAlgorithm` other than SYMMETRIC_DEFAULT is refused.
 */
import {
  createCipheriv,
  createDecipheriv,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign as nodeSign,
  verify as nodeVerify,
  constants as cryptoConstants,
  type KeyObject,
} from "node:crypto";
import { sendJson, startLoopbackServer, type LoopbackServer } from "./loopback-server.js";

export type KmsKeySpec =
  | "SYMMETRIC_DEFAULT"
  | "ECC_NIST_P256"
  | "ECC_NIST_P384"
  | "ECC_NIST_P521"
  | "ECC_SECG_P256K1"
  | "ECC_NIST_EDWARDS25519"
  | "RSA_2048"
  | "RSA_3072"
  | "RSA_4096";
export type KmsKeyUsage = "ENCRYPT_DECRYPT" | "SIGN_VERIFY";

export interface KmsKeyInfo {
  readonly keyId: string;
  readonly arn: string;
  readonly keySpec: KmsKeySpec;
  readonly keyUsage: KmsKeyUsage;
  readonly alias: string | undefined;
}

export interface KmsServer extends LoopbackServer {
  /** Number of calls per `X-Amz-Target` operation name (e.g. `Decrypt`). */
  readonly calls: Readonly<Record<string, number>>;
  /** Created at start: a symmetric ENCRYPT_DECRYPT key, alias `alias/praxa-test`. */
  readonly symmetricKey: KmsKeyInfo;
  /** Created at start: an ECC_NIST_P256 SIGN_VERIFY key, alias `alias/praxa-audit`. */
  readonly signingKey: KmsKeyInfo;
  /**
   * A key as `CreateKey` makes one. Usage defaults as KMS's does: ENCRYPT_DECRYPT for SYMMETRIC_DEFAULT and RSA specs,
   * SIGN_VERIFY for ECC specs (which KMS offers only for signing here). A spec/usage pair KMS refuses throws.
   */
  createKey(spec?: KmsKeySpec, alias?: string, usage?: KmsKeyUsage): KmsKeyInfo;
}

export interface KmsServerOptions {
  readonly region?: string;
  readonly account?: string;
}

interface StoredKey extends KmsKeyInfo {
  readonly secret?: Buffer;
  readonly privateKey?: KeyObject;
  readonly publicKey?: KeyObject;
  readonly publicKeyDer?: Buffer;
}

class KmsFault extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const KEY_SPECS: readonly KmsKeySpec[] = [
  "SYMMETRIC_DEFAULT",
  "ECC_NIST_P256",
  "ECC_NIST_P384",
  "ECC_NIST_P521",
  "ECC_SECG_P256K1",
  "ECC_NIST_EDWARDS25519",
  "RSA_2048",
  "RSA_3072",
  "RSA_4096",
];

const RSA_SIGNING = [
  "RSASSA_PSS_SHA_256",
  "RSASSA_PSS_SHA_384",
  "RSASSA_PSS_SHA_512",
  "RSASSA_PKCS1_V1_5_SHA_256",
  "RSASSA_PKCS1_V1_5_SHA_384",
  "RSASSA_PKCS1_V1_5_SHA_512",
];

/** The signing algorithms KMS offers per key spec (AWS KMS Developer Guide, "Key spec reference"). */
const SIGNING_ALGORITHMS: Readonly<Record<string, readonly string[]>> = {
  ECC_NIST_P256: ["ECDSA_SHA_256"],
  ECC_NIST_P384: ["ECDSA_SHA_384"],
  ECC_NIST_P521: ["ECDSA_SHA_512"],
  ECC_SECG_P256K1: ["ECDSA_SHA_256"],
  ECC_NIST_EDWARDS25519: ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
  RSA_2048: RSA_SIGNING,
  RSA_3072: RSA_SIGNING,
  RSA_4096: RSA_SIGNING,
};

/** The key usages KMS allows per spec (ECC: SIGN_VERIFY; KEY_AGREEMENT, HMAC and SM2 are not modelled). */
const USAGES: Readonly<Record<KmsKeySpec, readonly KmsKeyUsage[]>> = {
  SYMMETRIC_DEFAULT: ["ENCRYPT_DECRYPT"],
  ECC_NIST_P256: ["SIGN_VERIFY"],
  ECC_NIST_P384: ["SIGN_VERIFY"],
  ECC_NIST_P521: ["SIGN_VERIFY"],
  ECC_SECG_P256K1: ["SIGN_VERIFY"],
  ECC_NIST_EDWARDS25519: ["SIGN_VERIFY"],
  RSA_2048: ["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
  RSA_3072: ["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
  RSA_4096: ["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
};

const CURVES: Readonly<Partial<Record<KmsKeySpec, string>>> = {
  ECC_NIST_P256: "prime256v1",
  ECC_NIST_P384: "secp384r1",
  ECC_NIST_P521: "secp521r1",
  ECC_SECG_P256K1: "secp256k1",
};

/** node:crypto digest and padding for a KMS signing algorithm (RAW messages). */
function signParams(algorithm: string): { digest: string | null; padding?: number; saltLength?: number } {
  if (algorithm === "ED25519_SHA_512") return { digest: null };
  const bits = /_(256|384|512)$/.exec(algorithm)?.[1] ?? "256";
  const digest = `sha${bits}`;
  // KMS's RSASSA-PSS: MGF1 with the same hash, salt length = the hash length.
  if (algorithm.startsWith("RSASSA_PSS_"))
    return { digest, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 };
  if (algorithm.startsWith("RSASSA_PKCS1_V1_5_")) return { digest, padding: cryptoConstants.RSA_PKCS1_PADDING };
  return { digest };
}

function contextAad(context: unknown): Buffer {
  if (context === undefined || context === null) return Buffer.alloc(0);
  if (typeof context !== "object" || Array.isArray(context))
    throw new KmsFault("ValidationException", "EncryptionContext must be a map of strings");
  const entries = Object.entries(context as Record<string, unknown>);
  for (const [, v] of entries)
    if (typeof v !== "string") throw new KmsFault("ValidationException", "EncryptionContext values must be strings");
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(entries), "utf8");
}

function blob(body: Record<string, unknown>, field: string, min: number, max: number): Buffer {
  const value = body[field];
  if (typeof value !== "string")
    throw new KmsFault(
      "ValidationException",
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  const bytes = Buffer.from(value, "base64");
  if (bytes.length < min || bytes.length > max) {
    throw new KmsFault(
      "ValidationException",
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length between ${min} and ${max}`,
    );
  }
  return bytes;
}

export async function startKmsServer(options: KmsServerOptions = {}): Promise<KmsServer> {
  const region = options.region ?? "us-west-1";
  const account = options.account ?? "000000000000";
  const keys = new Map<string, StoredKey>();
  const aliases = new Map<string, string>();
  const calls: Record<string, number> = {};
  const arnOf = (keyId: string): string => `arn:aws:kms:${region}:${account}:key/${keyId}`;

  const createKey = (spec: KmsKeySpec = "SYMMETRIC_DEFAULT", alias?: string, usage?: KmsKeyUsage): KmsKeyInfo => {
    if (!KEY_SPECS.includes(spec))
      throw new KmsFault(
        "ValidationException",
        `1 validation error detected: Value at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [${KEY_SPECS.join(", ")}]`,
      );
    const keyUsage = usage ?? (USAGES[spec].includes("ENCRYPT_DECRYPT") ? "ENCRYPT_DECRYPT" : "SIGN_VERIFY");
    if (!USAGES[spec].includes(keyUsage))
      throw new KmsFault("ValidationException", `KeyUsage ${keyUsage} is not compatible with KeySpec ${spec}`);
    if (alias !== undefined && aliases.has(alias))
      throw new KmsFault("AlreadyExistsException", `An alias with the name ${alias} already exists`);
    const keyId = randomUUID();
    const info = { keyId, arn: arnOf(keyId), keySpec: spec, keyUsage, alias };
    let stored: StoredKey;
    if (spec === "SYMMETRIC_DEFAULT") stored = { ...info, secret: randomBytes(32) };
    else {
      const curve = CURVES[spec];
      const pair =
        curve !== undefined
          ? generateKeyPairSync("ec", { namedCurve: curve })
          : spec === "ECC_NIST_EDWARDS25519"
            ? generateKeyPairSync("ed25519")
            : generateKeyPairSync("rsa", { modulusLength: Number(spec.slice(4)) });
      stored = {
        ...info,
        privateKey: pair.privateKey,
        publicKey: pair.publicKey,
        publicKeyDer: pair.publicKey.export({ format: "der", type: "spki" }),
      };
    }
    keys.set(keyId, stored);
    if (alias !== undefined) aliases.set(alias, keyId);
    return info;
  };

  const resolve = (ref: unknown): StoredKey => {
    if (typeof ref !== "string" || ref.length === 0)
      throw new KmsFault(
        "ValidationException",
        "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must not be null",
      );
    let id = ref;
    const arn = /^arn:aws:kms:[^:]*:[^:]*:(key\/.+|alias\/.+)$/.exec(ref);
    if (arn?.[1] !== undefined) id = arn[1].startsWith("key/") ? arn[1].slice(4) : arn[1];
    if (id.startsWith("alias/")) id = aliases.get(id) ?? id;
    const key = keys.get(id);
    if (key === undefined) throw new KmsFault("NotFoundException", `Key '${ref}' does not exist`);
    return key;
  };

  const metadata = (key: StoredKey): Record<string, unknown> => ({
    AWSAccountId: account,
    KeyId: key.keyId,
    Arn: key.arn,
    Enabled: true,
    KeyState: "Enabled",
    KeyManager: "CUSTOMER",
    Origin: "AWS_KMS",
    KeySpec: key.keySpec,
    CustomerMasterKeySpec: key.keySpec,
    KeyUsage: key.keyUsage,
    ...(key.keyUsage === "SIGN_VERIFY"
      ? { SigningAlgorithms: SIGNING_ALGORITHMS[key.keySpec] ?? [] }
      : {
          EncryptionAlgorithms:
            key.keySpec === "SYMMETRIC_DEFAULT" ? ["SYMMETRIC_DEFAULT"] : ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"],
        }),
  });

  // As KMS: symmetric operations (Encrypt, Decrypt, GenerateDataKey) need a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key; an
  // asymmetric key is refused with InvalidKeyUsageException whatever its usage.
  const symmetric = (key: StoredKey): Buffer => {
    if (key.keyUsage !== "ENCRYPT_DECRYPT")
      throw new KmsFault(
        "InvalidKeyUsageException",
        `${key.arn} key usage is ${key.keyUsage} which is not valid for this operation.`,
      );
    if (key.secret === undefined)
      throw new KmsFault(
        "InvalidKeyUsageException",
        `Algorithm SYMMETRIC_DEFAULT is incompatible with key spec ${key.keySpec}.`,
      );
    return key.secret;
  };

  // As KMS: Sign and Verify need a SIGN_VERIFY key and an algorithm its spec offers.
  const signingKeyFor = (body: Record<string, unknown>): { key: StoredKey; algorithm: string } => {
    const key = resolve(body["KeyId"]);
    if (key.keyUsage !== "SIGN_VERIFY" || key.privateKey === undefined) {
      throw new KmsFault(
        "InvalidKeyUsageException",
        `${key.arn} key usage is ${key.keyUsage} which is not valid for this operation.`,
      );
    }
    const algorithm = body["SigningAlgorithm"];
    if (typeof algorithm !== "string")
      throw new KmsFault(
        "ValidationException",
        "1 validation error detected: Value at 'signingAlgorithm' failed to satisfy constraint: Member must not be null",
      );
    if (!(SIGNING_ALGORITHMS[key.keySpec] ?? []).includes(algorithm)) {
      throw new KmsFault(
        "InvalidKeyUsageException",
        `Algorithm ${algorithm} is incompatible with key spec ${key.keySpec}.`,
      );
    }
    if ((body["MessageType"] ?? "RAW") !== "RAW" || algorithm === "ED25519_PH_SHA_512") {
      throw new KmsFault("UnsupportedOperationException", "only MessageType RAW is supported by the loopback server");
    }
    return { key, algorithm };
  };

  const encrypt = (key: StoredKey, plaintext: Buffer, context: unknown): Buffer => {
    const secret = symmetric(key);
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", secret, iv);
    cipher.setAAD(contextAad(context));
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([
      Buffer.of(1),
      Buffer.from(key.keyId.replaceAll("-", ""), "hex"),
      iv,
      cipher.getAuthTag(),
      ct,
    ]);
  };

  const operations: Readonly<Record<string, (body: Record<string, unknown>) => Record<string, unknown>>> = {
    GenerateDataKey: (body) => {
      const key = resolve(body["KeyId"]);
      symmetric(key);
      const spec = body["KeySpec"];
      const n = body["NumberOfBytes"];
      if ((spec === undefined) === (n === undefined))
        throw new KmsFault("ValidationException", "Please specify either number of bytes or key spec.");
      let length: number;
      if (spec === "AES_256") length = 32;
      else if (spec === "AES_128") length = 16;
      else if (typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 1024) length = n;
      else throw new KmsFault("ValidationException", "KeySpec must be AES_256 or AES_128, or NumberOfBytes 1-1024");
      const plaintext = randomBytes(length);
      const ciphertext = encrypt(key, plaintext, body["EncryptionContext"]);
      return { KeyId: key.arn, Plaintext: plaintext.toString("base64"), CiphertextBlob: ciphertext.toString("base64") };
    },
    Encrypt: (body) => {
      const key = resolve(body["KeyId"]);
      symmetric(key);
      const algorithm = body["EncryptionAlgorithm"];
      if (algorithm !== undefined && algorithm !== "SYMMETRIC_DEFAULT")
        throw new KmsFault(
          "UnsupportedOperationException",
          "only SYMMETRIC_DEFAULT is supported by the loopback server",
        );
      const ciphertext = encrypt(key, blob(body, "Plaintext", 1, 4096), body["EncryptionContext"]);
      return {
        KeyId: key.arn,
        CiphertextBlob: ciphertext.toString("base64"),
        EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
      };
    },
    Decrypt: (body) => {
      const data = blob(body, "CiphertextBlob", 1, 6144);
      const invalid = new KmsFault(
        "InvalidCiphertextException",
        "The ciphertext is invalid, was not produced by this key, or was encrypted under a different encryption context.",
      );
      if (data.length < 1 + 16 + 12 + 16 || data[0] !== 1) throw invalid;
      const hex = data.subarray(1, 17).toString("hex");
      const blobKeyId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      const key = keys.get(blobKeyId);
      if (key === undefined) throw invalid;
      if (body["KeyId"] !== undefined) symmetric(resolve(body["KeyId"]));
      if (body["KeyId"] !== undefined && resolve(body["KeyId"]).keyId !== key.keyId) {
        throw new KmsFault(
          "IncorrectKeyException",
          "The key ID in the request does not identify a CMK that can perform this operation.",
        );
      }
      const decipher = createDecipheriv("aes-256-gcm", symmetric(key), data.subarray(17, 29));
      decipher.setAuthTag(data.subarray(29, 45));
      decipher.setAAD(contextAad(body["EncryptionContext"]));
      let plaintext: Buffer;
      try {
        plaintext = Buffer.concat([decipher.update(data.subarray(45)), decipher.final()]);
      } catch {
        throw invalid;
      }
      return { KeyId: key.arn, Plaintext: plaintext.toString("base64"), EncryptionAlgorithm: "SYMMETRIC_DEFAULT" };
    },
    Sign: (body) => {
      const { key, algorithm } = signingKeyFor(body);
      const message = blob(body, "Message", 1, 4096);
      const p = signParams(algorithm);
      const signature = nodeSign(p.digest, message, {
        key: key.privateKey as KeyObject,
        ...(p.padding !== undefined ? { padding: p.padding } : {}),
        ...(p.saltLength !== undefined ? { saltLength: p.saltLength } : {}),
      });
      return { KeyId: key.arn, Signature: signature.toString("base64"), SigningAlgorithm: algorithm };
    },
    Verify: (body) => {
      const { key, algorithm } = signingKeyFor(body);
      const message = blob(body, "Message", 1, 4096);
      const signature = blob(body, "Signature", 1, 6144);
      const p = signParams(algorithm);
      let ok = false;
      try {
        ok = nodeVerify(
          p.digest,
          message,
          {
            key: key.publicKey as KeyObject,
            ...(p.padding !== undefined ? { padding: p.padding } : {}),
            ...(p.saltLength !== undefined ? { saltLength: p.saltLength } : {}),
          },
          signature,
        );
      } catch {
        ok = false;
      }
      // KMS answers an invalid signature with an error, never SignatureValid: false.
      if (!ok) throw new KmsFault("KMSInvalidSignatureException", "The signature is not valid.");
      return { KeyId: key.arn, SignatureValid: true, SigningAlgorithm: algorithm };
    },
    GetPublicKey: (body) => {
      const key = resolve(body["KeyId"]);
      // KMS: a symmetric key has no public half (UnsupportedOperationException).
      if (key.publicKeyDer === undefined)
        throw new KmsFault(
          "UnsupportedOperationException",
          `${key.arn} key usage is ${key.keyUsage} and key spec is SYMMETRIC_DEFAULT; GetPublicKey is not valid for a symmetric key.`,
        );
      const signing = key.keyUsage === "SIGN_VERIFY";
      return {
        KeyId: key.arn,
        PublicKey: key.publicKeyDer.toString("base64"),
        KeySpec: key.keySpec,
        CustomerMasterKeySpec: key.keySpec,
        KeyUsage: key.keyUsage,
        ...(signing
          ? { SigningAlgorithms: SIGNING_ALGORITHMS[key.keySpec] ?? [] }
          : { EncryptionAlgorithms: ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] }),
      };
    },
    CreateKey: (body) => {
      const spec = body["KeySpec"] ?? body["CustomerMasterKeySpec"] ?? "SYMMETRIC_DEFAULT";
      const usage = body["KeyUsage"];
      if (usage !== undefined && usage !== "ENCRYPT_DECRYPT" && usage !== "SIGN_VERIFY") {
        throw new KmsFault(
          "UnsupportedOperationException",
          `KeyUsage ${String(usage)} is not supported by the loopback server`,
        );
      }
      const info = createKey(spec as KmsKeySpec, undefined, usage as KmsKeyUsage | undefined);
      return { KeyMetadata: metadata(keys.get(info.keyId) as StoredKey) };
    },
    DescribeKey: (body) => ({ KeyMetadata: metadata(resolve(body["KeyId"])) }),
  };

  const server = await startLoopbackServer((req, res) => {
    const target = req.headers["x-amz-target"] ?? "";
    const op = target.startsWith("TrentService.") ? target.slice("TrentService.".length) : "";
    calls[op || "(none)"] = (calls[op || "(none)"] ?? 0) + 1;
    if (req.method !== "POST" || !req.headers["content-type"]?.startsWith("application/x-amz-json-1.1")) {
      return sendJson(res, 400, {
        __type: "SerializationException",
        Message: "expected POST with application/x-amz-json-1.1",
      });
    }
    if (!req.headers.authorization?.startsWith("AWS4-HMAC-SHA256 ")) {
      return sendJson(res, 400, {
        __type: "MissingAuthenticationTokenException",
        Message: "missing SigV4 Authorization",
      });
    }
    const handler = operations[op];
    if (handler === undefined) {
      return sendJson(res, 400, {
        __type: "UnknownOperationException",
        Message: "operation not supported by the loopback server",
      });
    }
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString("utf8") || "{}");
    } catch {
      return sendJson(res, 400, { __type: "SerializationException", Message: "body is not JSON" });
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return sendJson(res, 400, { __type: "SerializationException", Message: "body must be a JSON object" });
    }
    try {
      return sendJson(res, 200, handler(body as Record<string, unknown>));
    } catch (err) {
      if (err instanceof KmsFault)
        return sendJson(res, 400, { __type: err.type, Message: err.message }, { "x-amzn-errortype": err.type });
      throw err;
    }
  });

  const symmetricKey = createKey("SYMMETRIC_DEFAULT", "alias/praxa-test");
  const signingKey = createKey("ECC_NIST_P256", "alias/praxa-audit");
  return Object.assign(server, { calls, symmetricKey, signingKey, createKey });
}
