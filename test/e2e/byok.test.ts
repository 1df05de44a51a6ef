/**
 * BYOK, end to end across the roles: the worker's keys job creates the workspace key pair (its private half wrapped
 * by the tenant data key from the key provider); the api seals a customer's Anthropic key to the public half and
 * stores only ciphertext; a worker, in a run it holds, opens it. The key never appears in an api response, a log line
 * or the database; after rotation an old credential still opens; after shredding, nothing sealed to that key does.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import postgres from "postgres";
import { mintApiTokenMaterial, newId } from "@praxa/core";
import { LocalKeyProvider, type KeyProvider } from "@praxa/crypto";
import {
  acquireKeyOperation,
  claimRun,
  createDatabase,
  createTestDatabase,
  destroyWorkspaceKey,
  releaseKeyOperation,
  seedWorkspaceFixture,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { buildApiServer } from "@praxa/api";
import { createLogger } from "@praxa/observability";
import { openCredentialForRun, runKeysJob } from "@praxa/worker";
import type { FastifyInstance } from "fastify";

const CANARY = "sk-ant-api03-CANARY-byok-0123456789abcdef";
let tdb: TestDatabase;
let admin: postgres.Sql;
let apiDb: Database;
let workerDb: Database;
let provider: KeyProvider;
let app: FastifyInstance;
let base: string;
let A: WorkspaceFixture;
let token: string;
const logs: string[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A");
  apiDb = createDatabase(tdb.roleUrl("praxa_api"), { max: 2 });
  workerDb = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
  provider = await LocalKeyProvider.open({ path: join(mkdtempSync(join(tmpdir(), "praxa-byok-")), "master.key") });
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      logs.push(chunk.toString("utf8"));
      cb();
    },
  });
  app = await buildApiServer({
    database: apiDb,
    log: createLogger({ name: "byok", level: "trace", destination }),
    auditSigner: { keyId: "aek_byok_test", privateKey: generateKeyPairSync("ed25519").privateKey },
  });
  base = await app.listen({ port: 0, host: "127.0.0.1" });
  const m = mintApiTokenMaterial(A.workspaceId);
  await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${A.workspaceId}, ${m.tokenId}, ${A.memberId}, 'human', 't', ${m.secretSha256}, now() + interval '1 hour')`;
  token = m.token;
});
afterAll(async () => {
  await app?.close();
  await Promise.all([apiDb?.close(), workerDb?.close(), admin?.end({ timeout: 5 })]);
  await tdb?.drop();
});

async function post(body: unknown) {
  const res = await fetch(`${base}/v1/llm-keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}
async function openInRun(name: string): Promise<string> {
  const runId = newId("run");
  await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${A.workspaceId}, ${runId}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github')`;
  const claimed = await claimRun(workerDb, runId, "w", 30);
  const bytes = await withWorkspace(workerDb, A.workspaceId, (s) =>
    openCredentialForRun(provider, s, claimed!.lease, name),
  );
  return Buffer.from(bytes).toString("utf8");
}

describe("BYOK across roles", () => {
  it("without a workspace key the api refuses to seal (409), and says how to fix it", async () => {
    const res = await post({ provider: "anthropic", apiKey: CANARY });
    expect(res.status).toBe(409);
    expect(res.text).toContain("WORKSPACE_KEY_MISSING");
  });

  it("keys job → api seals → worker opens in a claimed run; the key is never echoed, logged or stored in clear", async () => {
    const created = await runKeysJob({ database: workerDb, provider, holder: "test" }, A.workspaceId, "create");
    expect(created.created).toBe(true);
    expect((await runKeysJob({ database: workerDb, provider, holder: "test" }, A.workspaceId, "create")).created).toBe(
      false,
    );

    const res = await post({ provider: "anthropic", apiKey: CANARY });
    expect(res.status).toBe(201);
    const { id, fingerprint } = JSON.parse(res.text) as { id: string; fingerprint: string };
    expect(fingerprint).toBe(CANARY.slice(-4));
    expect(res.text).not.toContain(CANARY);
    const list = await (await fetch(`${base}/v1/llm-keys`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(list).toContain(id);
    expect(list).not.toContain(CANARY);

    const opened = JSON.parse(await openInRun(`llm/anthropic/${id}`)) as { apiKey: string };
    expect(opened.apiKey).toBe(CANARY);

    const dump = await admin<
      { t: string }[]
    >`select (select string_agg(encode(ciphertext, 'escape'), '') from vault.secrets) || (select string_agg(fingerprint, '') from llm_credentials) as t`;
    expect(dump[0]?.t ?? "").not.toContain("CANARY-byok");
    expect(logs.join("")).not.toContain("CANARY-byok");
  });

  it("after rotation an old credential still opens; after shredding its key, it never opens again", async () => {
    const first = JSON.parse((await post({ provider: "anthropic", apiKey: CANARY })).text) as { id: string };
    const rotated = await runKeysJob({ database: workerDb, provider, holder: "test" }, A.workspaceId, "rotate");
    expect(rotated.created).toBe(true);
    expect(JSON.parse(await openInRun(`llm/anthropic/${first.id}`))).toMatchObject({ apiKey: CANARY });

    const [old] = await admin<
      { key_id: string }[]
    >`select key_id from workspace_keys where workspace_id = ${A.workspaceId} and status = 'retired' order by created_at limit 1`;
    const lease = await acquireKeyOperation(workerDb, A.workspaceId, "shredder");
    expect(await destroyWorkspaceKey(workerDb, lease!, old!.key_id)).toBe(true);
    await releaseKeyOperation(workerDb, lease!);
    await expect(openInRun(`llm/anthropic/${first.id}`)).rejects.toMatchObject({ code: "DECRYPT_FAILED" });
  });

  it("a viewer cannot add a key (403); a malformed key is 400 and not echoed", async () => {
    const m = mintApiTokenMaterial(A.workspaceId);
    const viewer = newId("member");
    await admin`insert into workspace_members (workspace_id, id, email, role) values (${A.workspaceId}, ${viewer}, ${`${viewer}@example.com`}, 'viewer')`;
    await admin`insert into api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at) values (${A.workspaceId}, ${m.tokenId}, ${viewer}, 'human', 't', ${m.secretSha256}, now() + interval '1 hour')`;
    const res = await fetch(`${base}/v1/llm-keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${m.token}`, "content-type": "application/json" },
      body: JSON.stringify({ provider: "anthropic", apiKey: CANARY }),
    });
    expect(res.status).toBe(403);
    const bad = await post({ provider: "anthropic", apiKey: "not-a-key-CANARY-bad" });
    expect(bad.status).toBe(400);
    expect(bad.text).not.toContain("CANARY-bad");
  });
});
