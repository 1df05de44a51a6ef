/**
 * The vault and the key hierarchy, database side (issue #5). Sealed bytes are opaque here (crypto seals above this
 * layer); what is proven is who can reach them: the api can write a secret but never read one back or reach a wrapped
 * key; the worker reads only for a run it holds, in that run's workspace, with a live lease; no one can change a
 * workspace's public key; a destroyed key is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import {
  hashTokenSecret,
  LeaseLostError,
  mintApiTokenMaterial,
  newId,
  NotFoundError,
  PermissionDeniedError,
  WorkspaceScopeError,
  type RunId,
} from "@praxa/core";
import {
  acquireKeyOperation,
  authenticateApiToken,
  claimRun,
  createDatabase,
  createTestDatabase,
  destroyWorkspaceKey,
  installTenantKey,
  installWorkspaceKey,
  mapPgError,
  mintAutomationToken,
  releaseKeyOperation,
  seedWorkspaceFixture,
  vaultPutSecret,
  vaultReadForRun,
  withWorkspace,
  workspaceKeysForRun,
  workspacePublicKey,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";

let tdb: TestDatabase;
let admin: postgres.Sql;
let apiSql: postgres.Sql;
let api: Database;
let worker: Database;
let A: WorkspaceFixture;
let B: WorkspaceFixture;
const CANARY = Buffer.from("sealed-bytes-CANARY-0000000000000");

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  apiSql = postgres(tdb.roleUrl("praxa_api"), { max: 1, onnotice: () => {} });
  api = createDatabase(tdb.roleUrl("praxa_api"), { max: 2 });
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
});
afterAll(async () => {
  await Promise.all([api?.close(), worker?.close(), apiSql?.end({ timeout: 5 }), admin?.end({ timeout: 5 })]);
  await tdb?.drop();
});

async function queuedRun(f: WorkspaceFixture): Promise<RunId> {
  const id = newId("run");
  await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${f.workspaceId}, ${id}, ${f.skillId}, ${f.skillVersionId}, 'github.pull_request.opened', 'github')`;
  return id;
}
async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("the vault", () => {
  it("praxa_api: SELECT, INSERT, UPDATE, DELETE on vault.* → permission denied (not an RLS answer)", async () => {
    for (const stmt of [
      "select * from vault.secrets",
      `insert into vault.secrets values ('${A.workspaceId}', 'x', 'p', 'q', '\\x00', 'k')`,
      "update vault.secrets set name = 'y'",
      "delete from vault.secrets",
    ]) {
      const err = mapPgError(await errorOf(apiSql.unsafe(stmt)));
      expect({ stmt, err: err.constructor.name }).toEqual({ stmt, err: PermissionDeniedError.name });
    }
  });

  it("the api seals (writes bytes) and the worker, in a claimed run, reads exactly those bytes back", async () => {
    await withWorkspace(api, A.workspaceId, (s) =>
      vaultPutSecret(s, {
        name: "llm/anthropic/main",
        provider: "anthropic",
        purpose: "llm.api_key",
        ciphertext: CANARY,
        keyId: "wk_testkey0001",
      }),
    );
    const runId = await queuedRun(A);
    const claimed = await claimRun(worker, runId, "w1", 30);
    const read = await withWorkspace(worker, A.workspaceId, (s) =>
      vaultReadForRun(s, claimed!.lease, "llm/anthropic/main"),
    );
    expect(read.ciphertext.equals(CANARY)).toBe(true);
    expect(read.key_id).toBe("wk_testkey0001");
  });

  it("the worker cannot read another workspace’s secret, nor for a run not running, nor with a stale lease", async () => {
    await withWorkspace(api, B.workspaceId, (s) =>
      vaultPutSecret(s, {
        name: "llm/anthropic/b-only",
        provider: "anthropic",
        purpose: "llm.api_key",
        ciphertext: CANARY,
        keyId: "wk_testkey0002",
      }),
    );
    const runA = await queuedRun(A);
    const claimed = await claimRun(worker, runA, "w1", 30);
    // B's secret through A's run: not found (the function reads only the run's workspace).
    expect(
      await errorOf(
        withWorkspace(worker, A.workspaceId, (s) => vaultReadForRun(s, claimed!.lease, "llm/anthropic/b-only")),
      ),
    ).toBeInstanceOf(NotFoundError);
    // A's run presented from B's scope: refused.
    expect(
      await errorOf(
        withWorkspace(worker, B.workspaceId, (s) => vaultReadForRun(s, claimed!.lease, "llm/anthropic/b-only")),
      ),
    ).toBeInstanceOf(WorkspaceScopeError);
    // A stale token, and a run that is no longer running.
    expect(
      await errorOf(
        withWorkspace(worker, A.workspaceId, (s) =>
          vaultReadForRun(s, { ...claimed!.lease, token: crypto.randomUUID() }, "llm/anthropic/main"),
        ),
      ),
    ).toBeInstanceOf(LeaseLostError);
    await admin`update agent_runs set status = 'succeeded', lease_token = null, lease_holder = null, lease_expires_at = null where id = ${runA}`;
    expect(
      await errorOf(
        withWorkspace(worker, A.workspaceId, (s) => vaultReadForRun(s, claimed!.lease, "llm/anthropic/main")),
      ),
    ).toBeInstanceOf(LeaseLostError);
  });

  it("no function the api may execute opens anything: its definer functions are exactly the reviewed list", async () => {
    const rows = await admin<{ fn: string }[]>`
      select p.proname as fn from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where p.prosecdef and n.nspname in ('public', 'app', 'vault') and has_function_privilege('praxa_api', p.oid, 'EXECUTE') order by 1`;
    expect(rows.map((r) => r.fn)).toEqual([
      "api_authenticate",
      "api_cancel_workspace_erasure",
      "api_console_link_sign_in",
      "api_console_sign_in",
      "api_console_sign_out",
      "api_decide_approval",
      "api_link_member_slack",
      "api_mint_automation_token",
      "api_pause_skill",
      "api_publish_skill_version",
      "api_request_workspace_erasure",
      "api_request_workspace_export",
      "api_resume_skill",
      "api_revoke_token",
      "audit_append_events",
      "audit_insert_checkpoint",
      "audit_keyset",
      "audit_register_key",
      "cancel_runs",
      "ingest_public_key",
      "retry_runs",
      "vault_delete_secret",
      "vault_put_secret",
      "workspace_erasure_receipt",
      "workspace_public_key",
    ]);
  });
});

describe("workspace keys", () => {
  it("installed only by the worker under a key-operation lease; the public key cannot be changed by anyone; destroyed keys are gone", async () => {
    const lease = await acquireKeyOperation(worker, A.workspaceId, "keys-job-1");
    expect(lease).not.toBeNull();
    expect(await acquireKeyOperation(worker, A.workspaceId, "keys-job-2")).toBeNull(); // one key job at a time
    await installTenantKey(worker, lease!, "tdk_tenantkey0001", randomBytes(64), "local:master");
    const publicKey = randomBytes(32);
    await installWorkspaceKey(worker, lease!, {
      keyId: "wk_workspacekey01",
      tenantKeyId: "tdk_tenantkey0001",
      publicKey,
      wrappedPrivateKey: randomBytes(60),
    });
    await releaseKeyOperation(worker, lease!);

    const pk = await withWorkspace(api, A.workspaceId, (s) => workspacePublicKey(s));
    expect(pk?.keyId).toBe("wk_workspacekey01");
    expect(pk?.publicKey.equals(publicKey)).toBe(true);
    expect(await withWorkspace(api, B.workspaceId, (s) => workspacePublicKey(s))).toBeNull();

    for (const role of ["praxa_api", "praxa_worker", "praxa_ingest", "praxa_monitor"] as const) {
      const sql = postgres(tdb.roleUrl(role), { max: 1, onnotice: () => {} });
      const err = mapPgError(
        await errorOf(
          sql`update workspace_keys set public_key = ${randomBytes(32)} where workspace_id = ${A.workspaceId}`,
        ),
      );
      expect({ role, err: err.constructor.name }).toEqual({ role, err: PermissionDeniedError.name });
      await sql.end({ timeout: 5 });
    }
    // Without the lease, the worker cannot install a key either.
    expect(
      await errorOf(
        installWorkspaceKey(
          worker,
          { workspaceId: A.workspaceId, token: crypto.randomUUID() },
          {
            keyId: "wk_attackerkey01",
            tenantKeyId: "tdk_tenantkey0001",
            publicKey: randomBytes(32),
            wrappedPrivateKey: randomBytes(60),
          },
        ),
      ),
    ).toBeInstanceOf(LeaseLostError);

    const runId = await queuedRun(A);
    const claimed = await claimRun(worker, runId, "w", 30);
    expect(
      (await withWorkspace(worker, A.workspaceId, (s) => workspaceKeysForRun(s, claimed!.lease))).map((k) => k.key_id),
    ).toEqual(["wk_workspacekey01"]);

    const shred = await acquireKeyOperation(worker, A.workspaceId, "keys-job-3");
    expect(await destroyWorkspaceKey(worker, shred!, "wk_workspacekey01")).toBe(true);
    await releaseKeyOperation(worker, shred!);
    expect(await withWorkspace(worker, A.workspaceId, (s) => workspaceKeysForRun(s, claimed!.lease))).toEqual([]);
    const [row] = await admin<
      { wrapped: Buffer | null }[]
    >`select wrapped_private_key as wrapped from workspace_keys where key_id = 'wk_workspacekey01'`;
    expect(row?.wrapped).toBeNull();
  });
});

describe("api tokens", () => {
  /** A human token of the workspace's owner, as the operator CLI mints it: the minter the api presents. */
  const humanMinter = async (f: WorkspaceFixture): Promise<{ tokenId: string; secretSha256: string }> => {
    const h = mintApiTokenMaterial(f.workspaceId);
    await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${f.workspaceId}, ${h.tokenId}, ${f.memberId}, 'human', 'h', ${h.secretSha256}, now() + interval '1 hour')`;
    return { tokenId: h.tokenId, secretSha256: h.secretSha256 };
  };

  it("authenticate by (workspace, id, secret hash); wrong, expired, revoked or another workspace’s → nothing", async () => {
    const m = mintApiTokenMaterial(A.workspaceId);
    const minter = await humanMinter(A);
    await withWorkspace(api, A.workspaceId, (s) =>
      mintAutomationToken(s, {
        tokenId: m.tokenId,
        name: "ci",
        secretSha256: m.secretSha256,
        expiresAt: new Date(Date.now() + 3600_000),
        minter,
      }),
    );
    expect(await authenticateApiToken(api, A.workspaceId, m.tokenId, m.secretSha256)).toMatchObject({
      member_id: A.memberId,
      role: "admin",
      kind: "automation",
    });
    expect(await authenticateApiToken(api, A.workspaceId, m.tokenId, hashTokenSecret("wrong"))).toBeNull();
    expect(await authenticateApiToken(api, B.workspaceId, m.tokenId, m.secretSha256)).toBeNull();
    await admin`update api_tokens set expires_at = now() - interval '1 second' where id = ${m.tokenId}`;
    expect(await authenticateApiToken(api, A.workspaceId, m.tokenId, m.secretSha256)).toBeNull();
    // The api never sees secret hashes, and cannot mint a human token.
    expect(
      mapPgError(
        await errorOf(
          apiSql.begin(async (tx) => {
            await tx`select set_config('app.workspace_id', ${A.workspaceId}, true)`;
            return tx`select secret_sha256 from api_tokens`;
          }),
        ),
      ),
    ).toBeInstanceOf(PermissionDeniedError);
    expect(
      mapPgError(
        await errorOf(
          apiSql`select public.admin_mint_human_token(${A.workspaceId}, ${newId("apiToken")}, ${A.memberId}, 'x', ${"0".repeat(64)}, now() + interval '1 day')`,
        ),
      ),
    ).toBeInstanceOf(PermissionDeniedError);
  });

  it("an automation token cannot be minted in a workspace by another workspace’s token (it acts as the minter’s member)", async () => {
    const m = mintApiTokenMaterial(A.workspaceId);
    const minter = await humanMinter(B);
    const err = await errorOf(
      withWorkspace(api, A.workspaceId, (s) =>
        mintAutomationToken(s, {
          tokenId: m.tokenId,
          name: "x",
          secretSha256: m.secretSha256,
          expiresAt: new Date(Date.now() + 3600_000),
          minter,
        }),
      ),
    );
    expect(err).toBeInstanceOf(PermissionDeniedError); // the minter's token is looked up in A's scope only: not found
  });
});
