/**
 * `praxa console login` is refused in production mode before it touches anything (no database connection, no link):
 * in production people sign in through the IdP. (The api refuses such links in production too: console.test.ts.)
 */
import { describe, expect, it } from "@jest/globals";
import { consoleSignInLink } from "./console-login.js";

describe("praxa console login", () => {
  it("is refused with NODE_ENV=production, naming the code", async () => {
    await expect(
      consoleSignInLink(
        { NODE_ENV: "production", DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" },
        { workspace: "ws_01m980sftyej68e33pgvx6bqvn", member: "mb_01m980sftyey4ss3gjmrm77tef" },
      ),
    ).rejects.toMatchObject({ code: "CONSOLE_LOGIN_REFUSED" });
  });
});
