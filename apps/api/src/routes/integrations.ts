/**
 * `GET /v1/integrations` — the workspace's bot installations with the permissions each was granted, what its Skills
 * need from it, and the excess: an installation granting more than its Skills need is flagged, so it can be narrowed.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { parseSkillManifest, type SkillManifest } from "@praxa/core";
import { excessPermissions, neededPermissions } from "@praxa/connectors";
import { schema, type Database, type WorkspaceScope } from "@praxa/db";
import { route } from "../route-builder.js";
import { exampleIntegration } from "../examples.js";
import { Id, JsonObject } from "../schemas.js";

/** The newest valid manifest of each Skill of the scope's workspace. */
export async function latestManifests(scope: WorkspaceScope): Promise<SkillManifest[]> {
  const versions = await scope.db
    .select({
      skillId: schema.skillVersions.skillId,
      version: schema.skillVersions.version,
      manifest: schema.skillVersions.manifest,
    })
    .from(schema.skillVersions);
  const latest = new Map<string, { version: number; manifest: unknown }>();
  for (const v of versions) if ((latest.get(v.skillId)?.version ?? 0) < v.version) latest.set(v.skillId, v);
  return [...latest.values()].flatMap((v) => {
    try {
      return [parseSkillManifest(v.manifest)];
    } catch {
      return [];
    }
  });
}

export function registerIntegrationRoutes(app: FastifyInstance, db: Database): void {
  route(app, db, {
    method: "GET",
    url: "/v1/integrations",
    tag: "integrations",
    summary: "Bot installations, their permissions and the excess over what Skills need",
    operationId: "listIntegrations",
    examples: { response: { integrations: [exampleIntegration] } },
    response: z
      .object({
        integrations: z.array(
          z
            .object({
              id: Id("integration"),
              provider: z.enum(["github", "slack"]),
              externalId: z.string(),
              status: z.enum(["active", "suspended", "revoked", "pending_confirmation"]),
              grantedScopes: z.array(z.string()),
              botIdentity: JsonObject,
              needed: z.array(z.string()),
              excess: z.array(z.string()),
              flagged: z.boolean(),
            })
            .strict(),
        ),
      })
      .strict(),
    handler: async ({ scope }) => {
      const integrations = await scope.db
        .select({
          id: schema.integrations.id,
          provider: schema.integrations.provider,
          externalId: schema.integrations.externalId,
          status: schema.integrations.status,
          grantedScopes: schema.integrations.grantedScopes,
          botIdentity: schema.integrations.botIdentity,
        })
        .from(schema.integrations);
      const manifests = await latestManifests(scope);
      return {
        integrations: integrations.map((i) => {
          const needed = neededPermissions(i.provider, manifests);
          const excess = excessPermissions(i.grantedScopes, needed);
          return { ...i, needed, excess, flagged: excess.length > 0 };
        }),
      };
    },
  });
}
