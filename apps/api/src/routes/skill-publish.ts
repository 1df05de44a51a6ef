/**
 * A workspace's own, declarative Skills (docs/skills.md):
 *  - `POST /v1/skills/validate` — a dry run: the document compiled as it would be published, every problem named by
 *    its path in the document (never its value), the tools the workspace has no installation for, and the manifest
 *    hash it would get. Writes nothing.
 *  - `POST /v1/skills` — a new Skill from a document (its first version). A slug already taken answers 409.
 *  - `PUT /v1/skills/:id` — a new immutable version of that Skill, numbered by the database; the same document again
 *    creates nothing and answers the newest version (`created: false`). Runs already queued keep the version they
 *    were pinned to.
 *  - `POST /v1/skills/:id/callback-secret` — the Skill's Standard Webhooks secret for its callbacks (`whsec_…`, shown
 *    once; a new one replaces the old): sealed to the workspace key in the vault — the api cannot open it again; the
 *    worker opens it under a run's lease to sign `webhook.callback` requests.
 * Publishing is an owner's or admin's (the database re-checks the token in `api_publish_skill_version`, refuses tools
 * of integrations the workspace has not installed and never publishes over a built-in Skill); every new version is
 * audited (`skill.version.created`: version, manifest hash, actor) in its transaction.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import {
  ConflictError,
  compileSkillDocument,
  manifestHash,
  newId,
  SkillDocumentError,
  SkillIdSchema,
  WorkspaceScopeError,
  type AuditEventDraft,
  type SkillManifest,
} from "@praxa/core";
import { generateWebhookSecret } from "@praxa/connectors";
import { sealCredential } from "@praxa/crypto";
import {
  appendAuditEvents,
  eq,
  publishSkillVersion,
  schema,
  vaultPutSecret,
  workspacePublicKey,
  type AuditSigner,
  type Database,
  type WorkspaceScope,
} from "@praxa/db";
import { appendAdminEvents, requireAuditSigner } from "../admin-audit.js";
import { WorkspaceKeyMissingError } from "../errors.js";
import { route } from "../route-builder.js";
import { Id } from "../schemas.js";

/** The vault name of a Skill's callback secret (the worker opens the same name: apps/worker/src/skill-callback.ts). */
const callbackSecretName = (skillId: string): string => `skill_callback/${skillId}`;

const Document = z
  .object({
    /** The Skill document (docs/skills.md), as JSON — `praxa skills apply -f skill.yaml` converts YAML. */
    document: z.record(z.string(), z.unknown()),
  })
  .strict();
const Issue = z.object({ path: z.string(), message: z.string() }).strict();
const Published = z
  .object({
    skill: z.object({ id: Id("skill"), slug: z.string(), name: z.string() }).strict(),
    version: z
      .object({ id: Id("skillVersion"), version: z.number().int(), manifestHash: z.string(), created: z.boolean() })
      .strict(),
    /** When the manifest names a callback URL: how to give the Skill its signing secret (the api cannot tell if it has one). */
    next: z.string().nullable(),
  })
  .strict();

const example = {
  document: {
    slug: "deploy-triage",
    name: "Deploy triage",
    triggers: ["trigger.deploy.failed"],
    input: { type: "object", properties: { service: { type: "string", audit: true } }, required: ["service"] },
    instructions: "Triage failed deploys.",
    tools: ["slack.post_message"],
    decision: {
      verdicts: [
        { name: "notify", description: "Tell the team" },
        { name: "ignore", description: "Nothing to do" },
      ],
    },
    actions: { notify: [{ slack: { channel: "C0DEPLOYS1", text: "{{input.service}}: {{decision.summary}}" } }] },
    acceptance: { threshold: 0.7, window: 50, minSamples: 10 },
  },
};

/** The document's problems (compile, then installations), or its manifest. */
async function check(
  scope: WorkspaceScope,
  document: unknown,
): Promise<{ manifest: SkillManifest | null; issues: { path: string; message: string }[] }> {
  let manifest: SkillManifest;
  try {
    manifest = compileSkillDocument(document);
  } catch (err) {
    if (err instanceof SkillDocumentError) return { manifest: null, issues: [...err.issues] };
    throw err;
  }
  const i = schema.integrations;
  const active = await scope.db.select({ provider: i.provider }).from(i).where(eq(i.status, "active"));
  const installed = new Set(active.map((a) => a.provider));
  const issues = manifest.tools.flatMap((tool, n) => {
    const provider = tool.split(".")[0] ?? "";
    return (provider === "github" || provider === "slack") && !installed.has(provider)
      ? [
          {
            path: `tools.${n}`,
            message: `${tool} needs the ${provider === "github" ? "GitHub" : "Slack"} integration installed in this workspace`,
          },
        ]
      : [];
  });
  return { manifest: issues.length === 0 ? manifest : null, issues };
}

async function publish(
  scope: WorkspaceScope,
  signer: AuditSigner | undefined,
  token: Parameters<typeof publishSkillVersion>[1],
  document: unknown,
  skillId: string,
): Promise<z.output<typeof Published>> {
  const s = requireAuditSigner(signer);
  const { manifest, issues } = await check(scope, document);
  if (!manifest) throw new SkillDocumentError(issues);
  const hash = manifestHash(manifest);
  const r = await publishSkillVersion(scope, token, {
    skillId,
    slug: manifest.slug,
    name: manifest.name,
    versionId: newId("skillVersion"),
    manifest,
    manifestHash: hash,
  });
  if (r.created) {
    const draft: AuditEventDraft = {
      auditEventId: newId("auditEvent"),
      kind: "skill.version.created",
      skillId: SkillIdSchema.parse(r.skill_id),
      runId: null,
      trigger: "api.skill_version_create",
      input: { actor_member_id: r.member_id, actor_token_id: token.tokenId, slug: manifest.slug },
      reasoning: [],
      alternatives: [],
      confidence: null,
      output: { version_id: r.version_id, version: r.version, manifest_hash: hash },
      tools_used: [],
      duration_ms: 0,
      occurred_at: new Date().toISOString(),
    };
    await appendAuditEvents(scope, [draft], s);
  }
  return {
    skill: { id: r.skill_id, slug: manifest.slug, name: manifest.name },
    version: { id: r.version_id, version: r.version, manifestHash: hash, created: r.created },
    next: manifest.declarative?.callback
      ? `callbacks are signed with the Skill's secret: POST /v1/skills/${r.skill_id}/callback-secret creates it (once; again to replace it)`
      : null,
  };
}

export function registerSkillPublishRoutes(app: FastifyInstance, db: Database, signer: AuditSigner | undefined): void {
  route(app, db, {
    method: "POST",
    url: "/v1/skills/validate",
    tag: "skills",
    summary: "Validate a Skill document without publishing it (a dry run)",
    operationId: "validateSkill",
    body: Document,
    bodyLimit: 256 * 1024,
    response: z.object({ valid: z.boolean(), issues: z.array(Issue), manifestHash: z.string().nullable() }).strict(),
    examples: { body: example },
    handler: async ({ scope, body }) => {
      const { manifest, issues } = await check(scope, body.document);
      return { valid: manifest !== null, issues, manifestHash: manifest ? manifestHash(manifest) : null };
    },
  });

  route(app, db, {
    method: "POST",
    url: "/v1/skills",
    tag: "skills",
    summary: "Create a Skill from a document (its first version)",
    operationId: "createSkill",
    errors: ["UNAVAILABLE", "CONFLICT", "PERMISSION_DENIED"],
    roles: ["owner", "admin"],
    status: 201,
    body: Document,
    bodyLimit: 256 * 1024,
    response: Published,
    examples: { body: example },
    handler: async ({ scope, caller, body }) => {
      const slug = (body.document as { slug?: unknown }).slug;
      if (typeof slug === "string") {
        const [taken] = await scope.db
          .select({ id: schema.skills.id })
          .from(schema.skills)
          .where(eq(schema.skills.slug, slug));
        if (taken)
          throw new ConflictError(
            `a Skill with slug ${slug} exists (${taken.id}): PUT /v1/skills/${taken.id} publishes a new version`,
          );
      }
      return publish(scope, signer, caller.token, body.document, newId("skill"));
    },
  });

  route(app, db, {
    method: "PUT",
    url: "/v1/skills/:id",
    tag: "skills",
    summary: "Publish a new immutable version of a Skill from its document",
    operationId: "updateSkill",
    errors: ["UNAVAILABLE", "PERMISSION_DENIED"],
    roles: ["owner", "admin"],
    params: z.object({ id: SkillIdSchema }).strict(),
    body: Document,
    bodyLimit: 256 * 1024,
    response: Published,
    examples: { body: example },
    handler: async ({ scope, caller, params, body }) => {
      const [skill] = await scope.db
        .select({ id: schema.skills.id })
        .from(schema.skills)
        .where(eq(schema.skills.id, params.id));
      if (!skill) throw new WorkspaceScopeError("no such skill in this workspace");
      return publish(scope, signer, caller.token, body.document, params.id);
    },
  });

  route(app, db, {
    method: "POST",
    url: "/v1/skills/:id/callback-secret",
    tag: "skills",
    summary: "Create (or replace) the Skill's callback signing secret (shown once)",
    operationId: "createSkillCallbackSecret",
    errors: ["UNAVAILABLE", "WORKSPACE_KEY_MISSING"],
    roles: ["owner", "admin"],
    status: 201,
    params: z.object({ id: SkillIdSchema }).strict(),
    response: z
      .object({ skillId: Id("skill"), secret: z.string(), fingerprint: z.string(), note: z.string() })
      .strict(),
    handler: async ({ scope, caller, params }) => {
      requireAuditSigner(signer);
      const [skill] = await scope.db
        .select({ id: schema.skills.id })
        .from(schema.skills)
        .where(eq(schema.skills.id, params.id));
      if (!skill) throw new WorkspaceScopeError("no such skill in this workspace");
      const pk = await workspacePublicKey(scope);
      if (!pk) throw new WorkspaceKeyMissingError("this workspace has no key yet: an operator must create it");
      const secret = generateWebhookSecret();
      const sealed = await sealCredential(
        { keyId: pk.keyId, publicKey: pk.publicKey },
        { workspaceId: caller.workspaceId, provider: "praxa", purpose: "callback_secret" },
        secret,
      );
      await vaultPutSecret(scope, {
        name: callbackSecretName(params.id),
        provider: "praxa",
        purpose: "callback_secret",
        ciphertext: Buffer.from(sealed),
        keyId: pk.keyId,
      });
      const fingerprint = secret.slice(-4);
      await appendAdminEvents(scope, signer, caller, [
        {
          kind: "admin.callback_secret.created",
          targetId: params.id,
          skillId: params.id,
          output: { fingerprint },
        },
      ]);
      return {
        skillId: params.id,
        secret,
        fingerprint,
        note: "shown once: give it to the producer that verifies the callbacks",
      };
    },
  });
}
