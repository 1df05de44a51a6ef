/**
 * A forwarding HTTP proxy on loopback for fleet tests: every request goes on to `target` as it came, except those whose
 * path matches `holdPattern` while holding is on — they wait until `release()`. It lets a test keep real runs
 * mid-flight (say, at their diff read) for as long as it needs: to count how many run at once, or to cancel one
 * between two steps. Nothing is answered by the proxy itself.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface HoldProxy {
  readonly url: string;
  /** Requests held right now. */
  held(): number;
  /** Stop holding: let every held request through, and every later one at once. */
  release(): void;
  /** Hold matching requests again. */
  hold(): void;
  close(): Promise<void>;
}

export async function startHoldProxy(target: string, holdPattern: RegExp): Promise<HoldProxy> {
  const base = new URL(target);
  let holding = true;
  const waiting: (() => void)[] = [];
  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const out = request(
      {
        host: base.hostname,
        port: base.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: base.host },
      },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(res);
      },
    );
    out.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    out.end(body);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (holding && holdPattern.test(req.url ?? "")) waiting.push(() => forward(req, res, body));
      else forward(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const release = (): void => {
    holding = false;
    for (const go of waiting.splice(0)) go();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    held: () => waiting.length,
    release,
    hold() {
      holding = true;
    },
    async close() {
      release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
