/**
 * Every infrastructure claim as an assertion on the synthesized templates (docs/security.md rows "instance role" and
 * "dedicated tenant"): the exact IAM statements of each app role, no PutSecretValue anywhere, no wildcard action, key
 * policies naming only the roles that use the keys, encryption at rest everywhere, RDS not public, Redis noeviction
 * with TLS, the ALB HTTPS-only, workers scaled on queue depth, regions validated, and a dedicated tenant's database,
 * keys and bucket its own. Synthesized once (offline, no credentials) in beforeAll.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { App } from "aws-cdk-lib";
import { Match } from "aws-cdk-lib/assertions";
import { APP_NAMES, APP_PERMISSIONS, COMMON_ACTIONS, FORBIDDEN_ACTIONS, type AppName } from "../src/permissions.js";
import { ALL_PRAXA_REGIONS, UnsupportedRegionError, validateRegion } from "../src/regions.js";
import {
  CertificateRegionError,
  InvalidTenantIdError,
  PraxaDedicatedTenantStack,
  PraxaSharedStack,
} from "../src/stacks.js";
import { KEY_ADMIN_ACTIONS } from "../src/tier.js";
import {
  allPolicyDocuments,
  asList,
  logicalId,
  resourcesOfType,
  synthesize,
  type CfnTemplate,
  type Statement,
  type Synthesized,
} from "./synth.js";

let s: Synthesized;
beforeAll(() => {
  s = synthesize();
}, 600_000);
afterAll(() => {
  if (s) rmSync(s.outdir, { recursive: true, force: true });
});

const cap = (a: string): string => a.charAt(0).toUpperCase() + a.slice(1);
const ref = (t: CfnTemplate, prefix: string) => ({ Ref: logicalId(t, prefix) });
const getArn = (t: CfnTemplate, prefix: string) => ({ "Fn::GetAtt": [logicalId(t, prefix), "Arn"] });
const repoArn = (region: string) => ({
  "Fn::Join": [
    "",
    ["arn:", { Ref: "AWS::Partition" }, `:ecr:${region}:`, { Ref: "AWS::AccountId" }, ":repository/praxa"],
  ],
});

/** The statements of the one AWS::IAM::Policy attached to an app's role (and proof that it is the only policy). */
function roleStatements(t: CfnTemplate, app: AppName): Statement[] {
  const roleId = logicalId(t, `Tier${cap(app)}Role`, "AWS::IAM::Role");
  const role = t.Resources[roleId];
  expect(role?.Properties?.ManagedPolicyArns).toBeUndefined();
  expect(role?.Properties?.Policies).toBeUndefined();
  const attached = resourcesOfType(t, "AWS::IAM::Policy").filter(([, p]) =>
    JSON.stringify(p.Properties?.Roles).includes(`"${roleId}"`),
  );
  expect(attached.map(([id]) => id)).toEqual([logicalId(t, `Tier${cap(app)}Policy`)]);
  return (attached[0]?.[1].Properties?.PolicyDocument as { Statement: Statement[] }).Statement;
}

/** Statements every role has, in order: its own secret, the image, the registry login, its own log group. */
function baseStatements(t: CfnTemplate, app: AppName, region: string): Statement[] {
  return [
    {
      Sid: "OwnSecret",
      Effect: "Allow",
      Action: "secretsmanager:GetSecretValue",
      Resource: ref(t, `Tier${cap(app)}Secret`),
    },
    {
      Sid: "PullImage",
      Effect: "Allow",
      Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
      Resource: repoArn(region),
    },
    { Sid: "RegistryLogin", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
    {
      Sid: "OwnLogs",
      Effect: "Allow",
      Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: getArn(t, `Tier${cap(app)}Logs`),
    },
  ];
}

describe.each([
  ["shared tier", () => s.sharedJson, "eu-west-1"],
  ["dedicated tenant", () => s.tenantJson, "us-east-1"],
] as const)("%s: least privilege per app role", (_name, template, region) => {
  it("ingest: its own secret, the image, its logs — nothing else", () => {
    const t = template();
    expect(roleStatements(t, "ingest")).toEqual(baseStatements(t, "ingest", region));
  });

  it("api: the same, and it may not decrypt anything", () => {
    const t = template();
    expect(roleStatements(t, "api")).toEqual(baseStatements(t, "api", region));
  });

  it("worker: Decrypt/GenerateDataKey on the wrap key, Sign/GetPublicKey on the sign key, exports/* objects", () => {
    const t = template();
    expect(roleStatements(t, "worker")).toEqual([
      ...baseStatements(t, "worker", region),
      {
        Sid: "WrapKey",
        Effect: "Allow",
        Action: ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
        Resource: getArn(t, "TierWrapKey"),
      },
      { Sid: "SignKey", Effect: "Allow", Action: ["kms:GetPublicKey", "kms:Sign"], Resource: getArn(t, "TierSignKey") },
      {
        Sid: "ExportObjects",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:PutObject"],
        Resource: { "Fn::Join": ["", [getArn(t, "TierExportBucket"), "/exports/*"]] },
      },
    ]);
  });

  it("monitor: DescribeKey on the wrap key (boot check only), Sign/GetPublicKey on the sign key (time-based checkpoints) and the queue-depth metric, namespace-bound", () => {
    const t = template();
    expect(roleStatements(t, "monitor")).toEqual([
      ...baseStatements(t, "monitor", region),
      { Sid: "WrapKey", Effect: "Allow", Action: "kms:DescribeKey", Resource: getArn(t, "TierWrapKey") },
      { Sid: "SignKey", Effect: "Allow", Action: ["kms:GetPublicKey", "kms:Sign"], Resource: getArn(t, "TierSignKey") },
      {
        Sid: "QueueDepthMetric",
        Effect: "Allow",
        Action: "cloudwatch:PutMetricData",
        Resource: "*",
        Condition: { StringEquals: { "cloudwatch:namespace": "Praxa" } },
      },
    ]);
  });

  it("migrate: its own secret only (the database owner URL lives there and nowhere else)", () => {
    const t = template();
    expect(roleStatements(t, "migrate")).toEqual(baseStatements(t, "migrate", region));
  });

  it("each role is assumable by EC2 only", () => {
    const t = template();
    for (const app of APP_NAMES) {
      const role = t.Resources[logicalId(t, `Tier${cap(app)}Role`, "AWS::IAM::Role")];
      expect(role?.Properties?.AssumeRolePolicyDocument).toEqual({
        Version: "2012-10-17",
        Statement: [{ Action: "sts:AssumeRole", Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" } }],
      });
    }
  });

  it("no PutSecretValue (nor any other forbidden action) in any policy document of the template, nor a wildcard action", () => {
    const t = template();
    const docs = allPolicyDocuments(t);
    expect(docs.length).toBeGreaterThan(10);
    for (const { where, doc } of docs) {
      for (const st of doc.Statement) {
        expect(st.NotAction).toBeUndefined();
        for (const action of asList(st.Action)) {
          if (st.Effect === "Deny") continue;
          expect({ where, action, forbidden: (FORBIDDEN_ACTIONS as readonly string[]).includes(action) }).toEqual({
            where,
            action,
            forbidden: false,
          });
          expect({ where, action, wildcard: action.includes("*") }).toEqual({ where, action, wildcard: false });
        }
      }
    }
    expect(JSON.stringify(t)).not.toContain("PutSecretValue");
  });

  it("GetSecretValue: each secret is named by exactly one role policy — its app’s", () => {
    const t = template();
    for (const app of APP_NAMES) {
      const secretId = logicalId(t, `Tier${cap(app)}Secret`, "AWS::SecretsManager::Secret");
      const users = resourcesOfType(t, "AWS::IAM::Policy").filter(([, p]) =>
        JSON.stringify(p.Properties?.PolicyDocument).includes(`"${secretId}"`),
      );
      expect(users.map(([id]) => id)).toEqual([logicalId(t, `Tier${cap(app)}Policy`)]);
    }
  });

  it('"*" resources only where IAM cannot name one: ecr:GetAuthorizationToken, and PutMetricData bound by its namespace', () => {
    const t = template();
    for (const [id, p] of resourcesOfType(t, "AWS::IAM::Policy")) {
      for (const st of (p.Properties?.PolicyDocument as { Statement: Statement[] }).Statement) {
        if (asList(st.Resource).includes("*"))
          expect({ id, sid: st.Sid }).toEqual({ id, sid: expect.stringMatching(/^(RegistryLogin|QueueDepthMetric)$/) });
      }
    }
  });

  it("the wrap key: symmetric, rotated; its policy names the account for administration (no usage), the worker, and the monitor for DescribeKey only", () => {
    const t = template();
    const key = t.Resources[logicalId(t, "TierWrapKey", "AWS::KMS::Key")]?.Properties ?? {};
    expect(key.KeySpec).toBe("SYMMETRIC_DEFAULT");
    expect(key.KeyUsage).toBe("ENCRYPT_DECRYPT");
    expect(key.EnableKeyRotation).toBe(true);
    expect((key.KeyPolicy as { Statement: Statement[] }).Statement).toEqual([
      {
        Sid: "KeyAdministration",
        Effect: "Allow",
        Action: [...KEY_ADMIN_ACTIONS],
        Resource: "*",
        Principal: {
          AWS: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":iam::", { Ref: "AWS::AccountId" }, ":root"]] },
        },
      },
      {
        Sid: "UseWorker",
        Effect: "Allow",
        Action: ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
        Resource: "*",
        Principal: { AWS: getArn(t, "TierWorkerRole") },
      },
      {
        Sid: "UseMonitor",
        Effect: "Allow",
        Action: "kms:DescribeKey",
        Resource: "*",
        Principal: { AWS: getArn(t, "TierMonitorRole") },
      },
    ]);
  });

  it("the sign key: ECC_NIST_P256 SIGN_VERIFY; its policy names the worker and the monitor (the two checkpoint signers) only", () => {
    const t = template();
    const key = t.Resources[logicalId(t, "TierSignKey", "AWS::KMS::Key")]?.Properties ?? {};
    expect(key.KeySpec).toBe("ECC_NIST_P256");
    expect(key.KeyUsage).toBe("SIGN_VERIFY");
    expect((key.KeyPolicy as { Statement: Statement[] }).Statement).toEqual([
      {
        Sid: "KeyAdministration",
        Effect: "Allow",
        Action: [...KEY_ADMIN_ACTIONS],
        Resource: "*",
        Principal: {
          AWS: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":iam::", { Ref: "AWS::AccountId" }, ":root"]] },
        },
      },
      {
        Sid: "UseWorker",
        Effect: "Allow",
        Action: ["kms:GetPublicKey", "kms:Sign"],
        Resource: "*",
        Principal: { AWS: getArn(t, "TierWorkerRole") },
      },
      {
        Sid: "UseMonitor",
        Effect: "Allow",
        Action: ["kms:GetPublicKey", "kms:Sign"],
        Resource: "*",
        Principal: { AWS: getArn(t, "TierMonitorRole") },
      },
    ]);
  });

  it("across every policy document: only the worker may Decrypt/GenerateDataKey, only worker and monitor may Sign, the api no kms: at all", () => {
    const t = template();
    const roleOf = (where: string): string =>
      where.replace(/^Tier([A-Z][a-z]+)(Policy|Role|WrapKey|SignKey).*$/, "$1").toLowerCase();
    const kmsHolders: Record<string, Set<string>> = {};
    for (const { where, doc } of allPolicyDocuments(t)) {
      for (const st of doc.Statement.filter((x) => x.Effect === "Allow")) {
        for (const action of asList(st.Action).filter((a) => a.startsWith("kms:"))) {
          const holder = where.includes(".KeyPolicy")
            ? (JSON.stringify(st.Principal)
                .match(/Tier([A-Z][a-z]+)Role/)?.[1]
                ?.toLowerCase() ?? "account-admin")
            : roleOf(where);
          (kmsHolders[action] ??= new Set()).add(holder);
        }
      }
    }
    expect([...(kmsHolders["kms:Decrypt"] ?? [])].sort()).toEqual(["worker"]);
    expect([...(kmsHolders["kms:GenerateDataKey"] ?? [])].sort()).toEqual(["worker"]);
    expect([...(kmsHolders["kms:Sign"] ?? [])].sort()).toEqual(["monitor", "worker"]);
    expect(kmsHolders["kms:Encrypt"]).toBeUndefined();
    for (const holders of Object.values(kmsHolders)) expect(holders.has("api")).toBe(false);
    for (const holders of Object.values(kmsHolders)) expect(holders.has("ingest")).toBe(false);
  });

  it("the synthesized role policies say what APP_PERMISSIONS (the docs/deploy.md table) says", () => {
    const t = template();
    for (const app of APP_NAMES) {
      const p = APP_PERMISSIONS[app];
      const bySid = new Map(roleStatements(t, app).map((st) => [st.Sid, asList(st.Action)]));
      expect(bySid.get("OwnSecret")).toEqual([...p.ownSecret]);
      expect(bySid.get("PullImage")).toEqual([...COMMON_ACTIONS.imagePull]);
      expect(bySid.get("WrapKey") ?? []).toEqual([...p.wrapKey]);
      expect(bySid.get("SignKey") ?? []).toEqual([...p.signKey]);
      expect(bySid.get("ExportObjects") ?? []).toEqual([...p.exportObjects]);
      expect(bySid.has("QueueDepthMetric")).toBe(p.putQueueDepthMetric);
    }
  });

  it("containers start with the production key provider and secret source; only the worker and the monitor are told the keys", () => {
    const t = template();
    for (const app of APP_NAMES) {
      const data = JSON.stringify(
        t.Resources[logicalId(t, `Tier${cap(app)}Template`, "AWS::EC2::LaunchTemplate")]?.Properties
          ?.LaunchTemplateData,
      );
      expect(data).toContain("-e NODE_ENV=production -e PRAXA_SECRETS_SOURCE=aws -e PRAXA_SECRETS_ID=");
      expect(data).toContain("--read-only");
      expect(data).toContain(app === "migrate" ? "/praxa:v1 migrate" : `/praxa:v1 start ${app}`);
      expect(data.includes("PRAXA_KMS_WRAP_KEY_ID")).toBe(app === "worker" || app === "monitor");
      expect(data.includes("PRAXA_KMS_SIGN_KEY_ID")).toBe(app === "worker" || app === "monitor");
      expect(data.includes("PRAXA_KEY_PROVIDER=aws-kms")).toBe(app === "worker" || app === "monitor");
    }
  });
});

describe.each([
  ["shared tier", () => s.sharedTemplate, () => s.sharedJson],
  ["dedicated tenant", () => s.tenantTemplate, () => s.tenantJson],
] as const)("%s: data stores, network, scaling", (_name, template, json) => {
  it("RDS PostgreSQL 15: encrypted, not publicly accessible, deletion protection, Multi-AZ, IAM auth, rotated master secret", () => {
    template().resourceCountIs("AWS::RDS::DBInstance", 1);
    template().hasResourceProperties("AWS::RDS::DBInstance", {
      Engine: "postgres",
      EngineVersion: Match.stringLikeRegexp("^15"),
      StorageEncrypted: true,
      PubliclyAccessible: false,
      DeletionProtection: true,
      MultiAZ: true,
      EnableIAMDatabaseAuthentication: true,
    });
    template().hasResource("AWS::RDS::DBInstance", { DeletionPolicy: "Snapshot" });
    template().hasResourceProperties("AWS::SecretsManager::RotationSchedule", {
      RotationRules: { ScheduleExpression: "rate(30 days)" },
    });
    // in the isolated subnets
    const t = json();
    const group = t.Resources[logicalId(t, "TierPostgresSubnetGroup", "AWS::RDS::DBSubnetGroup")];
    expect(JSON.stringify(group?.Properties?.SubnetIds)).toMatch(
      /^\[\{"Ref":"TierVpcdataSubnet1Subnet[0-9A-F]{8}"\},\{"Ref":"TierVpcdataSubnet2Subnet[0-9A-F]{8}"\}\]$/,
    );
  });

  it("Redis: a replication group (not Serverless), TLS in transit, encrypted at rest, AUTH, parameter group maxmemory-policy noeviction", () => {
    const t = json();
    template().resourceCountIs("AWS::ElastiCache::ServerlessCache", 0);
    template().resourceCountIs("AWS::ElastiCache::ReplicationGroup", 1);
    template().hasResourceProperties("AWS::ElastiCache::ReplicationGroup", {
      Engine: "redis",
      TransitEncryptionEnabled: true,
      AtRestEncryptionEnabled: true,
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: true,
      NumCacheClusters: 2,
      AuthToken: Match.anyValue(),
      CacheParameterGroupName: ref(t, "TierRedisParams"),
    });
    template().hasResourceProperties("AWS::ElastiCache::ParameterGroup", {
      CacheParameterGroupFamily: "redis7",
      Properties: { "maxmemory-policy": "noeviction" },
    });
  });

  it("encryption at rest everywhere: every bucket, the database, Redis, every instance volume; exports with SSE-KMS under the tier’s wrap key", () => {
    const t = json();
    for (const [id, b] of resourcesOfType(t, "AWS::S3::Bucket")) {
      expect({
        id,
        sse: (b.Properties?.BucketEncryption as { ServerSideEncryptionConfiguration: unknown[] } | undefined)
          ?.ServerSideEncryptionConfiguration?.length,
      }).toEqual({ id, sse: 1 });
      expect({ id, block: b.Properties?.PublicAccessBlockConfiguration }).toEqual({
        id,
        block: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      });
    }
    template().hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: getArn(t, "TierWrapKey") },
          },
        ],
      },
      VersioningConfiguration: { Status: "Enabled" },
    });
    for (const [id, r] of resourcesOfType(t, "AWS::RDS::DBInstance"))
      expect({ id, enc: r.Properties?.StorageEncrypted }).toEqual({ id, enc: true });
    for (const [id, r] of resourcesOfType(t, "AWS::ElastiCache::ReplicationGroup"))
      expect({ id, enc: r.Properties?.AtRestEncryptionEnabled }).toEqual({ id, enc: true });
    const templates = resourcesOfType(t, "AWS::EC2::LaunchTemplate");
    expect(templates).toHaveLength(APP_NAMES.length);
    for (const [id, lt] of templates) {
      const data = lt.Properties?.LaunchTemplateData as {
        BlockDeviceMappings: { Ebs: { Encrypted: boolean } }[];
        MetadataOptions: { HttpTokens: string };
      };
      expect({ id, enc: data.BlockDeviceMappings.map((m) => m.Ebs.Encrypted) }).toEqual({ id, enc: [true] });
      expect({ id, imds: data.MetadataOptions.HttpTokens }).toEqual({ id, imds: "required" });
    }
    // Secrets Manager always encrypts (aws/secretsmanager unless a key is named); one secret per app, named by tier.
    for (const app of APP_NAMES) {
      template().hasResourceProperties("AWS::SecretsManager::Secret", {
        Name: Match.stringLikeRegexp(`^praxa/(shared|tenant-acme)/${app}$`),
      });
    }
  });

  it("every bucket refuses plain HTTP (a Deny on aws:SecureTransport=false)", () => {
    const t = json();
    const buckets = resourcesOfType(t, "AWS::S3::Bucket").map(([id]) => id);
    expect(buckets).toHaveLength(2);
    for (const id of buckets) {
      const policy = resourcesOfType(t, "AWS::S3::BucketPolicy").find(
        ([, p]) => JSON.stringify(p.Properties?.Bucket) === JSON.stringify({ Ref: id }),
      );
      const denies = (policy?.[1].Properties?.PolicyDocument as { Statement: Statement[] }).Statement.filter(
        (st) => st.Effect === "Deny",
      );
      expect({ id, denies }).toEqual({
        id,
        denies: [
          expect.objectContaining({
            Action: "s3:*",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
            Principal: { AWS: "*" },
          }),
        ],
      });
    }
  });

  it("ingest and api behind an internet-facing ALB in the public subnets, HTTPS only (TLS 1.2+), routed by host; apps in private subnets", () => {
    const t = json();
    template().hasResourceProperties("AWS::ElasticLoadBalancingV2::LoadBalancer", {
      Scheme: "internet-facing",
      Subnets: [
        { Ref: Match.stringLikeRegexp("^TierVpcpublicSubnet1") },
        { Ref: Match.stringLikeRegexp("^TierVpcpublicSubnet2") },
      ],
      LoadBalancerAttributes: Match.arrayWith([
        { Key: "routing.http.drop_invalid_header_fields.enabled", Value: "true" },
        { Key: "access_logs.s3.enabled", Value: "true" },
      ]),
    });
    const listeners = resourcesOfType(t, "AWS::ElasticLoadBalancingV2::Listener");
    expect(listeners.map(([, l]) => [l.Properties?.Protocol, l.Properties?.Port, l.Properties?.SslPolicy])).toEqual([
      ["HTTPS", 443, "ELBSecurityPolicy-TLS13-1-2-2021-06"],
    ]);
    template().hasResourceProperties("AWS::ElasticLoadBalancingV2::ListenerRule", {
      Conditions: [
        { Field: "host-header", HostHeaderConfig: { Values: [Match.stringLikeRegexp("ingest\\.praxa\\.example$")] } },
      ],
    });
    template().hasResourceProperties("AWS::ElasticLoadBalancingV2::ListenerRule", {
      Conditions: [
        { Field: "host-header", HostHeaderConfig: { Values: [Match.stringLikeRegexp("api\\.praxa\\.example$")] } },
      ],
    });
    template().hasResourceProperties("AWS::ElasticLoadBalancingV2::TargetGroup", {
      Port: 3001,
      HealthCheckPath: "/readyz",
    });
    const groups = resourcesOfType(t, "AWS::AutoScaling::AutoScalingGroup");
    expect(groups).toHaveLength(APP_NAMES.length);
    for (const [id, g] of groups)
      expect({ id, subnets: JSON.stringify(g.Properties?.VPCZoneIdentifier) }).toEqual({
        id,
        subnets: expect.stringMatching(
          /^\[\{"Ref":"TierVpcappsSubnet1Subnet[0-9A-F]{8}"\},\{"Ref":"TierVpcappsSubnet2Subnet[0-9A-F]{8}"\}\]$/,
        ),
      });
    // only the ALB's security group is open to the internet, and only on 443
    for (const [id, g] of resourcesOfType(t, "AWS::EC2::SecurityGroup")) {
      const open = (
        (g.Properties?.SecurityGroupIngress as { CidrIp?: string; FromPort?: number }[] | undefined) ?? []
      ).filter((r) => r.CidrIp === "0.0.0.0/0");
      expect({ id, open: open.map((r) => r.FromPort) }).toEqual({ id, open: id.startsWith("TierAlbSg") ? [443] : [] });
    }
    template().resourceCountIs("AWS::EC2::FlowLog", 1);
  });

  it("the worker group scales on the queue depth (namespace Praxa, dimension Tier) the monitor publishes", () => {
    const t = json();
    const worker = logicalId(t, "TierWorkerGroupASG", "AWS::AutoScaling::AutoScalingGroup");
    const policies = resourcesOfType(t, "AWS::AutoScaling::ScalingPolicy");
    expect(policies.length).toBe(2);
    for (const [, p] of policies) expect(p.Properties?.AutoScalingGroupName).toEqual({ Ref: worker });
    template().hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "Praxa",
      MetricName: "QueueDepth",
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      Dimensions: [{ Name: "Tier", Value: Match.anyValue() }],
    });
  });
});

describe("a dedicated tenant is its own deployment", () => {
  it("its database, keys, bucket, secrets and Redis are resources of its own stack, in its own region, named for the tenant — nothing imported from the shared tier", () => {
    const t = s.tenantJson;
    expect(s.tenant.region).toBe("us-east-1");
    expect(s.shared.region).toBe("eu-west-1");
    expect(JSON.stringify(t)).not.toContain("Fn::ImportValue");
    expect(JSON.stringify(s.sharedJson)).not.toContain("Fn::ImportValue");
    expect(s.tenant.dependencies).toEqual([]);
    s.tenantTemplate.resourceCountIs("AWS::RDS::DBInstance", 1);
    s.tenantTemplate.resourceCountIs("AWS::KMS::Key", 2);
    s.tenantTemplate.resourceCountIs("AWS::ElastiCache::ReplicationGroup", 1);
    s.tenantTemplate.hasResourceProperties("AWS::KMS::Alias", { AliasName: "alias/praxa/tenant-acme/wrap" });
    s.tenantTemplate.hasResourceProperties("AWS::KMS::Alias", { AliasName: "alias/praxa/tenant-acme/sign" });
    s.sharedTemplate.hasResourceProperties("AWS::KMS::Alias", { AliasName: "alias/praxa/shared/wrap" });
    const names = (tpl: CfnTemplate) =>
      resourcesOfType(tpl, "AWS::SecretsManager::Secret").map(([, r]) => r.Properties?.Name);
    expect(names(t).every((n) => typeof n === "string" && n.startsWith("praxa/tenant-acme/"))).toBe(true);
    expect(names(s.sharedJson).every((n) => typeof n === "string" && n.startsWith("praxa/shared/"))).toBe(true);
    // the tenant's export bucket is encrypted under the tenant's own wrap key (a resource of this template)
    s.tenantTemplate.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: getArn(t, "TierWrapKey") },
          },
        ],
      },
    });
    expect(t.Resources[logicalId(t, "TierWrapKey", "AWS::KMS::Key")]?.Type).toBe("AWS::KMS::Key");
    // and its roles' ECR and log ARNs are in the tenant's region
    expect(JSON.stringify(t)).toContain(":ecr:us-east-1:");
    expect(JSON.stringify(t)).not.toContain("eu-west-1:");
  });
});

describe("regions and offline synth", () => {
  it("the region is validated against the regions Praxa offers (US, EU, AU)", () => {
    expect(ALL_PRAXA_REGIONS).toEqual([
      "us-east-1",
      "us-east-2",
      "us-west-2",
      "eu-west-1",
      "eu-central-1",
      "ap-southeast-2",
    ]);
    for (const r of ALL_PRAXA_REGIONS) expect(validateRegion(r)).toBe(r);
    for (const bad of ["sa-east-1", "ap-northeast-1", "cn-north-1", "", "us-gov-west-1", undefined])
      expect(() => validateRegion(bad)).toThrow(UnsupportedRegionError);
    const app = new App();
    const cert = "arn:aws:acm:eu-west-1:111111111111:certificate/22222222-2222-2222-2222-222222222222";
    const common = {
      imageRepositoryName: "praxa",
      imageTag: "v1",
      certificateArn: cert,
      ingestHost: "i.example",
      apiHost: "a.example",
    };
    expect(() => new PraxaSharedStack(app, "S", { ...common, region: "sa-east-1" })).toThrow(UnsupportedRegionError);
    // an ALB takes a certificate of its own region only
    expect(() => new PraxaDedicatedTenantStack(app, "W", { ...common, region: "us-east-1", tenantId: "acme" })).toThrow(
      CertificateRegionError,
    );
    expect(
      () => new PraxaDedicatedTenantStack(app, "T", { ...common, region: "me-south-1", tenantId: "acme" }),
    ).toThrow(UnsupportedRegionError);
    expect(
      () => new PraxaDedicatedTenantStack(app, "U", { ...common, region: "eu-west-1", tenantId: "Bad_Id" }),
    ).toThrow(InvalidTenantIdError);
    expect(
      () => new PraxaDedicatedTenantStack(app, "V", { ...common, region: "eu-west-1", tenantId: "shared" }),
    ).toThrow(InvalidTenantIdError);
  });

  it("synth needed no AWS account and no context lookup", () => {
    expect(s.assembly.manifest.missing ?? []).toEqual([]);
    expect(s.shared.account).toMatch(/^\$\{Token/);
    for (const st of [s.sharedJson, s.tenantJson]) expect(JSON.stringify(st)).toContain('{"Ref":"AWS::AccountId"}');
  });
});

describe("cdk-nag (AwsSolutions) ran during synth; every acknowledged finding carries a written reason", () => {
  /** The acknowledgements we reviewed: rule id → the resources (logical-id prefixes) it is acknowledged on. */
  const REVIEWED: Record<string, RegExp> = {
    "AwsSolutions-S1": /^TierLogBucket/,
    "AwsSolutions-SMG4": /^Tier(Ingest|Api|Worker|Monitor|Migrate)Secret|^TierRedisAuth/,
    "AwsSolutions-RDS11": /^TierPostgres|^PraxaSharedTierPostgresSecret|^PraxaTenantacmeTierPostgresSecret/,
    "AwsSolutions-AEC5": /^TierRedis[0-9A-F]{8}$/,
    "AwsSolutions-EC23": /^TierAlbSg/,
    "AwsSolutions-AS3": /^Tier(Ingest|Api|Worker|Monitor|Migrate)Group/,
    "AwsSolutions-IAM5[Resource::*]": /^Tier(Ingest|Api|Worker|Monitor|Migrate)Policy/,
    "AwsSolutions-IAM5[Resource::<TierExportBucketE2963B04.Arn>/exports/*]": /^TierWorkerPolicy/,
  };

  it.each([
    ["shared tier", () => s.sharedJson],
    ["dedicated tenant", () => s.tenantJson],
  ] as const)(
    "%s: only reviewed AwsSolutions acknowledgements, each with a reason of a sentence or more",
    (_n, template) => {
      const seen = new Set<string>();
      for (const [id, r] of Object.entries(template().Resources)) {
        const rules = (
          (r.Metadata?.cdk_nag as { rules_to_suppress?: { id: string; reason: string }[] } | undefined)
            ?.rules_to_suppress ?? []
        ).filter((x) => x.id.startsWith("AwsSolutions-"));
        for (const rule of rules) {
          seen.add(rule.id);
          expect({ id, rule: rule.id, reviewed: REVIEWED[rule.id]?.test(id) ?? false }).toEqual({
            id,
            rule: rule.id,
            reviewed: true,
          });
          expect(rule.reason.length).toBeGreaterThanOrEqual(80);
          expect(rule.reason).toMatch(/[a-z]{3,} [a-z]{2,} /);
        }
      }
      expect([...seen].sort()).toEqual(Object.keys(REVIEWED).sort());
    },
  );

  it("no finding is left unacknowledged (synth would have thrown) and the validation report says so", () => {
    const report = JSON.parse(readFileSync(join(s.outdir, "validation-report.json"), "utf8")) as {
      pluginReports: { pluginName: string; conclusion: string; violations: unknown[] }[];
    };
    for (const p of report.pluginReports)
      expect({ plugin: p.pluginName, conclusion: p.conclusion, violations: p.violations }).toEqual({
        plugin: p.pluginName,
        conclusion: "success",
        violations: [],
      });
  });
});
