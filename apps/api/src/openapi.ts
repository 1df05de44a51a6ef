/**
 * The api's contract, from the routes' own zod schemas (route-builder.ts) through @fastify/swagger: an OpenAPI 3.1
 * document served at `GET /v1/openapi.json` (no token: it describes, it holds nothing), checked in as
 * docs/api/openapi.json (`pnpm api:openapi` regenerates it and packages/api-client's types; a test fails on drift),
 * and a reference page at `GET /v1/reference` (Scalar, its bundle served from the package: no CDN, no font host — the
 * page's CSP allows only this origin).
 */
import fastifySwagger from "@fastify/swagger";
import scalarReference from "@scalar/fastify-api-reference";
import type { FastifyInstance } from "fastify";
import { jsonSchemaTransform, jsonSchemaTransformObject } from "fastify-type-provider-zod";

export const API_TAGS = [
  { name: "health", description: "Liveness of the api process." },
  { name: "skills", description: "Skills, their versions and manifests, pause and resume, acceptance." },
  { name: "trigger-secrets", description: "Signed-producer secrets of a Skill (shown once)." },
  { name: "runs", description: "Runs of Skills, their telemetry, feedback on them; cancel and redrive." },
  { name: "audit", description: "The signed audit log: events, export, verification, redaction policy." },
  { name: "tokens", description: "Api tokens: mint automation tokens, list, revoke." },
  { name: "members", description: "Members of the workspace." },
  { name: "llm-keys", description: "Bring-your-own model credentials (sealed; never returned)." },
  { name: "integrations", description: "Bot installations (Slack, GitHub App): install, callback, confirm, list." },
  { name: "notification-channels", description: "Where a paused Skill is announced." },
  {
    name: "workspace",
    description: "The workspace's data lifecycle: erasure (owners, cancellable grace period) and its signed receipt.",
  },
] as const;

/** The page's Content-Security-Policy: nothing but this origin (and inline, which the page's bootstrap needs). */
export const REFERENCE_CSP =
  "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Praxa api",
        version: "1.0.0",
        description:
          'The workspace control plane. Every `/v1` route but the document, the reference page and the install callbacks takes an api token (`Authorization: Bearer praxa_tk_…`) and answers within that token\'s workspace; another workspace\'s id is answered 404 like a missing one. Errors are `{"error":{"code","message"}}`, each route listing the codes it can answer. Changes for callers: docs/api/CHANGELOG.md.',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: "http",
            scheme: "bearer",
            description:
              "An api token `praxa_tk_…` (human: from the operator CLI; automation: POST /v1/tokens). The console's session cookie is coming and will be documented here as a second scheme.",
          },
        },
      },
      tags: API_TAGS.map((t) => ({ ...t })),
    },
    // The zod schemas to JSON Schema, then the route's examples (route-builder.ts passes them in its config).
    transform: (document) => {
      const out = jsonSchemaTransform(document) as { schema: Record<string, unknown>; url: string };
      const config = (document.route.config ?? {}) as {
        examples?: { body?: unknown; response?: unknown };
        status?: number;
      };
      const body = out.schema["body"] as Record<string, unknown> | undefined;
      if (config.examples?.body !== undefined && body)
        out.schema["body"] = { ...body, examples: [config.examples.body] };
      const responses = out.schema["response"] as Record<string, Record<string, unknown>> | undefined;
      const status = String(config.status ?? 200);
      const success = responses?.[status];
      if (config.examples?.response !== undefined && responses && success && !("content" in success))
        responses[status] = { ...success, examples: [config.examples.response] };
      return out;
    },
    transformObject: jsonSchemaTransformObject,
  });
  app.get("/v1/openapi.json", { schema: { hide: true } }, async (_req, reply) =>
    reply.type("application/json").send(JSON.stringify(openApiDocument(app))),
  );
}

/** The document as served and as checked in (stable: keys in registration order, no host, no time). */
export function openApiDocument(app: FastifyInstance): Record<string, unknown> {
  return app.swagger() as unknown as Record<string, unknown>;
}

export async function registerReference(app: FastifyInstance): Promise<void> {
  await app.register(scalarReference, {
    routePrefix: "/v1/reference",
    logLevel: "silent",
    configuration: {
      url: "/v1/openapi.json",
      withDefaultFonts: false,
      hideClientButton: true,
      telemetry: false,
    } as never,
    hooks: {
      onRequest: async (_req, reply) => {
        void reply.header("content-security-policy", REFERENCE_CSP);
        void reply.header("x-content-type-options", "nosniff");
      },
    },
  });
}
