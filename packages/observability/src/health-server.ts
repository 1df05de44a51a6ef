/**
 * `/readyz` and `/healthz` for the apps that serve no HTTP of their own (worker, monitor), on an internal port:
 * `PRAXA_HEALTH_PORT` (unset: no server), bound to `PRAXA_HEALTH_HOST` (default 127.0.0.1 — the container's own
 * health check and the host's agent reach it; nothing outside the instance does). `/readyz` answers 200 when every
 * check holds and 503 naming the failing ones; no check detail beyond true/false, never an error message.
 *
 * `GET /metrics` answers the process's OpenTelemetry metrics as Prometheus text when `startMetrics` has run (metrics.ts),
 * 404 otherwise: the same internal port, so a scraper on the host (or the CloudWatch agent) reads it; nothing outside.
 *
 * The server is unref'd: it never keeps a process alive, and it ends with the process (runProcess exits after the
 * app's own close), so an app adds it with one line.
 */
import { createServer, type Server } from "node:http";
import { ValidationError } from "@praxa/core";
import { serveMetrics } from "./metrics.js";

export type HealthChecks = Readonly<Record<string, () => Promise<boolean>>>;

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(port) || port < 1 || port > 65_535)
    throw new ValidationError("PRAXA_HEALTH_PORT must be a port number (1–65535)");
  return port;
}

async function runChecks(checks: HealthChecks): Promise<Record<string, boolean>> {
  const entries = await Promise.all(
    Object.entries(checks).map(
      async ([name, check]) =>
        [
          name,
          await check().then(
            (ok) => ok === true,
            () => false,
          ),
        ] as const,
    ),
  );
  return Object.fromEntries(entries);
}

/** Start the health server when `env.PRAXA_HEALTH_PORT` is set; otherwise do nothing (returns undefined). */
export async function startHealthServer(
  env: Readonly<Record<string, string | undefined>>,
  checks: HealthChecks,
): Promise<HealthServer | undefined> {
  const raw = env.PRAXA_HEALTH_PORT;
  if (raw === undefined || raw === "") return undefined;
  const port = parsePort(raw);
  const host = env.PRAXA_HEALTH_HOST || "127.0.0.1";
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/metrics" && serveMetrics(req, res)) return;
    if (req.method !== "GET" || (path !== "/readyz" && path !== "/healthz")) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
      return;
    }
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
      return;
    }
    runChecks(checks).then((result) => {
      const ok = Object.values(result).every(Boolean);
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ ok, checks: result }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  server.unref();
  const bound = (server.address() as { port: number }).port;
  return { port: bound, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
