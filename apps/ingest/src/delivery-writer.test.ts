/**
 * Ingest's group commit (delivery-writer.ts) on the real database, as `praxa_ingest`: concurrent deliveries share
 * transactions (their rows carry the same `xmin`), each caller's promise resolves only once its rows are committed
 * (visible to another connection at that moment), a delivery at fault fails alone, and a closed writer refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { newId, type RunId } from "@praxa/core";
import {
  createDatabase,
  createTestDatabase,
  seedWorkspaceFixture,
  type AcceptDeliveryInput,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createDeliveryWriter } from "./delivery-writer.js";

let tdb: TestDatabase;
let admin: postgres.Sql;
let ingest: Database;
let A: WorkspaceFixture;

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  ingest = createDatabase(tdb.roleUrl("praxa_ingest"), { max: 4 });
});
afterAll(async () => {
  await Promise.all([ingest?.close(), admin?.end({ timeout: 5 })]);
  await tdb?.drop();
});

function pr(runId: RunId = newId("run")): AcceptDeliveryInput {
  return {
    source: "github",
    deliveryId: randomUUID(),
    bodySha256: randomUUID().replace(/-/g, "").repeat(2),
    trigger: "github.pull_request.opened",
    input: { prNumber: 1 },
    externalId: A.installationId,
    actorLogin: "dev",
    runIds: [runId],
  };
}

describe("the delivery writer (group commit)", () => {
  it("places 16 concurrent deliveries in at most `concurrency` transactions, each answered only once committed", async () => {
    const writer = createDeliveryWriter(ingest, { concurrency: 2 });
    const inputs = Array.from({ length: 16 }, () => pr());
    const seenAtAnswer: number[] = [];
    const placed = await Promise.all(
      inputs.map((input) =>
        writer.accept(input).then(async (row) => {
          // At the moment the caller hears back, another connection already sees its run (committed).
          const [r] = await admin<{ n: number }[]>`select count(*)::int as n from agent_runs
                                                    where id = ${input.runIds[0] as string}`;
          seenAtAnswer.push(r?.n ?? 0);
          return row;
        }),
      ),
    );
    expect(placed.map((p) => p.run_ids)).toEqual(inputs.map((i) => i.runIds));
    expect(seenAtAnswer).toEqual(Array.from({ length: 16 }, () => 1));
    const xmins = await admin<{ x: string }[]>`select distinct xmin::text as x from agent_runs
                                                where id = any(${inputs.map((i) => i.runIds[0] as string)})`;
    expect(xmins.length).toBeGreaterThanOrEqual(1);
    expect(xmins.length).toBeLessThanOrEqual(2);
    await writer.close();
  });

  it("a delivery at fault fails alone: the rest of its batch is placed", async () => {
    const errors: number[] = [];
    const writer = createDeliveryWriter(ingest, { concurrency: 1, onBatchError: (_e, n) => errors.push(n) });
    const good = [pr(), pr(), pr()];
    const bad = pr("rn_not-a-type-id" as RunId);
    const results = await Promise.allSettled([
      writer.accept(good[0] as AcceptDeliveryInput),
      writer.accept(bad),
      writer.accept(good[1] as AcceptDeliveryInput),
      writer.accept(good[2] as AcceptDeliveryInput),
    ]);
    expect(results.map((r) => (r.status === "rejected" ? (r.reason as { code?: string }).code : r.status))).toEqual([
      "fulfilled",
      "VALIDATION_FAILED",
      "fulfilled",
      "fulfilled",
    ]);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    const [n] = await admin<{ n: number }[]>`select count(*)::int as n from agent_runs
                                              where id = any(${good.map((g) => g.runIds[0] as string)})`;
    expect(n?.n).toBe(3);
    await writer.close();
  });

  it("a closed writer refuses new deliveries and waits for those it took", async () => {
    const writer = createDeliveryWriter(ingest);
    const taken = writer.accept(pr());
    const closed = writer.close();
    await expect(writer.accept(pr())).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await closed;
    await expect(taken).resolves.toMatchObject({ outcome: "accepted" });
  });
});
