/**
 * The one way out to a customer-given URL (SIEM streams, Skill callbacks): resolve once and judge every address
 * (resolve-target.ts), connect to the pinned address only, never follow a redirect (a 3xx is answered as it is — the
 * caller treats it as a failure), and bound the whole exchange in time and both bodies in size.
 *
 * Built on node:http/https rather than fetch: they take the pinned address as the connect target while the Host
 * header and TLS SNI / certificate check keep the name the customer gave, with no custom dispatcher to get wrong.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import type { EgressPolicy } from "./egress-policy.js";
import { EgressTimeoutError, EgressTooLargeError, EgressUnavailableError } from "./errors.js";
import { resolveEgressTarget, systemResolver, type Resolver } from "./resolve-target.js";

export interface EgressRequest {
  readonly url: string | URL;
  readonly method?: "GET" | "POST" | "PUT" | "HEAD";
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
}

export interface EgressResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The address the request went to (the pinned one). */
  readonly address: string;
}

export interface EgressOptions {
  readonly resolver?: Resolver;
  /** Extra trust anchors for TLS (a test's own CA, a self-hosted receiver's private CA). The system CAs still apply. */
  readonly ca?: string | Buffer;
}

export async function egressRequest(
  req: EgressRequest,
  policy: EgressPolicy,
  options: EgressOptions = {},
): Promise<EgressResponse> {
  const body =
    req.body === undefined
      ? undefined
      : typeof req.body === "string"
        ? Buffer.from(req.body, "utf8")
        : Buffer.from(req.body);
  if (body && body.byteLength > policy.maxRequestBytes) {
    throw new EgressTooLargeError(
      `the request body (${body.byteLength} bytes) is over the ${policy.maxRequestBytes}-byte bound`,
    );
  }
  const deadline = Date.now() + policy.timeoutMs;
  const target = await resolveEgressTarget(req.url, policy, options.resolver ?? systemResolver);
  const remaining = deadline - Date.now();
  if (remaining <= 0) throw new EgressTimeoutError(`the destination did not answer within ${policy.timeoutMs} ms`);

  const secure = target.url.protocol === "https:";
  const headers: Record<string, string> = { ...req.headers, host: target.url.host };
  if (body) headers["content-length"] = String(body.byteLength);
  const common: RequestOptions = {
    method: req.method ?? (body ? "POST" : "GET"),
    host: target.pinned.address,
    family: target.pinned.family,
    port: target.url.port === "" ? (secure ? 443 : 80) : Number(target.url.port),
    path: `${target.url.pathname}${target.url.search}`,
    headers,
    agent: false,
  };
  return new Promise<EgressResponse>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, value?: EgressResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else if (value) resolve(value);
    };
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size > policy.maxResponseBytes) {
          finish(new EgressTooLargeError(`the response is over the ${policy.maxResponseBytes}-byte bound`));
          res.destroy();
          outgoing.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () =>
        finish(null, {
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          address: target.pinned.address,
        }),
      );
      res.on("error", (err) => finish(new EgressUnavailableError("the response was cut off", { cause: err })));
    };
    const outgoing = secure
      ? httpsRequest(
          {
            ...common,
            servername: isIP(target.hostname) === 0 ? target.hostname : undefined,
            ...(options.ca ? { ca: options.ca } : {}),
          },
          onResponse,
        )
      : httpRequest(common, onResponse);
    const timer = setTimeout(() => {
      finish(new EgressTimeoutError(`the destination did not answer within ${policy.timeoutMs} ms`));
      outgoing.destroy();
    }, remaining);
    outgoing.on("error", (err) =>
      finish(
        new EgressUnavailableError("the connection to the destination failed", {
          cause: err,
          details: { code: (err as { code?: string }).code ?? "unknown" },
        }),
      ),
    );
    if (body) outgoing.end(body);
    else outgoing.end();
  });
}
