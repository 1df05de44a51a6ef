/**
 * Where ingest's trigger key comes from: the secret's value first, then the file; production never creates a key (a
 * fresh key on one host would leave every secret sealed to the fleet's key unopenable there).
 */
import { describe, expect, it } from "@jest/globals";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@praxa/core";
import { loadIngestTriggerKey } from "./trigger-key.js";

const scratch = () => mkdtempSync(join(tmpdir(), "praxa-trigger-key-"));

describe("ingest trigger key", () => {
  it("outside production a missing file is created (0600) and the same key is read back", async () => {
    const file = join(scratch(), "k", "ingest-trigger.key");
    const made = await loadIngestTriggerKey({ file, production: false });
    expect(existsSync(file)).toBe(true);
    const again = await loadIngestTriggerKey(file);
    expect(again.keyId).toBe(made.keyId);
    expect(Buffer.from(again.publicKey).equals(Buffer.from(made.publicKey))).toBe(true);
  });

  it("the secret's value wins over the file, and every process given it holds the same key", async () => {
    const file = join(scratch(), "ingest-trigger.key");
    const original = await loadIngestTriggerKey({ file });
    const value = readFileSync(file, "utf8");
    const elsewhere = join(scratch(), "absent.key");
    const fromSecret = await loadIngestTriggerKey({ file: elsewhere, value, production: true });
    expect(fromSecret.keyId).toBe(original.keyId);
    expect(existsSync(elsewhere)).toBe(false);
  });

  it("production without the value and without a file refuses to start, naming the variable, and creates nothing", async () => {
    const file = join(scratch(), "ingest-trigger.key");
    const err = await loadIngestTriggerKey({ file, production: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.key)).toEqual(["INGEST_TRIGGER_KEY"]);
    expect(existsSync(file)).toBe(false);
  });

  it("a malformed value is a config error that never repeats the value", async () => {
    const canary = "not-a-key-CANARY-4e1f";
    const err = await loadIngestTriggerKey({ file: join(scratch(), "x"), value: canary, production: true }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(JSON.stringify({ m: (err as Error).message, i: (err as ConfigError).issues })).not.toContain("CANARY");
  });
});
