import { describe, expect, it } from "@jest/globals";
import { ConfigError, PraxaError, WorkspaceScopeError, isPraxaError, UnavailableError } from "./index.js";

describe("PraxaError", () => {
  it("carries a stable code, an HTTP status, a safe message and its cause", () => {
    const cause = new Error('driver said: relation "x" password=hunter2');
    const err = new WorkspaceScopeError("no workspace scope for this query", { cause });
    expect(err).toBeInstanceOf(PraxaError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe("WORKSPACE_SCOPE");
    expect(err.httpStatus).toBe(404);
    expect(err.name).toBe("WorkspaceScopeError");
    expect(err.cause).toBe(cause);
    expect(err.toJSON()).toEqual({ error: { code: "WORKSPACE_SCOPE", message: "no workspace scope for this query" } });
    expect(JSON.stringify(err)).not.toContain("hunter2");
    expect(isPraxaError(err)).toBe(true);
    expect(isPraxaError(cause)).toBe(false);
  });

  it("says whether the executor may retry", () => {
    expect(new UnavailableError("redis unreachable").retryable).toBe(true);
    expect(new WorkspaceScopeError("x").retryable).toBe(false);
  });

  it("ConfigError lists every problem by key", () => {
    const err = new ConfigError([
      { key: "DATABASE_URL", problem: "required" },
      { key: "REDIS_URL", problem: "must be a redis:// URL" },
    ]);
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toContain("DATABASE_URL: required");
    expect(err.message).toContain("REDIS_URL: must be a redis:// URL");
    expect(err.message).toContain("2 problems");
  });
});
