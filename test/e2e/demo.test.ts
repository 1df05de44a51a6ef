/**
 * README command 1 ends in `pnpm praxa demo`. Run the built CLI as a real process against a fresh database: it must
 * exit 0 and say the demo completed — the review reached through a signed webhook sent over HTTP to a running ingest
 * process — with tenancy and fencing enforced, and leave no process behind (ingest's port closed, both child pids
 * gone), also under `--keep` + Ctrl-C and when interrupted half-way.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync } from "node:crypto";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { fileURLToPath } from "node:url";
import { createTestDatabase, databaseUrl, type TestDatabase } from "@praxa/db";
import { createRedis, type Redis } from "@praxa/queue";
import { reply, startAnthropicServer, startGithubServer } from "@praxa/testkit";

const cli = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));
let tdb: TestDatabase;
let redis: Redis;

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "praxa_test_demo" });
  redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", "producer");
});
afterAll(async () => {
  redis?.disconnect();
  await tdb?.drop();
});

/** The demo's Redis prefix, as it printed it while starting the fleet. */
function redisPrefixOf(output: string): string {
  const m = /the fleet's Redis keys under (praxa-demo-[0-9a-f]{8}):/.exec(output);
  if (!m?.[1]) throw new Error(`the demo did not print its Redis prefix:\n${output}`);
  return m[1];
}

/** How many keys the demo left under its prefix (SCAN, as removeRedisPrefix does). */
async function keysLeft(prefix: string): Promise<number> {
  let n = 0;
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== "0");
  return n;
}

/** The fleet the demo printed: ingest's URL and both children's pids. */
function fleetOf(output: string): { ingestUrl: string; pids: number[] } {
  const m = /ingest process \(pid (\d+)\) listening at (http:\/\/127\.0\.0\.1:\d+); worker process \(pid (\d+)\)/.exec(
    output,
  );
  const mon = /monitor process \(pid (\d+)\)/.exec(output);
  if (!m || !mon) throw new Error(`the demo did not print its fleet:\n${output}`);
  return { ingestUrl: m[2] ?? "", pids: [Number(m[1]), Number(m[3]), Number(mon[1])] };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when nothing answers on ingest's port any more. */
async function portClosed(url: string): Promise<boolean> {
  return fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) }).then(
    () => false,
    () => true,
  );
}

/**
 * Wait until `ok()`, giving up after `timeoutMs` — or at once when the CLI has exited, since then it never will: the
 * error says which, with the CLI's output (its last 6,000 characters first, so a truncated log still shows the end).
 */
async function until(
  what: string,
  ok: () => boolean,
  cli: { readonly child: ChildProcess; readonly output: () => string },
  timeoutMs = 60_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    const exited = cli.child.exitCode !== null || cli.child.signalCode !== null;
    if (exited || Date.now() > end)
      throw new Error(
        `${exited ? `the CLI exited (code ${cli.child.exitCode}, signal ${cli.child.signalCode}) before` : `gave up after ${timeoutMs / 1000} s waiting for`} ${what}; the end of its output:\n${cli.output().slice(-6_000)}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

function demoEnv(): NodeJS.ProcessEnv {
  const keyDir = mkdtempSync(join(tmpdir(), "praxa-keys-"));
  return {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    DATABASE_URL: databaseUrl(tdb.adminUrl, {}),
    LOG_LEVEL: "silent",
    PRAXA_KEY_FILE: join(keyDir, "master.key"),
    PRAXA_AUDIT_SIGNING_KEY_FILE: join(keyDir, "audit-signing.key"),
  };
}

/** Starts the CLI as a real process, collecting its output. */
function startCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [cli, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString("utf8")));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => out, exited };
}

function reap(child: ChildProcess, pids: readonly number[]): void {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
}

describe("pnpm praxa demo", () => {
  it("--skill deploy-triage: a workspace's own Skill, published through the api, acts on a signed CI event; nothing left running", async () => {
    const cliRun = startCli(["demo", "--skill", "deploy-triage"], demoEnv());
    const code = await cliRun.exited;
    const out = cliRun.output();
    expect({ code, tail: out.slice(-3000) }).toEqual({ code: 0, tail: expect.stringContaining("demo complete") });
    expect(out).toContain("praxa skills apply --dry-run: valid");
    expect(out).toContain("ignore — nothing posted");
    expect(out).toContain("waiting_approval: the callback needs a human's approval");
    expect(out).toContain("Escalating *payments-api* (production)");
    expect(out).toContain("webhook-signature verifies with the Skill's secret");
    expect(out).toContain("stored: nowhere — dropped at ingest");
    const prefix = /the fleet's Redis keys under (praxa-demo-[0-9a-f]{8}):/.exec(out)?.[1] ?? "";
    expect(prefix).not.toBe("");
    expect(await keysLeft(prefix)).toBe(0);
    const pids = [...out.matchAll(/(ingest|worker|monitor|api) (\d+) \(/g)].map((m) => Number(m[2]));
    expect(pids.length).toBeGreaterThanOrEqual(2);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });

  it("with a GitHub App configured: no sandbox — the PR is read from and reviewed on the configured GitHub as the App", async () => {
    // The configured GitHub here is the loopback GitHub started by this test (the CLI cannot tell it from GitHub: it
    // only has GITHUB_API_URL and the App's credentials); the demo starts no sandbox of its own.
    const appKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
      .privateKey.export({ format: "pem", type: "pkcs8" })
      .toString();
    const gh = await startGithubServer({
      appId: 31337,
      privateKeyPem: appKey,
      installations: [{ id: 777, account: "octo", permissions: { pull_requests: "write", contents: "read" } }],
      botLogin: "praxa-live[bot]",
    });
    gh.sandbox.addPullRequest({
      owner: "octo",
      repo: "bank",
      number: 5,
      title: "Refund flow",
      body: "",
      author: { login: "dev", type: "User" },
      headSha: "e".repeat(40),
      baseRef: "main",
      files: [
        {
          filename: "src/payments/refund.ts",
          patch: "@@ -0,0 +1,2 @@\n+export const refund = () => 1;\n+console.log(refund);",
        },
      ],
    });
    try {
      const env = {
        ...demoEnv(),
        GITHUB_APP_ID: "31337",
        GITHUB_APP_PRIVATE_KEY: appKey,
        GITHUB_API_URL: gh.url,
        PRAXA_DEMO_INSTALLATION_ID: "777",
        PRAXA_DEMO_PULL_REQUEST: "octo/bank#5",
      };
      const { output, exited } = startCli(["demo"], env);
      expect(await exited).toBe(0);
      expect(output()).toContain(`GitHub at ${gh.url} (as GitHub App 31337, installation 777), holding octo/bank#5`);
      expect(output()).not.toContain("sandbox GitHub (packages/testkit");
      expect(gh.sandbox.reviews("octo", "bank", 5)).toHaveLength(1);
      expect(gh.sandbox.reviews("octo", "bank", 5)[0]?.user).toBe("praxa-live[bot]");
      expect(output()).toContain("review posted on octo/bank#5");
    } finally {
      await gh.close();
    }
  }, 90_000);

  it("with ANTHROPIC_API_KEY: the key becomes the demo workspace’s sealed BYOK credential and the review is the model’s", async () => {
    const key = `sk-ant-api03-${"d".repeat(40)}`;
    const anthropic = await startAnthropicServer({
      apiKey: key,
      script: (req) =>
        JSON.stringify(req.body.messages).includes("github_read_diff")
          ? reply.toolUse({
              name: "record_decision",
              input: {
                verdict: "escalate_human",
                reasoning: ["A person should look at checkout."],
                alternatives: [{ action: "escalate_human", score: 0.8 }],
                confidence: 0.8,
                summary: "Escalated.",
                comments: [],
              },
            })
          : reply.toolUse({ name: "github_read_diff", input: {} }),
    });
    try {
      const env = { ...demoEnv(), ANTHROPIC_API_KEY: key, ANTHROPIC_BASE_URL: anthropic.url };
      const { output, exited } = startCli(["demo"], env);
      expect(await exited).toBe(0);
      expect(output()).toContain("BYOK: the Anthropic key (…dddd) sealed to");
      expect(output()).toContain("_Model: anthropic.");
      expect(output()).toContain("escalate human");
      expect(output()).not.toContain(key);
      expect(anthropic.messageRequests).toHaveLength(2);
    } finally {
      await anthropic.close();
    }
  }, 90_000);

  it("runs end to end from a migrated database — the webhook over HTTP to a running ingest — reports success and leaves nothing running", async () => {
    const env = demoEnv();
    const run = spawnSync(process.execPath, [cli, "demo"], {
      env,
      encoding: "utf8",
      timeout: 60_000,
      cwd: fileURLToPath(new URL(".", import.meta.url)),
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect({ status: run.status, output }).toEqual({ status: 0, output: expect.stringContaining("demo complete") });
    // The review came through ingest's HTTP endpoint: a forged signature refused, the signed delivery answered 202 with
    // the run, and the run reviewed by the worker process.
    expect(output).toContain("signed with the wrong secret → 401 SIGNATURE_INVALID");
    expect(output).toMatch(
      /POST http:\/\/127\.0\.0\.1:\d+\/webhooks\/github \(X-GitHub-Event: pull_request, opened;[^\n]*\) → 202 \{runIds: \[(rn_[0-9a-z]{26})\]\}/,
    );
    const runId = /→ 202 \{runIds: \[(rn_[0-9a-z]{26})\]\}/.exec(output)?.[1] ?? "";
    expect(output).toContain(`worker: run ${runId} succeeded`);
    expect(output).toContain("review posted on acme/payments#1284 as praxa-demo[bot]");
    expect(output).toContain("→ LEASE_LOST");
    expect(output).toContain("→ WORKSPACE_SCOPE");
    expect(output).toContain("duplicate=true");
    expect(output).toContain("the workspace holds 1 run(s)");
    expect(output).toContain("audit verify: chain holds");
    expect(output).toContain("deleting history as the api role → PERMISSION_DENIED");
    expect(output).toMatch(/\(total \d+\.\d s\)/);
    // Nothing left running: ingest's port is closed and neither child process exists.
    const fleet = fleetOf(output);
    expect(await portClosed(fleet.ingestUrl)).toBe(true);
    expect(fleet.pids.filter(alive)).toEqual([]);
    // Nothing left in Redis: the run's queues, the monitor's job schedulers and ingest's counters are gone.
    const prefix = redisPrefixOf(output);
    expect(output).toContain(`Redis keys under ${prefix}: removed`);
    expect(await keysLeft(prefix)).toBe(0);
  });

  it("--keep: the fleet stays up, the printed curl starts a second review, Ctrl-C stops everything (exit 0)", async () => {
    const demo = startCli(["demo", "--keep"], demoEnv());
    let pids: number[] = [];
    try {
      await until("the --keep instructions", () => demo.output().includes("Where to look"), demo);
      const fleet = fleetOf(demo.output());
      pids = fleet.pids;
      // The console: the api is up, and the printed sign-in link signs in once.
      const consoleLine = /The console: +(http:\/\/127\.0\.0\.1:\d+)\/runs +\(api process pid (\d+)/.exec(
        demo.output(),
      );
      const link = /(http:\/\/127\.0\.0\.1:\d+\/auth\/link\?token=\S+)/.exec(demo.output())?.[1] ?? "";
      expect(consoleLine).not.toBeNull();
      pids.push(Number(consoleLine?.[2]));
      const consoleUrl = consoleLine?.[1] ?? "";
      expect((await fetch(`${consoleUrl}/runs`)).status).toBe(200);
      const signedIn = await fetch(link, { redirect: "manual" });
      expect(signedIn.status).toBe(303);
      expect(signedIn.headers.getSetCookie().some((c) => c.startsWith("__Host-praxa-session="))).toBe(true);
      expect((await fetch(link, { redirect: "manual" })).headers.get("location")).toBe("/signin?error=SIGN_IN_EXPIRED");
      // A second demo on the same database: idempotent migrations, fresh demo rows.
      expect(demo.output()).toContain("0 migration(s) applied");
      const curl = /Send another event[^\n]*\n([\s\S]*?--data-binary @'([^']+)')/.exec(demo.output());
      expect(curl?.[1]).toContain(`curl -sS -X POST '${fleet.ingestUrl}/webhooks/github'`);
      const bodyFile = curl?.[2] ?? "";
      const sent = spawnSync("sh", ["-c", curl?.[1] ?? "false"], { encoding: "utf8", timeout: 30_000 });
      const runIds = (JSON.parse(sent.stdout) as { runIds: string[] }).runIds;
      expect(runIds).toEqual([expect.stringMatching(/^rn_/)]);
      const again = spawnSync("sh", ["-c", curl?.[1] ?? "false"], { encoding: "utf8", timeout: 30_000 });
      expect(JSON.parse(again.stdout)).toEqual({ runIds });
      await until(
        "the second review",
        () => demo.output().includes("review posted on acme/payments#1285 as praxa-demo[bot]"),
        demo,
      );

      demo.child.kill("SIGINT");
      const code = await demo.exited;
      expect({ code, stopped: demo.output().includes("stopped: nothing left running.") }).toEqual({
        code: 0,
        stopped: true,
      });
      expect(await portClosed(fleet.ingestUrl)).toBe(true);
      expect(await portClosed(consoleUrl)).toBe(true);
      expect(pids.filter(alive)).toEqual([]);
      expect(existsSync(bodyFile)).toBe(false);
      expect(await keysLeft(redisPrefixOf(demo.output()))).toBe(0);
    } finally {
      reap(demo.child, pids);
    }
  }, 150_000);

  it("Ctrl-C while the demo runs stops ingest, the worker and the sandbox, and exits 130", async () => {
    const demo = startCli(["demo"], demoEnv());
    let pids: number[] = [];
    try {
      await until("the fleet", () => /the fleet's Redis keys under/.test(demo.output()), demo);
      const fleet = fleetOf(demo.output());
      pids = fleet.pids;
      demo.child.kill("SIGINT");
      expect(await demo.exited).toBe(130);
      expect(demo.output()).toContain("stopped: nothing left running.");
      expect(await portClosed(fleet.ingestUrl)).toBe(true);
      expect(pids.filter(alive)).toEqual([]);
      expect(await keysLeft(redisPrefixOf(demo.output()))).toBe(0);
    } finally {
      reap(demo.child, pids);
    }
  }, 120_000);
});

describe("pnpm praxa audit checkpoint / verify", () => {
  it("a demo workspace’s chain and checkpoint verify (exit 0); a byte flipped behind the app’s back fails, naming the seq (exit 1)", async () => {
    const keyDir = mkdtempSync(join(tmpdir(), "praxa-keys-"));
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      DATABASE_URL: databaseUrl(tdb.adminUrl, {}),
      LOG_LEVEL: "silent",
      PRAXA_KEY_FILE: join(keyDir, "master.key"),
      PRAXA_AUDIT_SIGNING_KEY_FILE: join(keyDir, "audit-signing.key"),
    };
    const praxa = (...args: string[]) =>
      spawnSync(process.execPath, [cli, ...args], { env, encoding: "utf8", timeout: 60_000 });
    const demo = praxa("demo");
    const ws = /audit verify --workspace (ws_[0-9a-z]{26})/.exec(demo.stdout)?.[1] ?? "";
    expect(ws).toMatch(/^ws_/);
    expect(praxa("audit", "checkpoint", "--workspace", ws).status).toBe(0);
    const ok = praxa("audit", "verify", "--workspace", ws);
    expect({ status: ok.status, out: ok.stdout }).toEqual({
      status: 0,
      out: expect.stringContaining("ok: 1 event(s) and 1 checkpoint(s) hold"),
    });
    const full = praxa("audit", "verify", "--workspace", ws, "--full");
    expect({ status: full.status, out: full.stdout }).toEqual({
      status: 0,
      out: expect.stringContaining("every event signature"),
    });

    const sql = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
    try {
      await sql.begin(async (tx) => {
        await tx`set local session_replication_role = replica`;
        await tx`update audit_events set canonical = overlay(canonical placing '\\x7a'::bytea from 30 for 1) where workspace_id = ${ws} and seq = 1`;
      });
    } finally {
      await sql.end({ timeout: 5 });
    }
    const bad = praxa("audit", "verify", "--workspace", ws);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/FAILED: seq 1: /);
  });
});
