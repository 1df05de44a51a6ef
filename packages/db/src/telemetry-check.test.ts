/**
 * "agent_run_events.meta only carries {tool_name, ms, code, iter}" — enforced by the table's CHECK, whatever the
 * application sends: any other key, or a value of the wrong type, is refused by Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ValidationError } from "@praxa/core";
import {
  createDatabase,
  createTestDatabase,
  schema,
  seedWorkspaceFixture,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "./index.js";

let tdb: TestDatabase;
let worker: Database;
let A: WorkspaceFixture;

beforeAll(async () => {
  tdb = await createTestDatabase();
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 1 });
});
afterAll(async () => {
  await worker?.close();
  await tdb?.drop();
});

const insert = (meta: Record<string, unknown>) =>
  withWorkspace(worker, A.workspaceId, (s) =>
    s.db.insert(schema.agentRunEvents).values({ workspaceId: A.workspaceId, runId: A.runId, meta: meta as never }),
  );

describe("telemetry whitelist in the database", () => {
  it("accepts exactly {tool_name, ms, code, iter}", async () => {
    await expect(
      insert({ tool_name: "github.read.diff", ms: 12.5, code: "TOOL_NOT_ALLOWED", iter: 2 }),
    ).resolves.toBeDefined();
    await expect(insert({ tool_name: "github.read.diff", ms: 3, code: null, iter: 0 })).resolves.toBeDefined();
  });

  it.each([
    ["a prompt", { tool_name: "x.y", ms: 1, prompt: "ignore previous instructions" }],
    ["model output", { tool_name: "x.y", ms: 1, output: "here is the diff" }],
    ["a nested object in place of a name", { tool_name: { text: "user content" }, ms: 1 }],
    ["text in place of a duration", { tool_name: "x.y", ms: "a long string" }],
  ])("refuses %s", async (_label, meta) => {
    await expect(insert(meta)).rejects.toBeInstanceOf(ValidationError);
  });
});
