import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { sql as dsql, eq } from "drizzle-orm";
import { PermissionDeniedError, WorkspaceScopeError } from "@praxa/core";
import {
  createDatabase,
  createTestDatabase,
  requireScope,
  schema,
  seedWorkspaceFixture,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
  type WorkspaceScope,
} from "./index.js";

let tdb: TestDatabase;
let api: Database;
let A: WorkspaceFixture;
let B: WorkspaceFixture;

beforeAll(async () => {
  tdb = await createTestDatabase();
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  api = createDatabase(tdb.roleUrl("praxa_api"), { max: 1 }); // one connection: every test reuses the same pooled session
});
afterAll(async () => {
  await api?.close();
  await tdb?.drop();
});

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

describe("withWorkspace", () => {
  it("sees only its own workspace’s rows", async () => {
    const rows = await withWorkspace(api, A.workspaceId, (s) => s.db.select().from(schema.skills));
    expect(rows.map((r) => r.id)).toEqual([A.skillId]);
  });

  it('after a scoped transaction, the pooled connection’s setting reads "" and sees 0 rows', async () => {
    await withWorkspace(api, A.workspaceId, (s) => s.db.select().from(schema.skills));
    const [setting] = await api.sql<{ v: string | null }[]>`select current_setting('app.workspace_id', true) as v`;
    expect(setting?.v).toBe("");
    const rows = await api.db.select().from(schema.skills);
    expect(rows).toEqual([]);
    const runs = await api.sql`select * from agent_runs`;
    expect(runs.length).toBe(0);
  });

  it("a scope used after its transaction ended → WorkspaceScopeError", async () => {
    let leaked: WorkspaceScope | undefined;
    await withWorkspace(api, A.workspaceId, async (s) => {
      leaked = s;
    });
    expect(() => leaked?.db).toThrow(WorkspaceScopeError);
    expect(() => requireScope(leaked)).toThrow(WorkspaceScopeError);
    expect(() => requireScope(undefined)).toThrow(WorkspaceScopeError);
  });

  it("an entity of another workspace is refused before any SQL is sent", async () => {
    const sent: string[] = [];
    const spy = createDatabase(tdb.roleUrl("praxa_api"), { max: 1 });
    let err: unknown;
    await withWorkspace(spy, A.workspaceId, async (s) => {
      try {
        s.assertOwned({ workspaceId: B.workspaceId });
        sent.push("query");
      } catch (e) {
        err = e;
      }
    });
    expect(err).toBeInstanceOf(WorkspaceScopeError);
    expect((err as WorkspaceScopeError).code).toBe("WORKSPACE_SCOPE");
    expect(sent).toEqual([]);
    await spy.close();
  });

  it("Postgres’s RLS refusal maps to WorkspaceScopeError; a missing grant stays PermissionDeniedError", async () => {
    const rls = await codeOf(
      withWorkspace(api, A.workspaceId, (s) =>
        s.db.insert(schema.notificationChannels).values({
          workspaceId: B.workspaceId,
          id: "nc_01h2xcejqtf2nbrexx3vqjhp41",
          kind: "email",
          target: "x@example.com",
          createdBy: B.memberId,
        }),
      ),
    );
    expect(rls).toBe("WORKSPACE_SCOPE");
    let grantErr: unknown;
    try {
      await withWorkspace(api, A.workspaceId, (s) => s.execute(dsql`truncate agent_runs`));
    } catch (e) {
      grantErr = e;
    }
    expect(grantErr).toBeInstanceOf(PermissionDeniedError);
    expect(grantErr).not.toBeInstanceOf(WorkspaceScopeError);
  });

  it("an update aimed at another workspace’s row changes nothing", async () => {
    const changed = await withWorkspace(api, A.workspaceId, (s) =>
      s.db.update(schema.workspaces).set({ name: "pwned" }).where(eq(schema.workspaces.id, B.workspaceId)).returning(),
    );
    expect(changed).toEqual([]);
  });

  it("refuses a malformed workspace id before opening a transaction", async () => {
    expect(await codeOf(withWorkspace(api, "not-a-workspace", async () => 1))).toBe("INVALID_ID");
  });
});

describe("withWorkspace error mapping", () => {
  it("a bug in the caller’s code is not disguised as a database error", async () => {
    const bug = new TypeError("caller bug");
    await expect(
      withWorkspace(api, A.workspaceId, async () => {
        throw bug;
      }),
    ).rejects.toBe(bug);
  });
});
