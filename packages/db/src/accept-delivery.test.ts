/**
 * `ingest_accept_delivery` (migrations/0028), as `praxa_ingest`: a webhook's database work in one call — the active
 * installation resolves the workspace (never an argument for GitHub and Slack), our own bot and unsubscribed triggers
 * start nothing, duplicates answer as before, the request's traceparent lands on the run row — and many deliveries in
 * one statement, all or nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { newId, type RunId } from "@praxa/core";
import {
  acceptDeliveries,
  createDatabase,
  createTestDatabase,
  seedWorkspaceFixture,
  type AcceptDeliveryInput,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "./index.js";

let tdb: TestDatabase;
let admin: postgres.Sql;
let ingest: Database;
let A: WorkspaceFixture;
let B: WorkspaceFixture;
let C: WorkspaceFixture;
const TRACEPARENT = `00-${"4bf92f3577b34da6a3ce929d0e0e4736"}-${"00f067aa0ba902b7"}-01`;

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A", { botLogin: "praxa-a[bot]" });
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  C = await seedWorkspaceFixture(tdb.adminUrl, "C");
  ingest = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 2 });
});
afterAll(async () => {
  await Promise.all([ingest?.close(), admin?.end({ timeout: 5 })]);
  await tdb?.drop();
});

const sha = () => randomUUID().replace(/-/g, "").repeat(2);
function pr(f: WorkspaceFixture, over: Partial<{ actorLogin: string | null; trigger: string }> = {}) {
  return {
    source: "github",
    deliveryId: randomUUID(),
    bodySha256: sha(),
    trigger: over.trigger ?? "github.pull_request.opened",
    input: { prNumber: 1 },
    externalId: f.installationId,
    actorLogin: over.actorLogin === undefined ? "dev" : over.actorLogin,
    runIds: [newId("run")],
    traceparent: TRACEPARENT,
  } satisfies AcceptDeliveryInput;
}
const one = async (input: AcceptDeliveryInput) => (await acceptDeliveries(ingest, [input]))[0];

describe("ingest_accept_delivery", () => {
  it("resolves the installation's workspace, creates the run with the request's traceparent, and answers a replay as a duplicate", async () => {
    const input = pr(A);
    const placed = await one(input);
    expect(placed).toMatchObject({
      outcome: "accepted",
      workspace_id: A.workspaceId,
      run_ids: input.runIds,
      statuses: ["queued"],
      duplicate: false,
    });
    const [row] = await admin<
      { workspace_id: string; integration_id: string; traceparent: string }[]
    >`select workspace_id, integration_id, traceparent from agent_runs where id = ${input.runIds[0] as string}`;
    expect(row).toEqual({ workspace_id: A.workspaceId, integration_id: A.integrationId, traceparent: TRACEPARENT });
    const again = await one({ ...input, runIds: [newId("run")] });
    expect(again).toMatchObject({ outcome: "accepted", duplicate: true, run_ids: input.runIds });
  });

  it("starts nothing for an unknown or inactive installation, our own bot, or a trigger no Skill subscribes to", async () => {
    const unknown = await one({ ...pr(A), externalId: "424242424242" });
    expect(unknown).toMatchObject({ outcome: "unknown_installation", workspace_id: null, run_ids: [] });
    await admin`update integrations set status = 'suspended' where id = ${B.integrationId}`;
    expect(await one(pr(B))).toMatchObject({ outcome: "unknown_installation", workspace_id: null, run_ids: [] });
    await admin`update integrations set status = 'active' where id = ${B.integrationId}`;
    expect(await one(pr(A, { actorLogin: "praxa-a[bot]" }))).toMatchObject({ outcome: "own_app", run_ids: [] });
    expect(await one(pr(A, { trigger: "github.issues.opened" }))).toMatchObject({
      outcome: "no_subscribed_skill",
      workspace_id: A.workspaceId,
      run_ids: [],
    });
    // Each was recorded (replay protection) and made no run.
    const ignored = await one({ ...pr(A), ignored: "malformed_event", runIds: [] } as AcceptDeliveryInput);
    expect(ignored).toMatchObject({ outcome: "malformed_event", run_ids: [] });
  });

  it("with fewer run ids than subscribed Skills, writes nothing and says how many it needs", async () => {
    const skill = newId("skill");
    await admin`insert into skills (workspace_id, id, slug, name) values (${B.workspaceId}, ${skill}, 'second', 'Second')`;
    await admin`insert into skill_versions (workspace_id, id, skill_id, version, manifest, manifest_hash)
                select workspace_id, ${newId("skillVersion")}, ${skill}, 1, manifest, manifest_hash from skill_versions
                 where id = ${B.skillVersionId}`;
    const input = pr(B);
    expect(await one(input)).toMatchObject({ outcome: "need_ids", needed: 2, run_ids: [] });
    const [seen] = await admin<{ n: number }[]>`select count(*)::int as n from webhook_deliveries
                                                 where delivery_id = ${input.deliveryId}`;
    expect(seen?.n).toBe(0);
    const ids: RunId[] = [newId("run"), newId("run")];
    expect(await one({ ...input, runIds: ids })).toMatchObject({ outcome: "accepted", run_ids: expect.any(Array) });
  });

  it("never takes a workspace for a GitHub or Slack delivery", async () => {
    // Sent around the typed client: the function refuses a webhook that names a workspace.
    await expect(
      ingest.sql`select * from public.ingest_accept_delivery('github', ${randomUUID()}, ${sha()}, 'github.pull_request.opened',
        '{}'::jsonb, ${A.installationId}, 'dev', ${B.workspaceId}, null, null, ${[newId("run")]}::text[], null)`,
    ).rejects.toMatchObject({ code: "PXV01" });
  });

  it("places many deliveries in one statement, in order (a duplicate within the batch sees the first), all or nothing", async () => {
    const first = pr(A);
    const dup = { ...first, runIds: [newId("run")] };
    const other = pr(C);
    const placed = await acceptDeliveries(ingest, [first, dup, other]);
    expect(placed.map((p) => [p.outcome, p.duplicate])).toEqual([
      ["accepted", false],
      ["accepted", true],
      ["accepted", false],
    ]);
    expect(placed[1]?.run_ids).toEqual(first.runIds);
    // One transaction: the rows share it.
    const xmins = await admin<{ x: string }[]>`select distinct xmin::text as x from agent_runs
                                                where id = any(${[...first.runIds, ...(placed[2]?.run_ids ?? [])]})`;
    expect(xmins).toHaveLength(1);
    // A bad delivery fails the statement whole: nothing of the batch is stored.
    const good = pr(A);
    const bad = { ...pr(C), runIds: ["rn_not-a-type-id" as RunId] };
    await expect(acceptDeliveries(ingest, [good, bad])).rejects.toThrow();
    const [n] = await admin<{ n: number }[]>`select count(*)::int as n from webhook_deliveries
                                              where delivery_id = any(${[good.deliveryId, bad.deliveryId]})`;
    expect(n?.n).toBe(0);
  });
});
