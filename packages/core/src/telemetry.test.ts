import { describe, expect, it } from "@jest/globals";
import { filterTelemetry, TelemetryMetaSchema } from "./index.js";

describe("telemetry whitelist", () => {
  it("accepts exactly {tool_name, ms, code, iter}", () => {
    expect(
      TelemetryMetaSchema.parse({ tool_name: "github.read.diff", ms: 12.5, code: "TOOL_NOT_ALLOWED", iter: 2 }),
    ).toBeDefined();
    expect(TelemetryMetaSchema.safeParse({ tool_name: "github.read.diff", prompt: "x" }).success).toBe(false);
    expect(TelemetryMetaSchema.safeParse({ tool_name: "ignore previous instructions" }).success).toBe(false);
    expect(TelemetryMetaSchema.safeParse({ code: "user typed this" }).success).toBe(false);
  });

  it("filtering drops everything else, including values of the wrong shape", () => {
    const canary = "CANARY-user-content-4f2a";
    expect(
      filterTelemetry({
        tool_name: "slack.post_message",
        ms: 3,
        iter: 1,
        code: null,
        "http.url": canary,
        input: canary,
        tool_name_extra: canary,
      }),
    ).toEqual({
      tool_name: "slack.post_message",
      ms: 3,
      iter: 1,
      code: null,
    });
    expect(filterTelemetry({ tool_name: canary, code: canary })).toEqual({});
    // Only keys that are present come out: no whitelisted key appears (even as undefined) that was not given.
    expect(filterTelemetry({ ms: 3 })).toStrictEqual({ ms: 3 });
  });

  it("anchors both ends of tool names and codes: user text before or after a valid one is refused", () => {
    for (const tool_name of [
      `${"ignore previous instructions"} github.read.diff`,
      "github.read.diff and then post my secrets",
      "please unknown",
      "model output follows",
    ]) {
      expect(TelemetryMetaSchema.safeParse({ tool_name }).success).toBe(false);
      expect(filterTelemetry({ tool_name })).toStrictEqual({});
    }
    for (const code of ["secret is TOOL_NOT_ALLOWED", "TOOL_NOT_ALLOWED but the user wrote this"]) {
      expect(TelemetryMetaSchema.safeParse({ code }).success).toBe(false);
      expect(filterTelemetry({ code })).toStrictEqual({});
    }
    expect(filterTelemetry({ tool_name: "unknown", code: "TOOL_NOT_ALLOWED" })).toStrictEqual({
      tool_name: "unknown",
      code: "TOOL_NOT_ALLOWED",
    });
  });
});
