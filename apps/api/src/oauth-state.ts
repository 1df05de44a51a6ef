/**
 * OAuth install states. An install link carries a state the api issued for one workspace and one member; the
 * provider hands it back on the callback, which — a browser redirect — carries no api token. So the state is the
 * callback's credential, and it is treated like one:
 *  - `<workspace id>.<32 random bytes, base64url>`: the workspace id lets the callback look the state up inside that
 *    workspace's row-level-security scope (never a search across tenants); only SHA-256 of the whole string is stored;
 *  - single-use: consumed by `DELETE … RETURNING` (a replay finds nothing); expiring (10 minutes);
 *  - bound to the member who asked: at consumption that member must still be an owner or admin of the workspace, and
 *    is recorded as the integration's installer;
 *  - bound to that member's browser: SHA-256 of the nonce in the `__Host-praxa_install` cookie set by the install-start
 *    route is stored with the state (install-binding.ts); a state is consumed only by a request carrying that cookie.
 * Every failure — unknown, used, expired, malformed, member gone or demoted — is the same `OAUTH_STATE_INVALID`; a
 * valid state presented without its cookie is `INSTALL_NOT_BOUND` and is NOT consumed (the DELETE is rolled back), so
 * whoever holds a member's link without the member's browser can neither use it nor burn it.
 */
import { createHash, randomBytes } from "node:crypto";
import { isId, PraxaError, type WorkspaceId } from "@praxa/core";
import { and, eq, lt, schema, withWorkspace, type Database, type WorkspaceScope } from "@praxa/db";
import { installBindingMatches, InstallNotBoundError } from "./install-binding.js";

export const OAUTH_STATE_TTL_MS = 10 * 60_000;

export class OAuthStateInvalidError extends PraxaError {
  readonly code = "OAUTH_STATE_INVALID";
  readonly httpStatus = 400;
}

export type OAuthProvider = "github" | "slack";

export interface ConsumedState {
  readonly workspaceId: WorkspaceId;
  readonly memberId: string;
  readonly redirectUri: string | null;
  readonly createdAt: Date;
  /** SHA-256 (hex) of the browser's install nonce: carried on to the pending integration for its confirmation. */
  readonly bindingSha256: string;
}

const sha256 = (s: string): string => createHash("sha256").update(s, "utf8").digest("hex");

/**
 * Issue a state for `memberId` in the scope's workspace, bound to the browser whose install nonce hashes to
 * `bindingSha256` (expired states of the workspace are swept first).
 */
export async function issueOAuthState(
  scope: WorkspaceScope,
  provider: OAuthProvider,
  memberId: string,
  redirectUri: string | null,
  bindingSha256: string,
  now = Date.now(),
): Promise<{ state: string; expiresAt: Date }> {
  await scope.db.delete(schema.oauthStates).where(lt(schema.oauthStates.expiresAt, new Date(now)));
  const state = `${scope.workspaceId}.${randomBytes(32).toString("base64url")}`;
  const createdAt = new Date(now);
  const expiresAt = new Date(now + OAUTH_STATE_TTL_MS);
  await scope.db.insert(schema.oauthStates).values({
    workspaceId: scope.workspaceId,
    stateSha256: sha256(state),
    provider,
    memberId,
    redirectUri,
    createdAt,
    expiresAt,
    bindingSha256,
  });
  return { state, expiresAt };
}

/**
 * Consume a state once (in its own short transaction, so a later failure cannot un-consume it) — only for the browser
 * that started the install: `nonce` is the one its `__Host-praxa_install` cookie carries (null: no cookie).
 */
export async function consumeOAuthState(
  database: Database,
  provider: OAuthProvider,
  state: string,
  nonce: string | null,
  now = Date.now(),
): Promise<ConsumedState> {
  const invalid = new OAuthStateInvalidError("the install link is invalid, used or expired; start the install again");
  const m = /^([a-z]+_[0-9a-z]{26})\.([A-Za-z0-9_-]{43})$/.exec(state);
  const workspaceId = m?.[1];
  if (workspaceId === undefined || !isId("workspace", workspaceId)) throw invalid;
  const row = await withWorkspace(database, workspaceId, async (scope) => {
    const [consumed] = await scope.db
      .delete(schema.oauthStates)
      .where(and(eq(schema.oauthStates.stateSha256, sha256(state)), eq(schema.oauthStates.provider, provider)))
      .returning({
        memberId: schema.oauthStates.memberId,
        redirectUri: schema.oauthStates.redirectUri,
        createdAt: schema.oauthStates.createdAt,
        expiresAt: schema.oauthStates.expiresAt,
        bindingSha256: schema.oauthStates.bindingSha256,
      });
    // Unknown, used or expired: invalid (an expired one stays deleted).
    if (!consumed || consumed.expiresAt.getTime() <= now) return null;
    // Not this member's browser: thrown inside the transaction, so the DELETE is rolled back and the state kept.
    if (!installBindingMatches(nonce, consumed.bindingSha256)) {
      throw new InstallNotBoundError(
        "this install link was started in another browser (or its cookie expired): open it in the browser that started the install, or start again",
      );
    }
    const [member] = await scope.db
      .select({ role: schema.workspaceMembers.role })
      .from(schema.workspaceMembers)
      .where(eq(schema.workspaceMembers.id, consumed.memberId));
    return { ...consumed, role: member?.role };
  });
  if (!row || row.bindingSha256 === null || (row.role !== "owner" && row.role !== "admin")) throw invalid;
  return {
    workspaceId: workspaceId as WorkspaceId,
    memberId: row.memberId,
    redirectUri: row.redirectUri,
    createdAt: row.createdAt,
    bindingSha256: row.bindingSha256,
  };
}
