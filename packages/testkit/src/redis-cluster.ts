/**
 * A real, throw-away Redis Cluster for tests: `masters` × `redis-server --cluster-enabled yes` (and `replicas` replicas
 * per master) on free loopback ports, joined by `redis-cli --cluster create`, nothing on disk but their node files in
 * a temp directory that `close()` removes. Only the `redis-server` / `redis-cli` binaries already on the machine
 * (REDIS_SERVER_BIN, REDIS_CLI_BIN). A short node timeout (1 s) so a killed master's replica takes over quickly.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface RedisClusterNodeInfo {
  readonly port: number;
  readonly role: "master" | "replica";
  /** For a replica: its master's port. */
  readonly masterPort?: number;
  /** Slot ranges a master serves. */
  readonly slots: readonly (readonly [number, number])[];
  readonly failed: boolean;
}

export interface PrivateRedisCluster {
  /** Every node's port (masters first, as created). */
  readonly ports: readonly number[];
  /** The value of REDIS_CLUSTER_NODES: every node as a seed. */
  readonly nodes: string;
  readonly seeds: readonly { readonly host: string; readonly port: number }[];
  /** The cluster's view (from a live node): each node, its role and slots. */
  topology(): Promise<RedisClusterNodeInfo[]>;
  /** The port of the live master serving `key`'s slot. */
  masterOf(key: string): Promise<number>;
  /** A command on one node through redis-cli (its reply as text). */
  cli(port: number, ...args: string[]): Promise<string>;
  /** SIGKILL one node (a crashed master). */
  kill(port: number): Promise<void>;
  /** Until every live node answers `cluster_state:ok` and every slot has a live master. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

async function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await bindable(port)) && (await bindable(port + 10_000))) {
      taken.add(port);
      taken.add(port + 10_000);
      return port;
    }
  }
  throw new Error("no free port pair for a Redis Cluster node");
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not reached in ${timeoutMs} ms${last instanceof Error ? ` (${last.message})` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function parseNodes(text: string): (RedisClusterNodeInfo & { id: string; masterId: string })[] {
  const parsed = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const [id = "", addr = "", flags = "", masterId = "-", , , , , ...rest] = line.split(" ");
      const port = Number(addr.split("@")[0]?.split(":").pop());
      const flagSet = new Set(flags.split(","));
      const slots = rest
        .filter((s) => !s.startsWith("["))
        .map((s) => {
          const [a, b] = s.split("-");
          return [Number(a), Number(b ?? a)] as const;
        });
      return {
        id,
        masterId,
        port,
        role: flagSet.has("master") ? ("master" as const) : ("replica" as const),
        slots,
        failed: flagSet.has("fail") || flagSet.has("fail?") || flagSet.has("noaddr"),
      };
    });
  const portById = new Map(parsed.map((n) => [n.id, n.port]));
  return parsed.map((n) => {
    const masterPort = n.role === "replica" ? portById.get(n.masterId) : undefined;
    return masterPort === undefined ? n : { ...n, masterPort };
  });
}

export async function startRedisCluster(
  options: { readonly masters?: number; readonly replicas?: number; readonly nodeTimeoutMs?: number } = {},
): Promise<PrivateRedisCluster> {
  const serverBin = process.env.REDIS_SERVER_BIN ?? "redis-server";
  const cliBin = process.env.REDIS_CLI_BIN ?? "redis-cli";
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  const dir = mkdtempSync(join(tmpdir(), "praxa-redis-cluster-"));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < masters * (1 + replicas); i++) ports.push(await clusterPort(taken));
  const children = new Map<number, ChildProcess>();

  const cli = async (port: number, ...args: string[]): Promise<string> =>
    (await run(cliBin, ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 10_000 })).stdout;
  const alive = (port: number): boolean => {
    const c = children.get(port);
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  };
  const close = async (): Promise<void> => {
    await Promise.all(
      [...children.values()].map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
        c.kill("SIGKILL");
        await exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (const port of ports) {
      const child = spawn(
        serverBin,
        [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          join(dir, `nodes-${port}.conf`),
          "--cluster-node-timeout",
          String(options.nodeTimeoutMs ?? 1_000),
          "--save",
          "",
          "--appendonly",
          "no",
          "--dir",
          dir,
          "--maxmemory-policy",
          "noeviction",
        ],
        { stdio: "ignore" },
      );
      children.set(port, child);
      const failed = new Promise<never>((_, reject) =>
        child.once("error", (e) => reject(new Error(`cannot start ${serverBin}: ${e.message}`))),
      );
      await Promise.race([
        until(`redis-server on ${port}`, 10_000, async () => ((await portOpen(port)) ? true : undefined)),
        failed,
      ]);
    }
    await run(
      cliBin,
      [
        "--cluster",
        "create",
        ...ports.map((p) => `127.0.0.1:${p}`),
        "--cluster-replicas",
        String(replicas),
        "--cluster-yes",
      ],
      { timeout: 60_000 },
    );
  } catch (err) {
    await close();
    throw err;
  }

  const topology = async (): Promise<RedisClusterNodeInfo[]> => {
    const live = ports.find(alive);
    if (live === undefined) throw new Error("no live cluster node");
    return parseNodes(await cli(live, "cluster", "nodes")).map(({ id: _id, masterId: _m, ...n }) => n);
  };
  const masterOf = async (key: string): Promise<number> => {
    const live = ports.find(alive);
    if (live === undefined) throw new Error("no live cluster node");
    const slot = Number((await cli(live, "cluster", "keyslot", key)).trim());
    const owner = (await topology()).find(
      (n) => n.role === "master" && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b),
    );
    if (!owner) throw new Error(`no live master serves slot ${slot}`);
    return owner.port;
  };
  const waitHealthy = async (timeoutMs = 30_000): Promise<void> => {
    await until("cluster_state:ok on every live node", timeoutMs, async () => {
      for (const port of ports.filter(alive)) {
        if (!(await cli(port, "cluster", "info")).includes("cluster_state:ok")) return undefined;
      }
      const nodes = await topology();
      const live = nodes.filter((n) => !n.failed && alive(n.port));
      const covered = live
        .filter((n) => n.role === "master")
        .flatMap((n) => n.slots)
        .reduce((sum, [a, b]) => sum + (b - a + 1), 0);
      if (covered !== 16_384) return undefined;
      // With replicas: each live master has its replicas attached (a fresh cluster's replicas join a moment later),
      // and every live node's CLUSTER SLOTS — what clients read the slot map from — lists every live node.
      const expected = ports.filter(alive).length;
      if (live.length !== expected) return undefined;
      for (const port of ports.filter(alive)) {
        const slots = JSON.parse(await cli(port, "-2", "--json", "cluster", "slots")) as unknown[][];
        const listed = new Set(slots.flatMap((range) => range.slice(2).map((n) => String((n as unknown[])[1]))));
        if (listed.size !== expected) return undefined;
      }
      return true;
    });
  };
  try {
    await waitHealthy(60_000);
  } catch (err) {
    await close();
    throw err;
  }

  return {
    ports,
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(","),
    seeds: ports.map((port) => ({ host: "127.0.0.1", port })),
    topology,
    masterOf,
    cli,
    async kill(port) {
      const c = children.get(port);
      if (!c || !alive(port)) return;
      const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
      c.kill("SIGKILL");
      await exited;
    },
    waitHealthy,
    close,
  };
}
