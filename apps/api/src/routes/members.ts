/**
 * `GET /v1/members` — the workspace's members: id, email, display name, role, linked Slack user, since when. Never a token or a secret:
 * the answer is built from workspace_members alone, and the declared schema drops anything else.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { schema, type Database } from "@praxa/db";
import { route } from "../route-builder.js";
import { Id, MemberRole, Timestamp } from "../schemas.js";

const Member = z
  .object({
    id: Id("member"),
    email: z.string(),
    displayName: z.string().nullable(),
    role: MemberRole,
    slackUserId: z
      .string()
      .nullable()
      .meta({ description: "the member's linked Slack user: their Approve / Deny clicks decide as them" }),
    createdAt: Timestamp,
  })
  .strict();

export function registerMemberRoutes(app: FastifyInstance, db: Database): void {
  route(app, db, {
    method: "GET",
    url: "/v1/members",
    tag: "members",
    summary: "List the members of the workspace",
    operationId: "listMembers",
    response: z.object({ members: z.array(Member) }).strict(),
    handler: async ({ scope }) => {
      const m = schema.workspaceMembers;
      const members = await scope.db
        .select({
          id: m.id,
          email: m.email,
          displayName: m.displayName,
          role: m.role,
          slackUserId: m.slackUserId,
          createdAt: m.createdAt,
        })
        .from(m)
        .orderBy(m.createdAt, m.id);
      return { members };
    },
  });
}
