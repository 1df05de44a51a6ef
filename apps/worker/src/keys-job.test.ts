import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newId } from "@praxa/core";
import { LocalKeyProvider, sealCredential } from "@praxa/crypto";
import {
  acquireKeyOperation,
  claimRun,
  createDatabase,
  createTestDatabase,
  releaseKeyOperation,
  reserveTenantKeyUse,
  seedWorkspaceFixture,
  sql,
  vaultPutSecret,
  withWorkspace,
  workspacePublicKey,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { openCredentialForRun } from "./credentials.js";
import { runKeysJob } from "./keys-job.js";

// Tenant-key use counts persisted in Postgres: each keys job below runs as if in a fresh process (a new provider
// instance over the same master key file, nothing kept in memory between jobs), and the limit still forces rotation.
let tdb: TestDatabase;
let admin: Database;
let worker: Database;
let A: WorkspaceFixture;
let keyFile: string;

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = createDatabase(tdb.adminUrl, { max: 1 });
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  keyFile = join(mkdtempSync(join(tmpdir(), "praxa-keys-job-")), "master.key");
});
afterAll(async () => {
  await Promise.all([worker?.close(), admin?.close()]);
  await tdb?.drop();
});

async function rows<T>(query: ReturnType<typeof sql>): Promise<T[]> {
  return [...((await admin.db.execute(query)) as Iterable<T>)];
}
const tenantKeys = () =>
  rows<{ key_id: string; status: string; uses: number }>(
    sql`select key_id, status, uses::int as uses from tenant_keys where tenant_id = ${A.tenantId} order by created_at`,
  );

async function job(operation: "create" | "rotate", limit = 3): Promise<string> {
  const provider = await LocalKeyProvider.open({ path: keyFile }); // a new "process"
  return (
    await runKeysJob(
      { database: worker, provider, holder: `p-${Math.random()}`, tenantKeyUsageLimit: limit },
      A.workspaceId,
      operation,
    )
  ).keyId;
}

describe("tenant-key use counts survive restarts", () => {
  it("each wrap is counted in Postgres; at the limit the tenant key is rotated; keys wrapped before still open", async () => {
    await job("create");
    expect((await tenantKeys()).map((k) => [k.status, k.uses])).toEqual([["active", 1]]);
    // A credential sealed to the first workspace key, to open after every rotation.
    const sealedName = "llm/anthropic/before-rotation";
    await withWorkspace(worker, A.workspaceId, async (s) => {
      const pub = await workspacePublicKey(s);
      const ct = await sealCredential(
        { keyId: pub!.keyId, publicKey: pub!.publicKey },
        { workspaceId: A.workspaceId, provider: "anthropic", purpose: "llm_credentials" },
        "sk-ant-api03-opens-after-rotation",
      );
      await vaultPutSecret(s, {
        name: sealedName,
        provider: "anthropic",
        purpose: "llm_credentials",
        ciphertext: Buffer.from(ct),
        keyId: pub!.keyId,
      });
    });
    await job("create"); // an active workspace key exists: nothing is wrapped, nothing counted
    await job("rotate");
    await job("rotate");
    const [first] = await tenantKeys();
    expect((await tenantKeys()).map((k) => [k.status, k.uses])).toEqual([["active", 3]]);
    await job("rotate"); // the fourth wrap: the tenant key is at its limit of 3
    expect((await tenantKeys()).map((k) => [k.key_id === first!.key_id, k.status, k.uses])).toEqual([
      [true, "retired", 3],
      [false, "active", 1],
    ]);
    const [wk] = await rows<{ tenant_key_id: string }>(
      sql`select tenant_key_id from workspace_keys where workspace_id = ${A.workspaceId} and status = 'active'`,
    );
    expect(wk?.tenant_key_id).not.toBe(first!.key_id);

    const runId = newId("run");
    await admin.db.execute(
      sql`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${A.workspaceId}, ${runId}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github')`,
    );
    const claimed = await claimRun(worker, runId, "w", 30);
    const provider = await LocalKeyProvider.open({ path: keyFile });
    const opened = await withWorkspace(worker, A.workspaceId, (s) =>
      openCredentialForRun(provider, s, claimed!.lease, sealedName),
    );
    expect(Buffer.from(opened).toString("utf8")).toBe("sk-ant-api03-opens-after-rotation");
  });

  it("the reservation is lease-checked and bounded", async () => {
    const lease = await acquireKeyOperation(worker, A.workspaceId, "probe");
    const [active] = (await tenantKeys()).filter((k) => k.status === "active");
    await expect(
      reserveTenantKeyUse(worker, { ...lease!, token: crypto.randomUUID() }, active!.key_id, 10),
    ).rejects.toMatchObject({ code: "LEASE_LOST" });
    await expect(reserveTenantKeyUse(worker, lease!, active!.key_id, 2 ** 31)).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    expect(await reserveTenantKeyUse(worker, lease!, active!.key_id, 1)).toBeNull(); // already at 1: no wrap allowed at limit 1
    await releaseKeyOperation(worker, lease!);
  });
});
