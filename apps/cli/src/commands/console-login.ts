/**
 * `pnpm praxa console login --workspace ws_… --member mb_…` — a single-use sign-in link to the console for a member,
 * valid 10 minutes (the database refuses more than 15), for the embedded demo and local development. Refused in
 * production mode (NODE_ENV=production), where people sign in through the IdP; the api refuses such links there too.
 * Minted as the operator (DATABASE_URL, acting as praxa_owner); only the SHA-256 of the link's secret is stored.
 */
import { randomBytes } from "node:crypto";
import { parseId, PraxaError, type WorkspaceId } from "@praxa/core";
import { bootConfig, type ConfigSource } from "@praxa/config";
import { createConsoleSignInLink, createDatabase, withWorkspace } from "@praxa/db";
import { withLocalDefaults } from "./local-env.js";

class ConsoleLoginRefusedError extends PraxaError {
  readonly code = "CONSOLE_LOGIN_REFUSED";
  readonly httpStatus = 403;
}

const CONSOLE_LINK_MINUTES = 10;

export async function consoleSignInLink(
  env: ConfigSource,
  o: { readonly workspace: string; readonly member: string; readonly apiUrl?: string | undefined },
): Promise<{ url: string; expiresAt: Date }> {
  if (env.NODE_ENV === "production")
    throw new ConsoleLoginRefusedError(
      "sign-in links are for development and the demo: in production, sign in through your IdP",
    );
  const workspaceId = parseId("workspace", o.workspace) as WorkspaceId;
  const memberId = parseId("member", o.member);
  const local = withLocalDefaults(env);
  const cfg = await bootConfig("migrate", { env: local, envFile: ".env" });
  const db = createDatabase(cfg.DATABASE_URL, { max: 1, applicationName: "praxa-console-login" });
  const linkId = `sl_${randomBytes(16).toString("hex")}`;
  const secret = randomBytes(32).toString("base64url");
  const expiresAt = new Date(Date.now() + CONSOLE_LINK_MINUTES * 60_000);
  try {
    await withWorkspace(db, workspaceId, (scope) =>
      createConsoleSignInLink(scope, { workspaceId, linkId, memberId, secret, expiresAt }),
    );
  } finally {
    await db.close();
  }
  const base = (o.apiUrl ?? local.API_PUBLIC_URL ?? `http://127.0.0.1:${local.API_PORT ?? "3002"}`).replace(/\/+$/, "");
  return { url: `${base}/auth/link?token=${workspaceId}.${linkId}.${secret}`, expiresAt };
}
