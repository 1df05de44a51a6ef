/**
 * `pnpm praxa audit replay --workspace <ws> --event <ae_id> [--timeout <s>]`: replay a recorded decision, any Skill's.
 * The CLI takes the same path as the api's `POST /v1/audit/events/:id/replay` (docs/audit.md "Replay"): it records a
 * replay request in the workspace's scope as the api role, audited as the operator (`admin.audit_replay.requested`,
 * actor `operator`) in the same transaction, enqueues the `replay` job (the request id only) and waits for a worker to
 * store the report. The CLI opens no credential: re-reading the inputs as the bot (the GitHub App's installation, the
 * Slack team's bot token under the replay's own lease) happens in the worker fleet, which needs to be running.
 * The report (`praxa-replay/v1`): the manifest, each input and each tool step as matches / CHANGED (both hashes) /
 * unavailable (named: a deleted message or thread, a purged payload field), and the decision re-made on the offline
 * model compared with the recorded one. Exit 0 only when it reproduces.
 */
import {
  newId,
  parseId,
  ReplayNotPossibleError,
  ReplayReportSchema,
  UnavailableError,
  ValidationError,
  type AuditEventDraft,
  type ReplayReport,
} from "@praxa/core";
import { bootConfig, redisTarget, type ConfigSource } from "@praxa/config";
import { loadAuditSigningKey } from "@praxa/crypto";
import {
  appendAuditEvents,
  createDatabase,
  readReplay,
  registerAuditKey,
  requestReplay,
  sql,
  withWorkspace,
} from "@praxa/db";
import { createQueues, createRedis, enqueue, redisReady } from "@praxa/queue";
import { withLocalDefaults } from "./local-env.js";

export interface ReplayAnswer {
  readonly ok: boolean;
  readonly replayId: string;
  readonly status: "queued" | "running" | "done" | "failed";
  readonly errorCode: string | null;
  readonly report: ReplayReport | null;
  readonly lines: readonly string[];
}

function operatorEvent(replayId: string, eventId: string, runId: string): AuditEventDraft {
  return {
    auditEventId: newId("auditEvent"),
    kind: "admin.audit_replay.requested",
    skillId: null,
    runId: null,
    trigger: "operator.audit_replay",
    input: { actor: "operator", target_id: eventId, replay_id: replayId, run_id: runId },
    reasoning: [],
    alternatives: [],
    confidence: null,
    output: { status: "queued" },
    tools_used: [],
    duration_ms: 0,
    occurred_at: new Date().toISOString(),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function replayAuditEvent(
  env: ConfigSource,
  workspace: string,
  event: string,
  options: { readonly timeoutSeconds?: number } = {},
): Promise<ReplayAnswer> {
  const workspaceId = parseId("workspace", workspace);
  const eventId = parseId("auditEvent", event);
  const cfg = await bootConfig("api", { env: withLocalDefaults(env), envFile: ".env" });
  const signer = loadAuditSigningKey({ pem: cfg.PRAXA_AUDIT_SIGNING_KEY, path: cfg.PRAXA_AUDIT_SIGNING_KEY_FILE });
  const db = createDatabase(cfg.API_DATABASE_URL, { max: 1, applicationName: "praxa-audit-replay" });
  const redis = createRedis(redisTarget(cfg), "producer");
  const replayId = newId("auditReplay");
  try {
    await registerAuditKey(db, { keyId: signer.keyId, purpose: "event", algorithm: "ed25519", spki: signer.spki });
    await withWorkspace(db, workspaceId, async (s) => {
      const rows = await s.execute(sql`select kind, run_id from public.audit_events where id = ${eventId} limit 1`);
      const ev = rows[0] as { kind?: unknown; run_id?: unknown } | undefined;
      if (!ev) throw new ValidationError("no such audit event in this workspace");
      if (ev.kind !== "skill.action" || typeof ev.run_id !== "string")
        throw new ReplayNotPossibleError("only skill.action events are decisions that can be replayed");
      await requestReplay(s, { replayId, eventId, memberId: null, tokenId: null });
      await appendAuditEvents(s, [operatorEvent(replayId, eventId, ev.run_id)], signer);
    });
    await redisReady(redis);
    const queues = createQueues(redis, cfg.PRAXA_QUEUE_PREFIX);
    await enqueue(queues, "replay", { replayId }, { jobId: replayId }, { timeoutMs: 5_000 });
    await queues.close();
    const deadline = Date.now() + (options.timeoutSeconds ?? 120) * 1000;
    for (;;) {
      const row = await withWorkspace(db, workspaceId, (s) => readReplay(s, replayId));
      if (row && (row.status === "done" || row.status === "failed")) {
        const report = row.report === null ? null : ReplayReportSchema.parse(row.report);
        return {
          ok: report?.ok ?? false,
          replayId,
          status: row.status,
          errorCode: row.error_code,
          report,
          lines: report?.lines ?? [`replay ${replayId}: failed (${row.error_code ?? "unknown"})`],
        };
      }
      if (Date.now() > deadline)
        throw new UnavailableError(
          `replay ${replayId} was not finished in time: is a worker running? (the request stays; read it with GET /v1/audit/replays/${replayId})`,
        );
      await sleep(250);
    }
  } finally {
    redis.disconnect();
    await db.close();
  }
}
