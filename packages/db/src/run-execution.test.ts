import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { newId } from "@praxa/core";
import { createDatabase, type Database } from "./client.js";
import { seedWorkspaceFixture, type WorkspaceFixture } from "./fixtures.js";
import { readMemoryFacts, writeMemoryFact } from "./run-execution.js";
import { withWorkspace } from "./scope.js";
import { createTestDatabase, type TestDatabase } from "./test-database.js";

let tdb: TestDatabase;
let worker: Database;
let A: WorkspaceFixture;
let B: WorkspaceFixture;

beforeAll(async () => {
  tdb = await createTestDatabase();
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
});
afterAll(async () => {
  await worker?.close();
  await tdb?.drop();
});

describe("memory facts", () => {
  it("reads by namespace and by keys (any characters in a key), never another namespace or workspace", async () => {
    await withWorkspace(worker, A.workspaceId, async (s) => {
      await writeMemoryFact(s, "faq", 'a "quoted", {braced} key', { text: "one" }, newId("memoryFact"));
      await writeMemoryFact(s, "faq", "plain", { text: "two" }, newId("memoryFact"));
      await writeMemoryFact(s, "other", "plain", { text: "elsewhere" }, newId("memoryFact"));
    });
    await withWorkspace(worker, B.workspaceId, (s) =>
      writeMemoryFact(s, "faq", "plain", { text: "B" }, newId("memoryFact")),
    );
    const byKey = await withWorkspace(worker, A.workspaceId, (s) =>
      readMemoryFacts(s, "faq", ['a "quoted", {braced} key']),
    );
    expect(byKey).toEqual([{ key: 'a "quoted", {braced} key', value: { text: "one" } }]);
    const all = await withWorkspace(worker, A.workspaceId, (s) => readMemoryFacts(s, "faq", null));
    expect(all.map((f) => f.key).sort()).toEqual(['a "quoted", {braced} key', "greeting", "plain"]);
    expect(JSON.stringify(all)).not.toContain("elsewhere");
    expect(JSON.stringify(all)).not.toContain('"B"');
  });
});
