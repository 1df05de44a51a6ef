/** `GET /healthz` — the process answers (no token, no database: a load balancer's liveness probe). */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { publicRoute } from "../route-builder.js";

export function registerHealthRoutes(app: FastifyInstance): void {
  publicRoute(app, {
    method: "GET",
    url: "/healthz",
    tag: "health",
    summary: "Liveness",
    operationId: "health",
    response: z.object({ ok: z.literal(true) }).strict(),
    handler: async () => ({ ok: true as const }),
  });
}
