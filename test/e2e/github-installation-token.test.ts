/**
 * GitHub as the workspace's bot: installation tokens minted from the App's key by the real @octokit/auth-app against a
 * loopback GitHub that really verifies the App JWT; cached only sealed in the vault until shortly before they expire,
 * under a name that says what the token is narrowed to. A run acts through the installation its webhook came through
 * (recorded on the run by ingest), with a token narrowed to the run's repository and its Skill's permissions.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { newId, type RunId } from "@praxa/core";
import { mintInstallationToken } from "@praxa/connectors";
import { LocalKeyProvider, type KeyProvider } from "@praxa/crypto";
import {
  claimRun,
  createDatabase,
  createTestDatabase,
  seedWorkspaceFixture,
  withWorkspace,
  type Database,
  type TestDatabase,
  type WorkspaceFixture,
} from "@praxa/db";
import { buildIngestServer, createWorkspaceLimiter } from "@praxa/ingest";
import { createLogger } from "@praxa/observability";
import { startGithubServer, type GithubServer } from "@praxa/testkit";
import { installationTokenForRun, runKeysJob, startWorker } from "@praxa/worker";
import type { FastifyInstance } from "fastify";
import { addedPatch, APP_ID as HARNESS_APP_ID, startWorkerHarness, type WorkerHarness } from "./worker-harness.js";

const APP_ID = 424242;
const appKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ format: "pem", type: "pkcs8" })
  .toString();
let gh: GithubServer;
let tdb: TestDatabase;
let admin: postgres.Sql;
let worker: Database;
let provider: KeyProvider;
let A: WorkspaceFixture;

beforeAll(async () => {
  gh = await startGithubServer({
    appId: APP_ID,
    privateKeyPem: appKey,
    installations: [{ id: 1001, account: "acme", permissions: { pull_requests: "write", contents: "read" } }],
  });
  tdb = await createTestDatabase();
  admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
  A = await seedWorkspaceFixture(tdb.adminUrl, "A", { installationId: "1001" });
  worker = createDatabase(tdb.roleUrl("praxa_worker"), { max: 2 });
  provider = await LocalKeyProvider.open({ path: join(mkdtempSync(join(tmpdir(), "praxa-gh-")), "master.key") });
  await runKeysJob({ database: worker, provider, holder: "t" }, A.workspaceId, "create");
});
afterAll(async () => {
  await worker?.close();
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
  await gh?.close();
});

async function tokenInNewRun(): Promise<string> {
  const runId = newId("run");
  await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${A.workspaceId}, ${runId}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github')`;
  const claimed = await claimRun(worker, runId, "w", 30);
  return withWorkspace(worker, A.workspaceId, (s) =>
    installationTokenForRun(
      { provider, github: { appId: APP_ID, privateKeyPem: appKey, baseUrl: gh.url } },
      s,
      claimed!.lease,
      1001,
      NARROW,
    ),
  );
}
const NARROW = { repositories: ["shop"], permissions: { contents: "read", pull_requests: "write" } } as const;
const NARROW_NAME = "github/installation/1001/repos:shop/contents:read.pull_requests:write";

describe("GitHub App installation tokens", () => {
  it("mints with a real App JWT, records the granted permissions, and refuses a wrong key (the operator's, permanent)", async () => {
    const t = await mintInstallationToken({ appId: APP_ID, privateKeyPem: appKey, baseUrl: gh.url }, 1001);
    expect(t.token).toMatch(/^ghs_/);
    expect(t.permissions).toEqual(["contents:read", "pull_requests:write"]);
    const wrongKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
      .privateKey.export({ format: "pem", type: "pkcs8" })
      .toString();
    await expect(
      mintInstallationToken({ appId: APP_ID, privateKeyPem: wrongKey, baseUrl: gh.url }, 1001),
    ).rejects.toMatchObject({ code: "GITHUB_APP_CREDENTIALS_REJECTED", retryable: false });
  });

  it("is cached only sealed in the vault: a second run reuses it; near expiry a new one is minted", async () => {
    const minted = gh.tokens.length;
    const first = await tokenInNewRun();
    const second = await tokenInNewRun();
    expect(second).toBe(first);
    expect(gh.tokens.length).toBe(minted + 1);
    const [row] = await admin<
      { c: Buffer; exp: Date }[]
    >`select ciphertext as c, expires_at as exp from vault.secrets where name = ${NARROW_NAME}`;
    expect(row?.c.toString("latin1")).not.toContain(first);
    expect(row?.exp.getTime()).toBeGreaterThan(Date.now());
    gh.tokenLifetimeMs = 60_000; // tokens now expire within the refresh margin
    await admin`update vault.secrets set expires_at = now() + interval '1 minute' where name = ${NARROW_NAME}`;
    const third = await tokenInNewRun();
    expect(third).not.toBe(first);
    expect(gh.tokens.length).toBe(minted + 2);
    expect(gh.grants.at(-1)).toMatchObject({
      installationId: 1001,
      repositories: ["shop"],
      permissions: { contents: "read", pull_requests: "write" },
    });
  });

  it("a token narrowed to repo X is never opened from the cache for repo Y", async () => {
    gh.tokenLifetimeMs = 3_600_000;
    const forShop = await tokenInNewRun();
    const runId = newId("run");
    await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${A.workspaceId}, ${runId}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github')`;
    const claimed = await claimRun(worker, runId, "w", 30);
    const forWeb = await withWorkspace(worker, A.workspaceId, (s) =>
      installationTokenForRun(
        { provider, github: { appId: APP_ID, privateKeyPem: appKey, baseUrl: gh.url } },
        s,
        claimed!.lease,
        1001,
        { ...NARROW, repositories: ["web"] },
      ),
    );
    expect(forWeb).not.toBe(forShop);
    expect(gh.grants.find((g) => g.token === forWeb)?.repositories).toEqual(["web"]);
  });

  it("GitHub refuses a token asking for more than the installation was granted (422: refused for good)", async () => {
    await expect(
      mintInstallationToken({ appId: APP_ID, privateKeyPem: appKey, baseUrl: gh.url }, 1001, {
        permissions: { administration: "write" },
      }),
    ).rejects.toMatchObject({ code: "GITHUB_TOKEN_REFUSED", retryable: false });
  });

  it("a run's token for an installation GitHub no longer knows (404) → INTEGRATION_GONE, one request, nothing cached", async () => {
    gh.addInstallation({ id: 7007, account: "leaving", permissions: { pull_requests: "write" } });
    gh.removeInstallation(7007);
    const asked = gh.calls["POST /app/installations/:id/access_tokens"] ?? 0;
    const runId = newId("run");
    await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${A.workspaceId}, ${runId}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github')`;
    const claimed = await claimRun(worker, runId, "w", 30);
    await expect(
      withWorkspace(worker, A.workspaceId, (s) =>
        installationTokenForRun(
          { provider, github: { appId: APP_ID, privateKeyPem: appKey, baseUrl: gh.url } },
          s,
          claimed!.lease,
          7007,
          NARROW,
        ),
      ),
    ).rejects.toMatchObject({ code: "INTEGRATION_GONE", resource: "github", retryable: false });
    expect((gh.calls["POST /app/installations/:id/access_tokens"] ?? 0) - asked).toBe(1);
    expect((await admin`select 1 from vault.secrets where name like 'github/installation/7007/%'`).length).toBe(0);
  });

  it("a run's token request rate limited (secondary 403 + retry-after) → ThrottledError(github)", async () => {
    gh.failNext("access_tokens", { kind: "secondary-rate-limit", retryAfterSeconds: 45 });
    const runId = newId("run");
    await admin`insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source) values (${A.workspaceId}, ${runId}, ${A.skillId}, ${A.skillVersionId}, 'github.pull_request.opened', 'github')`;
    const claimed = await claimRun(worker, runId, "w", 30);
    await expect(
      withWorkspace(worker, A.workspaceId, (s) =>
        installationTokenForRun(
          { provider, github: { appId: APP_ID, privateKeyPem: appKey, baseUrl: gh.url } },
          s,
          claimed!.lease,
          1001,
          { ...NARROW, repositories: ["throttled"] },
        ),
      ),
    ).rejects.toMatchObject({ code: "GITHUB_RATE_LIMITED", resource: "github", retryAfterMs: 45_000 });
  });
});

describe("a workspace with two GitHub installations (issue 16, finding 9)", () => {
  const WEBHOOK_SECRET = "two-installations-webhook-secret-0123";
  const SECOND = 6160;
  let h: WorkerHarness;
  let ingestDb: Database;
  let ingest: FastifyInstance;
  let ingestUrl: string;
  let worker2: Awaited<ReturnType<typeof startWorker>>;
  let secondIntegration: string;

  beforeAll(async () => {
    h = await startWorkerHarness();
    // The second installation grants more than the pr-review Skill needs (issues:write): the token must not carry it.
    h.gh.addInstallation({
      id: SECOND,
      account: "globex",
      permissions: { pull_requests: "write", contents: "read", issues: "write" },
    });
    secondIntegration = newId("integration");
    await h.admin`insert into integrations (workspace_id, id, provider, external_id, bot_identity, granted_scopes)
                  values (${h.ws.workspaceId}, ${secondIntegration}, 'github', ${String(SECOND)}, ${h.admin.json({ login: "praxa-sandbox[bot]" })}, ${["contents:read", "issues:write", "pull_requests:write"]})`;
    ingestDb = createDatabase(h.tdb.roleUrl("praxa_ingest"), { max: 2 });
    ingest = await buildIngestServer({
      config: {
        GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
        SLACK_SIGNING_SECRET: "unused-slack-secret-0123",
        INGEST_BODY_LIMIT_BYTES: 1 << 20,
        INGEST_UNVERIFIED_RATE_PER_MINUTE: 10_000,
        INGEST_TRUST_PROXY: false,
      },
      database: ingestDb,
      queues: h.queues,
      limiter: createWorkspaceLimiter(h.redis, h.env["PRAXA_QUEUE_PREFIX"] ?? "x", 1000),
      log: createLogger({ name: "two-installations", level: "silent" }),
      now: Date.now,
      githubAppId: HARNESS_APP_ID,
      ready: async () => ({ postgres: true, redis: true }),
    });
    ingestUrl = await ingest.listen({ port: 0, host: "127.0.0.1" });
    worker2 = await startWorker(h.env);
  });
  afterAll(async () => {
    await worker2?.close();
    await ingest?.close();
    await ingestDb?.close();
    await h?.close();
  });

  it("a PR on the second installation is reviewed through its token, narrowed to that repository and the Skill’s permissions", async () => {
    const headSha = randomUUID().replace(/-/g, "").padEnd(40, "0").slice(0, 40);
    const files = [{ filename: "src/pay.ts", patch: addedPatch(["export const pay = 1;"]) }];
    h.gh.sandbox.addPullRequest({
      owner: "globex",
      repo: "app",
      number: 7,
      title: "Pay",
      body: "",
      author: { login: "dev", type: "User" },
      headSha,
      baseRef: "main",
      files,
    });
    h.gh.sandbox.addPullRequest({
      owner: "globex",
      repo: "other",
      number: 8,
      title: "Other",
      body: "",
      author: { login: "dev", type: "User" },
      headSha,
      baseRef: "main",
      files,
    });
    const body = JSON.stringify({
      action: "opened",
      number: 7,
      installation: { id: SECOND },
      repository: { full_name: "globex/app" },
      sender: { login: "dev", type: "User" },
      pull_request: {
        draft: false,
        user: { login: "dev", type: "User" },
        head: { sha: headSha },
        base: { ref: "main" },
      },
    });
    const res = await fetch(`${ingestUrl}/webhooks/github`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "pull_request",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`,
      },
      body,
    });
    expect(res.status).toBe(202);
    const [runId] = ((await res.json()) as { runIds: RunId[] }).runIds;
    const [row] = await h.admin<
      { integration_id: string | null }[]
    >`select integration_id from agent_runs where id = ${runId ?? ""}`;
    expect(row?.integration_id).toBe(secondIntegration);

    expect((await h.waitForRun(runId!)).status).toBe("succeeded");
    expect(h.gh.sandbox.reviews("globex", "app", 7)).toHaveLength(1);
    const posted = h.gh.repoRequests.find(
      (r) => r.method === "POST" && r.path === "/repos/globex/app/pulls/7/reviews" && r.status === 200,
    );
    expect(posted?.grant).toMatchObject({
      installationId: SECOND,
      repositories: ["app"],
      permissions: { contents: "read", pull_requests: "write" },
    });
    expect(Object.keys(posted?.grant?.permissions ?? {}).sort()).toEqual(["contents", "pull_requests"]);
    // Every repository call of the run went through that one narrowed token, never the first installation's.
    expect(h.gh.grants.filter((g) => g.installationId === SECOND)).toHaveLength(1);
    expect(h.gh.repoRequests.every((r) => r.grant?.token === posted?.grant?.token)).toBe(true);
    const [cached] = await h.admin<
      { name: string }[]
    >`select name from vault.secrets where name like ${`github/installation/${SECOND}/%`}`;
    expect(cached?.name).toBe(`github/installation/${SECOND}/repos:app/contents:read.pull_requests:write`);

    // The token for repo X cannot act on repo Y of the same installation, nor beyond its permissions.
    const auth = { authorization: `token ${posted?.grant?.token ?? ""}`, "content-type": "application/json" };
    expect((await fetch(`${h.gh.url}/repos/globex/app/pulls/7`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${h.gh.url}/repos/globex/other/pulls/8`, { headers: auth })).status).toBe(404);
    expect(
      (
        await fetch(`${h.gh.url}/repos/globex/other/pulls/8/reviews`, {
          method: "POST",
          headers: auth,
          body: JSON.stringify({ event: "COMMENT", body: "x" }),
        })
      ).status,
    ).toBe(404);
    expect(h.gh.sandbox.reviews("globex", "other", 8)).toHaveLength(0);
  });
});
