/**
 * The CDK app: the shared tier and the dedicated tenants named in configuration, every stack checked by cdk-nag's
 * AwsSolutions pack. Configuration comes from CDK context (`-c key=value` or cdk.json) or the environment; nothing is
 * looked up in an AWS account, so `cdk synth` works offline.
 *
 *   praxa:sharedRegion   (or PRAXA_SHARED_REGION)   the shared tier's region
 *   praxa:tenants        (or PRAXA_TENANTS)         dedicated tenants, "acme=eu-central-1,globex=ap-southeast-2"
 *   praxa:imageRepository / praxa:imageTag          the ECR repository name and tag (default praxa / latest)
 *   praxa:certificateArn                            the shared ALB's ACM certificate (in the shared region)
 *   praxa:certificateArn:<tenant>                   each dedicated tenant's certificate (in the tenant's region)
 *   praxa:domain                                    ingest.<domain> and api.<domain> (or <tenant>.ingest.<domain>)
 */
import { App, Validations } from "aws-cdk-lib";
import cdkNag from "cdk-nag";
import { PraxaDedicatedTenantStack, PraxaSharedStack } from "./stacks.js";

const { AwsSolutionsChecks } = cdkNag;

export interface BuildOptions {
  readonly context?: Record<string, string>;
  readonly env?: Record<string, string | undefined>;
  readonly outdir?: string;
}

export function buildApp(options: BuildOptions = {}): {
  app: App;
  shared: PraxaSharedStack;
  tenants: PraxaDedicatedTenantStack[];
} {
  const app = new App({
    ...(options.context ? { context: options.context } : {}),
    ...(options.outdir ? { outdir: options.outdir } : {}),
  });
  const env = options.env ?? {};
  const setting = (ctx: string, envName: string, fallback?: string): string => {
    const v = (app.node.tryGetContext(ctx) as string | undefined) ?? env[envName] ?? fallback;
    if (v === undefined || v === "") throw new Error(`set the CDK context ${ctx} (-c ${ctx}=…) or ${envName}`);
    return v;
  };
  const common = {
    imageRepositoryName: setting("praxa:imageRepository", "PRAXA_IMAGE_REPOSITORY", "praxa"),
    imageTag: setting("praxa:imageTag", "PRAXA_IMAGE_TAG", "latest"),
  };
  const domain = setting("praxa:domain", "PRAXA_DOMAIN");
  const shared = new PraxaSharedStack(app, "PraxaShared", {
    ...common,
    region: setting("praxa:sharedRegion", "PRAXA_SHARED_REGION"),
    certificateArn: setting("praxa:certificateArn", "PRAXA_CERTIFICATE_ARN"),
    ingestHost: `ingest.${domain}`,
    apiHost: `api.${domain}`,
  });
  const tenants: PraxaDedicatedTenantStack[] = [];
  const list = (app.node.tryGetContext("praxa:tenants") as string | undefined) ?? env.PRAXA_TENANTS ?? "";
  for (const entry of list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [tenantId, region] = entry.split("=");
    if (!tenantId || !region) throw new Error(`praxa:tenants entry "${entry}" is not tenant=region`);
    tenants.push(
      new PraxaDedicatedTenantStack(app, `PraxaTenant-${tenantId}`, {
        ...common,
        tenantId,
        region,
        // an ACM certificate lives in one region: each tenant names its own
        certificateArn: setting(
          `praxa:certificateArn:${tenantId}`,
          `PRAXA_CERTIFICATE_ARN_${tenantId.toUpperCase().replace(/-/g, "_")}`,
        ),
        ingestHost: `${tenantId}.ingest.${domain}`,
        apiHost: `${tenantId}.api.${domain}`,
      }),
    );
  }
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }),
  );
  return { app, shared, tenants };
}
