/**
 * The route builder's contract guarantees, on a real server and the real database: an answer is serialized through
 * the route's declared schema, so a field the schema does not declare never reaches the caller (a handler that reads
 * a whole row cannot leak its secret column); an answer that does not fit its schema is a 500 in the envelope, never
 * the payload; and authentication runs before validation (an unauthenticated caller learns nothing of the schema).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import postgres from "postgres";
import { z } from "zod";
import { mintApiTokenMaterial } from "@praxa/core";
import {
  createDatabase,
  createTestDatabase,
  seedWorkspaceFixture,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createLogger } from "@praxa/observability";
import type { FastifyInstance } from "fastify";
import { buildApiServer } from "./server.js";
import { route } from "./route-builder.js";

let tdb: TestDatabase;
let db: Database;
let app: FastifyInstance;
let base: string;
let A: WorkspaceFixture;
let tok: string;

beforeAll(async () => {
  tdb = await createTestDatabase();
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  const admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  const m = mintApiTokenMaterial(A.workspaceId);
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${A.workspaceId}, ${m.tokenId}, ${A.memberId}, 'human', 't', ${m.secretSha256}, now() + interval '1 hour')`;
  await admin.end();
  tok = m.token;
  db = createDatabase(tdb.roleUrl("praxa_api"), { max: 2 });
  app = await buildApiServer({ database: db, log: createLogger({ name: "route-builder-test", level: "silent" }) });
  // Two routes registered the way every resource file does, with answers wider than what they declare.
  route(app, db, {
    method: "GET",
    url: "/v1/test/wide",
    tag: "health",
    summary: "test",
    operationId: "testWide",
    response: z.object({ id: z.string(), createdAt: z.iso.datetime() }),
    handler: async () =>
      ({ id: "x", createdAt: new Date(0), secret: "whsec_must_not_leak", nested: { token: "praxa_tk_no" } }) as never,
  });
  route(app, db, {
    method: "GET",
    url: "/v1/test/strict",
    tag: "health",
    summary: "test",
    operationId: "testStrict",
    response: z.object({ id: z.string() }).strict(),
    handler: async () => ({ id: "x", secret: "whsec_must_not_leak" }) as never,
  });
  route(app, db, {
    method: "POST",
    url: "/v1/test/misfit",
    tag: "health",
    summary: "test",
    operationId: "testMisfit",
    body: z.object({ n: z.number().int() }).strict(),
    response: z.object({ n: z.number().int() }).strict(),
    handler: async () => ({ n: "a string where a number is declared: whsec_must_not_leak" }) as never,
  });
  base = await app.listen({ port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await app?.close();
  await db?.close();
  await tdb?.drop();
});

const call = async (method: "GET" | "POST", path: string, token?: string, body?: unknown) => {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, text: await res.text() };
};

describe("answers through their declared schema", () => {
  it("a field the schema does not declare is dropped (a stripping schema); Dates go out as ISO-8601", async () => {
    const res = await call("GET", "/v1/test/wide", tok);
    expect(res).toEqual({ status: 200, text: JSON.stringify({ id: "x", createdAt: "1970-01-01T00:00:00.000Z" }) });
  });

  it("a strict schema (what the routes declare) refuses the answer: 500 in the envelope, the field never sent", async () => {
    const res = await call("GET", "/v1/test/strict", tok);
    expect(res).toEqual({
      status: 500,
      text: JSON.stringify({ error: { code: "INTERNAL", message: "internal error" } }),
    });
  });

  it("an answer that does not fit is a 500 in the envelope, never the payload", async () => {
    const res = await call("POST", "/v1/test/misfit", tok, { n: 1 });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.text)).toEqual({ error: { code: "INTERNAL", message: "internal error" } });
    expect(res.text).not.toContain("whsec_must_not_leak");
  });

  it("authentication before validation: no token and a bad body → 401, not 400; a token and a bad body → 400 naming the field", async () => {
    expect((await call("POST", "/v1/test/misfit", undefined, { n: "x" })).status).toBe(401);
    const bad = await call("POST", "/v1/test/misfit", tok, { n: "x", extra: 1 });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toEqual({
      error: { code: "VALIDATION_FAILED", message: expect.stringMatching(/^invalid body: /) },
    });
  });
});
