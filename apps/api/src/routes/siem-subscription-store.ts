/**
 * What `/v1/siem-subscriptions` stores and answers (siem-subscriptions.ts has the routes): the answer schemas, the
 * creation body per format, a subscription read in the caller's scope (a deleted one is answered as missing), and the
 * vault names and sealing of its secrets — sealed to the workspace's public key, so the api can store them and never
 * open them.
 */
import { z } from "zod";
import { WorkspaceScopeError } from "@praxa/core";
import { sealCredential } from "@praxa/crypto";
import { and, eq, ne, schema, vaultPutSecret, workspacePublicKey, type WorkspaceScope } from "@praxa/db";
import { WorkspaceKeyMissingError } from "../errors.js";
import { Id, Timestamp } from "../schemas.js";

export const Subscription = z
  .object({
    id: Id("siemSubscription"),
    endpointUrl: z.string(),
    format: z.enum(["jsonl", "splunk-hec", "datadog"]),
    status: z.enum(["active", "paused", "disabled"]),
    statusReason: z.string().nullable(),
    publicKey: z.string().meta({ description: "the v1a (Ed25519) public key: whpk_…" }),
    previousPublicKey: z.string().nullable(),
    previousUntil: Timestamp.nullable(),
    hmac: z.boolean(),
    credentialFingerprint: z.string().nullable(),
    batchMaxEvents: z.number().int(),
    batchMaxBytes: z.number().int(),
    cursorSeq: z.number().int().meta({ description: "the last seq the endpoint acknowledged" }),
    failures: z.number().int(),
    failingSince: Timestamp.nullable(),
    lastErrorCode: z.string().nullable(),
    lastDeliveredAt: Timestamp.nullable(),
    lastTestAt: Timestamp.nullable(),
    lastTestResult: z.string().nullable(),
    createdAt: Timestamp,
  })
  .strict();

export const Created = Subscription.extend({
  signingSecret: z.string().nullable().meta({ description: "the whsec_ for v1, shown once (null without v1)" }),
}).strict();

const HttpsUrl = z.url().max(2048);
const common = {
  url: HttpsUrl,
  hmac: z.boolean().default(false),
  batchMaxEvents: z.number().int().min(1).max(1000).default(1000),
  batchMaxBytes: z
    .number()
    .int()
    .min(4096)
    .max(1024 * 1024)
    .default(1024 * 1024),
  startAt: z.enum(["beginning", "now"]).default("beginning"),
};
export const CreateBody = z.discriminatedUnion("format", [
  z.object({ format: z.literal("jsonl"), ...common }).strict(),
  z
    .object({
      format: z.literal("splunk-hec"),
      ...common,
      token: z.string().regex(/^[A-Za-z0-9-]{16,128}$/, "a Splunk HEC token"),
    })
    .strict(),
  z
    .object({
      format: z.literal("datadog"),
      ...common,
      apiKey: z.string().regex(/^[a-f0-9]{32}$/, "a Datadog API key (32 hex characters)"),
    })
    .strict(),
]);

export const s = schema.siemSubscriptions;
export const fields = {
  id: s.id,
  endpointUrl: s.endpointUrl,
  format: s.format,
  status: s.status,
  statusReason: s.statusReason,
  publicKey: s.publicKey,
  previousPublicKey: s.previousPublicKey,
  previousUntil: s.previousUntil,
  hmac: s.hmacEnabled,
  credentialFingerprint: s.credentialFingerprint,
  batchMaxEvents: s.batchMaxEvents,
  batchMaxBytes: s.batchMaxBytes,
  cursorSeq: s.cursorSeq,
  failures: s.failures,
  failingSince: s.failingSince,
  lastErrorCode: s.lastErrorCode,
  lastDeliveredAt: s.lastDeliveredAt,
  lastTestAt: s.lastTestAt,
  lastTestResult: s.lastTestResult,
  createdAt: s.createdAt,
};

export type Row = Omit<
  z.output<typeof Subscription>,
  "status" | "previousUntil" | "failingSince" | "lastDeliveredAt" | "lastTestAt" | "createdAt"
> & {
  status: "active" | "paused" | "disabled" | "deleted";
  previousUntil: Date | null;
  failingSince: Date | null;
  lastDeliveredAt: Date | null;
  lastTestAt: Date | null;
  createdAt: Date;
};

export async function load(scope: WorkspaceScope, id: string): Promise<Row> {
  const [row] = await scope.db
    .select(fields)
    .from(s)
    .where(and(eq(s.id, id), ne(s.status, "deleted")));
  if (!row) throw new WorkspaceScopeError("no such subscription in this workspace");
  return row;
}

export function visible(row: Row) {
  const status = row.status;
  if (status === "deleted") throw new WorkspaceScopeError("no such subscription in this workspace");
  return { ...row, status };
}

export const vaultName = (id: string, kind: "ed25519" | "hmac" | "credential", gen?: number) =>
  `siem/${id}/${kind}${gen === undefined ? "" : `/${gen}`}`;

/** Seal a secret to the workspace key and store it under `name` (the api can seal, never open). */
export async function seal(scope: WorkspaceScope, name: string, purpose: string, plaintext: Uint8Array | string) {
  const pub = await workspacePublicKey(scope);
  if (!pub)
    throw new WorkspaceKeyMissingError(
      "this workspace has no key yet; the worker creates it (pnpm praxa keys rotate --workspace …)",
    );
  const sealed = await sealCredential(
    { keyId: pub.keyId, publicKey: pub.publicKey },
    { workspaceId: scope.workspaceId, provider: "siem", purpose },
    plaintext,
  );
  await vaultPutSecret(scope, { name, provider: "siem", purpose, ciphertext: Buffer.from(sealed), keyId: pub.keyId });
}
