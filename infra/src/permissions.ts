/**
 * What each app's instance role may do — the one source the stacks build their IAM statements and key policies from,
 * the assertion tests check the synthesized templates against, and docs/deploy.md's role table is checked against.
 *
 * Grounded in the code: only the worker opens tenant data keys (packages/crypto tenant-key.ts: GenerateDataKey when a
 * tenant key is created, Decrypt when one is opened; KMS Encrypt is never called); checkpoints are signed by the worker
 * (every N appends, apps/worker/src/main.ts) and by the monitor (time-based, apps/monitor/src/checkpoints.ts), both
 * through the key provider, which also reads the signing key's public half (GetPublicKey) to register it. The api seals
 * credentials to a workspace's public key and decrypts nothing; ingest verifies webhooks with secrets from its own
 * config slice. Every app loads its config slice from its own Secrets Manager secret once at boot (packages/config).
 */
export const APP_NAMES = ["ingest", "api", "worker", "monitor", "migrate"] as const;
export type AppName = (typeof APP_NAMES)[number];

export interface AppPermissions {
  /** What the app is, one line (docs/deploy.md). */
  readonly purpose: string;
  /** Actions on the app's own Secrets Manager secret — and no other secret. */
  readonly ownSecret: readonly string[];
  /** Actions on the tier's symmetric wrap key (wraps tenant data keys; SSE-KMS key of the export bucket). */
  readonly wrapKey: readonly string[];
  /** Actions on the tier's asymmetric checkpoint-signing key (ECC_NIST_P256, SIGN_VERIFY). */
  readonly signKey: readonly string[];
  /** Object actions under `exports/` of the tier's export bucket. */
  readonly exportObjects: readonly string[];
  /** `cloudwatch:PutMetricData` in the Praxa namespace (the queue depth the worker group scales on). */
  readonly putQueueDepthMetric: boolean;
  /** Served behind the ALB over TLS (a host name), or internal only. */
  readonly exposure: "alb" | "internal" | "one-shot";
  /** Non-secret environment the container starts with (the rest comes from its secret). */
  readonly env: readonly string[];
}

const BASE_ENV = ["NODE_ENV=production", "PRAXA_SECRETS_SOURCE=aws", "PRAXA_SECRETS_ID", "AWS_REGION"] as const;

export const APP_PERMISSIONS: Readonly<Record<AppName, AppPermissions>> = {
  ingest: {
    purpose: "receives signed webhooks (GitHub, Slack, triggers) behind the ALB and enqueues runs",
    ownSecret: ["secretsmanager:GetSecretValue"],
    wrapKey: [],
    signKey: [],
    exportObjects: [],
    putQueueDepthMetric: false,
    exposure: "alb",
    env: [...BASE_ENV],
  },
  api: {
    purpose: "the HTTP api behind the ALB; seals credentials to a workspace public key, decrypts nothing",
    ownSecret: ["secretsmanager:GetSecretValue"],
    wrapKey: [],
    signKey: [],
    exportObjects: [],
    putQueueDepthMetric: false,
    exposure: "alb",
    env: [...BASE_ENV],
  },
  worker: {
    purpose: "runs Skills; opens tenant data keys, signs checkpoints every N appends; the one writer of exports",
    ownSecret: ["secretsmanager:GetSecretValue"],
    // DescribeKey: at boot the worker checks that the wrap key is a symmetric ENCRYPT_DECRYPT key and not the sign
    // key (AwsKmsKeyProvider.checkKeys) — metadata only.
    wrapKey: ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
    signKey: ["kms:GetPublicKey", "kms:Sign"],
    exportObjects: ["s3:GetObject", "s3:PutObject"],
    putQueueDepthMetric: false,
    exposure: "internal",
    env: [...BASE_ENV, "PRAXA_KEY_PROVIDER=aws-kms", "PRAXA_KMS_WRAP_KEY_ID", "PRAXA_KMS_SIGN_KEY_ID"],
  },
  monitor: {
    purpose: "reconciler, self-pause, time-based checkpoints; publishes the queue depth",
    ownSecret: ["secretsmanager:GetSecretValue"],
    // DescribeKey only (the boot check that the two keys are distinct and of the right usage): the monitor never wraps
    // or opens a key.
    wrapKey: ["kms:DescribeKey"],
    signKey: ["kms:GetPublicKey", "kms:Sign"],
    exportObjects: [],
    putQueueDepthMetric: true,
    exposure: "internal",
    env: [...BASE_ENV, "PRAXA_KEY_PROVIDER=aws-kms", "PRAXA_KMS_WRAP_KEY_ID", "PRAXA_KMS_SIGN_KEY_ID"],
  },
  migrate: {
    purpose: "`praxa migrate`, a one-shot task before a rollout (the database owner URL is in its secret only)",
    ownSecret: ["secretsmanager:GetSecretValue"],
    wrapKey: [],
    signKey: [],
    exportObjects: [],
    putQueueDepthMetric: false,
    exposure: "one-shot",
    env: [...BASE_ENV],
  },
};

/** Every role may also pull the image and write its own log group; nothing else. */
export const COMMON_ACTIONS = {
  imagePull: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
  /** ECR's GetAuthorizationToken has no resource type: it can only be granted on "*". */
  registryLogin: ["ecr:GetAuthorizationToken"],
  ownLogGroup: ["logs:CreateLogStream", "logs:PutLogEvents"],
} as const;

/** The namespace and name of the queue-depth metric the monitor publishes and the worker group scales on. */
export const QUEUE_DEPTH_METRIC = { namespace: "Praxa", metricName: "QueueDepth" } as const;

/** Actions no role may hold, anywhere (the product page: "GetSecretValue only — no PutSecretValue"). */
export const FORBIDDEN_ACTIONS = [
  "secretsmanager:PutSecretValue",
  "secretsmanager:UpdateSecret",
  "secretsmanager:CreateSecret",
  "secretsmanager:DeleteSecret",
  "secretsmanager:RestoreSecret",
  "kms:CreateGrant",
  "kms:ReEncryptFrom",
  "kms:ReEncryptTo",
  "iam:PassRole",
] as const;

/** The roles that use a key, from APP_PERMISSIONS (the key policies name exactly these). */
export function appsUsing(key: "wrapKey" | "signKey"): AppName[] {
  return APP_NAMES.filter((a) => APP_PERMISSIONS[a][key].length > 0);
}

/** docs/deploy.md's role table, rendered from APP_PERMISSIONS (a test checks the doc holds exactly this text). */
export function renderRoleTable(): string {
  const cell = (xs: readonly string[]): string => (xs.length === 0 ? "—" : xs.map((x) => `\`${x}\``).join(", "));
  const lines = [
    "| Role | What it is | Own secret | Wrap key (symmetric) | Sign key (ECC_NIST_P256) | Export bucket `exports/*` | Queue-depth metric |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const a of APP_NAMES) {
    const p = APP_PERMISSIONS[a];
    lines.push(
      `| ${a} | ${p.purpose} | ${cell(p.ownSecret)} | ${cell(p.wrapKey)} | ${cell(p.signKey)} | ${cell(p.exportObjects)} | ${p.putQueueDepthMetric ? "`cloudwatch:PutMetricData` (namespace `Praxa`)" : "—"} |`,
    );
  }
  return lines.join("\n");
}
