/**
 * A private, throw-away Redis server (the real `redis-server` binary, on a free loopback port, nothing on disk) for
 * tests that must change server settings or take Redis down — an outage between commit and enqueue, an eviction
 * policy check — without disturbing the shared Redis other suites use in parallel.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** Stop the server (an outage); `start()` brings it back on the same port, empty. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /**
   * Freeze the server (SIGSTOP): connections stay open and commands are accepted by the kernel but never answered — a
   * hung Redis, not a down one. It stays frozen until `resume()` (SIGCONT); `stop()` resumes it first.
   */
  pause(): void;
  resume(): void;
  /** True between `pause()` and `resume()`. */
  readonly paused: boolean;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, up: boolean, timeoutMs = 10_000): Promise<void> {
  const { connect } = await import("node:net");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (open === up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not ${up ? "start" : "stop"} in time`);
}

export async function startPrivateRedis(
  binary = process.env.REDIS_SERVER_BIN ?? "redis-server",
): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    if (child && child.exitCode === null && child.signalCode === null) return; // already running
    child = spawn(
      binary,
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxmemory-policy",
        "noeviction",
      ],
      { stdio: "ignore" },
    );
    const failed = new Promise<never>((_, reject) =>
      child?.once("error", (e) => reject(new Error(`cannot start ${binary}: ${e.message}`))),
    );
    await Promise.race([waitForPort(port, true), failed]);
  };
  let paused = false;
  const resume = () => {
    if (!paused) return;
    child?.kill("SIGCONT");
    paused = false;
  };
  const pause = () => {
    if (!child || child.exitCode !== null || paused) return;
    child.kill("SIGSTOP");
    paused = true;
  };
  const stop = async () => {
    resume();
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child?.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
    await waitForPort(port, false);
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    pause,
    resume,
    get paused() {
      return paused;
    },
  };
}
