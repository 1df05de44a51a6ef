/**
 * Each api request is a `praxa.api.request` span (a trace root: a caller's traceparent is not trusted) with only `ms`
 * and, when the request failed, its error `code` — never the path, query, token, workspace or any content. Health
 * probes make none. Spans go through the process's filtering exporter (here into memory).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import postgres from "postgres";
import { mintApiTokenMaterial } from "@praxa/core";
import {
  createDatabase,
  createTestDatabase,
  seedWorkspaceFixture,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createLogger, InMemorySpanExporter, startTelemetry, type Telemetry } from "@praxa/observability";
import type { FastifyInstance } from "fastify";
import { buildApiServer } from "./server.js";

const CANARY = "CANARY-api-span-91c2";
let tdb: TestDatabase;
let db: Database;
let app: FastifyInstance;
let A: WorkspaceFixture;
let tok: string;
let base: string;
let telemetry: Telemetry;
const memory = new InMemorySpanExporter();

beforeAll(async () => {
  tdb = await createTestDatabase();
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  const admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  const m = mintApiTokenMaterial(A.workspaceId);
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${A.workspaceId}, ${m.tokenId}, ${A.memberId}, 'human', 't', ${m.secretSha256}, now() + interval '1 hour')`;
  await admin.end();
  tok = m.token;
  db = createDatabase(tdb.roleUrl("praxa_api"), { max: 2 });
  telemetry = startTelemetry({ serviceName: "praxa-api", exporter: memory });
  app = await buildApiServer({
    database: db,
    log: createLogger({ name: "request-spans-test", level: "silent" }),
    tracer: telemetry.tracer,
  });
  base = await app.listen({ port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await app?.close();
  await telemetry?.shutdown();
  await db?.close();
  await tdb?.drop();
});

describe("api request spans", () => {
  it("one root span per request: ms, and the error code of a refused one; nothing of the request itself", async () => {
    const ok = await fetch(`${base}/v1/runs?trigger=${CANARY}`, {
      headers: { authorization: `Bearer ${tok}`, traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01` },
    });
    const refused = await fetch(`${base}/v1/skills?x=${CANARY}`);
    await fetch(`${base}/healthz`);
    expect(ok.status).toBe(200);
    expect(refused.status).toBe(401);
    const spans = memory.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(["praxa.api.request", "praxa.api.request"]);
    const [first, second] = spans;
    expect(first?.parentSpanContext).toBeUndefined();
    expect(first?.spanContext().traceId).not.toBe("a".repeat(32));
    expect(Object.keys(first?.attributes ?? {})).toEqual(["ms"]);
    expect(Object.keys(second?.attributes ?? {}).sort()).toEqual(["code", "ms"]);
    expect(second?.attributes["code"]).toMatch(/^[A-Z][A-Z0-9_]+$/);
    const text = JSON.stringify(spans.map((s) => ({ a: s.attributes, n: s.name, r: s.resource.attributes })));
    for (const needle of [CANARY, A.workspaceId, tok]) expect(text.includes(needle)).toBe(false);
  });
});
