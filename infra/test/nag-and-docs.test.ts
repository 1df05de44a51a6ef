/**
 * cdk-nag is live (a stack with a finding nobody acknowledged does not synthesize; an acknowledgement without a
 * sentence of reason is refused by the helper), and docs/deploy.md's role table is exactly what APP_PERMISSIONS — the
 * source the stacks and the assertion tests use — says.
 */
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { App, Stack, Validations } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import cdkNag from "cdk-nag";
import { acknowledge } from "../src/nag.js";
import { renderRoleTable } from "../src/permissions.js";

const { AwsSolutionsChecks } = cdkNag;

function tinyApp(withAck: boolean): { app: App; outdir: string } {
  const outdir = mkdtempSync(join(tmpdir(), "praxa-nag-"));
  const app = new App({ outdir });
  const stack = new Stack(app, "Tiny", { env: { region: "eu-west-1" } });
  // a bucket that accepts plain HTTP and logs nowhere: AwsSolutions-S1 and -S10
  const bucket = new s3.Bucket(stack, "Loose", {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
  });
  if (withAck) {
    acknowledge(bucket, [
      {
        id: "AwsSolutions-S1",
        reason: "A test bucket that exists only to prove an acknowledged finding lets synth pass; never deployed.",
      },
      {
        id: "AwsSolutions-S10",
        reason: "A test bucket that exists only to prove an acknowledged finding lets synth pass; never deployed.",
      },
    ]);
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
  return { app, outdir };
}

describe("cdk-nag AwsSolutions", () => {
  it("a finding nobody acknowledged stops synth, naming the rule", () => {
    const { app, outdir } = tinyApp(false);
    try {
      expect(() => app.synth()).toThrow(/AwsSolutions-S10/);
      expect(readFileSync(join(outdir, "validation-report.json"), "utf8")).toMatch(/AwsSolutions-S10/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it("acknowledged with a reason, the same stack synthesizes and the reason is in the template", () => {
    const { app, outdir } = tinyApp(true);
    try {
      const template = JSON.stringify(app.synth().getStackByName("Tiny").template);
      expect(template).toContain('"id":"AwsSolutions-S10","reason":"A test bucket');
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it("the helper refuses an acknowledgement without a real reason", () => {
    const app = new App();
    const stack = new Stack(app, "S");
    expect(() => acknowledge(stack, [{ id: "AwsSolutions-S1", reason: "ok" }])).toThrow(/reason/);
  });
});

/** A markdown table as its cells, trimmed — the same table whatever padding a formatter (Prettier) gave its columns. */
function tableCells(markdown: string): string[][] {
  return markdown
    .trim()
    .split("\n")
    .map((row) =>
      row
        .trim()
        .replace(/^\|/, "")
        .replace(/\|$/, "")
        .split(/(?<!\\)\|/)
        .map((cell) => (/^\s*:?-+:?\s*$/.test(cell) ? "---" : cell.trim())),
    );
}

describe("docs/deploy.md", () => {
  it("holds the role table rendered from APP_PERMISSIONS, cell for cell, between its markers", () => {
    const doc = readFileSync(new URL("../../docs/deploy.md", import.meta.url), "utf8");
    const m = /<!-- role-table:begin[^>]*-->\n([\s\S]*?)\n<!-- role-table:end -->/.exec(doc);
    expect(m).not.toBeNull();
    expect(tableCells(m?.[1] ?? "")).toEqual(tableCells(renderRoleTable()));
  });
});
