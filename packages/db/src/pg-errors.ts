/**
 * Postgres errors → Praxa's typed errors. SQLSTATE 42501 means both "row-level security refused this row" and "no
 * privilege": only the former is a WorkspaceScopeError; the latter stays a permission error. Our definer functions
 * raise SQLSTATE class PX (see migrations/0003).
 */
import {
  ConflictError,
  InternalError,
  LeaseLostError,
  NotFoundError,
  PermissionDeniedError,
  PraxaError,
  RunCancelledError,
  UnavailableError,
  ValidationError,
  WorkspaceScopeError,
} from "@praxa/core";

interface PgLikeError {
  readonly code: string;
  readonly message: string;
}

/** The Postgres error inside `err` (drizzle wraps driver errors in its own; postgres.js's carry `code`). */
export function findPgError(err: unknown): PgLikeError | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current !== null && typeof current === "object"; depth++) {
    const candidate = current as { code?: unknown; message?: unknown; cause?: unknown; severity?: unknown };
    if (
      typeof candidate.code === "string" &&
      typeof candidate.message === "string" &&
      /^[0-9A-Z]{5}$/.test(candidate.code)
    ) {
      return { code: candidate.code, message: candidate.message };
    }
    current = candidate.cause;
  }
  return undefined;
}

export function isRowLevelSecurityViolation(err: unknown): boolean {
  const pg = findPgError(err);
  return pg?.code === "42501" && /row-level security/i.test(pg.message);
}

/** Map a database error to a PraxaError; messages are ours, never the driver's (which may quote row values). */
export function mapPgError(err: unknown): PraxaError {
  if (err instanceof PraxaError) return err;
  const pg = findPgError(err);
  if (!pg) {
    const code =
      typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : "";
    if (
      [
        "ECONNREFUSED",
        "ECONNRESET",
        "ETIMEDOUT",
        "CONNECT_TIMEOUT",
        "CONNECTION_CLOSED",
        "CONNECTION_ENDED",
        "CONNECTION_DESTROYED",
      ].includes(code)
    ) {
      return new UnavailableError("the database is unreachable", { cause: err });
    }
    return new InternalError("unexpected database error", { cause: err });
  }
  switch (pg.code) {
    case "42501":
      return isRowLevelSecurityViolation(err)
        ? new WorkspaceScopeError("row-level security refused a row outside the workspace scope", { cause: err })
        : new PermissionDeniedError("the database role lacks a privilege for this operation", { cause: err });
    case "PXL01":
      return new LeaseLostError("the run lease was lost (expired or taken over)", { cause: err });
    case "PXC01":
      return new RunCancelledError("the run was cancelled", { cause: err });
    case "PXS01":
      return new WorkspaceScopeError("the run is not in the workspace of this scope", { cause: err });
    case "PXN01":
      return new NotFoundError("not found", { cause: err });
    case "PXV01":
    case "22P02":
    case "23514":
    case "23502":
      return new ValidationError("the database refused an invalid value", {
        cause: err,
        details: { sqlstate: pg.code },
      });
    case "23505":
      return new ConflictError("a row with the same unique key already exists", {
        cause: err,
        details: { sqlstate: pg.code },
      });
    case "23503":
      // A composite foreign key to another workspace's row fails here, as does a dangling reference.
      return new WorkspaceScopeError("a reference points at no row in this workspace", { cause: err });
    case "40001":
    case "40P01":
      // A serialization failure or a deadlock Postgres broke: the transaction did nothing and may simply be run again.
      return new UnavailableError("the database asked for the transaction to be retried", {
        cause: err,
        details: { sqlstate: pg.code },
      });
    case "57P01":
    case "57P02":
    case "57P03":
    case "08000":
    case "08003":
    case "08006":
      return new UnavailableError("the database is unavailable", { cause: err });
    default:
      return new InternalError(`database error (SQLSTATE ${pg.code})`, { cause: err, details: { sqlstate: pg.code } });
  }
}

/**
 * Map `err` if it came from the database (a Postgres error or a lost connection); anything else — a bug in the
 * caller's code, a validation error — is returned untouched, never disguised as a database error.
 */
export function mapDatabaseError(err: unknown): unknown {
  if (err instanceof PraxaError) return err;
  if (findPgError(err)) return mapPgError(err);
  const mapped = mapPgError(err);
  return mapped instanceof UnavailableError ? mapped : err;
}
