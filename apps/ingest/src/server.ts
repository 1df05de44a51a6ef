/**
 * The ingest HTTP server. Every webhook route verifies its signature over the raw bytes **before** anything else is
 * looked at; only then is the body parsed, deduplicated and turned into runs. Errors answer
 * `{"error":{"code","message"}}` and never echo payload content. Traffic that fails verification is rate-limited per
 * source address (GitHub and Slack: @fastify/rate-limit, per process — their verification is one HMAC with a secret in
 * memory; signed producers: the fleet-wide Redis limiter of unverified-limiter.ts, per source and per Skill, asked in
 * `onRequest` before any database read or crypto); verified traffic never is — its excess is delayed, not refused.
 */
import { createHash } from "node:crypto";
import rateLimit from "@fastify/rate-limit";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import {
  IntegrationNotConfiguredError,
  isPraxaError,
  SignatureInvalidError,
  UnavailableError,
  type PraxaError,
} from "@praxa/core";
import type { IngestConfig } from "@praxa/config";
import { ROOT_CONTEXT, SpanStatusCode, type Logger, type Span } from "@praxa/observability";
import { createDeliveryWriter } from "./delivery-writer.js";
import { mapGithubEvent } from "./events/github-events.js";
import { recordIngestAnswer } from "./metrics.js";
import { mapSlackEvent, UrlVerification } from "./events/slack-events.js";
import { MalformedBodyError, MissingHeaderError, PayloadTooLargeError, RateLimitedError } from "./errors.js";
import {
  acceptPrFeedback,
  acceptSlackApproval,
  acceptSlackFeedback,
  parsePrFeedbackComment,
  parseSlackApprovalClick,
  parseSlackInteraction,
} from "./feedback.js";
import { acceptEvent, type IntakeDeps } from "./intake.js";
import type { IngestTriggerKey } from "./trigger-key.js";
import { acceptTrigger, precheckTrigger, verifyTrigger, type VerifiedTrigger } from "./triggers.js";
import type { UnverifiedLimiter } from "./unverified-limiter.js";
import { verifyGithubSignature } from "./verify/github-signature.js";
import { verifySlackSignature } from "./verify/slack-signature.js";

export interface IngestServerDeps extends IntakeDeps {
  readonly config: Pick<
    IngestConfig,
    | "GITHUB_WEBHOOK_SECRET"
    | "SLACK_SIGNING_SECRET"
    | "INGEST_BODY_LIMIT_BYTES"
    | "INGEST_UNVERIFIED_RATE_PER_MINUTE"
    | "INGEST_TRUST_PROXY"
  >;
  /** The key that opens signed-producer secrets; without it `/triggers/:skillId` answers 503. */
  readonly triggerKey?: IngestTriggerKey;
  /** The fleet-wide limit on unverified `/triggers` traffic (createUnverifiedLimiter); without it `/triggers` answers 503. */
  readonly unverifiedLimiter?: UnverifiedLimiter;
  /** Readiness: Postgres and Redis reachable. */
  readonly ready: () => Promise<{ postgres: boolean; redis: boolean }>;
  readonly log: Logger;
}

type Verifier = (req: FastifyRequest) => boolean;

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function rawBody(req: FastifyRequest): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new MalformedBodyError("the body is not valid JSON");
  }
}

/** The code each refused request answered with (metrics). */
const refusedCodes = new WeakMap<FastifyRequest, string>();

function sendError(reply: FastifyReply, err: PraxaError): FastifyReply {
  refusedCodes.set(reply.request, err.code);
  return reply.status(err.httpStatus).type("application/json").send(err.toJSON());
}

export async function buildIngestServer(deps: IngestServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: deps.config.INGEST_BODY_LIMIT_BYTES,
    trustProxy: deps.config.INGEST_TRUST_PROXY,
    return503OnClosing: true,
  });

  // Keep every body as raw bytes: signatures are computed over exactly what was sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  // Verification results, computed once per request (the rate limiter's allowList asks first).
  const verified = new WeakMap<FastifyRequest, boolean>();
  const isVerified = (req: FastifyRequest): boolean => {
    const cached = verified.get(req);
    if (cached !== undefined) return cached;
    const verify = (req.routeOptions.config as { verify?: Verifier }).verify;
    const ok = verify ? verify(req) : true;
    verified.set(req, ok);
    return ok;
  };

  await app.register(rateLimit, {
    global: false,
    hook: "preHandler",
    max: deps.config.INGEST_UNVERIFIED_RATE_PER_MINUTE,
    timeWindow: 60_000,
    keyGenerator: (req) => req.ip,
    // Only traffic that fails verification counts against the per-source limit.
    allowList: (req) => isVerified(req),
    errorResponseBuilder: () => new RateLimitedError("too many unverified requests from this source"),
  });

  // Group commit: concurrent requests' deliveries share one statement and one commit (delivery-writer.ts).
  const deliveries =
    deps.deliveries ??
    createDeliveryWriter(deps.database, {
      onBatchError: (err, n) =>
        deps.log.warn(
          { code: "INGEST_BATCH_RETRIED", deliveries: n, err },
          "a delivery batch failed; placed one by one",
        ),
    });
  if (!deps.deliveries) app.addHook("onClose", async () => deliveries.close());
  const intake = { ...deps, deliveries };

  // One span per webhook request, from its arrival to the answer: the root of the run's trace (a traceparent sent by
  // the caller is not trusted: webhooks come from outside). Only `ms` and an error `code` are attached.
  const spans = new WeakMap<FastifyRequest, Span>();
  const errorCodes = new WeakMap<FastifyRequest, string>();
  const tracer = deps.tracer;
  if (tracer) {
    app.addHook("onRequest", async (req) => {
      if (req.method === "POST") spans.set(req, tracer.startSpan("praxa.ingest.request", {}, ROOT_CONTEXT));
    });
  }
  const spanOf = (req: FastifyRequest): Span | undefined => spans.get(req);

  app.setErrorHandler((error: unknown, req, reply) => {
    const code = (error as { code?: unknown }).code;
    if (isPraxaError(error)) {
      errorCodes.set(req, error.code);
      if (error.httpStatus >= 500)
        deps.log.error({ route: req.routeOptions.url, code: error.code, err: error }, "request failed");
      return sendError(reply, error);
    }
    if (code === "FST_ERR_CTP_BODY_TOO_LARGE")
      return sendError(
        reply,
        new PayloadTooLargeError(`the body exceeds ${deps.config.INGEST_BODY_LIMIT_BYTES} bytes`),
      );
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500) {
      return reply.status(status).send({ error: { code: "BAD_REQUEST", message: "the request was not understood" } });
    }
    deps.log.error({ route: req.routeOptions.url, code: "INTERNAL", err: error }, "unexpected error");
    return reply.status(500).send({ error: { code: "INTERNAL", message: "internal error" } });
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.status(404).send({ error: { code: "NOT_FOUND", message: "no such route" } }),
  );

  app.addHook("onResponse", async (req, reply) => {
    const span = spans.get(req);
    if (span) {
      const code = errorCodes.get(req) ?? (reply.statusCode >= 400 ? "REQUEST_REFUSED" : undefined);
      if (code) span.setAttribute("code", code);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.setAttribute("ms", Math.round(reply.elapsedTime));
      span.end();
    }
    recordIngestAnswer(req.routeOptions.url, reply.statusCode, refusedCodes.get(req));
    deps.log.info(
      { route: req.routeOptions.url ?? "unmatched", status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      "request",
    );
  });

  app.get("/healthz", async () => ({ ok: true }));
  app.get("/readyz", async (_req, reply) => {
    const r = await deps.ready();
    return reply.status(r.postgres && r.redis ? 200 : 503).send({ ok: r.postgres && r.redis, ...r });
  });

  const requireVerified = (req: FastifyRequest) => {
    if (!isVerified(req)) throw new SignatureInvalidError("the signature is missing, invalid or stale");
  };
  const digest = (body: Buffer) => createHash("sha256").update(body).digest("hex");

  // An integration without its settings: its routes answer 404 INTEGRATION_NOT_CONFIGURED (nothing verified, parsed or stored).
  const notConfigured = (urls: readonly string[], message: string): void => {
    for (const url of urls) {
      app.post(url, async () => {
        throw new IntegrationNotConfiguredError(message);
      });
    }
  };

  // ── GitHub ──
  const githubSecret = deps.config.GITHUB_WEBHOOK_SECRET;
  if (githubSecret === undefined)
    notConfigured(["/webhooks/github"], "GitHub webhooks are not configured on this ingest (GITHUB_WEBHOOK_SECRET)");
  const githubVerify: Verifier = (req) =>
    githubSecret !== undefined && verifyGithubSignature(githubSecret, rawBody(req), header(req, "x-hub-signature-256"));
  if (githubSecret !== undefined)
    app.post("/webhooks/github", { config: { verify: githubVerify, rateLimit: {} } }, async (req, reply) => {
      requireVerified(req);
      const event = header(req, "x-github-event");
      const deliveryId = header(req, "x-github-delivery");
      if (!event || !deliveryId || deliveryId.length > 200)
        throw new MissingHeaderError("X-GitHub-Event and X-GitHub-Delivery are required");
      const body = rawBody(req);
      const payload = parseJson(body);
      if (event === "ping") return reply.status(200).send({ ok: true, pong: true });
      const delivery = { source: "github", deliveryId, bodySha256: digest(body) } as const;
      // `/praxa accept|reject` on a PR is feedback for the quality monitor, not a trigger.
      const feedback = event === "issue_comment" ? parsePrFeedbackComment(payload, deps.githubAppId) : null;
      if (feedback?.kind === "feedback") {
        const outcome = await acceptPrFeedback(intake, delivery, feedback);
        return reply.status(202).send({ runIds: [], feedback: outcome.outcome });
      }
      const result = await acceptEvent(
        intake,
        delivery,
        feedback ? { kind: "ignored", reason: feedback.reason } : mapGithubEvent(event, payload),
        spanOf(req),
      );
      return reply.status(202).send({ runIds: result.runIds });
    });

  // ── Slack ──
  const slackSecret = deps.config.SLACK_SIGNING_SECRET;
  if (slackSecret === undefined)
    notConfigured(
      ["/webhooks/slack/events", "/webhooks/slack/interactions"],
      "Slack is not configured on this ingest (SLACK_SIGNING_SECRET)",
    );
  const slackVerify: Verifier = (req) =>
    slackSecret !== undefined &&
    verifySlackSignature(
      slackSecret,
      rawBody(req),
      header(req, "x-slack-request-timestamp"),
      header(req, "x-slack-signature"),
      Math.floor(deps.now() / 1000),
    );
  if (slackSecret !== undefined)
    app.post("/webhooks/slack/events", { config: { verify: slackVerify, rateLimit: {} } }, async (req, reply) => {
      requireVerified(req);
      const body = rawBody(req);
      const payload = parseJson(body);
      const challenge = UrlVerification.safeParse(payload);
      if (challenge.success) return reply.status(200).send({ challenge: challenge.data.challenge });
      const mapped = mapSlackEvent(payload);
      // Slack retries (X-Slack-Retry-Num) and repeated event_ids share the event_id: one delivery, one set of runs.
      const deliveryId = mapped.eventId ?? `body:${digest(body)}`;
      const result = await acceptEvent(
        intake,
        { source: "slack", deliveryId, bodySha256: digest(body) },
        mapped,
        spanOf(req),
      );
      return reply.status(202).send({ runIds: result.runIds });
    });
  // Interactivity: the Helpful / Not helpful buttons under a Skill's answer are feedback for the quality monitor.
  // Slack wants a 200 within 3 s; any other interaction is acknowledged and ignored.
  if (slackSecret !== undefined)
    app.post("/webhooks/slack/interactions", { config: { verify: slackVerify, rateLimit: {} } }, async (req, reply) => {
      requireVerified(req);
      const body = rawBody(req);
      // Approve / Deny on a run waiting for a human: decided in the database (who may decide is checked there). A
      // refused click changes nothing and is told only that it was not accepted — never why.
      const approval = parseSlackApprovalClick(body);
      if (approval) {
        const decided = await acceptSlackApproval(intake, approval);
        const accepted = decided.outcome === "granted" || decided.outcome === "denied";
        return reply
          .status(200)
          .send({ response_type: "ephemeral", text: accepted ? `Recorded: ${decided.outcome}.` : "Not accepted." });
      }
      const click = parseSlackInteraction(body);
      if (click) {
        const sha = digest(body);
        await acceptSlackFeedback(
          deps,
          {
            source: "slack",
            deliveryId: click.triggerId ? `interaction:${click.triggerId}` : `body:${sha}`,
            bodySha256: sha,
          },
          click,
        );
      }
      return reply.status(200).send();
    });

  // ── Signed producers (Standard Webhooks) ──
  // Order, cheapest first: onRequest checks the path and headers (shape, timestamp window — no secret, no body, no
  // database), then asks the unverified-traffic limiter (429 + Retry-After over budget); only then does preValidation
  // read the Skill's sealed secrets and verify. A failed verification is counted against the source and the Skill.
  const triggerResults = new WeakMap<FastifyRequest, VerifiedTrigger | null>();
  const triggerSkill = new WeakMap<FastifyRequest, string>();
  app.post(
    "/triggers/:skillId",
    {
      config: { verify: (req: FastifyRequest) => (triggerResults.get(req) ?? null) !== null },
      onRequest: async (req, reply) => {
        if (!deps.triggerKey || !deps.unverifiedLimiter)
          throw new UnavailableError("signed triggers are not configured on this ingest");
        const pre = precheckTrigger(req, Math.floor(deps.now() / 1000));
        if (!pre) throw new SignatureInvalidError("the signature is missing, invalid or stale");
        const verdict = await deps.unverifiedLimiter.check({ source: req.ip, skillId: pre.skillId });
        if (verdict.limited) {
          void reply.header("retry-after", String(verdict.retryAfterSeconds));
          throw new RateLimitedError(
            verdict.by === "source"
              ? "too many unverified requests from this source"
              : "too many unverified requests for this Skill",
          );
        }
        triggerSkill.set(req, pre.skillId);
      },
      preValidation: async (req) => {
        const key = deps.triggerKey;
        const limiter = deps.unverifiedLimiter;
        const skillId = triggerSkill.get(req);
        if (!key || !limiter || skillId === undefined)
          throw new UnavailableError("signed triggers are not configured on this ingest");
        const result = await verifyTrigger(deps.database, key, req, rawBody(req), Math.floor(deps.now() / 1000));
        if (!result) await limiter.recordFailure({ source: req.ip, skillId });
        triggerResults.set(req, result);
      },
    },
    async (req, reply) => {
      requireVerified(req);
      const verified = triggerResults.get(req);
      if (!verified) throw new SignatureInvalidError("the signature is missing, invalid or stale");
      const body = rawBody(req);
      const payload = parseJson(body);
      const runIds = await acceptTrigger(intake, verified, body, payload, spanOf(req));
      return reply.status(202).send({ runIds });
    },
  );

  return app;
}
