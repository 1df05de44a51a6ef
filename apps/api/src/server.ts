/**
 * The api: the workspace's control plane. Every `/v1` route authenticates an api token and runs in that token's
 * workspace scope; a foreign id is answered 404, exactly like a missing one. Errors are `{"error":{"code","message"}}`.
 * This file only composes: the route builder (route-builder.ts), the contract machinery (openapi.ts) and one file per
 * resource under routes/.
 */
import fastifyCookie from "@fastify/cookie";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import {
  hasZodFastifySchemaValidationErrors,
  isResponseSerializationError,
  serializerCompiler,
  validatorCompiler,
} from "fastify-type-provider-zod";
import { isPraxaError, WorkspaceScopeError } from "@praxa/core";
import type { Database } from "@praxa/db";
import { ROOT_CONTEXT, SpanStatusCode, type Logger, type Span, type Tracer } from "@praxa/observability";
import { localVerifyGate, type VerifyGate } from "./audit-verify-gate.js";
import { registerConsole, type ConsoleDeps } from "./console.js";
import type { InstallConfig } from "./install-config.js";
import { registerOpenApi, registerReference } from "./openapi.js";
import { registerRateLimits, type ApiRateLimitDeps } from "./rate-limit.js";
import { registerApprovalRoutes } from "./routes/approvals.js";
import { registerAuditRoutes } from "./routes/audit.js";
import { registerAuditVerifyRoute } from "./routes/audit-verify.js";
import { registerFeedbackRoutes } from "./routes/feedback.js";
import { registerGithubInstallRoutes } from "./routes/github-install.js";
import { registerHealthRoutes } from "./routes/health.js";
import { registerIntegrationConfirmRoutes } from "./routes/integration-confirm.js";
import { registerIntegrationRoutes } from "./routes/integrations.js";
import { registerLlmKeyRoutes } from "./routes/llm-keys.js";
import { registerMemberRoutes } from "./routes/members.js";
import { registerSiemSubscriptionRoutes, type SiemApiConfig } from "./routes/siem-subscriptions.js";
import { registerNotificationChannelRoutes } from "./routes/notification-channels.js";
import { registerRunControlRoutes, type RunControlDeps } from "./routes/run-control.js";
import { registerAuditReplayRoutes, type AuditReplayDeps } from "./routes/audit-replay.js";
import { registerRunRoutes } from "./routes/runs.js";
import { registerSkillPublishRoutes } from "./routes/skill-publish.js";
import { registerSkillRoutes, type SkillStatusDeps } from "./routes/skills.js";
import { registerSlackInstallRoutes } from "./routes/slack-install.js";
import { registerTokenRoutes } from "./routes/tokens.js";
import { registerTriggerSecretRoutes } from "./routes/trigger-secrets.js";
import { registerWorkspaceLifecycleRoutes } from "./routes/workspace-lifecycle.js";
import type { ObjectStoreBackend } from "@praxa/object-store";

export interface ApiDeps extends SkillStatusDeps, RunControlDeps, AuditReplayDeps {
  readonly database: Database;
  readonly log: Logger;
  /** Bot-user installs (Slack OAuth, GitHub App); absent → those routes answer INTEGRATION_NOT_CONFIGURED. */
  readonly install?: InstallConfig;
  /** Events per page for GET /v1/audit/verify (default 20,000). */
  readonly auditVerifyPageSize?: number;
  /**
   * Rate limits and the audit-verify gate, in Redis so they hold across api processes (rate-limit.ts,
   * audit-verify-gate.ts). Absent (tests, tools): no rate limits, and verifications capped in process memory.
   */
  readonly limits?: Omit<ApiRateLimitDeps, "log"> & { readonly verifyGate: VerifyGate; readonly trustProxy?: boolean };
  /** Where SIEM subscriptions may point (the egress guard's policy); default: public https addresses only. */
  readonly siem?: SiemApiConfig;
  /** The process's tracer (its exporter filters to the whitelist); without it, no spans. */
  readonly tracer?: Tracer;
  /** The object store (exports are downloaded from it); absent → an export's links answer UNAVAILABLE. */
  readonly objects?: ObjectStoreBackend;
  /** The console: its pages and sign-in (console.ts); absent: neither (the session cookie is then never set). */
  readonly console?: ConsoleDeps;
}

const CONTEXT_NAMES: Record<string, string> = {
  body: "body",
  querystring: "query",
  params: "path parameters",
  headers: "headers",
};

export async function buildApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 256 * 1024, trustProxy: deps.limits?.trustProxy ?? false });
  const db = deps.database;
  const pageSize = deps.auditVerifyPageSize;
  // Input is validated and answers serialized through each route's zod schemas (route-builder.ts).
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Before any route: the per-address limit runs in onRequest, ahead of every token lookup.
  if (deps.limits) await registerRateLimits(app, { ...deps.limits, log: deps.log });

  app.setErrorHandler((error: unknown, req, reply) => {
    if (error instanceof WorkspaceScopeError)
      return reply.status(404).send({ error: { code: "NOT_FOUND", message: "not found" } });
    if (isPraxaError(error)) {
      if (error.httpStatus >= 500)
        deps.log.error({ route: req.routeOptions.url, code: error.code, err: error }, "request failed");
      return reply.status(error.httpStatus).send(error.toJSON());
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const where = CONTEXT_NAMES[error.validationContext ?? ""] ?? "request";
      const paths = [
        ...new Set(error.validation.map((i) => i.instancePath.replace(/^\//, "").replaceAll("/", ".") || "(root)")),
      ];
      return reply
        .status(400)
        .send({ error: { code: "VALIDATION_FAILED", message: `invalid ${where}: ${paths.join(", ")}` } });
    }
    if (error instanceof Error && isResponseSerializationError(error as never)) {
      // An answer that does not fit its declared schema is never sent: the contract is broken, not the caller.
      deps.log.error(
        { route: req.routeOptions.url, code: "RESPONSE_SCHEMA_MISMATCH", err: error },
        "an answer did not fit its declared schema",
      );
      return reply.status(500).send({ error: { code: "INTERNAL", message: "internal error" } });
    }
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500) {
      const code = status === 413 ? "PAYLOAD_TOO_LARGE" : status === 415 ? "UNSUPPORTED_MEDIA_TYPE" : "BAD_REQUEST";
      return reply
        .status(status === 413 || status === 415 ? status : 400)
        .send({ error: { code, message: "the request was not understood" } });
    }
    deps.log.error({ route: req.routeOptions.url, code: "INTERNAL", err: error }, "unexpected error");
    return reply.status(500).send({ error: { code: "INTERNAL", message: "internal error" } });
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.status(404).send({ error: { code: "NOT_FOUND", message: "no such route" } }),
  );
  // One span per request (a root: a caller's traceparent is not trusted), with `ms` and, when it failed, a `code`.
  const tracer = deps.tracer;
  const spans = new WeakMap<FastifyRequest, Span>();
  if (tracer) {
    app.addHook("onRequest", async (req) => {
      if (req.url !== "/healthz" && req.url !== "/readyz")
        spans.set(req, tracer.startSpan("praxa.api.request", {}, ROOT_CONTEXT));
    });
    app.addHook("onError", async (req, _reply, error) => {
      const code = error instanceof WorkspaceScopeError ? "NOT_FOUND" : isPraxaError(error) ? error.code : null;
      if (code) spans.get(req)?.setAttribute("code", code);
    });
  }
  app.addHook("onResponse", async (req, reply) => {
    const span = spans.get(req);
    if (span) {
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.setAttribute("ms", Math.round(reply.elapsedTime));
      span.end();
    }
    deps.log.info(
      { route: req.routeOptions.url ?? "unmatched", status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      "request",
    );
  });

  // The document is built from every route registered after this (openapi.ts).
  await registerOpenApi(app);
  // Cookies: install links are bound to the browser that started them (install-binding.ts); the console's session
  // and sign-in cookies (console-session.ts) are the only others read.
  await app.register(fastifyCookie);
  if (deps.console) await registerConsole(app, db, deps.console, deps.log);

  registerHealthRoutes(app);
  registerSkillRoutes(app, db, deps);
  registerSkillPublishRoutes(app, db, deps.auditSigner);
  registerTriggerSecretRoutes(app, db, deps.auditSigner);
  registerRunRoutes(app, db);
  registerRunControlRoutes(app, db, deps);
  registerFeedbackRoutes(app, db);
  registerAuditRoutes(app, db, deps.auditSigner);
  registerAuditReplayRoutes(app, db, deps);
  registerAuditVerifyRoute(app, db, {
    log: deps.log,
    gate: deps.limits?.verifyGate ?? localVerifyGate(),
    ...(pageSize === undefined ? {} : { pageSize }),
  });
  registerTokenRoutes(app, db, deps.auditSigner);
  registerWorkspaceLifecycleRoutes(app, db, deps.auditSigner, deps.objects);
  registerMemberRoutes(app, db);
  registerApprovalRoutes(app, db, deps.auditSigner);
  registerLlmKeyRoutes(app, db, deps.auditSigner);
  registerIntegrationRoutes(app, db);
  registerSlackInstallRoutes(app, db, deps.install, deps.auditSigner);
  registerGithubInstallRoutes(app, db, deps.install, deps.auditSigner);
  registerIntegrationConfirmRoutes(app, db, deps.auditSigner);
  registerNotificationChannelRoutes(app, db, deps.auditSigner);
  registerSiemSubscriptionRoutes(app, db, deps.auditSigner, deps.siem);
  await registerReference(app);

  return app;
}
