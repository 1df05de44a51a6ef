/**
 * The two stacks an operator deploys, both built from PraxaTier: the shared (multi-tenant) tier, and one dedicated
 * tenant stack per enterprise tenant in the region the tenant chose — its own VPC, Postgres, Redis, KMS keys, secrets
 * and export bucket; nothing is imported from the shared stack.
 *
 * Env-agnostic on the account (no lookups: `cdk synth` runs offline with no credentials), explicit on the region,
 * which is validated against the regions Praxa offers.
 */
import { Stack, Token, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { validateRegion, type PraxaRegion } from "./regions.js";
import { PraxaTier, type PraxaTierProps } from "./tier.js";

export type PraxaStackProps = Omit<PraxaTierProps, "tierName"> & {
  /** The region (validated: US, EU, AU regions only). */
  readonly region: string;
} & Pick<StackProps, "description" | "tags">;

export class CertificateRegionError extends Error {
  readonly code = "INFRA_CERTIFICATE_REGION";
  constructor(arn: string, region: string) {
    super(`certificate ${arn} is not in ${region}: an ALB can only use an ACM certificate of its own region`);
    this.name = "CertificateRegionError";
  }
}

/** An ACM certificate ARN must name the stack's region (a token is left to CloudFormation). */
function checkCertificate(arn: string, region: string): void {
  if (Token.isUnresolved(arn)) return;
  const m = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate\/[0-9a-f-]+$/.exec(arn);
  if (!m || m[1] !== region) throw new CertificateRegionError(arn, region);
}

export class PraxaSharedStack extends Stack {
  readonly tier: PraxaTier;
  readonly praxaRegion: PraxaRegion;

  constructor(scope: Construct, id: string, props: PraxaStackProps) {
    const region = validateRegion(props.region);
    checkCertificate(props.certificateArn, region);
    super(scope, id, {
      env: { region },
      terminationProtection: true,
      description: props.description ?? "Praxa shared (multi-tenant) tier",
      ...(props.tags ? { tags: props.tags } : {}),
    });
    this.praxaRegion = region;
    this.tier = new PraxaTier(this, "Tier", { ...props, tierName: "shared" });
  }
}

export class InvalidTenantIdError extends Error {
  readonly code = "INFRA_INVALID_TENANT_ID";
  constructor(tenantId: string) {
    super(`tenant id "${tenantId}" must be 3–32 characters of a-z, 0-9 and "-", starting with a letter`);
    this.name = "InvalidTenantIdError";
  }
}

export const TENANT_ID_PATTERN = /^[a-z][a-z0-9-]{2,31}$/;

export class PraxaDedicatedTenantStack extends Stack {
  readonly tier: PraxaTier;
  readonly tenantId: string;
  readonly praxaRegion: PraxaRegion;

  constructor(scope: Construct, id: string, props: PraxaStackProps & { readonly tenantId: string }) {
    const region = validateRegion(props.region);
    if (!TENANT_ID_PATTERN.test(props.tenantId) || props.tenantId === "shared")
      throw new InvalidTenantIdError(props.tenantId);
    checkCertificate(props.certificateArn, region);
    super(scope, id, {
      env: { region },
      terminationProtection: true,
      description: props.description ?? `Praxa dedicated tenant ${props.tenantId}`,
      ...(props.tags ? { tags: props.tags } : {}),
    });
    this.tenantId = props.tenantId;
    this.praxaRegion = region;
    const { tenantId: _t, ...tierProps } = props;
    this.tier = new PraxaTier(this, "Tier", { ...tierProps, tierName: `tenant-${props.tenantId}` });
  }
}
