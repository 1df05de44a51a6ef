import { EventEmitter } from "node:events";
import { describe, expect, it } from "@jest/globals";
import { RedisConnection } from "bullmq";
import { queueErrorLogger } from "./queue-errors.js";

function capture() {
  const lines: { level: "warn" | "error"; obj: Record<string, unknown>; msg: string }[] = [];
  return {
    lines,
    log: {
      warn: (obj: Record<string, unknown>, msg: string) => lines.push({ level: "warn", obj, msg }),
      error: (obj: Record<string, unknown>, msg: string) => lines.push({ level: "error", obj, msg }),
    },
  };
}

const refused = () => Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" });

describe("queueErrorLogger", () => {
  it("handles error events (no throw), logs a code, and folds repeats of one code across sources per interval", () => {
    let t = 0;
    const { lines, log } = capture();
    const watcher = queueErrorLogger(log, { throttleMs: 30_000, now: () => t });
    const a = watcher.watch(new EventEmitter(), { component: "queue", queue: "runs" });
    const b = watcher.watch(new EventEmitter(), { component: "worker", queue: "runs" });
    // an EventEmitter with an `error` listener does not throw
    expect(() => a.emit("error", refused())).not.toThrow();
    b.emit("error", refused());
    a.emit("error", refused());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "warn",
      obj: {
        code: "QUEUE_REDIS_UNAVAILABLE",
        component: "queue",
        queue: "runs",
        errCode: "ECONNREFUSED",
        suppressed: 0,
      },
    });
    t = 30_000;
    b.emit("error", refused());
    expect(lines[1]?.obj).toMatchObject({ component: "worker", suppressed: 2 });
    // another kind of error is its own line, at error level
    a.emit("error", new TypeError("bad script"));
    expect(lines[2]).toMatchObject({ level: "error", obj: { code: "QUEUE_ERROR", errCode: "TypeError" } });
  });

  it("a BullMQ connection whose owner closed it reports a late error to the log instead of throwing it", () => {
    const lines: { level: string; obj: Record<string, unknown> }[] = [];
    queueErrorLogger(
      {
        warn: (obj) => lines.push({ level: "warn", obj }),
        error: (obj) => lines.push({ level: "error", obj }),
      },
      { throttleMs: 0 },
    );
    // As close() leaves it: no listener at all. A plain EventEmitter would throw here.
    const orphan = Object.create(RedisConnection.prototype) as RedisConnection;
    EventEmitter.call(orphan);
    const late = Object.assign(new Error("Connection is closed."), { code: "ECONNRESET" });
    expect(() => orphan.emit("error", late)).not.toThrow();
    expect(lines.at(-1)).toMatchObject({ level: "warn", obj: { code: "QUEUE_REDIS_UNAVAILABLE", component: "redis" } });
  });
});
