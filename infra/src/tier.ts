/**
 * PraxaTier: one complete Praxa deployment — the construct both PraxaSharedStack and PraxaDedicatedTenantStack are
 * built from, so a dedicated tenant gets exactly the shared tier's shape with its own VPC, database, Redis, keys,
 * secrets and bucket.
 *
 * - VPC: public subnets hold only the ALB (and NAT gateways); apps run in private subnets; Postgres and Redis in
 *   isolated subnets. Flow logs and ALB access logs go to a log bucket.
 * - ingest and api behind one internet-facing ALB, HTTPS only (TLS 1.2+, the certificate is a parameter), routed by
 *   host name. One auto-scaling group per app, each running the one image (`praxa start <app>`, read-only root fs).
 *   The worker group scales on the queue depth the monitor publishes (QUEUE_DEPTH_METRIC).
 * - ElastiCache Redis: a replication group (not Serverless), TLS in transit, encryption at rest, AUTH token, parameter
 *   group with `maxmemory-policy noeviction` (the queue must never lose a job to eviction).
 * - RDS PostgreSQL 15: storage encrypted, not publicly accessible, deletion protection, Multi-AZ, IAM auth on, master
 *   secret rotated by Secrets Manager.
 * - KMS: a symmetric wrap key (tenant data keys; the export bucket's SSE-KMS key) and an asymmetric ECC_NIST_P256
 *   SIGN_VERIFY key (checkpoints). Key policies name only the roles that use them (from APP_PERMISSIONS) plus the
 *   account for key administration — no usage by account-wide IAM policies.
 * - Secrets Manager: one secret per app (its config slice, JSON), read once at boot.
 * - S3 export bucket: block public access, TLS-only bucket policy, SSE-KMS with this tier's wrap key, versioned.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import { acknowledge } from "./nag.js";
import * as autoscaling from "aws-cdk-lib/aws-autoscaling";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecr from "aws-cdk-lib/aws-ecr";
import * as elasticache from "aws-cdk-lib/aws-elasticache";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as rds from "aws-cdk-lib/aws-rds";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import {
  APP_NAMES,
  APP_PERMISSIONS,
  COMMON_ACTIONS,
  QUEUE_DEPTH_METRIC,
  appsUsing,
  type AppName,
} from "./permissions.js";

export interface PraxaTierProps {
  /** `shared`, or `tenant-<id>` for a dedicated tenant; names secrets, keys' aliases, log groups and the metric. */
  readonly tierName: string;
  /** The ECR repository (in this stack's account and region) holding the image, and the tag to run. */
  readonly imageRepositoryName: string;
  readonly imageTag: string;
  /** ACM certificate for the ALB's HTTPS listener (covers ingestHost and apiHost). */
  readonly certificateArn: string;
  readonly ingestHost: string;
  readonly apiHost: string;
  /** Instance sizes and group sizes; defaults suit a small fleet. */
  readonly instanceType?: string;
  readonly capacity?: Partial<Record<AppName, { readonly min: number; readonly max: number }>>;
}

const APP_PORTS: Partial<Record<AppName, number>> = { ingest: 3001, api: 3002 };
const HEALTH_PATHS: Partial<Record<AppName, string>> = { ingest: "/readyz", api: "/healthz" };
const DEFAULT_CAPACITY: Record<AppName, { min: number; max: number }> = {
  ingest: { min: 2, max: 6 },
  api: { min: 2, max: 4 },
  worker: { min: 1, max: 10 },
  monitor: { min: 1, max: 1 },
  migrate: { min: 0, max: 1 },
};
const POSTGRES_PORT = 5432;
const REDIS_PORT = 6379;

/** Key administration for the account (no usage: Encrypt/Decrypt/Sign are granted to named roles only). */
export const KEY_ADMIN_ACTIONS = [
  "kms:CancelKeyDeletion",
  "kms:CreateAlias",
  "kms:DeleteAlias",
  "kms:DescribeKey",
  "kms:DisableKey",
  "kms:DisableKeyRotation",
  "kms:EnableKey",
  "kms:EnableKeyRotation",
  "kms:GetKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:ListAliases",
  "kms:ListGrants",
  "kms:ListKeyPolicies",
  "kms:ListResourceTags",
  "kms:PutKeyPolicy",
  "kms:ScheduleKeyDeletion",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateAlias",
  "kms:UpdateKeyDescription",
] as const;

export class PraxaTier extends Construct {
  readonly vpc: ec2.Vpc;
  readonly wrapKey: kms.Key;
  readonly signKey: kms.Key;
  readonly exportBucket: s3.Bucket;
  readonly database: rds.DatabaseInstance;
  readonly redis: elasticache.CfnReplicationGroup;
  readonly roles: Record<AppName, iam.Role>;
  readonly secrets: Record<AppName, secretsmanager.Secret>;
  readonly groups: Record<AppName, autoscaling.AutoScalingGroup>;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;

  constructor(scope: Construct, id: string, props: PraxaTierProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const tier = props.tierName;

    // ---- logs bucket (ALB access logs, VPC flow logs, S3 server access logs; SSE-S3: ALB log delivery needs it) ----
    const logBucket = new s3.Bucket(this, "LogBucket", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(400) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(logBucket, [
      {
        id: "AwsSolutions-S1",
        reason:
          "This is the log bucket itself: server access logs of the log bucket would have to go to another bucket, forever.",
      },
    ]);

    // ---- network ----
    this.vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: 2,
      restrictDefaultSecurityGroup: false,
      subnetConfiguration: [
        { name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: "apps", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: "data", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toS3(logBucket, "vpc-flow/"),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });

    // ---- keys ----
    this.roles = {} as Record<AppName, iam.Role>;
    for (const app of APP_NAMES) {
      this.roles[app] = new iam.Role(this, `${cap(app)}Role`, {
        assumedBy: new iam.ServicePrincipal("ec2.amazonaws.com"),
        description: `Praxa ${tier} ${app}: ${APP_PERMISSIONS[app].purpose}`.slice(0, 1000),
      });
    }
    const keyPolicy = (key: "wrapKey" | "signKey"): iam.PolicyDocument =>
      new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: "KeyAdministration",
            principals: [new iam.AccountRootPrincipal()],
            actions: [...KEY_ADMIN_ACTIONS],
            resources: ["*"],
          }),
          ...appsUsing(key).map(
            (app) =>
              new iam.PolicyStatement({
                sid: `Use${cap(app)}`,
                principals: [new iam.ArnPrincipal(this.roles[app].roleArn)],
                actions: [...APP_PERMISSIONS[app][key]],
                resources: ["*"],
              }),
          ),
        ],
      });
    this.wrapKey = new kms.Key(this, "WrapKey", {
      description: `Praxa ${tier}: wraps tenant data keys (symmetric); SSE-KMS key of the export bucket`,
      keySpec: kms.KeySpec.SYMMETRIC_DEFAULT,
      keyUsage: kms.KeyUsage.ENCRYPT_DECRYPT,
      enableKeyRotation: true,
      alias: `alias/praxa/${tier}/wrap`,
      policy: keyPolicy("wrapKey"),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.signKey = new kms.Key(this, "SignKey", {
      description: `Praxa ${tier}: signs audit checkpoints (ECC_NIST_P256, SIGN_VERIFY)`,
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      alias: `alias/praxa/${tier}/sign`,
      policy: keyPolicy("signKey"),
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // ---- export bucket ----
    this.exportBucket = new s3.Bucket(this, "ExportBucket", {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.wrapKey,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: logBucket,
      serverAccessLogsPrefix: "exports-access/",
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // ---- secrets, one per app ----
    this.secrets = {} as Record<AppName, secretsmanager.Secret>;
    for (const app of APP_NAMES) {
      const secret = new secretsmanager.Secret(this, `${cap(app)}Secret`, {
        secretName: `praxa/${tier}/${app}`,
        description: `Praxa ${tier} ${app}: its config slice as one JSON object, read once at boot (PRAXA_SECRETS_SOURCE=aws)`,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      acknowledge(secret, [
        {
          id: "AwsSolutions-SMG4",
          reason:
            "An app secret holds third-party credentials (GitHub App key, webhook secrets, Slack tokens, the database URL) that no Lambda can rotate at the issuer; operators rotate them with the runbook in docs/deploy.md (put a new version, roll the group).",
        },
      ]);
      this.secrets[app] = secret;
    }

    // ---- security groups ----
    const sg = (name: string, description: string): ec2.SecurityGroup =>
      new ec2.SecurityGroup(this, name, { vpc: this.vpc, description, allowAllOutbound: true });
    const appSgs = {} as Record<AppName, ec2.SecurityGroup>;
    for (const app of APP_NAMES) appSgs[app] = sg(`${cap(app)}Sg`, `Praxa ${tier} ${app} instances`);
    const dbSg = sg("PostgresSg", `Praxa ${tier} Postgres: from the app instances only`);
    const redisSg = sg("RedisSg", `Praxa ${tier} Redis: from the app instances only`);
    for (const app of APP_NAMES) {
      dbSg.addIngressRule(appSgs[app], ec2.Port.tcp(POSTGRES_PORT), `Postgres from ${app}`);
      if (app !== "migrate") redisSg.addIngressRule(appSgs[app], ec2.Port.tcp(REDIS_PORT), `Redis from ${app}`);
    }

    // ---- Postgres ----
    this.database = new rds.DatabaseInstance(this, "Postgres", {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_15 }),
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [dbSg],
      instanceType: new ec2.InstanceType("m6g.large"),
      allocatedStorage: 100,
      storageType: rds.StorageType.GP3,
      storageEncrypted: true,
      publiclyAccessible: false,
      deletionProtection: true,
      multiAz: true,
      iamAuthentication: true,
      credentials: rds.Credentials.fromGeneratedSecret("praxa_admin", { secretName: `praxa/${tier}/postgres-admin` }),
      backupRetention: Duration.days(14),
      cloudwatchLogsExports: ["postgresql"],
      autoMinorVersionUpgrade: true,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      port: POSTGRES_PORT,
    });
    this.database.addRotationSingleUser({ automaticallyAfter: Duration.days(30) });
    acknowledge(this.database, [
      {
        id: "AwsSolutions-RDS11",
        reason:
          "The default port is kept: access is closed by security groups (app instances only, isolated subnets), not by port obscurity.",
      },
    ]);

    // ---- Redis ----
    const redisSubnets = new elasticache.CfnSubnetGroup(this, "RedisSubnets", {
      description: `Praxa ${tier} Redis subnets (isolated)`,
      subnetIds: this.vpc.isolatedSubnets.map((s) => s.subnetId),
    });
    const redisParams = new elasticache.CfnParameterGroup(this, "RedisParams", {
      cacheParameterGroupFamily: "redis7",
      description: `Praxa ${tier}: the queue must never lose a job to eviction`,
      properties: { "maxmemory-policy": "noeviction" },
    });
    const redisAuth = new secretsmanager.Secret(this, "RedisAuth", {
      secretName: `praxa/${tier}/redis-auth`,
      description: `Praxa ${tier} Redis AUTH token (copied into the apps' REDIS_URL by the operator)`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(redisAuth, [
      {
        id: "AwsSolutions-SMG4",
        reason:
          "ElastiCache AUTH token rotation is a two-step ModifyReplicationGroup (ROTATE then SET) coordinated with the apps’ REDIS_URL; docs/deploy.md describes it as an operator runbook.",
      },
    ]);
    this.redis = new elasticache.CfnReplicationGroup(this, "Redis", {
      replicationGroupDescription: `Praxa ${tier} queue and rate limits`,
      engine: "redis",
      engineVersion: "7.1",
      cacheNodeType: "cache.m6g.large",
      numCacheClusters: 2,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      transitEncryptionEnabled: true,
      atRestEncryptionEnabled: true,
      authToken: redisAuth.secretValue.unsafeUnwrap(),
      cacheParameterGroupName: redisParams.ref,
      cacheSubnetGroupName: redisSubnets.ref,
      securityGroupIds: [redisSg.securityGroupId],
      port: REDIS_PORT,
      snapshotRetentionLimit: 7,
      autoMinorVersionUpgrade: true,
    });
    acknowledge(this.redis, [
      {
        id: "AwsSolutions-AEC5",
        reason:
          "The default port is kept: access is closed by security groups (app instances only, isolated subnets), not by port obscurity.",
      },
    ]);

    // ---- load balancer ----
    const albSg = sg("AlbSg", `Praxa ${tier} ALB: HTTPS from the internet (webhooks, api)`);
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, "Alb", {
      vpc: this.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: albSg,
      dropInvalidHeaderFields: true,
    });
    this.loadBalancer.logAccessLogs(logBucket, "alb");
    acknowledge(albSg, [
      {
        id: "AwsSolutions-EC23",
        reason:
          "The ALB is the public entry point: GitHub and Slack deliver webhooks from the internet, and the api serves browsers; only 443 is open.",
      },
    ]);
    const https = this.loadBalancer.addListener("Https", {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [elbv2.ListenerCertificate.fromArn(props.certificateArn)],
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      defaultAction: elbv2.ListenerAction.fixedResponse(404, { contentType: "text/plain", messageBody: "not found" }),
    });

    // ---- one auto-scaling group per app ----
    const repository = ecr.Repository.fromRepositoryName(this, "ImageRepository", props.imageRepositoryName);
    const image = repository.repositoryUriForTag(props.imageTag);
    this.groups = {} as Record<AppName, autoscaling.AutoScalingGroup>;
    for (const app of APP_NAMES) {
      const role = this.roles[app];
      const perms = APP_PERMISSIONS[app];
      const logGroup = new logs.LogGroup(this, `${cap(app)}Logs`, {
        logGroupName: `/praxa/${tier}/${app}`,
        retention: logs.RetentionDays.ONE_YEAR,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      const statements = [
        new iam.PolicyStatement({
          sid: "OwnSecret",
          actions: [...perms.ownSecret],
          resources: [this.secrets[app].secretArn],
        }),
        new iam.PolicyStatement({
          sid: "PullImage",
          actions: [...COMMON_ACTIONS.imagePull],
          resources: [repository.repositoryArn],
        }),
        new iam.PolicyStatement({ sid: "RegistryLogin", actions: [...COMMON_ACTIONS.registryLogin], resources: ["*"] }),
        new iam.PolicyStatement({
          sid: "OwnLogs",
          actions: [...COMMON_ACTIONS.ownLogGroup],
          resources: [logGroup.logGroupArn],
        }),
      ];
      if (perms.wrapKey.length > 0)
        statements.push(
          new iam.PolicyStatement({ sid: "WrapKey", actions: [...perms.wrapKey], resources: [this.wrapKey.keyArn] }),
        );
      if (perms.signKey.length > 0)
        statements.push(
          new iam.PolicyStatement({ sid: "SignKey", actions: [...perms.signKey], resources: [this.signKey.keyArn] }),
        );
      if (perms.exportObjects.length > 0) {
        statements.push(
          new iam.PolicyStatement({
            sid: "ExportObjects",
            actions: [...perms.exportObjects],
            resources: [this.exportBucket.arnForObjects("exports/*")],
          }),
        );
      }
      if (perms.putQueueDepthMetric) {
        statements.push(
          new iam.PolicyStatement({
            sid: "QueueDepthMetric",
            actions: ["cloudwatch:PutMetricData"],
            resources: ["*"],
            conditions: { StringEquals: { "cloudwatch:namespace": QUEUE_DEPTH_METRIC.namespace } },
          }),
        );
      }
      const policy = new iam.Policy(this, `${cap(app)}Policy`, { statements, roles: [role] });
      acknowledge(policy, [
        {
          id: "AwsSolutions-IAM5",
          reason:
            "Wildcards only where IAM cannot name the resource: ecr:GetAuthorizationToken has no resource type, cloudwatch:PutMetricData is scoped by the cloudwatch:namespace condition instead, a log group ARN ends in :* (its streams), and export objects are under exports/*. No action is a wildcard.",
          findings: [
            "Resource::*",
            ...(perms.exportObjects.length > 0
              ? [`Resource::<${stack.getLogicalId(this.exportBucket.node.defaultChild as s3.CfnBucket)}.Arn>/exports/*`]
              : []),
          ],
        },
      ]);

      const env = this.containerEnv(app, stack.region);
      const userData = ec2.UserData.forLinux();
      const runFlags = [
        "--name praxa",
        "--read-only",
        "--tmpfs /tmp",
        "--network host",
        "--stop-timeout 30",
        "--log-driver awslogs",
        `--log-opt awslogs-group=${logGroup.logGroupName}`,
        `--log-opt awslogs-region=${stack.region}`,
        ...env.map((e) => `-e ${e}`),
      ];
      const command = perms.exposure === "one-shot" ? "migrate" : `start ${app}`;
      userData.addCommands(
        "set -eu",
        "dnf install -y docker",
        "systemctl enable --now docker",
        `aws ecr get-login-password --region ${stack.region} | docker login --username AWS --password-stdin ${stack.account}.dkr.ecr.${stack.region}.${stack.urlSuffix}`,
        perms.exposure === "one-shot"
          ? `docker run --rm ${runFlags.join(" ")} ${image} ${command}`
          : `docker run -d --restart=always ${runFlags.join(" ")} ${image} ${command}`,
      );
      const template = new ec2.LaunchTemplate(this, `${cap(app)}Template`, {
        machineImage: ec2.MachineImage.latestAmazonLinux2023(),
        instanceType: new ec2.InstanceType(props.instanceType ?? "t3.medium"),
        role,
        securityGroup: appSgs[app],
        userData,
        requireImdsv2: true,
        httpPutResponseHopLimit: 2,
        blockDevices: [
          {
            deviceName: "/dev/xvda",
            volume: ec2.BlockDeviceVolume.ebs(30, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }),
          },
        ],
      });
      const size = props.capacity?.[app] ?? DEFAULT_CAPACITY[app];
      const group = new autoscaling.AutoScalingGroup(this, `${cap(app)}Group`, {
        vpc: this.vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        launchTemplate: template,
        minCapacity: size.min,
        maxCapacity: size.max,
        healthChecks: APP_PORTS[app]
          ? autoscaling.HealthChecks.withAdditionalChecks({
              gracePeriod: Duration.minutes(3),
              additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB],
            })
          : autoscaling.HealthChecks.ec2(),
        updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
          minInstancesInService: size.min > 0 ? size.min : 0,
          maxBatchSize: 1,
        }),
      });
      acknowledge(group, [
        {
          id: "AwsSolutions-AS3",
          reason:
            "Scaling events are visible in CloudWatch and the ASG activity history; paging is wired from CloudWatch alarms, not per-group SNS notifications.",
        },
      ]);
      this.groups[app] = group;

      const port = APP_PORTS[app];
      if (perms.exposure === "alb" && port !== undefined) {
        https.addTargets(cap(app), {
          priority: app === "ingest" ? 10 : 20,
          conditions: [elbv2.ListenerCondition.hostHeaders([app === "ingest" ? props.ingestHost : props.apiHost])],
          port,
          protocol: elbv2.ApplicationProtocol.HTTP,
          targets: [group],
          deregistrationDelay: Duration.seconds(30),
          healthCheck: { path: HEALTH_PATHS[app] ?? "/healthz", healthyHttpCodes: "200" },
        });
      }
    }

    // workers follow the queue depth the monitor publishes
    this.groups.worker.scaleOnMetric("QueueDepth", {
      metric: new cloudwatch.Metric({
        namespace: QUEUE_DEPTH_METRIC.namespace,
        metricName: QUEUE_DEPTH_METRIC.metricName,
        dimensionsMap: { Tier: tier },
        statistic: "Maximum",
        period: Duration.minutes(1),
      }),
      scalingSteps: [
        { upper: 5, change: -1 },
        { lower: 50, change: +1 },
        { lower: 200, change: +3 },
      ],
      adjustmentType: autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
    });

    new CfnOutput(this, "LoadBalancerDns", { value: this.loadBalancer.loadBalancerDnsName });
    new CfnOutput(this, "WrapKeyArn", { value: this.wrapKey.keyArn });
    new CfnOutput(this, "SignKeyArn", { value: this.signKey.keyArn });
    new CfnOutput(this, "ExportBucketName", { value: this.exportBucket.bucketName });
    new CfnOutput(this, "DatabaseEndpoint", { value: this.database.dbInstanceEndpointAddress });
    new CfnOutput(this, "RedisEndpoint", { value: this.redis.attrPrimaryEndPointAddress });
    for (const app of APP_NAMES) new CfnOutput(this, `${cap(app)}SecretArn`, { value: this.secrets[app].secretArn });
  }

  /** The container's non-secret environment, from APP_PERMISSIONS[app].env (names only there; values here). */
  private containerEnv(app: AppName, region: string): string[] {
    const values: Record<string, string> = {
      PRAXA_SECRETS_ID: this.secrets[app].secretArn,
      AWS_REGION: region,
      PRAXA_KMS_WRAP_KEY_ID: this.wrapKey.keyArn,
      PRAXA_KMS_SIGN_KEY_ID: this.signKey.keyArn,
    };
    return APP_PERMISSIONS[app].env.map((e) => {
      if (e.includes("=")) return e;
      const v = values[e];
      if (v === undefined) throw new Error(`no value for ${e}`);
      return `${e}=${v}`;
    });
  }
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
