/**
 * Test helper: synthesize the CDK app once (the shared tier in eu-west-1 and one dedicated tenant in us-east-1), with
 * no AWS credentials and no context lookups, and read the templates. cdk-nag's AwsSolutions pack runs during synth: an
 * unacknowledged finding makes synth throw.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Template } from "aws-cdk-lib/assertions";
import type { CloudAssembly } from "aws-cdk-lib/cx-api";
import { buildApp } from "../src/app.js";
import type { PraxaDedicatedTenantStack, PraxaSharedStack } from "../src/stacks.js";

const CONTEXT = {
  "praxa:sharedRegion": "eu-west-1",
  "praxa:certificateArn": "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-000000000000",
  "praxa:domain": "praxa.example",
  "praxa:tenants": "acme=us-east-1",
  "praxa:certificateArn:acme": "arn:aws:acm:us-east-1:111111111111:certificate/11111111-1111-1111-1111-111111111111",
  "praxa:imageRepository": "praxa",
  "praxa:imageTag": "v1",
};

export interface Synthesized {
  readonly assembly: CloudAssembly;
  readonly outdir: string;
  readonly shared: PraxaSharedStack;
  readonly tenant: PraxaDedicatedTenantStack;
  readonly sharedTemplate: Template;
  readonly tenantTemplate: Template;
  readonly sharedJson: CfnTemplate;
  readonly tenantJson: CfnTemplate;
}

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}
export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly [k: string]: unknown;
}

export function synthesize(): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), "praxa-cdk-"));
  // No credentials, no region in the environment: synth must not need them.
  const { app, shared, tenants } = buildApp({ context: CONTEXT, env: {}, outdir });
  const tenant = tenants[0];
  if (!tenant) throw new Error("the test context names one tenant");
  const assembly = app.synth();
  const sharedJson = assembly.getStackByName(shared.stackName).template as CfnTemplate;
  const tenantJson = assembly.getStackByName(tenant.stackName).template as CfnTemplate;
  return {
    assembly,
    outdir,
    shared,
    tenant,
    sharedTemplate: Template.fromJSON(sharedJson),
    tenantTemplate: Template.fromJSON(tenantJson),
    sharedJson,
    tenantJson,
  };
}

/** The one logical id starting with `prefix` (CDK appends a hash), of the given type. */
export function logicalId(t: CfnTemplate, prefix: string, type?: string): string {
  const ids = Object.keys(t.Resources).filter(
    (k) => new RegExp(`^${prefix}[0-9A-F]{8}$`).test(k) && (type === undefined || t.Resources[k]?.Type === type),
  );
  if (ids.length !== 1)
    throw new Error(
      `expected one resource ${prefix}…${type ? ` of ${type}` : ""}, found ${ids.length}: ${ids.join(", ")}`,
    );
  return ids[0] as string;
}

export function resourcesOfType(t: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(t.Resources).filter(([, r]) => r.Type === type);
}

/** Every policy document in a template: role policies, key policies, bucket policies, secret resource policies. */
export function allPolicyDocuments(t: CfnTemplate): { where: string; doc: { Statement: Statement[] } }[] {
  const out: { where: string; doc: { Statement: Statement[] } }[] = [];
  for (const [id, r] of Object.entries(t.Resources)) {
    const p = r.Properties ?? {};
    for (const key of ["PolicyDocument", "KeyPolicy", "ResourcePolicy", "AssumeRolePolicyDocument"]) {
      if (p[key]) out.push({ where: `${id}.${key}`, doc: p[key] as { Statement: Statement[] } });
    }
    for (const inline of (p.Policies as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? [])
      out.push({ where: `${id}.Policies`, doc: inline.PolicyDocument });
  }
  return out;
}

export interface Statement {
  readonly Sid?: string;
  readonly Effect: "Allow" | "Deny";
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

export const asList = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
