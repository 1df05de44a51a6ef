/**
 * The egress guard against a real HTTP receiver on loopback: refused destinations never see a connection, allowed
 * ones get exactly one request at the pinned address with the Host the customer wrote, redirects are not followed,
 * and time and size are bounded.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { egressPolicy, egressRequest, type Resolver } from "./index.js";

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly host: string | undefined;
  readonly body: string;
}
let server: Server;
let port: number;
let seen: Seen[] = [];
let behaviour: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end("ok");

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        host: req.headers.host,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      behaviour(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  seen = [];
  behaviour = (_req, res) => res.end("ok");
});

const open = egressPolicy({ requireHttps: false }); // no allow-list: only public addresses
const loopbackAllowed = egressPolicy({
  requireHttps: false,
  allowCidrs: "127.0.0.0/8",
  timeoutMs: 2_000,
  maxResponseBytes: 64 * 1024,
});
const code = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => "resolved",
    (e: { code?: string }) => e.code ?? "no code",
  );

describe("egress: refused destinations never get a connection", () => {
  it.each([
    ["a loopback literal", () => `http://127.0.0.1:${port}/hook`],
    [
      "a DNS name resolving to loopback (localhost, through the system resolver)",
      () => `http://localhost:${port}/hook`,
    ],
    ["an IPv4-mapped IPv6 loopback", () => `http://[::ffff:127.0.0.1]:${port}/hook`],
    ["the IPv6 loopback", () => `http://[::1]:${port}/hook`],
    ["the cloud metadata address", () => "http://169.254.169.254/latest/meta-data/iam/security-credentials/"],
    ["a private address", () => "http://10.0.0.1/"],
    ["a CGNAT address", () => "http://100.64.1.1/"],
  ])("%s → EGRESS_REFUSED", async (_label, url) => {
    expect(await code(egressRequest({ url: url(), method: "POST", body: "x" }, open))).toBe("EGRESS_REFUSED");
    expect(seen).toEqual([]);
  });

  it("a name with one private answer among public ones is refused whichever answer would be picked", async () => {
    const resolver: Resolver = async () => [
      { address: "93.184.216.34", family: 4 },
      { address: "10.0.0.7", family: 4 },
    ];
    expect(await code(egressRequest({ url: "http://mixed.example/" }, open, { resolver }))).toBe("EGRESS_REFUSED");
  });

  it("schemes, credentials in the URL and plain http in production are refused", async () => {
    const prod = egressPolicy({ allowCidrs: "127.0.0.0/8" });
    expect(await code(egressRequest({ url: `http://127.0.0.1:${port}/` }, prod))).toBe("EGRESS_REFUSED");
    expect(await code(egressRequest({ url: "file:///etc/passwd" }, open))).toBe("EGRESS_REFUSED");
    expect(await code(egressRequest({ url: "gopher://127.0.0.1:70/" }, open))).toBe("EGRESS_REFUSED");
    expect(await code(egressRequest({ url: `http://user:pass@127.0.0.1:${port}/` }, loopbackAllowed))).toBe(
      "EGRESS_REFUSED",
    );
    expect(seen).toEqual([]);
  });
});

describe("egress: allowed destinations", () => {
  it("an operator-allowed range is reached once, with the body and the Host as written", async () => {
    const res = await egressRequest(
      {
        url: `http://127.0.0.1:${port}/collector?x=1`,
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: "hello",
      },
      loopbackAllowed,
    );
    expect({ status: res.status, body: res.body.toString(), address: res.address }).toEqual({
      status: 200,
      body: "ok",
      address: "127.0.0.1",
    });
    expect(seen).toEqual([{ method: "POST", url: "/collector?x=1", host: `127.0.0.1:${port}`, body: "hello" }]);
  });

  it("DNS is asked once and the connection goes to that answer (no rebinding); Host keeps the name", async () => {
    const answers = [[{ address: "127.0.0.1", family: 4 as const }], [{ address: "10.9.9.9", family: 4 as const }]];
    let calls = 0;
    const resolver: Resolver = async () => answers[Math.min(calls++, 1)] ?? [];
    const res = await egressRequest(
      { url: `http://siem.customer.example:${port}/in`, method: "POST", body: "{}" },
      loopbackAllowed,
      { resolver },
    );
    expect({ status: res.status, address: res.address, calls }).toEqual({
      status: 200,
      address: "127.0.0.1",
      calls: 1,
    });
    expect(seen.map((s) => s.host)).toEqual([`siem.customer.example:${port}`]);
  });

  it("a redirect is answered as it is, never followed", async () => {
    behaviour = (_req, res) => {
      res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" });
      res.end();
    };
    const res = await egressRequest({ url: `http://127.0.0.1:${port}/r`, method: "POST", body: "x" }, loopbackAllowed);
    expect(res.status).toBe(302);
    expect(seen).toHaveLength(1);
  });

  it("a response over the size bound is cut off with EGRESS_TOO_LARGE", async () => {
    behaviour = (_req, res) => {
      res.writeHead(200);
      res.end(Buffer.alloc(1024 * 1024, 0x61));
    };
    expect(await code(egressRequest({ url: `http://127.0.0.1:${port}/big` }, loopbackAllowed))).toBe(
      "EGRESS_TOO_LARGE",
    );
  });

  it("a request body over the bound is refused before any connection", async () => {
    const small = egressPolicy({ requireHttps: false, allowCidrs: "127.0.0.1", maxRequestBytes: 10 });
    expect(await code(egressRequest({ url: `http://127.0.0.1:${port}/`, body: "x".repeat(11) }, small))).toBe(
      "EGRESS_TOO_LARGE",
    );
    expect(seen).toEqual([]);
  });

  it("a receiver that never answers ends in EGRESS_TIMEOUT (retryable), not a hang", async () => {
    behaviour = () => undefined; // never answers
    const quick = egressPolicy({ requireHttps: false, allowCidrs: "127.0.0.1", timeoutMs: 300 });
    const err = await egressRequest({ url: `http://127.0.0.1:${port}/slow` }, quick).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "EGRESS_TIMEOUT", retryable: true });
  });

  it("a closed port is EGRESS_UNAVAILABLE (retryable), and the message carries no path or query", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = (await egressRequest(
      { url: `http://127.0.0.1:${closedPort}/services/collector?token=SECRET-CANARY` },
      loopbackAllowed,
    ).catch((e: unknown) => e)) as Error & { code: string; retryable: boolean };
    expect({ code: err.code, retryable: err.retryable }).toEqual({ code: "EGRESS_UNAVAILABLE", retryable: true });
    expect(JSON.stringify({ message: err.message, details: (err as { details?: unknown }).details })).not.toContain(
      "SECRET-CANARY",
    );
  });
});
