-- Review finding 4 (issue 16): production checkpoints are signed by a KMS ECC_NIST_P256 key (ECDSA_SHA_256), the local
-- provider's by Ed25519. A registered key's SubjectPublicKeyInfo must be a key of the algorithm it is registered under,
-- so the key set never tells a verifier "ed25519" for an EC key (or P-256 for another curve). The verifier checks the
-- same (packages/core/src/audit/verify-checkpoint.ts); this is the registry's half.
--
-- Both SPKI forms are fixed-length DER with a fixed prefix (RFC 8410 §4 for Ed25519; RFC 5480 §2 for an uncompressed
-- P-256 point, which is what KMS GetPublicKey and node:crypto export):
--   ed25519            44 bytes  30 2a 30 05 06 03 2b 65 70 03 21 00 ‖ 32-byte key
--   ecdsa-p256-sha256  91 bytes  30 59 30 13 06 07 2a 86 48 ce 3d 02 01 06 08 2a 86 48 ce 3d 03 01 07 03 42 00 04 ‖ X ‖ Y
SET LOCAL ROLE praxa_owner;

ALTER TABLE audit_keys ADD CONSTRAINT audit_keys_spki_matches_algorithm CHECK (
  (algorithm = 'ed25519' AND length(spki) = 44 AND substring(spki FROM 1 FOR 12) = decode('302a300506032b6570032100', 'hex'))
  OR (algorithm = 'ecdsa-p256-sha256' AND length(spki) = 91 AND substring(spki FROM 1 FOR 27) = decode('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex'))
);
