/**
 * @praxa/crypto — the key hierarchy (KMS key → tenant data key → workspace key → credentials), the `KeyProvider`
 * implementations, HPKE credential sealing and committed AES-256-GCM wraps. See docs/crypto.md.
 */
export * from "./errors.js";
export { newKeyId, isKeyId, type KeyIdPrefix } from "./key-id.js";
export {
  parseEncryptionContext,
  canonicalEncryptionContext,
  MAX_CONTEXT_PAIRS,
  type EncryptionContext,
} from "./encryption-context.js";
export {
  parseWrappedBlob,
  serializeWrappedBlob,
  wrappedBlobKeyId,
  WRAP_TYPE,
  WRAP_VERSION,
  type WrappedBlob,
} from "./wrapped-blob.js";
export {
  WrappingKey,
  DEFAULT_WRAP_USAGE_LIMIT,
  MAX_WRAP_USAGE_LIMIT,
  WRAPPING_KEY_BYTES,
  type WrappingKeyOptions,
} from "./wrapping-key.js";
export { Keyring } from "./keyring.js";
export {
  verifySignature,
  signingPublicKeyPem,
  DATA_KEY_BYTES,
  MAX_WRAP_PLAINTEXT_BYTES,
  MAX_SIGN_MESSAGE_BYTES,
  type DataKey,
  type KeyProvider,
  type KeyProviderKind,
  type SigningAlgorithm,
  type SigningPublicKey,
} from "./key-provider.js";
export { LocalKeyProvider, type LocalKeyProviderOptions } from "./local-key-provider.js";
export { AwsKmsKeyProvider, type AwsKmsKeyProviderOptions } from "./aws-kms-key-provider.js";
export { mapKmsError, type KmsOperation } from "./aws-kms-errors.js";
export {
  parseSealedCredential,
  serializeSealedCredential,
  sealedCredentialKeyId,
  SEALED_TYPE,
  SEALED_VERSION,
  type SealedCredential,
} from "./sealed-credential.js";
export {
  sealCredential,
  openCredential,
  credentialAad,
  generateCredentialKeyPair,
  credentialPublicKeyOf,
  CredentialPrivateKey,
  MAX_CREDENTIAL_BYTES,
  type CredentialContext,
  type CredentialPublicKey,
} from "./credential-seal.js";
export {
  createTenantKey,
  openTenantKey,
  tenantKeyContext,
  TenantKey,
  type TenantKeyRecord,
  type TenantKeyOptions,
} from "./tenant-key.js";
export {
  createWorkspaceKey,
  openWorkspaceKey,
  rewrapWorkspaceKey,
  shredWorkspaceKey,
  workspacePublicKey,
  workspaceKeyAad,
  type WorkspaceKeyRecord,
} from "./workspace-key.js";
export { loadAuditSigningKey, type AuditSigningKey } from "./audit-signing-key.js";
export { openKeyProvider, type KeyProviderSettings } from "./open-key-provider.js";
