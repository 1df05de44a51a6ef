/**
 * The production image, built and run for real with podman (scripts/image/build.mjs; docs/deploy.md "The image"):
 * `start ingest` in a read-only, non-root container loads its config slice from (the loopback) AWS Secrets Manager
 * once, answers /readyz against the real Postgres and Redis, and drains on SIGTERM (exit 0 within the grace); the
 * image holds no `.praxa/` key file, no dev dependency, no test file, no TypeScript source.
 *
 * The build is keyed by a content hash: an image of the same sources is reused. The suite is skipped — loudly — only
 * when podman is missing and cannot be installed (not root); the build script installs it otherwise.
 */
import { spawnSync } from "node:child_process";
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createTestDatabase, type TestDatabase } from "@praxa/db";
import { startSecretsManagerServer, type SecretsManagerServer } from "@praxa/testkit";
import { loadIngestTriggerKey } from "@praxa/ingest";
import { addedPatch, INSTALLATION, startWorkerHarness, type WorkerHarness } from "../e2e/worker-harness.js";

/** What production takes from a secret and never creates (review finding 4): ingest's trigger key, as its file's JSON. */
async function triggerKeyJson(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "praxa-trigger-"));
  await loadIngestTriggerKey({ file: join(dir, "k"), production: false });
  const json = readFileSync(join(dir, "k"), "utf8");
  rmSync(dir, { recursive: true, force: true });
  return json;
}
const auditSigningPem = (): string =>
  generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();

const root = fileURLToPath(new URL("../..", import.meta.url));
const hasPodman = spawnSync("sh", ["-c", "command -v podman"], { stdio: "ignore" }).status === 0;
const isRoot = process.getuid?.() === 0;
const canRun = hasPodman || isRoot;
if (!canRun) {
  process.stderr.write(
    "\n*** test/container SKIPPED: podman is not installed and this process is not root, so the build script cannot install it (apt-get install -y podman runc debootstrap). The image is NOT tested on this machine. ***\n\n",
  );
}
const suite = canRun ? describe : describe.skip;

const podman = (args: string[], timeout = 120_000) =>
  spawnSync("podman", ["--runtime", "runc", ...args], { encoding: "utf8", timeout, maxBuffer: 1 << 26 });

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function waitForReady(url: string, container: string): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + 180_000;
  let last = "no answer";
  while (Date.now() < deadline) {
    const state = podman(["inspect", container, "--format", "{{.State.Status}}"]).stdout.trim();
    if (state === "exited") break;
    try {
      const res = await fetch(url);
      const body = await res.text();
      if (res.status === 200) return { status: res.status, body };
      last = `${res.status} ${body}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `${url} never answered 200 (last: ${last}); container logs:\n${podman(["logs", container]).stderr}${podman(["logs", container]).stdout}`,
  );
}

let tag = "";
let buildSeconds = 0;

suite("the production image (podman)", () => {
  beforeAll(() => {
    if (process.env.PRAXA_TEST_IMAGE) {
      // an image built earlier (CI's build step, or scripts/image/build.mjs by hand)
      tag = process.env.PRAXA_TEST_IMAGE;
      expect(podman(["image", "exists", tag]).status).toBe(0);
      return;
    }
    const started = Date.now();
    const r = spawnSync(process.execPath, ["scripts/image/build.mjs"], {
      cwd: root,
      encoding: "utf8",
      timeout: 40 * 60_000,
      maxBuffer: 1 << 26,
    });
    buildSeconds = (Date.now() - started) / 1000;
    if (r.status !== 0) throw new Error(`scripts/image/build.mjs exited ${r.status}:\n${r.stderr.slice(-4000)}`);
    tag = r.stdout.trim().split("\n").pop() ?? "";
    process.stderr.write(`image ${tag} ready in ${buildSeconds.toFixed(0)} s (reused when the content hash matches)\n`);
    expect(tag).toMatch(/^localhost\/praxa:[0-9a-f]{16}$/);
  }, 40 * 60_000);

  it("runs as a non-root user, with the CLI as its entry point", () => {
    const cfg = JSON.parse(podman(["image", "inspect", tag, "--format", "{{json .Config}}"]).stdout) as {
      User: string;
      Entrypoint: string[];
      Env: string[];
    };
    expect(cfg.User).toBe("10001:10001");
    expect(cfg.Entrypoint).toEqual(["node", "apps/cli/dist/main.js"]);
    expect(cfg.Env).toContain("NODE_ENV=production");
    const id = podman([
      "run",
      "--rm",
      "--read-only",
      "--entrypoint",
      "node",
      tag,
      "-e",
      "process.stdout.write(JSON.stringify([process.getuid(), process.getgid()]))",
    ]);
    expect(JSON.parse(id.stdout)).toEqual([10001, 10001]);
  });

  it("holds no .praxa/ key file, no dev dependency, no test file and no TypeScript source", () => {
    // Walk the whole root filesystem inside the image (symlinks not followed), and report what must not be there —
    // with positive controls proving the walk saw node_modules and the apps.
    const script = `
      const fs = require('node:fs'); const path = require('node:path');
      const out = { keyFiles: [], devDeps: [], tests: [], sources: [], sawFastify: false, sawStore: false, sawIngestMain: false, files: 0 };
      // a package in pnpm's layout is a directory .pnpm/<name@version> (scope/name written scope+name); the workspace's
      // development dependencies (root and per-package devDependencies) must have none
      const DEV = /\\/node_modules\\/\\.pnpm\\/(jest|jest-cli|jest-runtime|jest-circus|@jest\\+[a-z-]+|typescript|@swc\\+[a-z-]+|tsx|ts-node|eslint|@eslint\\+[a-z-]+|typescript-eslint|eslint-[a-z-]+|fast-check|@types\\+jest|@praxa\\+testkit|@octokit\\+webhooks-methods)@[^/]*$/;
      function walk(dir) {
        let entries; try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
        for (const e of entries) {
          const p = path.join(dir, e.name);
          if (['/proc', '/sys', '/dev'].includes(p)) continue;
          if (e.name === '.praxa' || /\\.key$/.test(e.name) && p.startsWith('/app')) out.keyFiles.push(p);
          if (DEV.test(p)) out.devDeps.push(p);
          if (/\\/node_modules\\/\\.pnpm\\/(zod|fastify)@[^/]*$/.test(p)) out.sawStore = true;
          if (e.isFile() && p.startsWith('/app') && /(\\.test\\.(js|ts)|test-harness\\.js|\\.spec\\.(js|ts))$/.test(e.name) && p.includes('@praxa')) out.tests.push(p);
          if (e.isFile() && p.startsWith('/app/apps/') && p.endsWith('.ts') && !p.endsWith('.d.ts') && !p.includes('/node_modules/')) out.sources.push(p);
          if (/node_modules\\/fastify$/.test(p)) out.sawFastify = true;
          if (p === '/app/apps/ingest/dist/main.js') out.sawIngestMain = true;
          if (e.isFile()) out.files++;
          if (e.isDirectory()) walk(p);
        }
      }
      walk('/');
      for (const k of ['keyFiles', 'devDeps', 'tests', 'sources']) out[k] = out[k].slice(0, 20);
      process.stdout.write(JSON.stringify(out));`;
    const r = podman(["run", "--rm", "--read-only", "--user", "0:0", "--entrypoint", "node", tag, "-e", script]);
    expect(r.stderr).toBe("");
    const found = JSON.parse(r.stdout) as {
      keyFiles: string[];
      devDeps: string[];
      tests: string[];
      sources: string[];
      sawFastify: boolean;
      sawStore: boolean;
      sawIngestMain: boolean;
      files: number;
    };
    expect({ sawFastify: found.sawFastify, sawStore: found.sawStore, sawIngestMain: found.sawIngestMain }).toEqual({
      sawFastify: true,
      sawStore: true,
      sawIngestMain: true,
    });
    expect(found.files).toBeGreaterThan(1000);
    expect(found.keyFiles).toEqual([]);
    expect(found.devDeps).toEqual([]);
    expect(found.tests).toEqual([]);
    expect(found.sources).toEqual([]);
  });

  describe("start ingest, read-only, config from Secrets Manager", () => {
    let tdb: TestDatabase;
    let sm: SecretsManagerServer;
    const name = `praxa-ingest-test-${process.pid}`;

    beforeAll(async () => {
      tdb = await createTestDatabase();
      sm = await startSecretsManagerServer({
        "praxa/test/ingest": JSON.stringify({
          INGEST_DATABASE_URL: tdb.roleUrl("praxa_ingest"),
          REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
          GITHUB_WEBHOOK_SECRET: "container-test-webhook-secret-0123",
          SLACK_SIGNING_SECRET: "container-test-slack-secret-0123",
          PRAXA_QUEUE_PREFIX: `container-${process.pid}`,
          INGEST_TRIGGER_KEY: await triggerKeyJson(),
        }),
      });
    }, 120_000);

    afterAll(async () => {
      podman(["rm", "-f", name]);
      await sm?.close();
      await tdb?.drop();
    });

    it("answers /readyz (Postgres and Redis reached), read the secret once, cannot write its root filesystem, and drains on SIGTERM with exit 0", async () => {
      const port = await freePort();
      const run = podman([
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "-e",
        "NODE_ENV=production",
        "-e",
        "PRAXA_SECRETS_SOURCE=aws",
        "-e",
        "PRAXA_SECRETS_ID=praxa/test/ingest",
        "-e",
        "AWS_REGION=us-west-1",
        "-e",
        "AWS_ACCESS_KEY_ID=AKIDCONTAINERTEST",
        "-e",
        "AWS_SECRET_ACCESS_KEY=container-test-secret",
        "-e",
        `AWS_ENDPOINT_URL_SECRETS_MANAGER=${sm.url}`,
        "-e",
        `INGEST_PORT=${port}`,
        "-e",
        "INGEST_HOST=127.0.0.1",
        tag,
        "start",
        "ingest",
      ]);
      expect(run.stderr).toBe("");
      const ready = await waitForReady(`http://127.0.0.1:${port}/readyz`, name);
      expect(ready.status).toBe(200);
      expect(sm.calls.GetSecretValue).toBe(1);

      const write = podman([
        "exec",
        name,
        "node",
        "-e",
        "try { require('node:fs').writeFileSync('/app/owned', 'x'); process.stdout.write('wrote') } catch (e) { process.stdout.write(e.code) }",
      ]);
      expect(write.stdout).toBe("EROFS");
      const uid = podman(["exec", name, "node", "-e", "process.stdout.write(String(process.getuid()))"]);
      expect(uid.stdout).toBe("10001");

      // SIGTERM (what docker/ECS/ASG send): the CLI forwards it, ingest stops accepting, closes its pools, exits 0 —
      // within the 30 s grace, or podman would have killed it (exit 137).
      const stop = podman(["stop", "--time", "30", name], 60_000);
      expect(stop.status).toBe(0);
      const exit = podman(["inspect", name, "--format", "{{.State.ExitCode}}"]).stdout.trim();
      const logs = podman(["logs", name]);
      expect({ exit, logs: logs.stderr.includes("did not close") }).toEqual({ exit: "0", logs: false });
      expect(sm.calls.GetSecretValue).toBe(1);
    }, 300_000);
  });
  describe("a signed GitHub webhook through the containerised ingest, reviewed by the containerised worker", () => {
    let h: WorkerHarness;
    let sm: SecretsManagerServer;
    let keys: string;
    const name = `praxa-worker-test-${process.pid}`;
    const ingestName = `praxa-ingest-e2e-${process.pid}`;
    const webhookSecret = "container-e2e-webhook-secret-0123";

    beforeAll(async () => {
      h = await startWorkerHarness();
      // The harness made the workspace key with a local master key: the container gets a copy it can read (uid
      // 10001), mounted read-only — a runtime mount, never a file in the image.
      keys = mkdtempSync(join(tmpdir(), "praxa-container-keys-"));
      copyFileSync(h.env.PRAXA_KEY_FILE as string, join(keys, "master.key"));
      chownSync(keys, 10001, 10001);
      chownSync(join(keys, "master.key"), 10001, 10001);
      const { NODE_ENV: _n, LOG_LEVEL: _l, PRAXA_KEY_FILE: _k, PRAXA_AUDIT_SIGNING_KEY_FILE: _a, ...settings } = h.env;
      sm = await startSecretsManagerServer({
        "praxa/test/worker": JSON.stringify({
          ...settings,
          PRAXA_KEY_FILE: "/keys/master.key",
          // A self-hosted key file is an explicit, logged opt-in in production (the KMS path: kms-production.test.ts).
          PRAXA_ALLOW_LOCAL_KEY_FILE_IN_PRODUCTION: "true",
          PRAXA_AUDIT_SIGNING_KEY: auditSigningPem(),
        }),
        "praxa/test/ingest-e2e": JSON.stringify({
          INGEST_DATABASE_URL: h.tdb.roleUrl("praxa_ingest"),
          REDIS_URL: settings.REDIS_URL,
          PRAXA_QUEUE_PREFIX: settings.PRAXA_QUEUE_PREFIX,
          GITHUB_WEBHOOK_SECRET: webhookSecret,
          SLACK_SIGNING_SECRET: "container-e2e-slack-secret-0123",
          INGEST_TRIGGER_KEY: await triggerKeyJson(),
        }),
      });
    }, 180_000);

    afterAll(async () => {
      podman(["rm", "-f", name]);
      podman(["rm", "-f", ingestName]);
      await sm?.close();
      await h?.close();
      if (keys) rmSync(keys, { recursive: true, force: true });
    });

    it("ingest verifies and enqueues, the worker posts the review on the sandbox GitHub; each read its secret once; both stop with exit 0", async () => {
      const env = (secretId: string) => [
        "-e",
        "NODE_ENV=production",
        "-e",
        "PRAXA_SECRETS_SOURCE=aws",
        "-e",
        `PRAXA_SECRETS_ID=${secretId}`,
        "-e",
        "AWS_REGION=us-west-1",
        "-e",
        "AWS_ACCESS_KEY_ID=AKIDCONTAINERTEST",
        "-e",
        "AWS_SECRET_ACCESS_KEY=container-test-secret",
        "-e",
        `AWS_ENDPOINT_URL_SECRETS_MANAGER=${sm.url}`,
      ];
      const healthPort = await freePort();
      const worker = podman([
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "-v",
        `${keys}:/keys:ro`,
        ...env("praxa/test/worker"),
        "-e",
        `PRAXA_HEALTH_PORT=${healthPort}`,
        tag,
        "start",
        "worker",
      ]);
      expect(worker.stderr).toBe("");
      // the worker's internal /readyz (PRAXA_HEALTH_PORT): Postgres and Redis reached
      const ready = await waitForReady(`http://127.0.0.1:${healthPort}/readyz`, name);
      expect(JSON.parse(ready.body)).toEqual({ ok: true, checks: { postgres: true, redis: true } });

      const ingestPort = await freePort();
      const ingest = podman([
        "run",
        "-d",
        "--name",
        ingestName,
        "--network",
        "host",
        "--read-only",
        "--tmpfs",
        "/tmp",
        ...env("praxa/test/ingest-e2e"),
        "-e",
        `INGEST_PORT=${ingestPort}`,
        "-e",
        "INGEST_HOST=127.0.0.1",
        tag,
        "start",
        "ingest",
      ]);
      expect(ingest.stderr).toBe("");
      await waitForReady(`http://127.0.0.1:${ingestPort}/readyz`, ingestName);

      // the pull request on the sandbox GitHub, and GitHub's pull_request.opened delivery for it (the recorded
      // octokit/webhooks payload rewritten to it), signed with the webhook secret over the exact bytes sent
      const headSha = randomUUID().replace(/-/g, "").padEnd(40, "0").slice(0, 40);
      h.gh.sandbox.addPullRequest({
        owner: "acme",
        repo: "shop",
        number: 4242,
        title: "Speed up checkout",
        body: "",
        author: { login: "dev", type: "User" },
        headSha,
        baseRef: "main",
        files: [
          {
            filename: "src/payments/checkout.ts",
            patch: addedPatch([
              "export function charge(amount: number) {",
              "  console.log(amount);",
              "  return amount * 100;",
              "}",
            ]),
          },
        ],
      });
      const payload = JSON.parse(
        readFileSync(join(root, "test/data/fixtures/github/pull_request.opened.json"), "utf8").replaceAll(
          "Codertocat/Hello-World",
          "acme/shop",
        ),
      ) as Record<
        string,
        Record<string, unknown> & {
          owner?: Record<string, unknown>;
          user?: Record<string, unknown>;
          head?: Record<string, unknown>;
          base?: Record<string, unknown>;
        }
      > & { action: string; number: number };
      payload.action = "opened";
      payload.number = 4242;
      (payload.installation as Record<string, unknown>).id = INSTALLATION;
      Object.assign(payload.repository as object, { name: "shop" });
      Object.assign(payload.repository?.owner as object, { login: "acme" });
      Object.assign(payload.sender as object, { login: "dev", type: "User" });
      Object.assign(payload.pull_request as object, {
        number: 4242,
        title: "Speed up checkout",
        body: "",
        draft: false,
      });
      Object.assign(payload.pull_request?.user as object, { login: "dev", type: "User" });
      Object.assign(payload.pull_request?.head as object, { sha: headSha });
      Object.assign(payload.pull_request?.base as object, { ref: "main" });
      const body = Buffer.from(JSON.stringify(payload));
      const res = await fetch(`http://127.0.0.1:${ingestPort}/webhooks/github`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "pull_request",
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": `sha256=${createHmac("sha256", webhookSecret).update(body).digest("hex")}`,
        },
        body,
      });
      const answer = (await res.json()) as { runIds?: string[] };
      expect(res.status).toBe(202);
      expect(answer.runIds).toHaveLength(1);
      const runId = answer.runIds?.[0] as Parameters<WorkerHarness["waitForRun"]>[0];
      expect(await h.waitForRun(runId, 180_000)).toEqual({ status: "succeeded", error_code: null });
      const reviews = h.gh.sandbox.reviews("acme", "shop", 4242);
      expect(reviews).toHaveLength(1);
      expect(reviews[0]?.event).toBe("REQUEST_CHANGES");
      expect(sm.calls.GetSecretValue).toBe(2); // one each, at boot

      for (const c of [ingestName, name]) {
        expect(podman(["stop", "--time", "30", c], 60_000).status).toBe(0);
        expect({ c, exit: podman(["inspect", c, "--format", "{{.State.ExitCode}}"]).stdout.trim() }).toEqual({
          c,
          exit: "0",
        });
      }
    }, 600_000);
  });
});
