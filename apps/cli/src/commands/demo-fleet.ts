/**
 * The demo's fleet: the sandbox GitHub of packages/testkit (clearly not GitHub: a loopback that speaks its REST API,
 * verifies the App JWT and hands out installation tokens) holding the sample pull requests, and two real processes —
 * ingest (`apps/ingest/dist/main.js`, on a free loopback port, with a per-run webhook secret) and a worker
 * (`apps/worker/dist/main.js`, acting as the sandbox's GitHub App) — sharing one fresh queue prefix.
 *
 * Stopping: `close()` (idempotent) sends both children SIGTERM, then SIGKILL after STOP_GRACE_MS, and closes the
 * sandbox. SIGINT/SIGTERM to the CLI (Ctrl-C) does the same, then exits 130 — or, under `--keep`, ends
 * `holdUntilStopped()`; a second Ctrl-C while stopping SIGKILLs the children at once. A start that fails half-way
 * stops what it started. Nothing is left running.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { createServer, type AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { loadConfig, redisPart, redisTarget, type ConfigSource } from "@praxa/config";
import type { RunId, WorkspaceId } from "@praxa/core";
import { schema, eq, withWorkspace, workspacePublicKey, type Database } from "@praxa/db";
import { createQueues, createRedis, enqueue, removeRedisPrefix } from "@praxa/queue";
import { createGithubRepoClient, mintInstallationToken } from "@praxa/connectors";
import { startGithubServer, type SandboxPullRequest, type SandboxReview } from "@praxa/testkit";

export type { SandboxReview } from "@praxa/testkit";
import { withLocalDefaults } from "./local-env.js";
import { appEntry } from "./start.js";

/** The PR the demo reviews: a risky payments change (a cache with no invalidation, a console.log, no test). */
export const DEMO_PULL_REQUEST: SandboxPullRequest = {
  owner: "acme",
  repo: "payments",
  number: 1284,
  title: "Speed up checkout totals",
  body: "Caches the cart total during checkout.",
  author: { login: "dev-dana", type: "User" },
  headSha: "9f2c1e7b4a5d6c8e0f1a2b3c4d5e6f708192a3b4",
  baseRef: "main",
  files: [
    {
      filename: "src/payments/checkout.ts",
      patch: [
        "@@ -10,3 +10,7 @@ export function total(cart: Cart) {",
        "   const items = cart.items;",
        "+  // TODO: invalidate the cache on refunds",
        "+  if (cache.has(cart.id)) return cache.get(cart.id);",
        '+  console.log("total", cart.id);',
        "+  const sum = items.reduce((a, i) => a + i.price, 0);",
        "   return sum;",
        " }",
      ].join("\n"),
    },
  ],
};

/** A second PR, only for `--keep`: the printed curl opens it, so you can watch a review you triggered yourself. */
export const DEMO_FOLLOW_UP_PULL_REQUEST: SandboxPullRequest = {
  owner: "acme",
  repo: "payments",
  number: 1285,
  title: "Document the refund flow",
  body: "Explains how refunds reach the ledger.",
  author: { login: "dev-ravi", type: "User" },
  headSha: "3b7d0c2e9a41f5e6d7c8b9a0f1e2d3c4b5a69788",
  baseRef: "main",
  files: [
    {
      filename: "docs/refunds.md",
      status: "added",
      patch: [
        "@@ -0,0 +1,4 @@",
        "+# Refunds",
        "+",
        "+A refund creates a reversing ledger entry; the original charge is never edited.",
        "+Partial refunds are allowed up to the captured amount.",
      ].join("\n"),
    },
  ],
};

/** How long a child gets between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 10_000;
const WORKER_SHUTDOWN_GRACE_MS = "5000";

/** Where the demo's PR lives: the sandbox (default) or, with the App's credentials configured, GitHub itself. */
interface DemoGithub {
  readonly url: string;
  /** How the demo names it in its output (the sandbox always says it is not GitHub). */
  readonly label: string;
  readonly real: boolean;
  reviews(owner: string, repo: string, number: number): Promise<SandboxReview[]>;
  close(): Promise<void>;
}

/** The GitHub App a user configured (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY, GITHUB_API_URL) for a real-GitHub demo. */
export interface ConfiguredGithubApp {
  readonly appId: number;
  readonly privateKeyPem: string;
  readonly baseUrl: string;
}

const REVIEW_STATE_EVENT: Readonly<Record<string, string>> = {
  APPROVED: "APPROVE",
  CHANGES_REQUESTED: "REQUEST_CHANGES",
  COMMENTED: "COMMENT",
};

/** The configured GitHub, read as the App's installation (the same bot the worker acts as). */
function configuredGithub(app: ConfiguredGithubApp, installationId: string): DemoGithub {
  const client = async () =>
    createGithubRepoClient({
      token: (await mintInstallationToken(app, Number(installationId))).token,
      baseUrl: app.baseUrl,
    });
  return {
    url: app.baseUrl,
    label: `GitHub at ${app.baseUrl} (as GitHub App ${app.appId}, installation ${installationId})`,
    real: true,
    async reviews(owner, repo, number) {
      const gh = await client();
      const [reviews, comments] = await Promise.all([
        gh.reviews({ owner, repo }, number),
        gh.reviewComments({ owner, repo }, number),
      ]);
      return reviews.map((r, i) => ({
        id: r.id,
        body: r.body,
        event: REVIEW_STATE_EVENT[r.state] ?? r.state,
        commitId: r.commitId,
        user: r.user,
        comments:
          i === reviews.length - 1
            ? comments.filter((c) => c.line !== null).map((c) => ({ path: c.path, line: c.line ?? 0, body: c.body }))
            : [],
      }));
    },
    close: () => Promise.resolve(),
  };
}

/** The pull request as GitHub has it, in the shape the demo's webhook payload is built from. */
export async function configuredPullRequest(
  app: ConfiguredGithubApp,
  installationId: string,
  ref: { owner: string; repo: string; number: number },
): Promise<SandboxPullRequest> {
  const gh = createGithubRepoClient({
    token: (await mintInstallationToken(app, Number(installationId))).token,
    baseUrl: app.baseUrl,
  });
  const pr = await gh.pullRequest({ owner: ref.owner, repo: ref.repo }, ref.number);
  return {
    owner: ref.owner,
    repo: ref.repo,
    number: pr.number,
    title: pr.title,
    body: pr.body,
    draft: pr.draft,
    author: { login: pr.author, type: pr.authorIsBot ? "Bot" : "User" },
    headSha: pr.headSha,
    baseRef: pr.baseRef,
    files: [],
  };
}

export interface DemoFleet {
  readonly github: DemoGithub;
  /** ingest's base URL (loopback, a free port). */
  readonly ingestUrl: string;
  /** The api, serving the console too (started with `withApi`: `pnpm praxa demo --keep`); null otherwise. */
  readonly apiUrl: string | null;
  /** The webhook secret ingest was started with (random, this run only). */
  readonly webhookSecret: string;
  readonly pids: {
    readonly ingest: number;
    readonly worker: number;
    readonly monitor: number;
    readonly api: number | null;
  };
  /** This run's Redis key prefix (fresh per run); `close()` removes every key under it. */
  readonly redisPrefix: string;
  /** True once `close()` has removed every key under the prefix. */
  readonly redisCleared: boolean;
  /** Asks the worker's keys job for the workspace's key pair and waits until its public half is readable. */
  createWorkspaceKeys(api: Database, workspaceId: WorkspaceId): Promise<string>;
  waitForRun(
    database: Database,
    workspaceId: string,
    runId: RunId,
    timeoutMs?: number,
  ): Promise<{ status: string; error_code: string | null }>;
  /** `--keep`: resolves once Ctrl-C, or a child's unexpected exit, has stopped the fleet; the exit code to use. */
  holdUntilStopped(): Promise<number>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  running(): boolean;
}

function startChild(name: string, env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, [appEntry(name)], { env, stdio: ["ignore", "inherit", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { name, process: child, exited, running: () => child.exitCode === null && child.signalCode === null };
}

async function stopChild(child: Child): Promise<void> {
  if (!child.running()) return;
  child.process.kill("SIGTERM");
  const killer = setTimeout(() => child.process.kill("SIGKILL"), STOP_GRACE_MS);
  await child.exited;
  clearTimeout(killer);
}

function exitedError(child: Child, what: string): Error {
  return new Error(`the ${child.name} process exited (${child.process.exitCode ?? child.process.signalCode}) ${what}`);
}

async function waitForIngest(child: Child, url: string): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (!child.running()) throw exitedError(child, "before it was ready");
    if (Date.now() > until) throw new Error("ingest was not ready within 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitForApi(child: Child, url: string): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (!child.running()) throw exitedError(child, "before it was ready");
    if (Date.now() > until) throw new Error("the api was not ready within 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startDemoFleet(
  env: ConfigSource,
  installationId: string,
  prs: readonly SandboxPullRequest[],
  configured: ConfiguredGithubApp | null = null,
  withApi = false,
): Promise<DemoFleet> {
  let appKey: string;
  let appId: number;
  let github: DemoGithub;
  if (configured) {
    ({ privateKeyPem: appKey, appId } = configured);
    github = configuredGithub(configured, installationId);
  } else {
    appKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
      .privateKey.export({ format: "pem", type: "pkcs8" })
      .toString();
    appId = 900_001;
    const owners = [...new Set(prs.map((p) => p.owner))];
    if (owners.length !== 1 || !owners[0]) throw new Error("the demo PRs must share one owner (one installation)");
    const sandbox = await startGithubServer({
      appId,
      privateKeyPem: appKey,
      installations: [
        { id: Number(installationId), account: owners[0], permissions: { pull_requests: "write", contents: "read" } },
      ],
      botLogin: "praxa-demo[bot]",
    });
    for (const pr of prs) sandbox.sandbox.addPullRequest(pr);
    github = {
      url: sandbox.url,
      label: `sandbox GitHub (packages/testkit — NOT real GitHub) at ${sandbox.url}`,
      real: false,
      reviews: (owner, repo, number) => Promise.resolve([...sandbox.sandbox.reviews(owner, repo, number)]),
      close: () => sandbox.close(),
    };
  }

  const local = withLocalDefaults(env);
  // The same Redis as the children (REDIS_CLUSTER_NODES: a cluster; otherwise REDIS_URL), read before any is started.
  const redisAt = redisTarget(loadConfig(redisPart, local));
  const prefix = `praxa-demo-${randomUUID().slice(0, 8)}`;
  const webhookSecret = `demo-${randomBytes(24).toString("hex")}`;
  const port = await freePort();
  const ingestUrl = `http://127.0.0.1:${port}`;
  const common = {
    ...process.env,
    ...local,
    PRAXA_QUEUE_PREFIX: prefix,
    GITHUB_APP_ID: String(appId),
    LOG_LEVEL: local.LOG_LEVEL ?? "warn",
  };
  const worker = startChild("worker", {
    ...common,
    GITHUB_APP_PRIVATE_KEY: appKey,
    GITHUB_API_URL: configured ? configured.baseUrl : github.url,
    WORKER_SHUTDOWN_GRACE_MS: local.WORKER_SHUTDOWN_GRACE_MS ?? WORKER_SHUTDOWN_GRACE_MS,
  } as NodeJS.ProcessEnv);
  const ingest = startChild("ingest", {
    ...common,
    INGEST_PORT: String(port),
    INGEST_HOST: "127.0.0.1",
    GITHUB_WEBHOOK_SECRET: webhookSecret,
    SLACK_SIGNING_SECRET: `demo-${randomBytes(24).toString("hex")}`,
    // Beside the master key (the test points that at a temp dir), not in the current directory.
    INGEST_TRIGGER_KEY_FILE:
      local.INGEST_TRIGGER_KEY_FILE ?? join(dirname(local.PRAXA_KEY_FILE ?? ".praxa/master.key"), "ingest-trigger.key"),
  } as NodeJS.ProcessEnv);
  // The monitor: the fleet's schedulers (reconciler, acceptance pass and self-pause, time-based checkpoints).
  const monitor = startChild("monitor", { ...common } as NodeJS.ProcessEnv);
  const children = [worker, ingest, monitor];
  // --keep: the api too, so the console (served by it) shows this demo's run.
  const apiPort = withApi ? await freePort() : null;
  const apiUrl = apiPort === null ? null : `http://127.0.0.1:${apiPort}`;
  const api =
    apiPort === null
      ? null
      : startChild("api", {
          ...common,
          API_PORT: String(apiPort),
          API_HOST: "127.0.0.1",
          API_PUBLIC_URL: apiUrl,
        } as NodeJS.ProcessEnv);
  if (api) children.push(api);
  const redis = createRedis(redisAt, "producer");
  redis.on("error", () => {}); // surfaced by enqueue's timeout
  const queues = createQueues(redis, prefix);

  let closing: Promise<void> | null = null;
  let redisCleared = false;
  let signals = 0;
  let release: ((code: number) => void) | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await Promise.all(children.map(stopChild));
      await queues.close().catch(() => undefined);
      // Nothing of this run stays in Redis: its queues, the monitor's job schedulers, ingest's counters.
      try {
        await removeRedisPrefix(redis, prefix);
        redisCleared = true;
      } catch (err) {
        console.error(
          `could not remove this run's Redis keys (${prefix}:*): ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      redis.disconnect();
      await github.close();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    })());
  function onSignal(signal: NodeJS.Signals): void {
    signals++;
    if (signals > 1) {
      for (const c of children) if (c.running()) c.process.kill("SIGKILL");
      return;
    }
    console.log(
      `\n${signal}: stopping ingest (pid ${ingest.process.pid}), the worker (pid ${worker.process.pid}), the monitor (pid ${monitor.process.pid})${api ? `, the api (pid ${api.process.pid})` : ""} and the sandbox GitHub…`,
    );
    void close().finally(() => {
      console.log(`stopped: nothing left running.${redisCleared ? ` Redis keys under ${prefix}: removed.` : ""}`);
      if (release) release(0);
      else process.exit(130);
    });
  }
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  for (const c of children) {
    // A terminal's Ctrl-C reaches the children too (one process group): give our own SIGINT handler the first word.
    void c.exited.then(() =>
      setTimeout(() => {
        if (closing || !release) return;
        console.error(
          `the ${c.name} process exited unexpectedly (${c.process.exitCode ?? c.process.signalCode}); stopping the fleet`,
        );
        const done = release;
        void close().finally(() => done(1));
      }, 250),
    );
  }

  try {
    await waitForIngest(ingest, ingestUrl);
    if (api && apiUrl) await waitForApi(api, apiUrl);
  } catch (err) {
    await close();
    throw err;
  }

  const failIfExited = (what: string): void => {
    for (const c of children) if (!c.running()) throw exitedError(c, what);
  };
  return {
    github,
    ingestUrl,
    apiUrl,
    webhookSecret,
    pids: {
      ingest: ingest.process.pid ?? -1,
      worker: worker.process.pid ?? -1,
      monitor: monitor.process.pid ?? -1,
      api: api ? (api.process.pid ?? -1) : null,
    },
    redisPrefix: prefix,
    get redisCleared() {
      return redisCleared;
    },
    async createWorkspaceKeys(api, workspaceId) {
      await enqueue(
        queues,
        "keys",
        { workspaceId, operation: "create" },
        { jobId: `keys-create-${workspaceId}` },
        { timeoutMs: 5_000 },
      );
      const until = Date.now() + 30_000;
      for (;;) {
        const pub = await withWorkspace(api, workspaceId, (s) => workspacePublicKey(s));
        if (pub) return pub.keyId;
        failIfExited("before the workspace key was created");
        if (Date.now() > until) throw new Error("the workspace key was not created in time");
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async waitForRun(database, workspaceId, runId, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const [row] = await withWorkspace(database, workspaceId, (s) =>
          s.db
            .select({ status: schema.agentRuns.status, error_code: schema.agentRuns.errorCode })
            .from(schema.agentRuns)
            .where(eq(schema.agentRuns.id, runId)),
        );
        if (row && ["succeeded", "failed", "skipped", "cancelled"].includes(row.status)) return row;
        failIfExited("before the run finished");
        if (Date.now() > until) throw new Error(`run ${runId} did not finish within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    holdUntilStopped() {
      return new Promise<number>((resolve) => {
        release = resolve;
        if (!children.every((c) => c.running())) {
          release = null;
          void close().finally(() => resolve(1));
        }
      });
    },
    close,
  };
}
