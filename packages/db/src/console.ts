/**
 * The console's sign-in (migration 0034, docs/decisions/0006-console-sessions.md): an OIDC sign-in in flight kept
 * server-side by the SHA-256 of its state, and a session that is a short-lived `human` api token of the member the
 * IdP's identity maps to (or of the member a single-use sign-in link names).
 */
import { createHash } from "node:crypto";
import { sql as dsql } from "drizzle-orm";
import { z } from "zod";
import { NotFoundError } from "@praxa/core";
import type { WorkspaceScope } from "./scope.js";
import { queryScopedRows } from "./typed-query.js";
import { MEMBER_ROLES } from "./schema.js";

const date = z.union([z.date(), z.string().transform((s) => new Date(s))]);
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

export interface PendingSignIn {
  readonly codeVerifier: string;
  readonly nonce: string;
  readonly returnTo: string;
}

/** Record a sign-in in flight (its state stored only as a hash), expiring in `ttlSeconds`. */
export async function beginConsoleSignIn(
  scope: WorkspaceScope,
  s: PendingSignIn & { readonly state: string; readonly ttlSeconds: number },
): Promise<void> {
  await queryScopedRows(
    scope,
    z.unknown(),
    dsql`insert into console_sign_ins (workspace_id, state_sha256, code_verifier, nonce, return_to, expires_at)
         values (app.current_workspace(), ${sha256(s.state)}, ${s.codeVerifier}, ${s.nonce}, ${s.returnTo},
                 clock_timestamp() + make_interval(secs => ${s.ttlSeconds}))`,
  );
}

/** Consume a sign-in in flight by its state: once, before it expires; null otherwise. Expired ones are swept. */
export async function takeConsoleSignIn(scope: WorkspaceScope, state: string): Promise<PendingSignIn | null> {
  const rows = await queryScopedRows(
    scope,
    z.object({ code_verifier: z.string(), nonce: z.string(), return_to: z.string(), live: z.boolean() }),
    dsql`delete from console_sign_ins
          where state_sha256 = ${sha256(state)} or expires_at <= clock_timestamp()
          returning code_verifier, nonce, return_to, (state_sha256 = ${sha256(state)} and expires_at > clock_timestamp()) as live`,
  );
  const row = rows.find((r) => r.live);
  return row ? { codeVerifier: row.code_verifier, nonce: row.nonce, returnTo: row.return_to } : null;
}

const SessionRow = z.object({ member_id: z.string(), role: z.enum(MEMBER_ROLES), expires_at: date });
export type ConsoleSession = {
  readonly memberId: string;
  readonly role: (typeof MEMBER_ROLES)[number];
  readonly expiresAt: Date;
};

export interface SessionToken {
  readonly tokenId: string;
  readonly secretSha256: string;
  readonly expiresAt: Date;
}

function session(rows: z.infer<typeof SessionRow>[]): ConsoleSession {
  const row = rows[0];
  if (!row) throw new NotFoundError("no member for this sign-in");
  return { memberId: row.member_id, role: row.role, expiresAt: row.expires_at };
}

/**
 * An OIDC sign-in: the member bound to (issuer, subject), or — the first time — the one with the verified email (the
 * subject is then bound to it). Mints the session token. NotFoundError when no member matches.
 */
export async function consoleSignIn(
  scope: WorkspaceScope,
  identity: {
    readonly issuer: string;
    readonly subject: string;
    readonly email: string | null;
    readonly emailVerified: boolean;
  },
  token: SessionToken,
): Promise<ConsoleSession> {
  return session(
    await queryScopedRows(
      scope,
      SessionRow,
      dsql`select * from public.api_console_sign_in(${identity.issuer}, ${identity.subject}, ${identity.email}, ${identity.emailVerified},
                                                     ${token.tokenId}, ${token.secretSha256}, ${token.expiresAt.toISOString()}::timestamptz)`,
    ),
  );
}

/** A sign-in link (`praxa console login`): consumed once, before it expires. NotFoundError otherwise. */
export async function consoleLinkSignIn(
  scope: WorkspaceScope,
  link: { readonly linkId: string; readonly secret: string },
  token: SessionToken,
): Promise<ConsoleSession> {
  return session(
    await queryScopedRows(
      scope,
      SessionRow,
      dsql`select * from public.api_console_link_sign_in(${link.linkId}, ${sha256(link.secret)}, ${token.tokenId},
                                                          ${token.secretSha256}, ${token.expiresAt.toISOString()}::timestamptz)`,
    ),
  );
}

/** Sign out: revoke the session's own token (presented by its secret's hash). */
export async function consoleSignOut(
  scope: WorkspaceScope,
  token: { readonly tokenId: string; readonly secretSha256: string },
): Promise<boolean> {
  const rows = await queryScopedRows(
    scope,
    z.object({ ok: z.boolean() }),
    dsql`select public.api_console_sign_out(${token.tokenId}, ${token.secretSha256}) as ok`,
  );
  return rows[0]?.ok ?? false;
}

/**
 * Operator (`praxa console login`, connected as the database owner): a single-use sign-in link for a member, minted
 * acting as praxa_owner (the only role that may) in the workspace's scope.
 */
export async function createConsoleSignInLink(
  scope: WorkspaceScope,
  link: {
    readonly workspaceId: string;
    readonly linkId: string;
    readonly memberId: string;
    readonly secret: string;
    readonly expiresAt: Date;
  },
): Promise<void> {
  await queryScopedRows(scope, z.unknown(), dsql`set local role praxa_owner`);
  await queryScopedRows(
    scope,
    z.unknown(),
    dsql`select public.admin_console_sign_in_link(${link.workspaceId}, ${link.linkId}, ${link.memberId}, ${sha256(link.secret)},
                                                  ${link.expiresAt.toISOString()}::timestamptz)`,
  );
}

/** A fingerprint of the workspace's latest runs (id, status, cancel request): the console's live view polls it. */
export async function runsFingerprint(scope: WorkspaceScope): Promise<string> {
  const rows = await queryScopedRows(
    scope,
    z.object({ f: z.string() }),
    dsql`select md5(coalesce(string_agg(r.id || ':' || r.status || ':' || coalesce(r.cancel_requested_at::text, ''), ',' order by r.created_at desc, r.id), '')) as f
           from (select id, status, cancel_requested_at, created_at from agent_runs order by created_at desc limit 500) r`,
  );
  return rows[0]?.f ?? "";
}
