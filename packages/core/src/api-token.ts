/**
 * Api tokens: `praxa_tk_<workspace id>.<token id>.<secret>`. The workspace id travels in the token so authentication
 * looks up (workspace, token id) and never searches across tenants; only SHA-256 of the 256-bit secret is stored.
 * Shown once, at minting. The redacting logger knows the `praxa_tk_` shape.
 */
import { createHash, randomBytes } from "node:crypto";
import { isId, newId, type Id, type WorkspaceId } from "./ids.js";

export interface ParsedApiToken {
  readonly workspaceId: WorkspaceId;
  readonly tokenId: Id<"apiToken">;
  readonly secret: string;
}

const TOKEN = /^praxa_tk_(ws_[0-9a-z]{26})\.(tk_[0-9a-z]{26})\.([A-Za-z0-9_-]{43})$/;

export function mintApiTokenMaterial(workspaceId: WorkspaceId): {
  token: string;
  tokenId: Id<"apiToken">;
  secretSha256: string;
  last4: string;
} {
  const tokenId = newId("apiToken");
  const secret = randomBytes(32).toString("base64url");
  return {
    token: `praxa_tk_${workspaceId}.${tokenId}.${secret}`,
    tokenId,
    secretSha256: hashTokenSecret(secret),
    last4: secret.slice(-4),
  };
}

/** Parse a presented token; null for anything malformed (the caller answers 401 without saying why). */
export function parseApiToken(value: string | undefined): ParsedApiToken | null {
  if (!value) return null;
  const m = TOKEN.exec(value.replace(/^Bearer\s+/i, "").trim());
  if (!m) return null;
  const [, ws, tk, secret] = m;
  if (!isId("workspace", ws) || !isId("apiToken", tk) || secret === undefined) return null;
  return { workspaceId: ws, tokenId: tk, secret };
}

export function hashTokenSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}
