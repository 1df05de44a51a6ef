import { PraxaError } from "@praxa/core";

/** The manifest stored with the run's Skill version no longer hashes to its recorded hash: refuse to run it. */
export class ManifestHashMismatchError extends PraxaError {
  readonly code = "MANIFEST_HASH_MISMATCH";
  readonly httpStatus = 409;
}
