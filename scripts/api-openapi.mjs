#!/usr/bin/env node
// `pnpm api:openapi`: the api's OpenAPI document, from the routes' own schemas, written to docs/api/openapi.json — the
// same bytes GET /v1/openapi.json serves (a test fails when they differ) — then the typed client's types
// (packages/api-client/src/schema.d.ts) generated from it. Needs the build (the script runs it first); no database:
// the server is built, never listens, and no route runs.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const { buildApiServer, openApiDocument } = await import(new URL("../apps/api/dist/index.js", import.meta.url).href);
const { createDatabase } = await import(new URL("../packages/db/dist/index.js", import.meta.url).href);
const { createLogger } = await import(new URL("../packages/observability/dist/index.js", import.meta.url).href);

// Never connected to: postgres.js connects on the first query, and none runs.
const database = createDatabase("postgres://praxa-openapi@127.0.0.1:9/none", { max: 1 });
const app = await buildApiServer({ database, log: createLogger({ name: "api-openapi", level: "silent" }) });
await app.ready();
mkdirSync(`${root}docs/api`, { recursive: true });
writeFileSync(`${root}docs/api/openapi.json`, `${JSON.stringify(openApiDocument(app), null, 2)}\n`);
await app.close();
await database.close();

const r = spawnSync(process.execPath, [`${root}packages/api-client/scripts/generate.mjs`], { stdio: "inherit" });
process.exit(r.status ?? 1);
