/**
 * `pnpm praxa demo --skill deploy-triage` — a workspace's own Skill end to end, on the embedded defaults, with real
 * processes: migrate → seed a workspace → start ingest, a worker, the monitor and the api as processes, the sandbox
 * Slack and a sandbox CI receiver in this process (both clearly labelled: loopback stand-ins, not Slack, not a CI) →
 * publish examples/skills/deploy-triage.yaml through the api with a human admin's token (`praxa skills apply`) → mint
 * the producer's signing secret and the Skill's callback secret → the CI system posts signed `deploy.failed` events:
 *   - a preview deploy → `ignore` (nothing posted);
 *   - a production deploy failing again → `escalate`: the Slack post, then the callback — which the Skill declares
 *     needs a human's approval: the run parks (no lease, no slot), Approve / Deny goes to Slack, the demo's human
 *     admin grants it through the api, the run resumes from its journal and calls back (docs/approvals.md);
 * → the fields the Skill does not declare are nowhere in the database → the signed callback verifies → the audit event.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createApiClient } from "@praxa/api-client";
import {
  encodeSlackBotTokenRecord,
  SLACK_BOT_TOKEN_PURPOSE,
  slackBotVaultName,
  standardWebhookV1,
} from "@praxa/connectors";
import { newId, parseId, type RunId, type WorkspaceId } from "@praxa/core";
import { sealCredential } from "@praxa/crypto";
import { bootConfig, type ConfigSource } from "@praxa/config";
import { createDatabase, eq, schema, sql, vaultPutSecret, withWorkspace, workspacePublicKey } from "@praxa/db";
import { startSlackServer } from "@praxa/testkit";
import { DEMO_PULL_REQUEST, startDemoFleet, type DemoFleet } from "./demo-fleet.js";
import { withLocalDefaults } from "./local-env.js";
import { migrateDatabase } from "./migrate.js";
import { seedDemoWorkspace } from "./seed.js";
import { applySkill } from "./skills.js";
import { createHumanToken } from "./tokens.js";

const CHANNEL = "C0DEPLOYS1";
/** A fresh sandbox team per run: a Slack team belongs to one workspace (and earlier demo workspaces stay in the database). */
const TEAM = `T0${randomUUID().replace(/-/g, "").slice(0, 9).toUpperCase()}`;

function step(startedAt: number, text: string): void {
  const s = ((performance.now() - startedAt) / 1000).toFixed(2).padStart(6);
  console.log(`[${s}s] ${text}`);
}

export async function runSkillDemo(env: ConfigSource, options: { readonly keep: boolean }): Promise<void> {
  const t0 = performance.now();
  const local = withLocalDefaults(env);
  console.log(
    "Praxa demo — a workspace's own Skill (examples/skills/deploy-triage.yaml) on embedded defaults, offline rules (no model key).\n",
  );
  const migrated = await migrateDatabase(local);
  step(t0, `database migrated (${migrated.applied.length} new migrations)`);
  const demo = await seedDemoWorkspace(local, "Skill demo");
  const workspaceId = demo.workspaceId as WorkspaceId;
  step(t0, `seeded workspace ${workspaceId} (admin member ${demo.memberId})`);

  const slack = await startSlackServer({
    clientId: "demo.slack",
    clientSecret: `demo-${randomUUID()}`,
    teamId: TEAM,
    channels: [CHANNEL],
  });
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const ci: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => ci.listen(0, "127.0.0.1", resolve));
  const ciUrl = `http://127.0.0.1:${(ci.address() as AddressInfo).port}/praxa/escalations`;
  step(
    t0,
    `sandbox Slack (packages/testkit — NOT Slack) at ${slack.url}; sandbox CI receiver (this process) at ${ciUrl}`,
  );

  let fleet: DemoFleet | null = null;
  const apiCfg = await bootConfig("api", { env: local, envFile: ".env" });
  const apiDb = createDatabase(apiCfg.API_DATABASE_URL, { max: 2, applicationName: "praxa-demo-skill" });
  let ok = false;
  try {
    fleet = await startDemoFleet(
      {
        ...local,
        SLACK_CLIENT_ID: slack.clientId,
        SLACK_CLIENT_SECRET: slack.clientSecret,
        SLACK_BASE_URL: slack.url,
        // The CI receiver is on loopback: the operator's allow-list names it (empty by default — then refused).
        PRAXA_EGRESS_ALLOW_CIDRS: "127.0.0.1/32",
      },
      demo.installationId,
      [DEMO_PULL_REQUEST],
      null,
      true,
    );
    const apiUrl = fleet.apiUrl ?? "";
    step(
      t0,
      `processes: ingest ${fleet.pids.ingest} (${fleet.ingestUrl}), worker ${fleet.pids.worker}, monitor ${fleet.pids.monitor}, api ${fleet.pids.api ?? "-"} (${apiUrl}); the fleet's Redis keys under ${fleet.redisPrefix}:`,
    );
    const keyId = await fleet.createWorkspaceKeys(apiDb, workspaceId);
    step(t0, `workspace key ${keyId} created by the worker's keys job (the api only ever sees its public half)`);

    // The workspace's Slack team, as its install leaves it: the bot token sealed to the workspace key, the row active.
    const bot = slack.installBot(["chat:write", "channels:history"]);
    await withWorkspace(apiDb, workspaceId, async (s) => {
      const pub = await workspacePublicKey(s);
      if (!pub) throw new Error("the workspace has no key");
      const sealed = await sealCredential(
        { keyId: pub.keyId, publicKey: pub.publicKey },
        { workspaceId, provider: "slack", purpose: SLACK_BOT_TOKEN_PURPOSE },
        encodeSlackBotTokenRecord({ botToken: bot.botToken, refreshToken: null }),
      );
      await vaultPutSecret(s, {
        name: slackBotVaultName(TEAM),
        provider: "slack",
        purpose: SLACK_BOT_TOKEN_PURPOSE,
        ciphertext: Buffer.from(sealed),
        keyId: pub.keyId,
      });
      await s.db.insert(schema.integrations).values({
        workspaceId,
        id: newId("integration"),
        provider: "slack",
        externalId: TEAM,
        botIdentity: { kind: "slack_bot", user_id: slack.botUserId },
        grantedScopes: ["channels:history", "chat:write"],
      });
    });
    step(t0, `Slack team ${TEAM} installed (its bot token sealed to the workspace key)`);

    const { token } = await createHumanToken(local, {
      workspace: workspaceId,
      member: demo.memberId,
      name: "skill demo",
      kind: "human",
      ttlDays: 1,
    });
    const asAdmin = { ...local, PRAXA_API_TOKEN: token, PRAXA_API_URL: apiUrl };
    const yaml = readFileSync(
      new URL("../../../../examples/skills/deploy-triage.yaml", import.meta.url),
      "utf8",
    ).replace("https://ci.example.com/praxa/escalations", ciUrl);
    const dry = await applySkill(asAdmin, yaml, true);
    step(t0, `praxa skills apply --dry-run: ${dry.valid ? "valid" : `NOT valid: ${JSON.stringify(dry.issues)}`}`);
    const applied = await applySkill(asAdmin, yaml, false);
    if (!applied.valid || !applied.skill)
      throw new Error(`the example did not publish: ${JSON.stringify(applied.issues)}`);
    const skillId = applied.skill.id;
    step(
      t0,
      `praxa skills apply -f examples/skills/deploy-triage.yaml → ${skillId} version ${applied.version?.version} (manifest ${applied.manifestHash?.slice(0, 12)}…; audited skill.version.created)`,
    );
    const api = createApiClient({ baseUrl: apiUrl, token });
    const trigger = await api.POST("/v1/skills/{id}/trigger-secrets", { params: { path: { id: skillId } } });
    const callback = await api.POST("/v1/skills/{id}/callback-secret", { params: { path: { id: skillId } } });
    if (!trigger.data || !callback.data) throw new Error("the api refused the Skill's secrets");
    const producerSecret = trigger.data.secret;
    const callbackSecret = callback.data.secret;
    step(
      t0,
      `secrets: the CI system's signing secret …${trigger.data.fingerprint}; the Skill's callback secret …${callback.data.fingerprint} (each shown once)`,
    );

    const send = async (payload: Record<string, unknown>): Promise<RunId> => {
      const body = JSON.stringify(payload);
      const id = `msg_${randomUUID()}`;
      const ts = String(Math.floor(Date.now() / 1000));
      const res = await fetch(`${fleet?.ingestUrl}/triggers/${skillId}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "webhook-id": id,
          "webhook-timestamp": ts,
          "webhook-signature": standardWebhookV1(producerSecret, id, ts, Buffer.from(body)),
        },
        body,
      });
      const answer = (await res.json()) as { runIds?: string[] };
      if (res.status !== 202 || !answer.runIds?.[0]) throw new Error(`ingest answered ${res.status}`);
      return parseId("run", answer.runIds[0]) as RunId;
    };
    const canary = `demo-secret-${randomUUID()}`;
    const preview = await send({ type: "deploy.failed", service: "web", environment: "preview", failed_step: "build" });
    const previewRun = await fleet.waitForRun(apiDb, workspaceId, preview);
    step(t0, `CI: deploy.failed (web → preview) → run ${preview} ${previewRun.status}: ignore — nothing posted`);
    const prod = await send({
      type: "deploy.failed",
      service: "payments-api",
      environment: "production",
      failed_step: "migrate",
      attempt: 3,
      error_summary: "migration 0042 timed out after 300 s",
      ci_token: canary,
    });
    // Escalating calls the CI system back — a tool the Skill gates on a human's approval: the run parks.
    const until = Date.now() + 60_000;
    let parkedStatus = "";
    for (;;) {
      const [row] = await withWorkspace(apiDb, workspaceId, (s) =>
        s.db.select({ status: schema.agentRuns.status }).from(schema.agentRuns).where(eq(schema.agentRuns.id, prod)),
      );
      parkedStatus = row?.status ?? "";
      if (!["queued", "running"].includes(parkedStatus) || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const pending = await api.GET("/v1/approvals", { params: { query: { status: "pending" } } });
    const approval = pending.data?.approvals.find((a) => a.runId === prod);
    const asked = slack.messages.find(
      (m) => m.channel === CHANNEL && JSON.stringify(m.blocks ?? []).includes(approval?.id ?? "-"),
    );
    step(
      t0,
      `run ${prod} ${parkedStatus}: the callback needs a human's approval (${approval?.id ?? "NONE"}); Approve / Deny posted to Slack ${asked ? CHANNEL : "— NOT POSTED"}; the run holds no lease and no slot`,
    );
    const granted = approval
      ? await api.POST("/v1/approvals/{id}/grant", {
          params: { path: { id: approval.id } },
          body: { reason: "on-call agrees: page the CI escalation" },
        })
      : null;
    step(
      t0,
      `a human admin grants it (POST /v1/approvals/${approval?.id ?? "-"}/grant) → ${granted?.response.status ?? "-"}`,
    );
    const prodRun = await fleet.waitForRun(apiDb, workspaceId, prod);
    step(
      t0,
      `CI: deploy.failed (payments-api → production, 3rd attempt) → run ${prod} ${prodRun.status}${prodRun.error_code ? ` (${prodRun.error_code})` : ""}`,
    );
    const post = slack.messages.find((m) => m.channel === CHANNEL && m.text.includes("Escalating"));
    step(t0, `Slack ${CHANNEL}: ${post ? `“${post.text}”` : "NOTHING POSTED"}`);
    const cb = received[0];
    const verified =
      cb !== undefined &&
      cb.headers["webhook-signature"] ===
        standardWebhookV1(
          callbackSecret,
          String(cb.headers["webhook-id"]),
          String(cb.headers["webhook-timestamp"]),
          Buffer.from(cb.body),
        );
    step(
      t0,
      `CI callback: ${cb ? `${cb.body} — webhook-signature ${verified ? "verifies with the Skill's secret" : "DOES NOT VERIFY"}` : "NONE RECEIVED"}`,
    );
    const leaked = await withWorkspace(apiDb, workspaceId, (s) =>
      s.execute(sql`select count(*)::int as n from public.agent_runs where input::text like ${`%${canary}%`}`),
    );
    const leakCount = Number((leaked as unknown as { n: number }[])[0]?.n ?? 0);
    step(
      t0,
      `the event's undeclared field (ci_token) stored: ${leakCount === 0 ? "nowhere — dropped at ingest" : "FOUND"}`,
    );
    const events = await withWorkspace(apiDb, workspaceId, (s) =>
      s.execute(sql`select kind, canonical from public.audit_events where run_id = ${prod} order by seq`),
    );
    for (const e of events as unknown as { kind: string; canonical: Buffer }[]) {
      const r = JSON.parse(e.canonical.toString("utf8")) as { input: unknown; output: unknown; confidence: unknown };
      step(
        t0,
        `audit ${e.kind}: input ${JSON.stringify(r.input)} → ${JSON.stringify(r.output)} (confidence ${String(r.confidence)})`,
      );
    }
    ok =
      previewRun.status === "succeeded" &&
      prodRun.status === "succeeded" &&
      post !== undefined &&
      verified &&
      leakCount === 0;
    console.log(
      `\n${ok ? "demo complete" : "demo FAILED"}: a customer-defined Skill — document → api → signed producer event → ingest (projected, sealed) → worker → Slack and a signed callback (total ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
    if (options.keep) {
      console.log(`\n--keep: the fleet stays up until Ctrl-C. The api is at ${apiUrl}; PRAXA_API_TOKEN=${token}`);
      await apiDb.close();
      process.exitCode = await fleet.holdUntilStopped();
      return;
    }
  } finally {
    if (!options.keep || !ok) {
      await fleet?.close();
      await apiDb.close().catch(() => undefined);
      if (fleet)
        step(
          t0,
          `stopped ingest, the worker, the monitor and the api: nothing left running${fleet.redisCleared ? `; Redis keys under ${fleet.redisPrefix}: removed` : ""}`,
        );
    }
    await slack.close();
    await new Promise<void>((resolve) => ci.close(() => resolve()));
  }
  if (!ok) process.exitCode = 1;
}
