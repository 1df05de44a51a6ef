/**
 * route-auth.ts's last line of defence: a handler asks for the caller's workspace scope of a request that `admit` never
 * let in (a hook reordered, a route registered around the builder). It is refused 401 before any database work — the
 * database here is one that cannot be reached, so a query would fail with a connection error, not UNAUTHENTICATED.
 * Everything else route-auth.ts keeps is proved through the real server: apps/api/src/server.test.ts,
 * apps/api/src/console.test.ts, test/security/tokens.test.ts.
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import Fastify, { type FastifyInstance } from "fastify";
import { createDatabase, type Database } from "@praxa/db";
import { PraxaError } from "@praxa/core";
import { inCallersScope } from "./route-auth.js";

let app: FastifyInstance;
let database: Database;
let base: string;
let reached = 0;

beforeAll(async () => {
  // Port 1 on loopback: nothing listens, so any statement would fail to connect (postgres.js connects lazily).
  database = createDatabase("postgres://praxa@127.0.0.1:1/none", { max: 1 });
  app = Fastify();
  app.get("/unadmitted", async (req) =>
    inCallersScope(database, req, async () => {
      reached++;
      return { reached: true };
    }).catch((err: unknown) => ({
      code: err instanceof PraxaError ? err.code : `not a PraxaError: ${String(err)}`,
    })),
  );
  base = await app.listen({ port: 0, host: "127.0.0.1" }); // light-my-request (inject) does not load under ESM jest
});
afterAll(async () => {
  await app.close();
  await database.close();
});

it("a request admit() never saw gets no workspace scope: UNAUTHENTICATED, and the handler does not run", async () => {
  const res = await fetch(`${base}/unadmitted`);
  expect(await res.json()).toEqual({ code: "UNAUTHENTICATED" });
  expect(reached).toBe(0);
});
