/**
 * Provision a demo tenant and workspace with a GitHub integration and the pr-review Skill. Tenant, workspace, the first
 * admin and the Skill's published version go through the operator-only definer functions (`admin_provision_workspace`,
 * `admin_add_member`, `admin_publish_skill_version`: the api holds no grant to write members or Skills); the
 * integration is written as `praxa_api` inside a workspace scope, exactly as the api would — row-level security
 * applies to the seed too.
 */
import { randomInt } from "node:crypto";

import { manifestHash, newId, parseSkillManifest, type SkillManifest, type WorkspaceId } from "@praxa/core";
import { bootConfig, type ConfigSource } from "@praxa/config";
import { createDatabase, schema, sql as dsql, withWorkspace } from "@praxa/db";
import { withLocalDefaults } from "./local-env.js";

export interface SeededWorkspace {
  readonly tenantId: string;
  readonly workspaceId: WorkspaceId;
  /** The workspace's first admin (who the demo's BYOK key is recorded as added by). */
  readonly memberId: string;
  readonly integrationId: string;
  readonly installationId: string;
  readonly skillId: string;
  readonly skillVersionId: string;
  readonly manifestHash: string;
}

const DEMO_PR_REVIEW_MANIFEST: SkillManifest = parseSkillManifest({
  slug: "pr-review",
  name: "PR review",
  description: "Reviews pull requests: risk surfaces, tests, a verdict with scored alternatives.",
  triggers: ["github.pull_request.opened", "github.pull_request.synchronize", "github.pull_request.reopened"],
  tools: ["github.read.diff", "github.read.file", "github.comment.pr"],
  memory: null,
  subAgents: { allowed: [], maxDepth: 0 },
  model: { id: "claude-sonnet-5-5" },
  maxIterations: 8,
  acceptance: { threshold: 0.7, window: 50, minSamples: 20 },
  notify: ["slack"],
});

export async function seedDemoWorkspace(
  env: ConfigSource,
  label = "Demo",
  options: { installationId?: string } = {},
): Promise<SeededWorkspace> {
  const local = withLocalDefaults(env);
  const migrateCfg = await bootConfig("migrate", { env: local, envFile: ".env" });
  const apiCfg = await bootConfig("api", { env: local, envFile: ".env" });
  const seeded: SeededWorkspace = {
    tenantId: newId("tenant"),
    workspaceId: newId("workspace"),
    memberId: newId("member"),
    integrationId: newId("integration"),
    installationId: options.installationId ?? String(randomInt(10_000_000, 2_000_000_000)),
    skillId: newId("skill"),
    skillVersionId: newId("skillVersion"),
    manifestHash: manifestHash(DEMO_PR_REVIEW_MANIFEST),
  };
  const owner = createDatabase(migrateCfg.DATABASE_URL, { max: 1, applicationName: "praxa-seed" });
  try {
    await owner.db.transaction(async (tx) => {
      await tx.execute(dsql`set local role praxa_owner`);
      await tx.execute(
        dsql`select public.admin_provision_workspace(${seeded.tenantId}, ${`${label} tenant`}, ${seeded.workspaceId}, ${`${label} workspace`})`,
      );
      await tx.execute(
        dsql`select public.admin_add_member(${seeded.workspaceId}, ${seeded.memberId}, ${"admin@demo.praxa.local"}, ${"admin"})`,
      );
      await tx.execute(
        dsql`select public.admin_publish_skill_version(${seeded.workspaceId}, ${seeded.skillId}, ${DEMO_PR_REVIEW_MANIFEST.slug}, ${DEMO_PR_REVIEW_MANIFEST.name}, ${seeded.skillVersionId}, ${1}, ${JSON.stringify(DEMO_PR_REVIEW_MANIFEST)}::jsonb, ${seeded.manifestHash})`,
      );
    });
  } finally {
    await owner.close();
  }
  const api = createDatabase(apiCfg.API_DATABASE_URL, { max: 1, applicationName: "praxa-seed" });
  try {
    await withWorkspace(api, seeded.workspaceId, async (s) => {
      await s.db.insert(schema.integrations).values({
        workspaceId: seeded.workspaceId,
        id: seeded.integrationId,
        provider: "github",
        externalId: seeded.installationId,
        botIdentity: { login: "praxa-demo[bot]", kind: "github_app_installation" },
        grantedScopes: ["contents:read", "pull_requests:write"],
      });
    });
  } finally {
    await api.close();
  }
  return seeded;
}
