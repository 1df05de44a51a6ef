/**
 * `POST /v1/runs/:id/feedback` — a member marks a Skill's action (a run) accepted or rejected. The actor is the token's
 * member; an automation token's verdict is recorded as a bot's and never counts toward the acceptance rate (only
 * humans' do). Another workspace's run is answered 404, like a missing one.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { FeedbackVerdictSchema, RunIdSchema } from "@praxa/core";
import { recordApiFeedback, type Database } from "@praxa/db";
import { route } from "../route-builder.js";
import { Id } from "../schemas.js";

export function registerFeedbackRoutes(app: FastifyInstance, db: Database): void {
  route(app, db, {
    method: "POST",
    url: "/v1/runs/:id/feedback",
    tag: "runs",
    summary: "Mark a run accepted or rejected",
    operationId: "postRunFeedback",
    errors: ["NOT_FOUND", "CONFLICT"],
    examples: { body: { verdict: "accepted" } },
    response: z
      .object({ runId: Id("run"), skillId: Id("skill"), verdict: FeedbackVerdictSchema, counted: z.boolean() })
      .strict(),
    roles: ["owner", "admin", "member"],
    status: 201,
    bodyLimit: 1024,
    params: z.object({ id: RunIdSchema }).strict(),
    body: z.object({ verdict: FeedbackVerdictSchema }).strict(),
    handler: async ({ scope, caller, params, body }) => {
      const isBot = caller.kind === "automation";
      const { skillId } = await recordApiFeedback(scope, params.id, body.verdict, { id: caller.memberId, isBot });
      return { runId: params.id, skillId, verdict: body.verdict, counted: !isBot };
    },
  });
}
