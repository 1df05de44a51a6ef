import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashTokenSecret, mintApiTokenMaterial, parseApiToken, verifyChain } from "@praxa/core";
import { loadAuditSigningKey } from "@praxa/crypto";
import {
  authenticateApiToken,
  createDatabase,
  mintAutomationToken,
  createTestDatabase,
  readAuditChain,
  readAuditKeyset,
  seedWorkspaceFixture,
  sql,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { createHumanToken, listTokens, revokeToken, setTokenMaxLifetime } from "./tokens.js";

let tdb: TestDatabase;
let admin: Database;
let api: Database;
let A: WorkspaceFixture;
let B: WorkspaceFixture;
let env: Record<string, string>;

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = createDatabase(tdb.adminUrl, { max: 1 });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  B = await seedWorkspaceFixture(tdb.adminUrl, "B");
  api = createDatabase(tdb.roleUrl("praxa_api"), { max: 1 });
  env = {
    NODE_ENV: "test",
    DATABASE_URL: tdb.adminUrl,
    PRAXA_AUDIT_SIGNING_KEY_FILE: join(mkdtempSync(join(tmpdir(), "praxa-tokens-")), "audit.key"),
  };
});
afterAll(async () => {
  await api?.close();
  await admin?.close();
  await tdb?.drop();
});

/** Rows as the admin (superuser: row-level security does not apply) sees them. */
async function rows<T>(query: ReturnType<typeof sql>): Promise<T[]> {
  return [...((await admin.db.execute(query)) as Iterable<T>)];
}
const events = (ws: WorkspaceFixture) =>
  rows<{ seq: number; kind: string; canonical: Buffer }>(
    sql`select seq::int as seq, kind, canonical from audit_events where workspace_id = ${ws.workspaceId} order by seq`,
  );
const tokenCount = async (ws: WorkspaceFixture) =>
  (await rows<{ n: number }>(sql`select count(*)::int as n from api_tokens where workspace_id = ${ws.workspaceId}`))[0]
    ?.n;

describe("pnpm praxa tokens create --kind human (audited)", () => {
  it("mints a human token and appends a signed admin.token.minted event naming the token, kind and member — never the secret", async () => {
    const before = await events(A);
    const t = await createHumanToken(env, {
      workspace: A.workspaceId,
      member: A.memberId,
      kind: "human",
      name: "ops",
      ttlDays: 7,
    });
    const parsed = parseApiToken(`Bearer ${t.token}`);
    expect(parsed?.tokenId).toBe(t.tokenId);
    expect(await authenticateApiToken(api, A.workspaceId, t.tokenId, hashTokenSecret(parsed!.secret))).toMatchObject({
      kind: "human",
      member_id: A.memberId,
    });

    const after = await events(A);
    expect(after).toHaveLength(before.length + 1);
    const minted = after.at(-1)!;
    expect(minted.seq).toBe(t.auditSeq);
    expect(minted.kind).toBe("admin.token.minted");
    const record = JSON.parse(minted.canonical.toString("utf8")) as Record<string, unknown>;
    expect(record).toMatchObject({
      kind: "admin.token.minted",
      skillId: null,
      runId: null,
      input: {
        actor: "operator",
        target_id: t.tokenId,
        tokenId: t.tokenId,
        kind: "human",
        memberId: A.memberId,
        expiresAt: t.expiresAt.toISOString(),
      },
    });
    for (const secret of [parsed!.secret, hashTokenSecret(parsed!.secret), t.token])
      expect(minted.canonical.toString("utf8")).not.toContain(secret);

    // The chain still verifies, with the operator's key registered for verifiers.
    const keys = await readAuditKeyset(api);
    const chain = await withWorkspace(api, A.workspaceId, (s) => readAuditChain(s));
    const verdict = verifyChain(
      chain,
      new Map(
        keys
          .filter((k) => k.purpose === "event")
          .map((k) => [k.keyId, createPublicKey({ key: k.spki, format: "der", type: "spki" })]),
      ),
      { workspaceId: A.workspaceId },
    );
    expect(verdict).toMatchObject({ ok: true, count: after.length });
  });

  it("both or neither: a refused mint appends nothing; a refused audit append leaves no token", async () => {
    const eventsBefore = (await events(A)).length;
    const tokensBefore = await tokenCount(A);
    // B's member in A: the composite foreign key refuses the mint.
    await expect(
      createHumanToken(env, { workspace: A.workspaceId, member: B.memberId, kind: "human", name: "x", ttlDays: 1 }),
    ).rejects.toMatchObject({ code: "WORKSPACE_SCOPE" });
    expect((await events(A)).length).toBe(eventsBefore);
    // Another key already registered under the operator key's id: the audit step fails, so the mint is rolled back.
    const signer = loadAuditSigningKey({ path: env["PRAXA_AUDIT_SIGNING_KEY_FILE"]! });
    const otherEnv = {
      ...env,
      PRAXA_AUDIT_SIGNING_KEY_FILE: join(mkdtempSync(join(tmpdir(), "praxa-tokens-")), "audit.key"),
    };
    const other = loadAuditSigningKey({ path: otherEnv.PRAXA_AUDIT_SIGNING_KEY_FILE });
    await admin.db.execute(
      sql`insert into audit_keys (key_id, purpose, algorithm, spki) values (${other.keyId}, 'event', 'ed25519', ${generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" })}::bytea)`,
    );
    expect(other.keyId).not.toBe(signer.keyId);
    await expect(
      createHumanToken(otherEnv, {
        workspace: A.workspaceId,
        member: A.memberId,
        kind: "human",
        name: "y",
        ttlDays: 1,
      }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    expect(await tokenCount(A)).toBe(tokensBefore);
    expect((await events(A)).length).toBe(eventsBefore);
  });

  it("refuses to mint anything but a human token", async () => {
    await expect(
      createHumanToken(env, {
        workspace: A.workspaceId,
        member: A.memberId,
        kind: "automation",
        name: "z",
        ttlDays: 1,
      }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });
});

describe("pnpm praxa tokens list | revoke | max-lifetime (operator side)", () => {
  it("lists a workspace’s tokens without a secret; revoke cascades to the tokens it minted, one signed event each; the chain verifies", async () => {
    const human = await createHumanToken(env, {
      workspace: A.workspaceId,
      member: A.memberId,
      kind: "human",
      name: "lead",
      ttlDays: 7,
    });
    const secret = parseApiToken(`Bearer ${human.token}`)!.secret;
    // An automation token minted by it, as POST /v1/tokens records it (through the api's definer function, re-checked).
    const child = await withWorkspace(api, A.workspaceId, async (s) => {
      const m = mintApiTokenMaterial(A.workspaceId);
      await mintAutomationToken(s, {
        tokenId: m.tokenId,
        name: "ci",
        secretSha256: m.secretSha256,
        expiresAt: new Date(Date.now() + 86_400_000),
        minter: { tokenId: human.tokenId, secretSha256: hashTokenSecret(secret) },
      });
      return m;
    });
    const listed = await listTokens(env, A.workspaceId);
    expect(listed.find((t) => t.id === child.tokenId)).toMatchObject({
      kind: "automation",
      mintedBy: human.tokenId,
      status: "live",
      memberId: A.memberId,
    });
    expect(listed.find((t) => t.id === human.tokenId)).toMatchObject({ kind: "human", mintedBy: null, status: "live" });
    const bytes = JSON.stringify(listed);
    for (const s of [secret, hashTokenSecret(secret), child.secretSha256, child.token]) expect(bytes).not.toContain(s);
    expect(listed.every((t) => !t.id.startsWith(B.workspaceId))).toBe(true);

    const before = await events(A);
    const r = await revokeToken(env, A.workspaceId, human.tokenId);
    expect(r.revoked.sort()).toEqual([human.tokenId, child.tokenId].sort());
    const after = await events(A);
    expect(after.slice(before.length).map((e) => e.kind)).toEqual(["admin.token.revoked", "admin.token.revoked"]);
    expect(await authenticateApiToken(api, A.workspaceId, child.tokenId, child.secretSha256)).toBeNull();
    expect(await authenticateApiToken(api, A.workspaceId, human.tokenId, hashTokenSecret(secret))).toBeNull();
    // Again: nothing left to revoke, nothing audited.
    expect(await revokeToken(env, A.workspaceId, human.tokenId)).toEqual({ revoked: [], auditSeqs: [] });
    expect((await events(A)).length).toBe(after.length);
    // Another workspace's token id is not found from this workspace.
    const other = await createHumanToken(env, {
      workspace: B.workspaceId,
      member: B.memberId,
      kind: "human",
      name: "b",
      ttlDays: 1,
    });
    await expect(revokeToken(env, A.workspaceId, other.tokenId)).rejects.toMatchObject({ code: "NOT_FOUND" });

    const keys = await readAuditKeyset(api);
    const chain = await withWorkspace(api, A.workspaceId, (s) => readAuditChain(s));
    expect(
      verifyChain(
        chain,
        new Map(
          keys
            .filter((k) => k.purpose === "event")
            .map((k) => [k.keyId, createPublicKey({ key: k.spki, format: "der", type: "spki" })]),
        ),
        { workspaceId: A.workspaceId },
      ),
    ).toMatchObject({ ok: true });
  });

  it("the maximum lifetime is the operator’s, enforced by the database on the CLI’s own mint", async () => {
    await setTokenMaxLifetime(env, "human", 10);
    try {
      const tokensBefore = await tokenCount(A);
      await expect(
        createHumanToken(env, {
          workspace: A.workspaceId,
          member: A.memberId,
          kind: "human",
          name: "long",
          ttlDays: 11,
        }),
      ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      expect(await tokenCount(A)).toBe(tokensBefore);
      await expect(
        createHumanToken(env, { workspace: A.workspaceId, member: A.memberId, kind: "human", name: "ok", ttlDays: 10 }),
      ).resolves.toMatchObject({ tokenId: expect.any(String) });
    } finally {
      await setTokenMaxLifetime(env, "human", 365);
    }
    await expect(setTokenMaxLifetime(env, "automation", 0)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });
});
