import { afterEach, describe, expect, it } from "@jest/globals";
import { startHealthServer, type HealthServer } from "./health-server.js";

let server: HealthServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("startHealthServer", () => {
  it("starts nothing without PRAXA_HEALTH_PORT", async () => {
    expect(await startHealthServer({}, { db: async () => true })).toBeUndefined();
  });

  it("answers /readyz 200 when every check holds, 503 naming the failing one (a throwing check fails, its error is not shown)", async () => {
    let redisUp = true;
    server = await startHealthServer(
      { PRAXA_HEALTH_PORT: String(await freePort()) },
      {
        postgres: async () => true,
        redis: async () => {
          if (!redisUp) throw new Error("connection refused to secret-host");
          return true;
        },
      },
    );
    const base = `http://127.0.0.1:${server?.port}`;
    const ok = await fetch(`${base}/readyz`);
    expect([ok.status, await ok.json()]).toEqual([200, { ok: true, checks: { postgres: true, redis: true } }]);
    redisUp = false;
    const bad = await fetch(`${base}/readyz`);
    const body = await bad.text();
    expect([bad.status, JSON.parse(body)]).toEqual([503, { ok: false, checks: { postgres: true, redis: false } }]);
    expect(body).not.toContain("secret-host");
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/other`)).status).toBe(404);
  });

  it("refuses a port that is not a port", async () => {
    await expect(startHealthServer({ PRAXA_HEALTH_PORT: "80a" }, {})).rejects.toThrow(/PRAXA_HEALTH_PORT/);
    await expect(startHealthServer({ PRAXA_HEALTH_PORT: "70000" }, {})).rejects.toThrow(/PRAXA_HEALTH_PORT/);
  });
});

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
