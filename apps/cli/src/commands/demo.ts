/**
 * `pnpm praxa demo` — the live demo, on embedded defaults (local Postgres and Redis, env secrets). It shows what exists
 * end to end, with real processes, real roles and real row-level security:
 *   migrate → seed a demo workspace (and a second, "other" tenant) → start the sandbox GitHub, an ingest process and a
 *   worker process → send the recorded `pull_request.opened` webhook over HTTP, signed as GitHub signs it (a forged
 *   signature is refused; the same delivery again creates nothing) → ingest records the run and enqueues `{runId}` →
 *   the worker reviews the PR on the offline model and posts the review to the sandbox → a stale lease holder is
 *   fenced off → the other tenant sees none of it → the audit chain verifies and refuses deletion.
 * `--keep` leaves the fleet up (a signed curl for a second PR; Ctrl-C stops everything). See demo-fleet.ts.
 */
import { createPublicKey } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { newId, isPraxaError, verifyChain, type RunId } from "@praxa/core";
import { bootConfig, type ConfigSource } from "@praxa/config";
import {
  count,
  eq,
  createDatabase,
  readAuditChain,
  readAuditKeyset,
  recordRunStep,
  schema,
  sql,
  vaultPutSecret,
  withWorkspace,
  workspacePublicKey,
  type Database,
} from "@praxa/db";
import { sealCredential } from "@praxa/crypto";
import { ModelCredentialSchema } from "@praxa/runtime";
import { consoleSignInLink } from "./console-login.js";
import { withLocalDefaults } from "./local-env.js";
import { migrateDatabase } from "./migrate.js";
import {
  configuredPullRequest,
  DEMO_FOLLOW_UP_PULL_REQUEST,
  DEMO_PULL_REQUEST,
  startDemoFleet,
  type ConfiguredGithubApp,
  type DemoFleet,
  type SandboxReview,
} from "./demo-fleet.js";
import {
  curlCommand,
  githubSignature,
  pullRequestOpenedPayload,
  sendGithubDelivery,
  signedDelivery,
} from "./demo-webhook.js";
import { seedDemoWorkspace } from "./seed.js";

export interface DemoOptions {
  readonly keep: boolean;
}

function step(startedAt: number, text: string): void {
  const s = ((performance.now() - startedAt) / 1000).toFixed(2).padStart(6);
  console.log(`[${s}s] ${text}`);
}

async function refusedCode(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return "NOT REFUSED";
  } catch (err) {
    return isPraxaError(err) ? err.code : "UNEXPECTED";
  }
}

export async function runDemo(env: ConfigSource, options: DemoOptions): Promise<void> {
  const t0 = performance.now();
  const local = withLocalDefaults(env);
  const byok = local.ANTHROPIC_API_KEY;
  const modelLine = byok
    ? "the demo workspace’s own Anthropic key (ANTHROPIC_API_KEY, sealed as its BYOK credential)"
    : "offline model (no ANTHROPIC_API_KEY)";
  console.log(`Praxa demo — embedded defaults: local Postgres and Redis, env secrets, ${modelLine}.\n`);

  const migrated = await migrateDatabase(local);
  step(
    t0,
    `database ready (${migrated.databaseCreated ? "created; " : ""}${migrated.applied.length} migration(s) applied; roles bootstrapped)`,
  );

  // Real GitHub instead of the sandbox: the App's credentials plus which installation and PR to review.
  const real = realGithubSetup(local);
  const demo = await seedDemoWorkspace(local, "Demo", real ? { installationId: real.installationId } : {});
  const other = await seedDemoWorkspace(local, "Other");
  step(
    t0,
    `seeded workspace ${demo.workspaceId} (GitHub installation ${demo.installationId}, skill pr-review ${demo.skillId})`,
  );
  step(t0, `seeded a second tenant's workspace ${other.workspaceId}, to attack from`);

  const [workerCfg, apiCfg] = await Promise.all([
    bootConfig("worker", { env: local, envFile: ".env" }),
    bootConfig("api", { env: local, envFile: ".env" }),
  ]);
  const worker = createDatabase(workerCfg.WORKER_DATABASE_URL, { max: 2, applicationName: "praxa-demo-worker" });
  const api = createDatabase(apiCfg.API_DATABASE_URL, { max: 2, applicationName: "praxa-demo-api" });
  let pools: Promise<unknown> | null = null;
  const closePools = () => (pools ??= Promise.all([worker.close(), api.close()]));
  let fleet: DemoFleet | null = null;
  try {
    // ── the fleet: ingest and a worker as real processes on one queue prefix, against the sandbox GitHub ──
    const pr = real ? await configuredPullRequest(real.app, real.installationId, real.pr) : DEMO_PULL_REQUEST;
    fleet = await startDemoFleet(
      local,
      demo.installationId,
      options.keep && !real ? [pr, DEMO_FOLLOW_UP_PULL_REQUEST] : [pr],
      real?.app ?? null,
      options.keep,
    );
    step(t0, `${fleet.github.label}, holding ${pr.owner}/${pr.repo}#${pr.number}`);
    step(
      t0,
      `ingest process (pid ${fleet.pids.ingest}) listening at ${fleet.ingestUrl}; worker process (pid ${fleet.pids.worker}) (${byok ? "model: Anthropic, with the workspace’s key" : "offline model: deterministic rules, not a language model"})`,
    );
    step(
      t0,
      `monitor process (pid ${fleet.pids.monitor}): the fleet's schedulers — run reconciler, acceptance pass (self-pause below a Skill's threshold), time-based audit checkpoints; the fleet's Redis keys under ${fleet.redisPrefix}:`,
    );
    const keyId = await fleet.createWorkspaceKeys(api, demo.workspaceId);
    step(
      t0,
      `keys: the worker's keys job created workspace key ${keyId} (X25519; private half wrapped by the tenant key)`,
    );
    if (byok) {
      // As the api does for POST /v1/llm-keys: sealed to the workspace's public key; only a worker, in a run, opens it.
      const fingerprint = await storeDemoAnthropicKey(api, demo.workspaceId, demo.memberId, byok);
      step(
        t0,
        `BYOK: the Anthropic key (…${fingerprint}) sealed to ${keyId} and stored in the vault; the api role cannot open it`,
      );
    }

    // ── a real GitHub delivery over HTTP: the recorded pull_request.opened payload, signed as GitHub signs it ──
    const body = pullRequestOpenedPayload(pr, demo.installationId);
    const delivery = signedDelivery(fleet.webhookSecret, body);
    const forged = await sendGithubDelivery(fleet.ingestUrl, delivery, githubSignature("not-the-webhook-secret", body));
    step(
      t0,
      `webhook: the same delivery signed with the wrong secret → ${forged.status} ${forged.errorCode ?? ""} (verified over the raw bytes before anything else is read)`,
    );
    const sent = await sendGithubDelivery(fleet.ingestUrl, delivery);
    const runId = sent.runIds[0] as RunId | undefined;
    if (sent.status !== 202 || !runId)
      throw new Error(`ingest answered ${sent.status}${sent.errorCode ? ` ${sent.errorCode}` : ""} with no run`);
    step(
      t0,
      `webhook: POST ${fleet.ingestUrl}/webhooks/github (X-GitHub-Event: pull_request, opened; X-GitHub-Delivery ${delivery.deliveryId.slice(0, 8)}…; X-Hub-Signature-256) → ${sent.status} {runIds: [${sent.runIds.join(", ")}]}`,
    );
    step(
      t0,
      `ingest (as praxa_ingest): installation ${demo.installationId} → ${demo.workspaceId}; recorded the delivery and run ${runId}, then enqueued the job { runId } itself — nothing else; the worker derives the workspace from the run row`,
    );
    const redelivered = await sendGithubDelivery(fleet.ingestUrl, delivery);
    const resent = await sendGithubDelivery(fleet.ingestUrl, signedDelivery(fleet.webhookSecret, body));
    const runsAfterReplays = await countRuns(api, demo.workspaceId);
    const duplicate =
      [redelivered, resent].every((a) => a.status === 202 && a.runIds.join() === sent.runIds.join()) &&
      runsAfterReplays === sent.runIds.length;
    step(
      t0,
      `ingest: the same delivery sent again → ${redelivered.status}, and the same body under a fresh delivery id → ${resent.status}: duplicate=${duplicate}, runs ${resent.runIds.join(", ")}; the workspace holds ${runsAfterReplays} run(s) (nothing new)`,
    );

    // ── the fleet's main job: the worker takes the job, reviews the PR on the offline model as the sandbox GitHub's
    //    bot, posts one review and appends a signed audit event ──
    const finished = await fleet.waitForRun(worker, demo.workspaceId, runId);
    step(t0, `worker: run ${runId} ${finished.status}${finished.error_code ? ` (${finished.error_code})` : ""}`);
    const review = (await fleet.github.reviews(pr.owner, pr.repo, pr.number)).find((r) =>
      r.body.includes(`praxa:${runId}:`),
    );
    if (review) printReview(`${pr.owner}/${pr.repo}#${pr.number}`, review);
    const stale = { runId, token: crypto.randomUUID(), expiresAt: new Date() };
    const fenced = await refusedCode(() =>
      withWorkspace(worker, demo.workspaceId, (s) =>
        recordRunStep(s, stale, { idx: 99, kind: "tool.call", idempotencyKey: `${runId}:late`, status: "completed" }),
      ),
    );
    step(t0, `worker: a late write with a stale fencing token → ${fenced}`);

    // ── the other tenant, as praxa_api scoped to its own workspace ──
    const seen = await countRuns(api, other.workspaceId, runId);
    const wrote = await refusedCode(() =>
      withWorkspace(api, other.workspaceId, (s) =>
        s.db.insert(schema.notificationChannels).values({
          workspaceId: demo.workspaceId,
          id: newId("notificationChannel"),
          kind: "email",
          target: "attacker@example.com",
          createdBy: demo.memberId,
        }),
      ),
    );
    const own = await countRuns(api, demo.workspaceId, runId);
    step(
      t0,
      `tenancy: the other workspace sees ${seen} of the demo's runs; writing into the demo workspace → ${wrote}; the demo workspace itself sees ${own}`,
    );

    // ── audit: the worker's event, in the workspace's hash chain, signed, verified back ──
    const chain = await withWorkspace(api, demo.workspaceId, (s) => readAuditChain(s));
    const keyset = new Map(
      (await readAuditKeyset(api))
        .filter((k) => k.purpose === "event")
        .map((k) => [k.keyId, createPublicKey({ key: k.spki, format: "der", type: "spki" })]),
    );
    const verdict = verifyChain(chain, keyset, { workspaceId: demo.workspaceId });
    for (const e of chain) {
      const rec = JSON.parse(Buffer.from(e.canonical).toString("utf8")) as {
        kind: string;
        output?: { verdict?: string };
        confidence?: number | null;
        reasoning?: string[];
        tools_used?: string[];
      };
      step(
        t0,
        `audit: seq ${e.seq} ${rec.kind} — verdict ${rec.output?.verdict ?? "-"}, confidence ${rec.confidence ?? "-"}, tools ${(rec.tools_used ?? []).join(", ")}; hash ${e.hash.slice(0, 12)}…, key ${e.key_id}`,
      );
    }
    step(
      t0,
      `audit verify: ${verdict.ok ? `chain holds — ${verdict.count} event(s), hashes, links and signatures` : `FAILED at seq ${verdict.seq}: ${verdict.reason}`}`,
    );
    const rewrite = await refusedCode(() =>
      withWorkspace(api, demo.workspaceId, (s) => s.execute(sql`delete from audit_events`)),
    );
    step(t0, `audit: deleting history as the api role → ${rewrite}`);

    const ok =
      forged.status === 401 &&
      review !== undefined &&
      fenced === "LEASE_LOST" &&
      wrote === "WORKSPACE_SCOPE" &&
      seen === 0 &&
      own === 1 &&
      duplicate &&
      verdict.ok &&
      chain.length === 1 &&
      rewrite === "PERMISSION_DENIED";
    const total = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(
      `\n${ok ? "demo complete" : "demo FAILED"}: a PR reviewed end to end — signed webhook over HTTP → ingest → queue → worker → ${fleet.github.real ? "GitHub" : "sandbox GitHub"}; tenancy, fencing and the audit chain enforced by Postgres (total ${total} s)`,
    );
    console.log(
      `Check it yourself: pnpm praxa audit checkpoint --workspace ${demo.workspaceId} && pnpm praxa audit verify --workspace ${demo.workspaceId}`,
    );
    if (!ok) process.exitCode = 1;
    if (options.keep && ok) {
      await closePools();
      process.exitCode = await keepRunning(fleet, demo.installationId, demo.workspaceId, demo.memberId);
    } else if (options.keep) {
      console.log("--keep: the demo failed, so the fleet is stopped instead.");
    }
  } finally {
    if (fleet) {
      await fleet.close();
      if (!options.keep)
        step(
          t0,
          `stopped ingest (pid ${fleet.pids.ingest}), the worker (pid ${fleet.pids.worker}), the monitor (pid ${fleet.pids.monitor})${fleet.github.real ? "" : " and the sandbox GitHub"}: nothing left running${fleet.redisCleared ? `; Redis keys under ${fleet.redisPrefix}: removed` : ""}`,
        );
    }
    await closePools();
  }
}

function printReview(where: string, review: SandboxReview): void {
  console.log(`\n  ── review posted on ${where} as ${review.user} (${review.event}) ──`);
  for (const line of review.body.split("\n").filter((l) => !l.startsWith("<!--"))) console.log(`  ${line}`);
  for (const c of review.comments) console.log(`  ↳ ${c.path}:${c.line}  ${c.body}`);
  console.log("");
}

/** `--keep`: the fleet stays up; print a signed curl for the follow-up PR and where to look; print reviews as they land. */
async function keepRunning(
  fleet: DemoFleet,
  installationId: string,
  workspaceId: string,
  memberId: string,
): Promise<number> {
  if (fleet.apiUrl) {
    const link = await consoleSignInLink(process.env, {
      workspace: workspaceId,
      member: memberId,
      apiUrl: fleet.apiUrl,
    });
    console.log(`
  The console:     ${fleet.apiUrl}/runs   (api process pid ${fleet.pids.api}: this demo's run and its decision, Skills, the audit log)
  Sign in (once, within 10 minutes):
    ${link.url}
  Another link:    pnpm praxa console login --workspace ${workspaceId} --member ${memberId} --api-url ${fleet.apiUrl}`);
  }
  if (fleet.github.real) {
    console.log(`
--keep: the fleet stays up until Ctrl-C (ingest pid ${fleet.pids.ingest}, worker pid ${fleet.pids.worker}, monitor pid ${fleet.pids.monitor}).
  Point the GitHub App's webhook at ${fleet.ingestUrl}/webhooks/github (through a tunnel), or sign a payload yourself:
    X-Hub-Signature-256: sha256=$(openssl dgst -sha256 -hmac '${fleet.webhookSecret}' < body.json | sed 's/^.* //')
  Reviews appear on GitHub as the App's bot. Audit: pnpm praxa audit verify --workspace ${workspaceId}
`);
    return fleet.holdUntilStopped();
  }
  const next = DEMO_FOLLOW_UP_PULL_REQUEST;
  const dir = mkdtempSync(join(tmpdir(), "praxa-demo-"));
  const bodyFile = join(dir, `pull_request.opened-${next.number}.json`);
  const delivery = signedDelivery(fleet.webhookSecret, pullRequestOpenedPayload(next, installationId));
  writeFileSync(bodyFile, delivery.body);
  console.log(`
--keep: the fleet stays up until Ctrl-C (ingest pid ${fleet.pids.ingest}, worker pid ${fleet.pids.worker}, monitor pid ${fleet.pids.monitor}, the sandbox GitHub in this process).
  Send another event — ${next.owner}/${next.repo}#${next.number} "${next.title}" opened (the recorded GitHub payload, signed with this run's webhook secret):
    ${curlCommand(fleet.ingestUrl, delivery, bodyFile)}
  → 202 {"runIds":[…]}; sent twice, the same ids (the delivery is recorded once). Any other body: sign it with
    X-Hub-Signature-256: sha256=$(openssl dgst -sha256 -hmac '${fleet.webhookSecret}' < body.json | sed 's/^.* //')
  Where to look:
    ingest          ${fleet.ingestUrl}/readyz
    sandbox GitHub  ${fleet.github.url} (packages/testkit, NOT real GitHub; reviews it receives are printed here)
    audit           pnpm praxa audit verify --workspace ${workspaceId}   (and: pnpm praxa audit export --workspace ${workspaceId})
`);
  const printed = new Map<number, number>([
    [
      DEMO_PULL_REQUEST.number,
      (await fleet.github.reviews(DEMO_PULL_REQUEST.owner, DEMO_PULL_REQUEST.repo, DEMO_PULL_REQUEST.number)).length,
    ],
  ]);
  const github = fleet.github;
  const watch = setInterval(() => {
    for (const pr of [DEMO_PULL_REQUEST, next]) {
      void github.reviews(pr.owner, pr.repo, pr.number).then((reviews) => {
        for (const r of reviews.slice(printed.get(pr.number) ?? 0))
          printReview(`${pr.owner}/${pr.repo}#${pr.number}`, r);
        printed.set(pr.number, reviews.length);
      });
    }
  }, 250);
  try {
    return await fleet.holdUntilStopped();
  } finally {
    clearInterval(watch);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function countRuns(database: Database, workspaceId: string, runId?: string): Promise<number> {
  return withWorkspace(database, workspaceId, async (s) => {
    const [row] = await s.db
      .select({ n: count() })
      .from(schema.agentRuns)
      .where(runId === undefined ? undefined : eq(schema.agentRuns.id, runId));
    return row?.n ?? 0;
  });
}

async function storeDemoAnthropicKey(
  api: Database,
  workspaceId: string,
  memberId: string,
  apiKey: string,
): Promise<string> {
  const credential = ModelCredentialSchema.parse({ provider: "anthropic", apiKey });
  return withWorkspace(api, workspaceId, async (s) => {
    const pub = await workspacePublicKey(s);
    if (!pub) throw new Error("the workspace has no key yet");
    const id = newId("credential");
    const name = `llm/anthropic/${id}`;
    const sealed = await sealCredential(
      { keyId: pub.keyId, publicKey: pub.publicKey },
      { workspaceId, provider: "anthropic", purpose: "llm_credentials" },
      JSON.stringify(credential),
    );
    await vaultPutSecret(s, {
      name,
      provider: "anthropic",
      purpose: "llm_credentials",
      ciphertext: Buffer.from(sealed),
      keyId: pub.keyId,
    });
    await s.db.insert(schema.llmCredentials).values({
      workspaceId,
      id,
      provider: "anthropic",
      fingerprint: apiKey.slice(-4),
      vaultName: name,
      createdBy: memberId,
    });
    return apiKey.slice(-4);
  });
}

/**
 * The demo reviews a PR on GitHub itself when the App is configured and the PR named:
 * GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY (GITHUB_API_URL for GitHub Enterprise Server), PRAXA_DEMO_INSTALLATION_ID and
 * PRAXA_DEMO_PULL_REQUEST=owner/repo#number. Otherwise the sandbox.
 */
function realGithubSetup(
  env: ConfigSource,
): { app: ConfiguredGithubApp; installationId: string; pr: { owner: string; repo: string; number: number } } | null {
  const appId = Number(env.GITHUB_APP_ID ?? "");
  const key = env.GITHUB_APP_PRIVATE_KEY;
  const installationId = env.PRAXA_DEMO_INSTALLATION_ID;
  const m = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)#(\d+)$/.exec(env.PRAXA_DEMO_PULL_REQUEST ?? "");
  if (!Number.isInteger(appId) || appId <= 0 || !key || !installationId || !/^\d+$/.test(installationId) || !m)
    return null;
  return {
    app: { appId, privateKeyPem: key, baseUrl: env.GITHUB_API_URL ?? "https://api.github.com" },
    installationId,
    pr: { owner: m[1] ?? "", repo: m[2] ?? "", number: Number(m[3]) },
  };
}
