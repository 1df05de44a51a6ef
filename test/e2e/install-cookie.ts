/**
 * The install cookie as a browser receives it (security review, finding 1) — shared by the GitHub and Slack install
 * suites: the nonce a browser keeps, and the checks that the install-start answer bound the state to that browser.
 */
import { createHash } from "node:crypto";
import { expect } from "@jest/globals";
import type postgres from "postgres";

/** The install cookie's nonce, from a Set-Cookie answer (what the browser keeps). */
export function installNonce(setCookie: readonly string[]): string {
  const m = /^__Host-praxa_install=([A-Za-z0-9_-]{43});/.exec(
    setCookie.find((c) => c.startsWith("__Host-praxa_install=")) ?? "",
  );
  if (!m?.[1]) throw new Error("no install cookie set");
  return m[1];
}

/**
 * An install-start answer sets exactly one `__Host-praxa_install` cookie with exactly the attributes a browser needs to
 * keep it to itself (Secure, HttpOnly, SameSite=Lax, Path=/, no Domain, 10 minutes), never shows the nonce in its body,
 * and the state it issued stores only the nonce's SHA-256. Returns the nonce.
 */
export async function expectInstallCookieBound(
  link: { readonly setCookie: readonly string[]; readonly text: string; readonly json: Record<string, unknown> },
  admin: postgres.Sql,
): Promise<string> {
  const cookies = link.setCookie.filter((c) => c.startsWith("__Host-praxa_install="));
  expect(cookies).toHaveLength(1);
  const [pair, ...attributes] = cookies[0]!.split(";").map((p) => p.trim());
  expect(pair).toMatch(/^__Host-praxa_install=[A-Za-z0-9_-]{43}$/);
  expect(attributes.map((a) => a.toLowerCase()).sort()).toEqual([
    "httponly",
    "max-age=600",
    "path=/",
    "samesite=lax",
    "secure",
  ]);
  const nonce = installNonce(link.setCookie);
  expect(link.text).not.toContain(nonce);
  const state = new URL(String(link.json["url"])).searchParams.get("state")!;
  const [row] = await admin<
    { binding_sha256: string }[]
  >`select binding_sha256 from oauth_states where state_sha256 = encode(sha256(${state}::bytea), 'hex')`;
  expect(row?.binding_sha256).toBe(createHash("sha256").update(nonce).digest("hex"));
  return nonce;
}
