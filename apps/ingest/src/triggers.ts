/**
 * `POST /triggers/:skillId` — signed producers, the Standard Webhooks scheme: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature` (`v1,<base64>` entries, any one valid), HMAC-SHA256 keyed by the Skill's `whsec_` secret, 5-minute
 * tolerance; several live secrets are tried, for rotation. The secrets are stored sealed to ingest's own key and opened
 * here, per request, never logged. A verified delivery becomes one run of that Skill (trigger `trigger.webhook`, which
 * its manifest must list), deduplicated on the Skill's `webhook-id` only — per Skill, as the spec uses the id: the
 * same body under a fresh id is a fresh request (the signature covers id and timestamp, so it cannot be replayed
 * under another id), and another Skill's (another workspace's) deliveries are never matched.
 */
import { createHash } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { isId, newId, parseId, type WorkspaceId } from "@praxa/core";
import { openCredential } from "@praxa/crypto";
import { createRunsForDelivery, subscribedSkills, triggerSecretsForSkill, type Database } from "@praxa/db";
import { enqueue, runJobId } from "@praxa/queue";
import { ENQUEUE_TIMEOUT_MS, type IntakeDeps } from "./intake.js";
import type { IngestTriggerKey } from "./trigger-key.js";
import { standardWebhookHeadersPlausible, verifyStandardWebhook } from "./verify/standard-webhooks.js";

export const TRIGGER_NAME = "trigger.webhook";

export interface VerifiedTrigger {
  readonly workspaceId: WorkspaceId;
  readonly skillId: string;
  readonly webhookId: string;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const headersOf = (req: FastifyRequest) => ({
  id: header(req, "webhook-id"),
  timestamp: header(req, "webhook-timestamp"),
  signature: header(req, "webhook-signature"),
});

/**
 * What can be checked with no secret, no body and no database — a well-formed skill id in the path, the Standard
 * Webhooks headers well-formed, the timestamp inside the window: the Skill id, or null (answer 401 at once).
 */
export function precheckTrigger(req: FastifyRequest, nowSeconds: number): { readonly skillId: string } | null {
  const skillId = (req.params as { skillId?: unknown }).skillId;
  if (!isId("skill", skillId)) return null;
  return standardWebhookHeadersPlausible(headersOf(req), nowSeconds) ? { skillId } : null;
}

/** Verify a signed-producer request; null unless the signature holds under one of the Skill's live secrets. */
export async function verifyTrigger(
  database: Database,
  key: IngestTriggerKey,
  req: FastifyRequest,
  body: Buffer,
  nowSeconds: number,
): Promise<VerifiedTrigger | null> {
  const skillId = (req.params as { skillId?: unknown }).skillId;
  if (!isId("skill", skillId)) return null;
  const headers = headersOf(req);
  if (!headers.id || !headers.timestamp || !headers.signature) return null;
  const sealed = await triggerSecretsForSkill(database, skillId);
  if (sealed.length === 0) return null;
  const secrets: string[] = [];
  for (const s of sealed) {
    if (s.key_id !== key.keyId) continue;
    const plain = await openCredential(
      key.privateKey,
      { workspaceId: s.workspace_id, provider: "trigger", purpose: "webhook_secret" },
      s.ciphertext,
    );
    secrets.push(Buffer.from(plain).toString("utf8"));
  }
  if (!verifyStandardWebhook(secrets, headers, body, nowSeconds)) return null;
  return { workspaceId: parseId("workspace", sealed[0]?.workspace_id), skillId, webhookId: headers.id };
}

/** The delivery key: the Skill and its producer's `webhook-id` (a digest of the id when it would not fit). */
export function triggerDeliveryId(skillId: string, webhookId: string): string {
  const plain = `${skillId}:${webhookId}`;
  return plain.length <= 120 ? plain : `${skillId}:sha256:${createHash("sha256").update(webhookId).digest("hex")}`;
}

/** Record the delivery and its run (unless seen before), then enqueue `{runId}`. */
export async function acceptTrigger(
  deps: IntakeDeps,
  t: VerifiedTrigger,
  body: Buffer,
  payload: unknown,
): Promise<readonly string[]> {
  const bodySha256 = createHash("sha256").update(body).digest("hex");
  const subscribed = (await subscribedSkills(deps.database, t.workspaceId, TRIGGER_NAME)).some(
    (s) => s.skill_id === t.skillId,
  );
  const type =
    typeof (payload as { type?: unknown })?.type === "string"
      ? String((payload as { type: string }).type).slice(0, 100)
      : null;
  const created = await createRunsForDelivery(deps.database, {
    source: "trigger",
    deliveryId: triggerDeliveryId(t.skillId, t.webhookId),
    bodySha256,
    workspaceId: t.workspaceId,
    trigger: TRIGGER_NAME,
    input: { webhookId: t.webhookId.slice(0, 200), type },
    runs: subscribed ? [{ runId: newId("run"), skillId: t.skillId }] : [],
  });
  if (!created.duplicate) {
    for (const [i, runId] of created.run_ids.entries()) {
      const seq = created.dispatch_seqs[i];
      // Only a run dispatched on the spot gets its job here; the others wait for the dispatcher's fair order.
      if (created.statuses[i] !== "queued" || seq === undefined || seq === 0) continue;
      await enqueue(
        deps.queues,
        "run",
        { runId },
        { jobId: runJobId(runId, seq) },
        { timeoutMs: ENQUEUE_TIMEOUT_MS },
      ).catch((err: unknown) =>
        deps.log.warn({ runId, code: "ENQUEUE_DEFERRED", err }, "enqueue failed; the reconciler will pick the run up"),
      );
    }
  }
  deps.log.info(
    {
      deliveryId: t.webhookId,
      workspaceId: t.workspaceId,
      trigger: TRIGGER_NAME,
      runs: created.run_ids.length,
      duplicate: created.duplicate,
    },
    "trigger accepted",
  );
  return created.run_ids;
}
