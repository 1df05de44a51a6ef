/**
 * A worker without a Slack app or a GitHub App (both optional, review finding 12): a tool that needs one fails with
 * the typed `IntegrationNotConfiguredError` (INTEGRATION_NOT_CONFIGURED, not retryable), before anything is read.
 */
import { describe, expect, it } from "@jest/globals";
import { IntegrationNotConfiguredError, newId } from "@praxa/core";
import type { KeyProvider } from "@praxa/crypto";
import type { Database, RunLease } from "@praxa/db";
import { createToolEnvironment } from "./tool-environment.js";

// Nothing here may be touched: the check comes before any database, key or network use.
const untouchable = new Proxy(
  {},
  {
    get: () => {
      throw new Error("touched");
    },
  },
);

describe("tools of an unconfigured integration", () => {
  it("slack() and github() with no app configured → IntegrationNotConfiguredError naming the settings", async () => {
    const env = createToolEnvironment(
      {
        database: untouchable as Database,
        provider: untouchable as KeyProvider,
        github: null,
        slack: null,
        enqueueRun: async () => undefined,
        maxSubagentDepth: 1,
      },
      newId("workspace"),
      untouchable as RunLease,
    );
    const slack = await env.slack("T00FAKE00BB").catch((e: unknown) => e);
    expect(slack).toBeInstanceOf(IntegrationNotConfiguredError);
    expect(slack).toMatchObject({ code: "INTEGRATION_NOT_CONFIGURED", retryable: false });
    expect((slack as Error).message).toContain("SLACK_CLIENT_ID");
    await expect(env.github()).rejects.toMatchObject({ code: "INTEGRATION_NOT_CONFIGURED" });
  });
});
