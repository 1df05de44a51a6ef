/**
 * `POST /triggers/:skillId` — signed producers, the Standard Webhooks scheme: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature` (`v1,<base64>` entries, any one valid), HMAC-SHA256 keyed by the Skill's `whsec_` secret, 5-minute
 * tolerance; several live secrets are tried, for rotation. The secrets are stored sealed to ingest's own key and opened
 * here, per request, never logged. A verified delivery becomes one run of that Skill (trigger `trigger.webhook`, which
 * its manifest must list), deduplicated on the Skill's `webhook-id` only — per Skill, as the spec uses the id: the
 * same body under a fresh id is a fresh request (the signature covers id and timestamp, so it cannot be replayed
 * under another id), and another Skill's (another workspace's) deliveries are never matched.
 *
 * The run's trigger is `trigger.<type>` when the Skill's newest version subscribes to the payload's `type` by name
 * (`deploy.failed` → `trigger.deploy.failed`), else `trigger.webhook` (a Skill subscribing to every event). For a
 * declarative Skill, the payload is projected to the fields its input schema names — everything else is dropped here,
 * before anything is stored — checked (a kept field of the wrong shape: 422 naming the path), and sealed to the
 * workspace key for the run (the AAD names it); the run row keeps only the delivery id and type.
 */
import { createHash } from "node:crypto";
import type { FastifyRequest } from "fastify";
import {
  canonicalJson,
  ConflictError,
  InputSchemaSchema,
  isId,
  MAX_PAYLOAD_BYTES,
  newId,
  parseId,
  PraxaError,
  projectPayload,
  runPayloadContext,
  type InputSchema,
  type RunId,
  type WorkspaceId,
} from "@praxa/core";
import { MAX_CREDENTIAL_BYTES, openCredential, sealCredential } from "@praxa/crypto";
import { triggerSecretsForSkill, triggerTargetForSkill, type Database, type TriggerTarget } from "@praxa/db";
import { traceparentOf, type Span } from "@praxa/observability";
import { enqueueDispatched, placeDelivery, type IntakeDeps } from "./intake.js";
import type { IngestTriggerKey } from "./trigger-key.js";
import { standardWebhookHeadersPlausible, verifyStandardWebhook } from "./verify/standard-webhooks.js";

/** The trigger of a Skill that subscribes to every event of its producers. */
export const TRIGGER_NAME = "trigger.webhook";

/** A producer's payload does not fit the fields the Skill declares: 422, naming the paths (never the values). */
export class PayloadInvalidError extends PraxaError {
  readonly code = "PAYLOAD_INVALID";
  readonly httpStatus = 422;
}
/** What the Skill keeps of the payload is more than a sealed payload may hold. */
export class PayloadTooLargeForSkillError extends PraxaError {
  readonly code = "PAYLOAD_TOO_LARGE";
  readonly httpStatus = 413;
}

/** The run's trigger for a payload `type`, given the triggers the Skill's newest version subscribes to. */
export function triggerNameFor(type: string | null, triggers: readonly string[]): string {
  const named = type !== null && /^[a-z0-9_]+(\.[a-z0-9_]+)*$/.test(type) ? `trigger.${type}` : null;
  return named !== null && triggers.includes(named) ? named : TRIGGER_NAME;
}

/** Input schemas parsed once per stored text (a version's schema never changes: versions are immutable). */
const schemas = new Map<string, InputSchema>();
function inputSchemaOf(target: TriggerTarget): InputSchema | null {
  if (target.input_schema === null || target.input_schema === undefined) return null;
  const key = `${target.skill_version_id}\n${JSON.stringify(target.input_schema)}`;
  const hit = schemas.get(key);
  if (hit) return hit;
  const parsed = InputSchemaSchema.parse(target.input_schema);
  if (schemas.size >= 512) schemas.clear();
  schemas.set(key, parsed);
  return parsed;
}

/** Project, check and seal a declarative Skill's payload for `runId`. */
export async function sealedPayloadFor(
  target: TriggerTarget,
  schema: InputSchema,
  payload: unknown,
  runId: RunId,
): Promise<Uint8Array> {
  const { value, problems } = projectPayload(schema, payload);
  if (problems.length > 0)
    throw new PayloadInvalidError(
      `the payload does not fit the Skill's input: ${problems.map((p) => `${p.path} (${p.message})`).join(", ")}`,
      { details: { paths: problems.map((p) => p.path) } },
    );
  const text = canonicalJson(value);
  if (Buffer.byteLength(text, "utf8") > Math.min(MAX_PAYLOAD_BYTES, MAX_CREDENTIAL_BYTES))
    throw new PayloadTooLargeForSkillError(`the fields the Skill keeps exceed ${MAX_PAYLOAD_BYTES} bytes`);
  if (target.key_id === null || target.public_key === null)
    throw new ConflictError("the Skill's workspace has no key to seal its payload to; an operator must create it");
  return sealCredential(
    { keyId: target.key_id, publicKey: target.public_key },
    runPayloadContext(target.workspace_id, runId),
    text,
  );
}

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
  parent?: Span,
): Promise<readonly string[]> {
  const bodySha256 = createHash("sha256").update(body).digest("hex");
  const type =
    typeof (payload as { type?: unknown })?.type === "string"
      ? String((payload as { type: string }).type).slice(0, 100)
      : null;
  const target = await triggerTargetForSkill(deps.database, t.skillId);
  const trigger = triggerNameFor(type, target?.triggers ?? []);
  const runId = newId("run");
  // Only an event the Skill subscribes to is read: another type creates no run and keeps nothing.
  const schema =
    target && target.workspace_id === t.workspaceId && target.triggers.includes(trigger) ? inputSchemaOf(target) : null;
  const sealed = target && schema ? await sealedPayloadFor(target, schema, payload, runId) : null;
  // One definer call: the Skill's subscription, the delivery and its run (none if the Skill does not subscribe).
  const created = await placeDelivery(
    deps,
    {
      source: "trigger",
      deliveryId: triggerDeliveryId(t.skillId, t.webhookId),
      bodySha256,
      workspaceId: t.workspaceId,
      skillId: t.skillId,
      trigger,
      input: { webhookId: t.webhookId.slice(0, 200), type },
      runIds: [runId],
      ...(sealed && target ? { payload: { skillVersionId: target.skill_version_id, sealed } } : {}),
      traceparent: parent ? traceparentOf(parent) : null,
    },
    parent,
  );
  // Only a run dispatched on the spot gets its job here; the others wait for the dispatcher's fair order.
  if (!created.duplicate) await enqueueDispatched(deps, created, 0, parent, { deliveryId: t.webhookId });
  deps.log.info(
    {
      deliveryId: t.webhookId,
      workspaceId: t.workspaceId,
      trigger,
      runs: created.run_ids.length,
      duplicate: created.duplicate,
    },
    "trigger accepted",
  );
  return created.run_ids;
}
